"""TD3 for K agents in one batched update: one forward/backward and one Adam step for all.

The maths is lab.td3.TD3's, agent by agent: each agent's loss depends only on its
own weights and batch, so summing the K losses gives every agent exactly its own
gradient. Hyperparameters that may differ per agent are (K,) tensors; policy delay
becomes a mask, so an agent whose delay skips this update keeps its actor, targets
and actor optimizer untouched. Agents that no longer learn (frozen or finished) leave
the stacks altogether (``keep``), so the update then costs what the remaining agents cost.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lab.config import NetworkConfig, TrainingConfig
from lab.networks import Actor, TwinCritic
from lab.population.networks import StackedActor, StackedTwinCritic
from lab.population.optim import StackedAdam, agent_view
from lab.population.slots import AgentSlots
from lab.replay import Batch
from lab.td3 import LEARNER_PARTS, actor_objective, load_parts, td3_target

HYPERPARAMETERS = ("actor_lr", "critic_lr", "tau", "policy_delay", "target_policy_noise", "target_noise_clip",
                   "grad_clip", "weight_decay", "action_penalty", "target_pessimism")
"""Learner settings held as one value per agent."""


@dataclass
class PopulationUpdate:
    """Per-agent results of one batched update, one row per active agent; actor_loss is NaN where skipped."""

    critic_loss: torch.Tensor
    actor_loss: torch.Tensor
    mean_q: torch.Tensor
    actor_updated: torch.Tensor


def initial_modules(seed: int, obs_dim: int, act_dim: int,
                    net: NetworkConfig) -> tuple[Actor, TwinCritic, torch.Tensor]:
    """The actor and critic a single-agent run seeded with seed starts from, and the torch RNG state after them."""
    generator_state = torch.get_rng_state()
    try:
        torch.manual_seed(seed)
        actor, critic = Actor(obs_dim, act_dim, net), TwinCritic(obs_dim, act_dim, net)
        return actor, critic, torch.get_rng_state()
    finally:
        torch.set_rng_state(generator_state)


class PopulationTD3:
    """K TD3 learners with stacked weights; see lab.td3.TD3 for the single-agent original.

    Batches, masks and results are laid out by ``active`` (the agents the stacks hold, in agent order);
    settings, policies and checkpoints are addressed by agent index whether the agent is active or not.
    """

    def __init__(self, actors: list[Actor], critics: list[TwinCritic], configs: list[TrainingConfig],
                 rng_states: list[torch.Tensor] | None = None) -> None:
        torch.set_flush_denormal(True)  # as TD3 does: dead ReLU moments decay into slow denormals
        k = len(actors)
        self.actor = StackedActor(actors)
        self.critic = StackedTwinCritic(critics)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.values = {name: torch.tensor([float(getattr(c, name)) for c in configs], dtype=torch.float64)
                       for name in HYPERPARAMETERS}
        self.actor_opt = StackedAdam(list(self.actor.parameters()), self.values["actor_lr"],
                                     weight_decay=self.values["weight_decay"])
        self.critic_opt = StackedAdam(list(self.critic.parameters()), self.values["critic_lr"],
                                      weight_decay=self.values["weight_decay"])
        self.huber = torch.tensor([c.critic_loss == "huber" for c in configs])
        self.generators = [torch.Generator() for _ in range(k)]
        for g, state in zip(self.generators, rng_states or []):
            g.set_state(state)
        self.updates = torch.zeros(k, dtype=torch.long)
        """Updates each agent has taken; its policy delay counts these."""
        self.slots = AgentSlots(self._per_agent_tensors(), k)
        self._parked_actors: dict[int, Actor] = {}
        self._lock = threading.RLock()  # policies and settings are read from other threads while agents leave
        self._pairs: list[tuple[list[torch.Tensor], list[torch.Tensor]]] = []
        self._bind()

    def _per_agent_tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor with a row per agent, by the name its checkpoint part uses."""
        tensors: dict[str, torch.Tensor] = {}
        for part in ("actor", "critic", "actor_target", "critic_target"):
            tensors.update({f"{part}.{n}": p for n, p in getattr(self, part).named_parameters()})
        for part in ("actor_opt", "critic_opt"):
            opt = getattr(self, part)
            tensors[f"{part}.steps"] = opt.steps
            for moment in ("exp_avg", "exp_avg_sq"):
                tensors.update({f"{part}.{moment}.{i}": t for i, t in enumerate(getattr(opt, moment))})
        tensors.update({f"values.{name}": v for name, v in self.values.items()})  # the optimizers' lr too
        tensors.update(huber=self.huber, updates=self.updates)
        return tensors

    def _bind(self) -> None:
        """Point every network, optimizer and setting at the slots' current tensors (after agents came or went)."""
        t = self.slots.tensors
        for part in ("actor", "critic", "actor_target", "critic_target"):
            module = getattr(self, part)
            for name, _ in list(module.named_parameters()):
                owner, _, attr = name.rpartition(".")
                setattr(module.get_submodule(owner) if owner else module, attr, t[f"{part}.{name}"])
        self.values = {name: t[f"values.{name}"] for name in self.values}
        for part, network, lr in (("actor_opt", self.actor, "actor_lr"), ("critic_opt", self.critic, "critic_lr")):
            opt = getattr(self, part)
            opt.params = list(network.parameters())
            opt.steps, opt.lr, opt.weight_decay = t[f"{part}.steps"], self.values[lr], self.values["weight_decay"]
            for moment in ("exp_avg", "exp_avg_sq"):
                setattr(opt, moment, [t[f"{part}.{moment}.{i}"] for i in range(len(opt.params))])
        self.huber, self.updates = t["huber"], t["updates"]
        self._pairs = [(list(self.actor_target.parameters()), list(self.actor.parameters())),
                       (list(self.critic_target.parameters()), list(self.critic.parameters()))]

    # ---- which agents learn -------------------------------------------------------------
    @property
    def agents(self) -> int:
        """Agents the stacks hold now."""
        return len(self.slots.active)

    @property
    def active(self) -> list[int]:
        """The agents the stacks hold, in the order of their rows."""
        return self.slots.active

    def keep(self, agents: Iterable[int]) -> None:
        """Hold only these agents in the stacks; the others keep their state but cost nothing per update."""
        with self._lock:
            agents = sorted(set(agents))
            leaving = [k for k in self.slots.active if k not in agents]
            actors = {k: self.actor.unstack(self.slots.position(k)) for k in leaving}  # type: ignore[arg-type]
            self.slots.keep(agents)
            self._bind()
            self._parked_actors = {k: a for k, a in {**self._parked_actors, **actors}.items() if k not in agents}

    # ---- live hyperparameters ---------------------------------------------------------
    def set(self, name: str, agent: int, value: float) -> None:
        """Change one agent's value; it applies from the next update."""
        if name not in self.values:
            raise KeyError(f"{name!r} is not a per-agent learner setting: allowed {', '.join(HYPERPARAMETERS)}")
        with self._lock:
            self.slots.write(f"values.{name}", agent, float(value))

    def get(self, name: str, agent: int) -> float:
        with self._lock:
            value = float(self.slots.read(f"values.{name}", agent))
        return int(value) if name == "policy_delay" else value

    # ---- acting -----------------------------------------------------------------------
    @torch.inference_mode()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic actions, obs (K, N, obs_dim) -> (K, N, act_dim)."""
        return self.actor(obs)

    # ---- learning ---------------------------------------------------------------------
    def update(self, batch: Batch, mask: torch.Tensor | None = None) -> PopulationUpdate:
        """One critic step for every agent in mask (all when None); an actor step and target update for those
        whose policy delay is due. Agents outside the mask are left exactly as they were."""
        live = torch.ones(self.agents, dtype=torch.bool) if mask is None else mask
        self.updates += live.long()
        critic_loss, mean_q = self.critic_step(batch, mask)
        due = (torch.remainder(self.updates, self.values["policy_delay"].long()) == 0) & live
        actor_loss = torch.full((self.agents,), float("nan"))
        if bool(due.any()):
            due_mask = None if bool(due.all()) else due
            actor_loss = torch.where(due, self.actor_step(batch, due_mask), actor_loss)
            self.soft_update(due_mask)
        return PopulationUpdate(critic_loss, actor_loss, mean_q, due)

    def critic_step(self, batch: Batch, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Regress both Q-functions of every agent onto its clipped double-Q target."""
        with torch.no_grad():
            next_action = self._smoothed_target_action(batch.next_obs, mask)
            next_q = self.critic_target(batch.next_obs, next_action)  # (K, 2, B)
            target = td3_target(batch.rewards, batch.discounts, next_q[:, 0], next_q[:, 1],
                                self.values["target_pessimism"])
        q = self.critic(batch.obs, batch.actions)
        target = target.unsqueeze(1).expand_as(q)
        per_sample = (q - target).square()
        if bool(self.huber.any()):
            huber = F.huber_loss(q, target, reduction="none")
            per_sample = torch.where(agent_view(self.huber, q), huber, per_sample)
        per_agent = (per_sample * batch.weights.unsqueeze(1)).mean(dim=2).sum(dim=1)
        params = list(self.critic.parameters())
        grads = list(torch.autograd.grad(per_agent.sum(), params))
        self._clip(grads)
        self.critic_opt.step(grads, mask)
        return per_agent.detach(), q.detach().mean(dim=(1, 2))

    def actor_step(self, batch: Batch, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Push each actor up its own first critic's Q surface; the critics get no gradients."""
        pre_tanh = self.actor.pre_tanh(batch.obs)
        penalty = self.values["action_penalty"].float()
        per_agent = actor_objective(self.critic.q1(batch.obs, torch.tanh(pre_tanh)), pre_tanh,
                                    penalty if bool((penalty > 0).any()) else 0.0)
        params = list(self.actor.parameters())
        grads = list(torch.autograd.grad(per_agent.sum(), params))
        self._clip(grads)
        self.actor_opt.step(grads, mask)
        return per_agent.detach()

    def _smoothed_target_action(self, next_obs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """a' = clip(pi'(s') + clip(N(0, std_k), -c_k, c_k), -1, 1), noise drawn from each agent's generator
        (only for agents in mask, so a skipped agent's random stream does not move)."""
        action = self.actor_target(next_obs)
        noise = torch.zeros_like(action)
        for row, k in enumerate(self.slots.active):
            if mask is None or bool(mask[row]):
                torch.randn(action.shape[1:], generator=self.generators[k], out=noise[row])
        std = agent_view(self.values["target_policy_noise"].float(), noise)
        clip = agent_view(self.values["target_noise_clip"].float(), noise)
        noise = torch.maximum(torch.minimum(noise * std, clip), -clip)
        return (action + noise).clamp_(-1.0, 1.0)

    def _clip(self, grads: list[torch.Tensor]) -> None:
        """Clip each agent's global gradient norm to its grad_clip (0 leaves it alone), as clip_grad_norm_ does."""
        limit = self.values["grad_clip"].float()
        if not bool((limit > 0).any()):
            return
        norms = torch.stack([g.flatten(1).square().sum(dim=1) for g in grads]).sum(dim=0).sqrt()
        coef = torch.where(limit > 0, (limit / (norms + 1e-6)).clamp(max=1.0), torch.ones_like(norms))
        torch._foreach_mul_(grads, [agent_view(coef, g) for g in grads])

    @torch.no_grad()
    def soft_update(self, mask: torch.Tensor | None = None) -> None:
        """Polyak averaging with each agent's tau; masked-out agents keep their targets."""
        tau = (self.values["tau"] if mask is None else self.values["tau"] * mask).float()
        for target, online in self._pairs:
            torch._foreach_lerp_(target, online, [agent_view(tau, p) for p in target])

    # ---- one agent in and out ---------------------------------------------------------
    def copy_agent(self, source: int, target: int) -> None:
        """Agent target becomes agent source: weights, targets, Adam moments and steps, per-agent settings and
        update count. Its target-smoothing noise stream stays its own, so the two go on differently."""
        with self._lock:
            self.slots.copy(source, target)
            if target in self._parked_actors:
                self._parked_actors[target] = self.agent_actor(source)

    def agent_actor(self, k: int) -> Actor:
        """Agent k's policy network (a copy), whether it still learns or not."""
        with self._lock:
            pos = self.slots.position(k)
            return copy.deepcopy(self._parked_actors[k]) if pos is None else self.actor.unstack(pos)

    def agent_state(self, k: int) -> dict:
        """Agent k alone: its networks as single-agent state_dicts (lab.networks layout) and every per-agent row
        of the stacks (weights, targets, Adam moments and steps, settings) in the population's own layout."""
        with self._lock:
            rows = {name: self.slots.read(name, k).detach().clone() for name in self.slots.tensors}
            pos = self.slots.position(k)
            actor = self.agent_actor(k)
            if pos is None:
                return {"actor": actor.state_dict(), "population_rows": rows}
            net, obs_dim, act_dim = self.actor.network_config, self.actor.obs_dim, self.actor.act_dim
            return {"actor": actor.state_dict(), "actor_target": self.actor_target.unstack(pos).state_dict(),
                    "critic": self.critic.unstack(pos, obs_dim, act_dim, net).state_dict(),
                    "critic_target": self.critic_target.unstack(pos, obs_dim, act_dim, net).state_dict(),
                    "updates": int(rows["updates"]), "population_rows": rows}

    def actor_state(self) -> dict[str, torch.Tensor]:
        """The stacked actor's state_dict with all K agents, as lab.policy reads it from a checkpoint."""
        return self._part_state("actor")

    def _part_state(self, part: str) -> dict:
        if part.endswith("_opt"):
            n = len(getattr(self, part).params)
            return {"steps": self.slots.full(f"{part}.steps"),
                    **{m: [self.slots.full(f"{part}.{m}.{i}") for i in range(n)] for m in ("exp_avg", "exp_avg_sq")}}
        return {name: self.slots.full(f"{part}.{name}") for name, _ in getattr(self, part).named_parameters()}

    def state_dict(self) -> dict:
        """Every agent's state in its place (the format of a population that never parked anyone)."""
        with self._lock:
            return {
                **{part: self._part_state(part) for part in LEARNER_PARTS},
                "values": {k: self.slots.full(f"values.{k}") for k in self.values},
                "generators": [g.get_state() for g in self.generators], "updates": self.slots.full("updates"),
            }

    def load_state_dict(self, data: dict) -> None:
        """Restore all K agents; every agent is active afterwards."""
        self.keep(range(self.slots.agents))
        load_parts(self, data)
        for name, value in data["values"].items():
            self.values[name].copy_(value)
        for g, state in zip(self.generators, data["generators"]):
            g.set_state(state)
        self.updates.copy_(data["updates"])
