"""The population loop: K TD3 agents trained side by side in one process.

Each step acts for all agents in one batched forward pass, steps one vector env
holding every agent's sub-envs, stores each agent's transitions in its own
buffer, and pays the update debt with batched updates. With ``overlap`` (the
default) the envs step in a worker process while the update runs here, so both
cores work; the update then samples the buffer as it was before this step's
transitions (one step of lag), which is why ``overlap=False`` exists for exact runs.

Every agent keeps an ordinary run folder (config.yaml, episodes.jsonl,
evaluations.jsonl, updates.jsonl, policy.pt, best_policy.pt, summary.json) under
the population folder, which also holds population.pt, the resumable checkpoint.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.checkpoint import CheckpointError, read_checkpoint_file, save_policy, write_checkpoint_file
from lab.config import Config, ConfigError
from lab.envs import episode_seeds
from lab.evaluation import EvaluationResult, evaluate
from lab.events import (
    CheckpointSaved,
    EpisodeEnded,
    Evaluated,
    EventBus,
    HyperparametersChanged,
    RunStateChanged,
    Trajectory,
    UpdateMetrics,
)
from lab.hyperparameters import validate_changes
from lab.io import atomic_write_json
from lab.learner import METRICS_EVERY
from lab.noise import noise_scale
from lab.policy import Policy
from lab.population.envs import make_population_envs
from lab.population.learner import PopulationTD3, initial_modules
from lab.population.members import EpisodeTrace, Member, member_configs
from lab.population.replay import StackedReplayBuffer
from lab.replay import per_beta
from lab.shaping import shaping_bonus
from lab.trainer import _as_config, _new_run_dir

LEARNER_FIELDS = {"actor_lr": "actor_lr", "critic_lr": "critic_lr", "tau": "tau", "policy_delay": "policy_delay",
                  "target_policy_noise": "target_policy_noise", "target_noise_clip": "target_noise_clip"}
"""Live names that live in the learner's per-agent tensors."""
SHARED_LIVE = ("batch_size", "updates_per_step")
"""Live names that shape the shared batch: they change for all agents at once or not at all."""
UNSUPPORTED_LIVE = ("per_alpha", "per_beta")
POPULATION_FILE = "population.pt"


@dataclass(frozen=True)
class AgentEvent:
    """An ordinary trainer event from agent ``agent`` (seed ``seed``) of a population."""

    agent: int
    seed: int
    event: Any


def schedule_factor(schedule: str, progress: float) -> float:
    """The learning-rate multiplier lab.td3.TD3.apply_schedule uses at progress in [0, 1]."""
    if schedule == "linear":
        return 1.0 - 0.9 * progress
    if schedule == "cosine":
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress)))
    return 1.0


class Population:
    """Train K independent TD3 agents at once; agent k is lab.Trainer's run with seed seeds[k].

    >>> population = Population("fast", seeds=[0, 1, 2, 3, 4])
    >>> population.events.subscribe(print)   # AgentEvent(agent, seed, event) for every agent's event
    >>> population.fit()
    """

    obs: np.ndarray
    _autoresetting: np.ndarray

    def __init__(self, config: Config | str | Path = "fast", seeds: Sequence[int] | None = None,
                 configs: Sequence[Config] | None = None, run_dir: str | Path | None = None,
                 name: str | None = None, resume: str | Path | None = None, log_to_disk: bool = True,
                 overlap: bool = True) -> None:
        base = _as_config(config if configs is None else configs[0])
        self.configs = member_configs(base, seeds, configs)
        named = configs is None and isinstance(config, str) and "/" not in config
        self.name = name or (str(config) if named else "population")
        first = self.configs[0]
        torch.set_num_threads(first.run.torch_threads)
        self.agents = len(self.configs)
        self.num_envs = first.env.num_envs
        self.overlap = overlap
        self.log_to_disk = log_to_disk
        self.events = EventBus()
        self.run_dir = Path(run_dir) if run_dir else _new_run_dir(first.run.out_dir, f"{self.name}-x{self.agents}")
        if log_to_disk:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.envs = make_population_envs(first.env, self.agents * self.num_envs, worker=overlap)
        self.obs_dim = int(np.prod(self.envs.single_observation_space.shape))
        self.act_dim = int(np.prod(self.envs.single_action_space.shape))
        saved = None if resume is None else read_checkpoint_file(resume, kind="population")
        resume_steps = [None] * self.agents if saved is None else _resume_steps(saved, self.agents)
        self.members = [Member(k, c, self.run_dir / f"agent{k}_seed{c.run.seed}", self.act_dim, log_to_disk,
                               resume_step=step) for k, (c, step) in enumerate(zip(self.configs, resume_steps))]
        starts = [initial_modules(c.run.seed, self.obs_dim, self.act_dim, c.network) for c in self.configs]
        self.learner = PopulationTD3([s[0] for s in starts], [s[1] for s in starts],
                                     [c.training for c in self.configs], [s[2] for s in starts])
        self.buffer = StackedReplayBuffer(self.agents, first.training.buffer_size, self.obs_dim, self.act_dim,
                                          [c.run.seed + 1 for c in self.configs])
        self.epoch = 0
        self.train_seconds = 0.0
        self.state = "idle"
        self.error: BaseException | None = None
        self._metric_sums = torch.zeros(3, self.agents)  # critic loss, mean Q, actor loss
        self._metric_counts = np.zeros((2, self.agents), dtype=np.int64)  # updates, actor updates
        self._boundary_step = -1
        self._lock = threading.Lock()
        self._pending: list[tuple[int | None, dict[str, Any]]] = []
        self._stop = False
        self._thread: threading.Thread | None = None
        if saved is not None:
            self._load_checkpoint(str(resume), saved)
        self._fresh_episodes()

    # ==== public control ===================================================================
    def fit(self) -> dict[str, Any]:
        """Train every agent to its run.total_steps in this thread; Ctrl-C stops with a checkpoint."""
        if self.running:
            raise RuntimeError("this population is already training in the background")
        return self._run()

    def start(self) -> Population:
        """Train in a background thread and return at once."""
        if self.running:
            raise RuntimeError("this population is already training")
        self._stop = False
        self._thread = threading.Thread(target=self._run_in_thread, name="lab-population", daemon=True)
        self._thread.start()
        return self

    def stop(self, agent: int | None = None, wait: bool = True, timeout: float | None = 120.0) -> None:
        """Stop one agent (it keeps its folder and weights, the others go on) or, with agent=None, all."""
        if agent is not None:
            member = self._member(agent)
            member.stopped, member.update_debt = True, 0.0
            return
        with self._lock:
            self._stop = True
        if wait and self._thread is not None:
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def update_hyperparameters(self, agent: int | None = None, **changes: Any) -> None:
        """Change live hyperparameters of one agent (or all with agent=None) before the next update.

        Raises ConfigError at once for unknown names, out-of-range values, or a per-agent change of a
        setting the whole population shares.
        """
        targets = range(self.agents) if agent is None else [self._member(agent).index]
        for name in changes:
            if name in UNSUPPORTED_LIVE:
                raise ConfigError(f"{name} cannot change in a population: it trains without prioritized replay")
            if name in SHARED_LIVE and agent is not None:
                raise ConfigError(f"{name} is shared by every agent of a population: change it with agent=None")
        for k in targets:
            validate_changes(self.members[k].config, changes)  # fail here, in the caller's thread
        with self._lock:
            self._pending.append((agent, dict(changes)))
        if not self.running:
            self._apply_pending_changes()

    def hyperparameters(self, agent: int) -> dict[str, Any]:
        """Current live values of one agent."""
        m = self._member(agent)
        t, n = m.config.training, m.config.noise
        values = {"actor_lr": t.actor_lr, "critic_lr": t.critic_lr, "tau": t.tau, "gamma": t.gamma,
                  "batch_size": t.batch_size, "policy_delay": t.policy_delay, "updates_per_step": t.updates_per_step,
                  "target_policy_noise": t.target_policy_noise, "target_noise_clip": t.target_noise_clip,
                  "sigma": n.sigma, "theta": n.theta, "reward_shaping": m.config.env.reward_shaping,
                  "noise_scale": self._noise_scale(m)}
        return values

    def policy(self, agent: int) -> Policy:
        """A frozen copy of one agent's actor."""
        m = self._member(agent)
        return Policy.from_actor(self.learner.agent_actor(m.index), name=f"{self.name}[{agent}]@{m.env_step}")

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / POPULATION_FILE

    def summary(self) -> dict[str, Any]:
        steps = sum(m.env_step for m in self.members)
        return {"agents": self.agents, "env_steps": steps, "train_seconds": round(self.train_seconds, 3),
                "aggregate_steps_per_second": round(steps / self.train_seconds, 2) if self.train_seconds else 0.0,
                "solved": sum(m.solved_at is not None for m in self.members), "state": self.state,
                "run_dir": str(self.run_dir), "members": [m.summary(self.train_seconds) for m in self.members]}

    def close(self) -> None:
        """Release the envs and files; the run folders stay."""
        if self.running:
            self.stop()
        self.envs.close()
        for m in self.members:
            m.close()

    def __enter__(self) -> Population:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ==== the loop =========================================================================
    def _run_in_thread(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - recorded and published by _run
            self.error = exc

    def _run(self) -> dict[str, Any]:
        self._set_state("running")
        checkpoint_every = self.configs[0].run.checkpoint_every
        next_ckpt = [_next_multiple(m.env_step, checkpoint_every) for m in self.members]
        try:
            while any(m.active for m in self.members):
                with self._lock:
                    stop = self._stop
                if stop:
                    break
                self._apply_pending_changes()
                t0 = time.perf_counter()
                self._step()
                self.train_seconds += time.perf_counter() - t0
                self._evaluations_due()
                if checkpoint_every and any(m.env_step >= n for m, n in zip(self.members, next_ckpt)):
                    self._checkpoint_at_boundary()
                    next_ckpt = [_next_multiple(m.env_step, checkpoint_every) for m in self.members]
            else:
                self._settle_debt()
                for m in self.members:
                    if m.config.run.eval_every and m.last_eval_step != m.env_step:
                        self._evaluate(m)
                self._finish("finished")
                return self.summary()
            self._settle_debt()
            self._finish("stopped")
            return self.summary()
        except KeyboardInterrupt:
            self._finish("stopped")
            return self.summary()
        except BaseException as exc:
            self._finish("failed", error=f"{type(exc).__name__}: {exc}")
            raise

    def _step(self) -> None:
        """Act for all, step all envs; with overlap the previous step's updates run while the envs step."""
        actions = self._choose_actions()
        self.envs.step_async(actions)
        if self.overlap:
            self._learn()
        next_obs, raw, terminated, truncated = self.envs.step_wait()
        self._observe(actions, next_obs.astype(np.float32, copy=False), raw, terminated, truncated)
        if not self.overlap:
            self._learn()

    def _choose_actions(self) -> np.ndarray:
        n = self.num_envs
        actions = np.zeros((self.agents, n, self.act_dim), dtype=np.float32)
        acting = [m for m in self.members if m.active]
        policy = None
        for m in acting:
            t = m.config.training
            if m.env_step < t.learning_starts or m.episodes < t.warmup_episodes:
                actions[m.index] = m.rng.uniform(-1.0, 1.0, size=(n, self.act_dim))
                continue
            if policy is None:
                obs = torch.from_numpy(self.obs.reshape(self.agents, n, self.obs_dim))
                policy = self.learner.act(obs).numpy()
            noisy = policy[m.index] + self._noise_scale(m) * m.noise.sample()
            actions[m.index] = np.clip(noisy, -1.0, 1.0)
        return actions.reshape(self.agents * n, self.act_dim)

    def _observe(self, actions: np.ndarray, next_obs: np.ndarray, raw: np.ndarray, terminated: np.ndarray,
                 truncated: np.ndarray) -> None:
        """Per agent, as lab.Trainer does for its envs: store real transitions, track and end episodes."""
        n = self.num_envs
        done = terminated | truncated
        autoresetting = np.zeros_like(self._autoresetting)
        for m in self.members:
            rows = slice(m.index * n, (m.index + 1) * n)
            if not m.active:
                continue
            real = ~self._autoresetting[rows]
            obs, act, r, nxt, term = self.obs[rows], actions[rows], raw[rows], next_obs[rows], terminated[rows]
            env_cfg = m.config.env
            shaped = r + shaping_bonus(nxt, r, term, env_cfg) if env_cfg.reward_shaping else r
            self._store(m, obs, act, shaped, nxt, term, done[rows], real)
            for i in range(n):
                if real[i]:
                    trace = m.traces[i]
                    trace.observations.append(nxt[i])
                    trace.actions.append(act[i])
                    trace.raw_rewards.append(float(r[i]))
                    trace.shaped_return += float(shaped[i])
                else:
                    m.traces[i] = EpisodeTrace([nxt[i]])
            n_real = int(real.sum())
            m.env_step += n_real
            finished = real & done[rows]
            autoresetting[rows] = finished
            for i in np.flatnonzero(finished):
                self._end_episode(m, int(i), bool(term[i]), bool(truncated[rows][i]))
            if finished.any():
                m.noise.reset(finished)
            t = m.config.training
            if not m.stopped and m.env_step >= t.learning_starts and self.buffer.size[m.index] >= t.batch_size:
                m.update_debt += t.updates_per_step * n_real
        self._autoresetting = autoresetting
        self.obs = next_obs

    def _store(self, m: Member, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
               terminated: np.ndarray, done: np.ndarray, real: np.ndarray) -> None:
        if m.config.training.n_step == 1:
            self.buffer.add(m.index, obs[real], actions[real], rewards[real], next_obs[real], terminated[real])
            return
        rows = []
        for i in np.flatnonzero(real):
            rows += m.nstep.push(int(i), obs[i], actions[i], float(rewards[i]), next_obs[i], bool(terminated[i]),
                                 bool(done[i]), m.config.training.gamma)
        if rows:
            o, a, r, no, term, k = zip(*rows)
            self.buffer.add(m.index, np.stack(o), np.stack(a), np.asarray(r, dtype=np.float32), np.stack(no),
                            np.asarray(term), np.asarray(k, dtype=np.uint8))

    def _learn(self) -> None:
        """Pay every agent's update debt; an update includes exactly the agents that still owe one."""
        debts = np.array([m.update_debt for m in self.members])
        if not (debts >= 1.0).any():
            return
        self._apply_schedules()
        gammas = np.array([m.config.training.gamma for m in self.members])
        batch_size = self.configs[0].training.batch_size
        while (debts >= 1.0).any():
            owing = debts >= 1.0
            debts[owing] -= 1.0
            batch = self.buffer.sample(batch_size, gammas, owing)
            mask = None if owing.all() else torch.from_numpy(owing)
            result = self.learner.update(batch, mask)
            self._accumulate_metrics(result, owing)
        for m, debt in zip(self.members, debts):
            m.update_debt = float(debt)

    def _settle_debt(self) -> None:
        """With overlap, the last step's updates are still owed when the loop ends: pay them."""
        if self.overlap:
            self._learn()

    def _apply_schedules(self) -> None:
        for m in self.members:
            t = m.config.training
            if t.lr_schedule != "constant":
                factor = schedule_factor(t.lr_schedule, m.env_step / m.config.run.total_steps)
                self.learner.set("actor_lr", m.index, t.actor_lr * factor)
                self.learner.set("critic_lr", m.index, t.critic_lr * factor)

    def _accumulate_metrics(self, result: Any, owing: np.ndarray) -> None:
        live = torch.from_numpy(owing)
        actor = torch.nan_to_num(result.actor_loss) * result.actor_updated
        self._metric_sums += torch.stack([result.critic_loss * live, result.mean_q * live, actor])
        self._metric_counts[0] += owing
        self._metric_counts[1] += result.actor_updated.numpy()
        for k in np.flatnonzero(owing):
            m = self.members[k]
            m.updates += 1
            if self._metric_counts[0, k] >= METRICS_EVERY:
                self._publish_metrics(m)

    def _publish_metrics(self, m: Member) -> None:
        k = m.index
        sums, (n, n_actor) = self._metric_sums[:, k].tolist(), self._metric_counts[:, k]
        lr = (self.learner.get("actor_lr", k), self.learner.get("critic_lr", k))
        self._publish(m, UpdateMetrics(
            env_step=m.env_step, updates=m.updates, critic_loss=sums[0] / n, mean_q=sums[1] / n,
            actor_loss=sums[2] / n_actor if n_actor else float("nan"),
            critic_grad_norm=float("nan"), actor_grad_norm=float("nan"), actor_lr=lr[0], critic_lr=lr[1],
            noise_scale=self._noise_scale(m), per_beta=self._per_beta(m),
            steps_per_second=m.env_step / max(self.train_seconds, 1e-9)))
        self._metric_sums[:, k] = 0.0
        self._metric_counts[:, k] = 0

    def _end_episode(self, m: Member, i: int, terminated: bool, truncated: bool) -> None:
        trace = m.traces[i]
        raw_return = float(np.sum(trace.raw_rewards))
        trajectory = Trajectory(np.stack(trace.observations), np.stack(trace.actions),
                                np.asarray(trace.raw_rewards, dtype=np.float32), terminated, truncated)
        analysis = None
        if m.config.run.analyze_episodes:
            analysis = self._analyzer.analyze(trajectory.observations, trajectory.actions, terminated, truncated,
                                              trajectory.rewards)
        m.episodes += 1
        self._publish(m, EpisodeEnded(
            env_step=m.env_step, episode=m.episodes, raw_return=raw_return, shaped_return=trace.shaped_return,
            length=len(trace.actions), success=raw_return >= m.config.env.success_threshold, env_index=i,
            trajectory=trajectory, analysis=analysis))

    def _publish(self, m: Member, event: Any) -> None:
        m.events.publish(event)
        self.events.publish(AgentEvent(m.index, m.seed, event))

    # ==== live changes =====================================================================
    def _apply_pending_changes(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for agent, changes in pending:
            for m in self.members if agent is None else [self.members[agent]]:
                self._apply_changes(m, changes)

    def _apply_changes(self, m: Member, changes: dict[str, Any]) -> None:
        before = self.hyperparameters(m.index)
        try:
            new_config, overrides = validate_changes(m.config, changes)
        except ConfigError as exc:  # checked already; a race with another change can still refuse it
            self.events.errors.append(f"agent {m.index}: {exc}")
            return
        m.config = new_config
        m.schedule_overrides.update(overrides)
        t, n = new_config.training, new_config.noise
        for name, field_name in LEARNER_FIELDS.items():
            self.learner.set(name, m.index, getattr(t, field_name))
        m.noise.config = n  # the noise reads sigma/theta from its config, as lab.collector sets them
        if any(name in changes for name in SHARED_LIVE):
            self.configs = [mm.config for mm in self.members]
        after = self.hyperparameters(m.index)
        diff = {k: (before[k], after[k]) for k in changes if k in before and before[k] != after[k]}
        if diff:
            self._publish(m, HyperparametersChanged(env_step=m.env_step, changes=diff))

    # ==== evaluation, checkpoints, state ===================================================
    def _evaluations_due(self) -> None:
        for m in self.members:
            every = m.config.run.eval_every
            if every and m.env_step > 0 and m.env_step // every > max(m.last_eval_step, 0) // every:
                self._evaluate(m)

    def _evaluate(self, m: Member) -> EvaluationResult:
        started = time.perf_counter()
        cfg = m.config
        result = evaluate(self.policy(m.index), episodes=cfg.run.eval_episodes, seed=cfg.run.eval_seed,
                          env_id=cfg.env.env_id, success_threshold=cfg.env.success_threshold,
                          analyze=cfg.run.analyze_episodes, keep_trajectories=m.logger is not None,
                          max_episode_steps=cfg.env.max_episode_steps)
        m.last_evaluation, m.last_eval_step = result, m.env_step
        if m.best_eval is None or result.mean_return > m.best_eval:
            m.best_eval = result.mean_return
            if m.logger:
                save_policy(self.learner.agent_actor(m.index), m.run_dir / "best_policy.pt", cfg.network,
                            {"env_step": m.env_step, "eval_mean": result.mean_return})
        if m.solved_at is None and result.mean_return >= cfg.env.success_threshold:
            m.solved_at = (m.env_step, self.train_seconds)
        self._publish(m, Evaluated(
            env_step=m.env_step, mean_return=result.mean_return, std_return=result.std_return,
            success_rate=result.success_rate, returns=tuple(result.returns), lengths=tuple(result.lengths),
            outcomes=result.outcomes, seconds=time.perf_counter() - started, train_seconds=self.train_seconds))
        if m.logger:
            m.logger.save_episodes(result)
        return result

    def _checkpoint_at_boundary(self) -> Path:
        """Fresh episodes for every agent, then checkpoint: a resume then continues exactly from here."""
        self._settle_debt()
        self.epoch += 1
        self._fresh_episodes()
        self._boundary_step = self._total_steps()
        return self.save_checkpoint() if self.log_to_disk else self.checkpoint_path

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write population.pt (every agent's learner, optimizer, counters, random streams) and each policy.pt."""
        path = Path(path) if path else self.checkpoint_path
        data: dict[str, Any] = {
            "kind": "population",
            "configs": [m.config.to_dict() for m in self.members],
            "network": self.configs[0].to_dict()["network"],
            "actor": self.learner.actor.state_dict(),
            "learner": self.learner.state_dict(),
            "members": [m.counters() for m in self.members],
            "schedule_overrides": [dict(m.schedule_overrides) for m in self.members],
            "numpy_rng": [m.rng.bit_generator.state for m in self.members],
            "noise": [torch.from_numpy(np.array(m.noise.state, dtype=np.float64)) for m in self.members],
            "epoch": self.epoch, "train_seconds": self.train_seconds,
        }
        if self.configs[0].run.save_replay:
            data["replay"] = [self.buffer.agent_state(k) for k in range(self.agents)]
        write_checkpoint_file(path, data)
        if path == self.checkpoint_path:
            for m in self.members:
                if m.logger:
                    save_policy(self.learner.agent_actor(m.index), m.run_dir / "policy.pt", m.config.network,
                                {"env_step": m.env_step, "agent": m.index, "seed": m.seed})
                    atomic_write_json(m.run_dir / "summary.json", {**m.summary(self.train_seconds),
                                                                   "state": self.state})
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.run_dir / "summary.json", self.summary())
        for m in self.members:
            self._publish(m, CheckpointSaved(env_step=m.env_step, path=str(path)))
        return path

    def _load_checkpoint(self, path: str | Path, data: dict[str, Any]) -> None:
        """Restore every agent; the population (seeds, shapes) must be the one that wrote the file."""
        saved = [Config.from_dict(c) for c in data["configs"]]
        if [c.run.seed for c in saved] != [c.run.seed for c in self.configs]:
            raise CheckpointError(f"population checkpoint {str(path)!r} holds seeds {[c.run.seed for c in saved]}, "
                                  f"this population has seeds {[c.run.seed for c in self.configs]}")
        if saved[0].network != self.configs[0].network:
            raise CheckpointError(f"population checkpoint {str(path)!r} is incompatible: its network "
                                  f"{saved[0].network} differs from the config's {self.configs[0].network}")
        self.learner.load_state_dict(data["learner"])
        for m, counters, overrides, rng, noise in zip(self.members, data["members"], data["schedule_overrides"],
                                                      data["numpy_rng"], data["noise"]):
            m.restore(counters)
            m.schedule_overrides = dict(overrides)
            m.rng.bit_generator.state = rng
            m.noise.state[:] = noise.numpy()
            for name, field_name in LEARNER_FIELDS.items():  # the given configs rule live values, as in Trainer
                self.learner.set(name, m.index, getattr(m.config.training, field_name))
        self.epoch, self.train_seconds = int(data["epoch"]), float(data["train_seconds"])
        if "replay" in data:
            for k, state in enumerate(data["replay"]):
                self.buffer.load_agent_state(k, state)

    def _fresh_episodes(self) -> None:
        """Reset every sub-env with seeds derived from (agent seed, epoch), as lab.Trainer does per run."""
        seeds = [s for m in self.members for s in episode_seeds(m.seed, self.epoch, self.num_envs)]
        self.obs = self.envs.reset(seeds).astype(np.float32)
        self._autoresetting = np.zeros(self.agents * self.num_envs, dtype=bool)
        for m in self.members:
            m.traces = [EpisodeTrace([o]) for o in self.obs[m.index * self.num_envs:(m.index + 1) * self.num_envs]]
            m.noise.reset()
            m.nstep.clear()

    def _finish(self, state: str, error: str | None = None) -> None:
        self.state = state
        try:
            if self.log_to_disk and self._boundary_step != self._total_steps():
                self.epoch += 1
                self.save_checkpoint()
        except Exception as exc:  # noqa: BLE001 - report the original failure, not this one
            error = f"{error or ''} (checkpoint failed: {exc})".strip()
        self._set_state(state, error=error, checkpoint=str(self.checkpoint_path) if self.log_to_disk else None)

    def _set_state(self, state: str, error: str | None = None, checkpoint: str | None = None) -> None:
        self.state = state
        for m in self.members:
            self._publish(m, RunStateChanged(env_step=m.env_step, state=state, error=error, checkpoint=checkpoint))
        if self.log_to_disk:
            atomic_write_json(self.run_dir / "summary.json", self.summary())

    # ==== helpers ===========================================================================
    def _member(self, agent: int) -> Member:
        if not isinstance(agent, int) or isinstance(agent, bool) or not 0 <= agent < self.agents:
            raise ConfigError(f"agent={agent!r} is invalid: allowed 0 to {self.agents - 1}")
        return self.members[agent]

    def _total_steps(self) -> int:
        return sum(m.env_step for m in self.members)

    def _noise_scale(self, m: Member) -> float:
        if "noise_scale" in m.schedule_overrides:
            return m.schedule_overrides["noise_scale"]
        return noise_scale(m.config.noise, m.episodes)

    def _per_beta(self, m: Member) -> float:
        t = m.config.training
        return per_beta(t.per_beta_start, t.per_beta_end, m.env_step / m.config.run.total_steps)

    @property
    def _analyzer(self) -> Any:
        if not hasattr(self, "_analyzer_instance"):
            from lab.analysis import BehaviorAnalyzer

            self._analyzer_instance = BehaviorAnalyzer()
        return self._analyzer_instance


def _next_multiple(step: int, every: int) -> int:
    return 0 if every <= 0 else (step // every + 1) * every


def _resume_steps(data: dict[str, Any], agents: int) -> list[int | None]:
    """Each agent's env_step in a population checkpoint: its run folder keeps the log lines up to there."""
    members = data["members"]
    if len(members) != agents:
        seeds = [c["run"]["seed"] for c in data["configs"]]
        raise CheckpointError(f"the population checkpoint holds {len(members)} agents (seeds {seeds}), this "
                              f"population has {agents}: resume with the checkpoint's seeds")
    return [int(m["env_step"]) for m in members]
