"""The learning step: turn collected transitions into TD3 updates, and watch them for divergence.

The update debt paces learning to collection: each new transition owes
``updates_per_step`` updates, paid in whole updates. Each update samples a batch
(importance-weighted under PER), runs TD3, and writes the new TD errors back as
priorities. Losses and Q are checked every update; a NaN or infinity stops the
run before it can reach a saved file.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch

from lab.config import Config
from lab.crossq import CrossQ
from lab.ensemble import Ensemble
from lab.networks import Actor
from lab.policy_checkpoint import PolicyCheckpointer
from lab.replay import PrioritizedReplayBuffer, ReplayBuffer
from lab.sac import SAC
from lab.td3 import TD3, UpdateResult

METRICS_EVERY = 250
"""Updates between metric reports: often enough for charts, rare enough to cost nothing."""


LEARNERS: dict[str, type[TD3]] = {"td3": TD3, "crossq": CrossQ, "sac": SAC}
"""training.algorithm -> its learner class."""


class DivergenceError(RuntimeError):
    """The learner produced NaN or infinite values; nothing non-finite is ever saved."""


def make_agent(config: Config, obs_dim: int, act_dim: int, device: torch.device | str = "cpu") -> TD3 | Ensemble:
    """The configured learner, or an ensemble of them sharing the buffer when training.ensemble_size > 1."""
    t = config.training
    members = [LEARNERS[t.algorithm](obs_dim, act_dim, config.network, t, device) for _ in range(t.ensemble_size)]
    return members[0] if len(members) == 1 else Ensemble(members, config.env.num_envs, t.ensemble_window)


def make_buffer(config: Config, obs_dim: int, act_dim: int, device: torch.device | str = "cpu",
                seed: int | None = None) -> ReplayBuffer:
    """The configured replay buffer, seeded from run.seed unless a seed is given."""
    t, seed = config.training, config.run.seed + 1 if seed is None else seed
    if t.use_per:
        return PrioritizedReplayBuffer(t.buffer_size, obs_dim, act_dim, t.per_alpha, t.per_epsilon,
                                       seed=seed, device=str(device))
    return ReplayBuffer(t.buffer_size, obs_dim, act_dim, seed=seed, device=str(device))


def finite_weights(*modules: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for m in modules for p in m.parameters())


class Learner:
    """A TD3 agent, its replay buffer and the update debt, all reading one frozen Config.

    With training.policy_checkpoints the actor that acts is held fixed while it is assessed: the
    updates its transitions owe wait in ``owed`` until the assessment window closes, and the actor the
    run deploys (``deployed_actor``) is the one with the best worst-episode return so far. With an ensemble
    it is the deployed member's actor.
    """

    def __init__(self, agent: TD3 | Ensemble, buffer: ReplayBuffer, config: Config) -> None:
        self.agent, self.buffer = agent, buffer
        self.update_debt = 0.0
        self.owed = 0.0
        self.checkpointer: PolicyCheckpointer | None = None
        self._checkpoint_actor: Actor | None = None
        t = config.training
        if t.policy_checkpoints:
            self.checkpointer = PolicyCheckpointer(t.checkpoint_window, t.checkpoint_widen_after,
                                                   score=t.checkpoint_score)
            self._checkpoint_actor = copy.deepcopy(agent.actor).requires_grad_(False)
        self._sums: dict[str, float] = {}
        self._count = 0
        self.set_config(config)

    @property
    def deployed_actor(self) -> Actor:
        """The actor the run deploys: the policy checkpoint, else the agent's (an ensemble's deployed member)."""
        return self.agent.actor if self._checkpoint_actor is None else self._checkpoint_actor

    def weights_finite(self) -> bool:
        """Every actor and critic the learner trains holds finite weights (checked before anything is saved)."""
        modules = self.agent.modules() if isinstance(self.agent, Ensemble) else [self.agent.actor, self.agent.critic]
        return finite_weights(*modules)

    def set_config(self, config: Config) -> None:
        """A live change: the next update reads the new values."""
        self.config = config
        self.agent.config = config.training

    def store(self, transitions: tuple | None) -> None:
        if transitions is not None:
            self.buffer.add(*transitions)

    def learn(self, new_transitions: int, env_step: int, beta: float,
              report: Callable[[dict[str, Any]], None], defer: bool = False) -> None:
        """Owe new_transitions' updates and pay them (defer: leave them to ``pay_debt`` at the next step);
        report(metrics) every METRICS_EVERY updates."""
        t = self.config.training
        if not self._ready(env_step):
            return
        if self.checkpointer is not None:  # the assessed actor stays as it is until its window closes
            self.owed += t.updates_per_step * new_transitions
            return
        self.update_debt += t.updates_per_step * new_transitions
        if not defer:
            self._pay(env_step, beta, report)

    def pay_debt(self, env_step: int, beta: float, report: Callable[[dict[str, Any]], None]) -> None:
        """Pay updates owed by earlier steps (an overlapped collector steps the envs meanwhile)."""
        if self._ready(env_step):
            self._pay(env_step, beta, report)

    def _ready(self, env_step: int) -> bool:
        t = self.config.training
        return env_step >= t.learning_starts and len(self.buffer) >= t.batch_size

    def episode_ended(self, env_index: int, episode_return: float, env_step: int, beta: float,
                      report: Callable[[dict[str, Any]], None]) -> None:
        """An ensemble hands the env to its next member; policy checkpoints judge the acting actor by the
        episode, and a closed window pays what it owes."""
        if isinstance(self.agent, Ensemble):
            self.agent.episode_ended(env_index, episode_return)
        if self.checkpointer is None or self._checkpoint_actor is None or not self._ready(env_step):
            return
        decision = self.checkpointer.episode_ended(episode_return, env_step)
        if decision.adopt:
            self._checkpoint_actor.load_state_dict(self.agent.actor.state_dict())
        if decision.closed:
            self.update_debt, self.owed = self.update_debt + self.owed, 0.0
            self._pay(env_step, beta, report)

    def _pay(self, env_step: int, beta: float, report: Callable[[dict[str, Any]], None]) -> None:
        """Run whole updates while the debt allows."""
        t = self.config.training
        lap = t.per_kind == "lap"
        lrs = self.agent.apply_schedule(env_step / self.config.run.total_steps)
        while self.update_debt >= 1.0:
            self.update_debt -= 1.0
            want_metrics = self._count + 1 >= METRICS_EVERY
            batch = self.buffer.sample(t.batch_size, t.gamma, beta)
            result = self.agent.update(batch, want_metrics=want_metrics)
            if t.use_per:
                self.buffer.update_priorities(batch.indices, result.td_errors.cpu().numpy(), t.per_alpha, lap)
            self._accumulate(result, want_metrics, lrs, beta, report)

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs beyond the agent: the deployed actor and the assessment window."""
        if self.checkpointer is None:
            return {}
        return {"owed": self.owed, "checkpointer": self.checkpointer.state_dict(),
                "deployed_actor": self.deployed_actor.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.checkpointer is None or not state:
            return
        self.owed = float(state["owed"])
        self.checkpointer.load_state_dict(state["checkpointer"])
        self.deployed_actor.load_state_dict(state["deployed_actor"])

    def _accumulate(self, result: UpdateResult, final: bool, lrs: tuple[float, float], beta: float,
                    report: Callable[[dict[str, Any]], None]) -> None:
        s = self._sums
        critic_loss, mean_q = float(result.critic_loss), float(result.mean_q)
        s["critic_loss"] = s.get("critic_loss", 0.0) + critic_loss
        s["mean_q"] = s.get("mean_q", 0.0) + mean_q
        values = {"critic loss": critic_loss, "Q": mean_q}
        if result.actor_loss is not None:
            values["actor loss"] = float(result.actor_loss)
            s["actor_loss"] = s.get("actor_loss", 0.0) + values["actor loss"]
            s["actor_n"] = s.get("actor_n", 0.0) + 1
        self._count += 1
        bad = [name for name, v in values.items() if not math.isfinite(v)]
        if not (final or bad):
            return
        values["critic gradient"] = critic_norm = float(result.critic_grad_norm)
        actor_norm = float("nan")
        if result.actor_grad_norm is not None:
            values["actor gradient"] = actor_norm = float(result.actor_grad_norm)
        bad = [name for name, v in values.items() if not math.isfinite(v)]
        n = self._count
        report({"updates": self.agent.updates, "critic_loss": s["critic_loss"] / n, "mean_q": s["mean_q"] / n,
                "actor_loss": s.get("actor_loss", float("nan")) / max(1.0, s.get("actor_n", 0.0)),
                "critic_grad_norm": critic_norm, "actor_grad_norm": actor_norm, "actor_lr": lrs[0],
                "critic_lr": lrs[1], "per_beta": beta, "nonfinite": tuple(_FIELDS[b] for b in bad),
                "temperature": self.agent.temperature})
        self._sums, self._count = {}, 0
        if bad:
            raise DivergenceError(f"{bad[0]} became {'NaN' if math.isnan(values[bad[0]]) else 'infinite'} "
                                  f"at update {self.agent.updates}")


_FIELDS = {"critic loss": "critic_loss", "Q": "mean_q", "actor loss": "actor_loss",
           "critic gradient": "critic_grad_norm", "actor gradient": "actor_grad_norm"}

