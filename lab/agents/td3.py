"""TD3 (Fujimoto et al. 2018) for K agents at once, readable top to bottom.

DDPG learns a critic Q(s, a) by regressing it onto r + gamma * Q'(s', pi'(s')) and an actor
pi(s) by climbing the critic; TD3 adds three ideas:
1. Clipped double-Q: two critics; the target uses the smaller of their estimates.
2. Target policy smoothing: clipped noise on the target action, so Q is smooth in a.
3. Delayed policy updates: the actor and the targets move once per policy_delay critic steps.

Every agent's actor and twin critics are stacked on a leading agent dimension, so one
forward, one backward and one Adam step serve all K agents; a single run is K = 1. Each
agent's loss depends only on its own weights and batch, so summing the K losses gives
every agent exactly its own gradient. Settings that may differ per agent are (K,)
tensors read from each agent's TrainingConfig (``configure``); policy delay becomes a
mask, so an agent whose delay skips this update keeps its actor, targets and actor
optimizer untouched. Agents that no longer learn leave the stacks (``keep``).
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lab.agents.adam import StackedAdam, agent_view
from lab.agents.networks import Actor, StackedActor, StackedTwinCritic, TwinCritic
from lab.agents.replay import Batch
from lab.agents.slots import AgentSlots
from lab.config import ConfigError, NetworkConfig, TrainingConfig

PARTS = ("actor", "critic", "actor_target", "critic_target", "actor_opt", "critic_opt")
"""What the learner checkpoints: the networks, their targets and their optimizers."""
SETTINGS = ("actor_lr", "critic_lr", "tau", "policy_delay", "target_policy_noise", "target_noise_clip",
            "grad_clip", "weight_decay")
"""The TrainingConfig fields the update reads, held as one value per agent."""


# ---- the maths, as pure functions ----------------------------------------------------------------------
def td3_target(rewards: torch.Tensor, discounts: torch.Tensor, next_q1: torch.Tensor,
               next_q2: torch.Tensor) -> torch.Tensor:
    """y = r + discount * min(Q1', Q2'); discount is gamma**n, or 0 after termination."""
    return rewards + discounts * torch.minimum(next_q1, next_q2)


def smoothed_target_action(target_actor: torch.nn.Module, next_obs: torch.Tensor, noise_std: float,
                           noise_clip: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """a' = clip(pi'(s') + clip(N(0, std), -c, c), -1, 1), for one agent's target actor."""
    action = target_actor(next_obs)
    noise = torch.randn(action.shape, generator=generator, device=action.device, dtype=action.dtype)
    return (action + (noise * noise_std).clamp_(-noise_clip, noise_clip)).clamp_(-1.0, 1.0)


def lr_factor(schedule: str, progress: float) -> float:
    """The learning-rate multiplier of training.lr_schedule at progress in [0, 1] of the run's steps."""
    if schedule == "linear":
        return 1.0 - 0.9 * progress
    if schedule == "cosine":
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress)))
    return 1.0


def resolve_device(name: str) -> torch.device:
    """run.device as a torch device; asking for CUDA where there is none is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("run.device='cuda' is invalid: no CUDA device is available; allowed auto or cpu")
    return torch.device(name)


def initial_modules(seed: int, obs_dim: int, act_dim: int, net: NetworkConfig) -> tuple[Actor, TwinCritic]:
    """The actor and twin critic an agent seeded with seed starts from (the global torch RNG is left as it was)."""
    state = torch.get_rng_state()
    try:
        torch.manual_seed(seed)
        return Actor(obs_dim, act_dim, net), TwinCritic(obs_dim, act_dim, net)
    finally:
        torch.set_rng_state(state)


@dataclass
class UpdateResult:
    """One batched update, one row per agent it carried (in ``TD3.active`` order)."""

    critic_loss: torch.Tensor
    actor_loss: torch.Tensor
    """NaN where the agent's policy delay skipped the actor step."""
    mean_q: torch.Tensor
    td_errors: torch.Tensor
    """|Q1 - y| per sample, (agents, batch): what prioritized replay writes back."""
    actor_updated: torch.Tensor
    critic_grad_norm: torch.Tensor | None = None
    actor_grad_norm: torch.Tensor | None = None


class TD3:
    """K TD3 learners with stacked weights.

    Batches, masks and results are laid out by ``active`` (the agents the stacks hold, in agent order);
    settings, policies and checkpoints are addressed by agent index whether the agent is active or not.
    """

    def __init__(self, seeds: Sequence[int], obs_dim: int, act_dim: int, net: NetworkConfig | Sequence[NetworkConfig],
                 configs: Sequence[TrainingConfig], device: torch.device | str = "cpu") -> None:
        """net: the agents' network config, or one per agent (they share its shapes; main_engine_bias is each's)."""
        torch.set_flush_denormal(True)  # Adam's moments of dead ReLU units decay into denormals, ~4x slower on CPUs
        self.device = torch.device(device)
        nets = [net] * len(seeds) if isinstance(net, NetworkConfig) else list(net)
        self.obs_dim, self.act_dim, self.network = obs_dim, act_dim, nets[0]
        starts = [initial_modules(seed, obs_dim, act_dim, n) for seed, n in zip(seeds, nets)]
        k = len(starts)
        self.actor = StackedActor([a for a, _ in starts]).to(self.device)
        self.critic = StackedTwinCritic([c for _, c in starts]).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.values = {name: torch.zeros(k, dtype=torch.float64, device=self.device) for name in SETTINGS}
        self.huber = torch.zeros(k, dtype=torch.bool, device=self.device)
        self.lr_factors = torch.ones(k, dtype=torch.float64, device=self.device)
        self.actor_opt = StackedAdam(list(self.actor.parameters()), k)
        self.critic_opt = StackedAdam(list(self.critic.parameters()), k)
        self.generators = [torch.Generator(device=self.device) for _ in range(k)]
        for g, seed in zip(self.generators, seeds):
            g.manual_seed(seed + 2)
        self.updates = torch.zeros(k, dtype=torch.long, device=self.device)
        """Updates each agent has taken; its policy delay counts these."""
        self.slots = AgentSlots(self._per_agent_tensors(), k)
        self._parked: dict[int, tuple[Actor, TwinCritic]] = {}
        self._lock = threading.RLock()  # policies and settings are read from other threads while agents leave
        self._pairs: list[tuple[list[torch.Tensor], list[torch.Tensor]]] = []
        self._bind()
        self.configure(configs)

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
        tensors.update({f"values.{name}": v for name, v in self.values.items()})
        tensors.update(huber=self.huber, lr_factors=self.lr_factors, updates=self.updates)
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
        for part, network in (("actor_opt", self.actor), ("critic_opt", self.critic)):
            opt = getattr(self, part)
            opt.params = list(network.parameters())
            opt.steps = t[f"{part}.steps"]
            for moment in ("exp_avg", "exp_avg_sq"):
                setattr(opt, moment, [t[f"{part}.{moment}.{i}"] for i in range(len(opt.params))])
        self.huber, self.lr_factors, self.updates = t["huber"], t["lr_factors"], t["updates"]
        self._pairs = [(list(self.actor_target.parameters()), list(self.actor.parameters())),
                       (list(self.critic_target.parameters()), list(self.critic.parameters()))]
        for module in (self.actor, self.critic, self.actor_target, self.critic_target):
            module.refresh()
        self._actor_params, self._critic_params = self._pairs[0][1], self._pairs[1][1]
        self._note_settings()

    def _note_settings(self) -> None:
        """What every update reads of the settings, worked out once per change rather than once per update."""
        v = self.values
        self._delay = v["policy_delay"].long()
        self._noise_std, self._noise_clip = v["target_policy_noise"].float(), v["target_noise_clip"].float()
        self._tau, self._grad_clip = v["tau"].float(), v["grad_clip"].float()
        self._any_huber = bool(self.huber.any())
        self._any_clip = bool((self._grad_clip > 0).any())

    # ---- settings ---------------------------------------------------------------------------------------
    def configure(self, configs: Sequence[TrainingConfig], agents: Iterable[int] | None = None) -> None:
        """Read every per-agent setting from the agents' configs (all agents, or those named): a live change."""
        with self._lock:
            for k in range(self.slots.agents) if agents is None else agents:
                c = configs[k]
                for name in SETTINGS:
                    self.slots.write(f"values.{name}", k, float(getattr(c, name)))
                self.slots.write("huber", k, c.critic_loss == "huber")
            self._note_settings()

    def set_lr_factors(self, factors: dict[int, float]) -> None:
        """The learning-rate schedule's multiplier per agent (lr_factor), applied from the next update."""
        with self._lock:
            for k, factor in factors.items():
                self.slots.write("lr_factors", k, factor)

    def setting(self, name: str, agent: int) -> float:
        """One agent's current value of a setting (its learning rates with the schedule applied)."""
        with self._lock:
            value = float(self.slots.read(f"values.{name}", agent))
            if name in ("actor_lr", "critic_lr"):
                value *= float(self.slots.read("lr_factors", agent))
        return value

    # ---- which agents learn -----------------------------------------------------------------------------
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
            parked = {k: self._unstack(self.slots.position(k)) for k in leaving}  # type: ignore[arg-type]
            self.slots.keep(agents)
            self._bind()
            self._parked = {k: v for k, v in {**self._parked, **parked}.items() if k not in agents}

    # ---- acting -----------------------------------------------------------------------------------------
    @torch.inference_mode()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic actions of the active agents, obs (agents, N, obs_dim) -> (agents, N, act_dim)."""
        return self.actor(obs.to(self.device))

    # ---- learning ---------------------------------------------------------------------------------------
    def update(self, batch: Batch, mask: torch.Tensor | None = None, want_norms: bool = False) -> UpdateResult:
        """One critic step for every agent in mask (all when None); an actor step and target update for those
        whose policy delay is due. Agents outside the mask are left exactly as they were."""
        if mask is None:
            self.updates += 1
        else:
            self.updates += mask.long()
        critic_loss, mean_q, td_errors, critic_norm = self.critic_step(batch, mask, want_norms)
        due = torch.remainder(self.updates, self._delay) == 0
        if mask is not None:
            due &= mask
        actor_norm = None
        due_count = int(due.sum())
        if due_count:
            due_mask = None if due_count == self.agents else due
            loss, actor_norm = self.actor_step(batch, due_mask, want_norms)
            actor_loss = loss if due_mask is None else torch.where(due, loss, float("nan"))
            self.soft_update(due_mask)
        else:
            actor_loss = torch.full((self.agents,), float("nan"), device=self.device)
        return UpdateResult(critic_loss, actor_loss, mean_q, td_errors, due, critic_norm, actor_norm)

    def critic_step(self, batch: Batch, mask: torch.Tensor | None = None,
                    want_norms: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Regress both Q-functions of every agent onto its clipped double-Q target; PER weights scale each sample."""
        with torch.no_grad():
            next_action = self._smoothed_target_action(batch.next_obs, mask)
            next_q = self.critic_target(batch.next_obs, next_action)  # (K, 2, B)
            target = td3_target(batch.rewards, batch.discounts, next_q[:, 0], next_q[:, 1])
        q = self.critic(batch.obs, batch.actions)
        target = target.unsqueeze(1).expand_as(q)
        per_sample = (q - target).square()
        if self._any_huber:
            huber = F.huber_loss(q, target, reduction="none")
            per_sample = torch.where(agent_view(self.huber, q), huber, per_sample)
        per_agent = (per_sample * batch.weights.unsqueeze(1)).mean(dim=2).sum(dim=1)
        grads = list(torch.autograd.grad(per_agent.sum(), self._critic_params))
        norm = self._clip(grads, want_norms)
        self.critic_opt.step(grads, self._lr("critic_lr"), self.values["weight_decay"], mask)
        td_errors = (q[:, 0] - target[:, 0]).detach().abs()
        return per_agent.detach(), q.detach().mean(dim=(1, 2)), td_errors, norm

    def actor_step(self, batch: Batch, mask: torch.Tensor | None = None,
                   want_norms: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Push each actor up its own first critic's Q surface: loss -mean Q1(s, pi(s)); the critics get no
        gradients. Only the agents in mask are computed at all: agents out of step with each other's policy
        delay would otherwise cost a whole actor step every update."""
        rows = None if mask is None else mask.nonzero().squeeze(1)
        obs = batch.obs if rows is None else batch.obs.index_select(0, rows)
        loss = -self.critic.q1(obs, self.actor(obs, rows), rows).mean(dim=-1)
        grads = list(torch.autograd.grad(loss.sum(), self._actor_params))  # zero for agents outside rows
        norm = self._clip(grads, want_norms)
        self.actor_opt.step(grads, self._lr("actor_lr"), self.values["weight_decay"], mask)
        if rows is None:
            return loss.detach(), norm
        per_agent = torch.full((self.agents,), float("nan"), device=self.device)
        return per_agent.index_copy_(0, rows, loss.detach()), norm

    def _lr(self, name: str) -> torch.Tensor:
        return self.values[name] * self.lr_factors

    def _smoothed_target_action(self, next_obs: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """smoothed_target_action for every agent, the noise drawn from each agent's own generator (only for
        agents in mask, so a skipped agent's random stream does not move)."""
        action = self.actor_target(next_obs)
        noise = torch.zeros_like(action)
        for row, k in enumerate(self.slots.active):
            if mask is None or bool(mask[row]):
                torch.randn(action.shape[1:], generator=self.generators[k], out=noise[row])
        std, clip = agent_view(self._noise_std, noise), agent_view(self._noise_clip, noise)
        noise = torch.maximum(torch.minimum(noise * std, clip), -clip)
        return (action + noise).clamp_(-1.0, 1.0)

    def _clip(self, grads: list[torch.Tensor], want_norms: bool) -> torch.Tensor | None:
        """Clip each agent's global gradient norm to its grad_clip (0 leaves it), as clip_grad_norm_ does; returns
        the norms before clipping when asked or computed anyway."""
        limit, clipping = self._grad_clip, self._any_clip
        if not (clipping or want_norms):
            return None
        norms = torch.stack([g.flatten(1).square().sum(dim=1) for g in grads]).sum(dim=0).sqrt()
        if clipping:
            coef = torch.where(limit > 0, (limit / (norms + 1e-6)).clamp(max=1.0), torch.ones_like(norms))
            torch._foreach_mul_(grads, [agent_view(coef, g) for g in grads])
        return norms

    @torch.no_grad()
    def soft_update(self, mask: torch.Tensor | None = None) -> None:
        """Polyak averaging, target += tau * (online - target), with each agent's tau; masked-out agents keep theirs."""
        tau = self._tau if mask is None else self._tau * mask
        for target, online in self._pairs:
            torch._foreach_lerp_(target, online, [agent_view(tau, p) for p in target])

    # ---- one agent in and out ---------------------------------------------------------------------------
    def _unstack(self, pos: int) -> tuple[Actor, TwinCritic]:
        return (self.actor.unstack(pos).cpu(),
                self.critic.unstack(pos, self.obs_dim, self.act_dim, self.network).cpu())

    def agent_modules(self, k: int) -> tuple[Actor, TwinCritic]:
        """Agent k's actor and twin critic as ordinary single-agent modules on the CPU (copies)."""
        with self._lock:
            pos = self.slots.position(k)
            if pos is None:
                return copy.deepcopy(self._parked[k])
            return self._unstack(pos)

    def copy_agent(self, source: int, target: int) -> None:
        """Agent target becomes agent source: weights, targets, Adam moments and steps, settings and update count.
        Its target-smoothing noise stream stays its own, so the two go on differently."""
        with self._lock:
            self.slots.copy(source, target)
            if target in self._parked:
                self._parked[target] = self.agent_modules(source)

    def finite_agents(self) -> dict[int, bool]:
        """For each agent the stacks hold, whether its networks' weights are all finite."""
        with self._lock:
            finite = torch.ones(self.agents, dtype=torch.bool, device=self.device)
            for module in (self.actor, self.critic):
                for p in module.parameters():
                    finite &= torch.isfinite(p.detach()).flatten(1).all(dim=1)
            return dict(zip(self.slots.active, finite.tolist()))

    # ---- checkpointing ----------------------------------------------------------------------------------
    def _part_state(self, part: str) -> dict:
        if part.endswith("_opt"):
            n = len(getattr(self, part).params)
            return {"steps": self.slots.full(f"{part}.steps"),
                    **{m: [self.slots.full(f"{part}.{m}.{i}") for i in range(n)] for m in ("exp_avg", "exp_avg_sq")}}
        return {name: self.slots.full(f"{part}.{name}") for name, _ in getattr(self, part).named_parameters()}

    def state_dict(self) -> dict:
        """Every agent's state in its place, on the CPU."""
        with self._lock:
            state = {**{part: self._part_state(part) for part in PARTS},
                     "values": {k: self.slots.full(f"values.{k}") for k in self.values},
                     "generators": [g.get_state() for g in self.generators], "updates": self.slots.full("updates")}
            return _to_cpu(state)  # type: ignore[return-value]

    def load_state_dict(self, data: dict) -> None:
        """Restore all K agents; every agent is active afterwards (then ``configure`` lets the configs rule)."""
        with self._lock:
            self.keep(range(self.slots.agents))
            for part in PARTS:
                if part.endswith("_opt"):
                    opt, saved = getattr(self, part), data[part]
                    opt.steps.copy_(saved["steps"])
                    theirs = list(saved["exp_avg"]) + list(saved["exp_avg_sq"])
                    for mine, saved_moment in zip(opt.exp_avg + opt.exp_avg_sq, theirs):
                        mine.copy_(saved_moment)
                else:
                    getattr(self, part).load_state_dict(data[part])
            for name, value in data["values"].items():
                if name in self.values:
                    self.values[name].copy_(value)
            for g, state in zip(self.generators, data["generators"]):
                g.set_state(state)
            self.updates.copy_(data["updates"])

    def load_agent(self, k: int, data: dict, row: int | None = None) -> None:
        """Agent k's rows from a state_dict's row (k's own by default; the others stay): how a failed agent returns
        to its last good state."""
        row = k if row is None else row
        with self._lock:
            rows: dict[str, torch.Tensor] = {}
            for part in PARTS:
                saved = data[part]
                if part.endswith("_opt"):
                    rows[f"{part}.steps"] = saved["steps"][row]
                    for moment in ("exp_avg", "exp_avg_sq"):
                        rows.update({f"{part}.{moment}.{i}": t[row] for i, t in enumerate(saved[moment])})
                else:
                    rows.update({f"{part}.{name}": t[row] for name, t in saved.items()})
            rows["updates"] = data["updates"][row]
            for name, row in rows.items():
                self.slots.write_row(name, k, row.to(self.device))
            if k in self._parked:
                self._parked[k] = self._parked_from_rows(k)

    def _parked_from_rows(self, k: int) -> tuple[Actor, TwinCritic]:
        """A parked agent's modules, rebuilt from its parked rows."""
        actor, critic = initial_modules(0, self.obs_dim, self.act_dim, self.network)
        stacked_actor, stacked_critic = StackedActor([actor]), StackedTwinCritic([critic])
        with torch.no_grad():
            for name, p in stacked_actor.named_parameters():
                p.copy_(self.slots.read(f"actor.{name}", k)[None].cpu())
            for name, p in stacked_critic.named_parameters():
                p.copy_(self.slots.read(f"critic.{name}", k)[None].cpu())
        return stacked_actor.unstack(0), stacked_critic.unstack(0, self.obs_dim, self.act_dim, self.network)


def _to_cpu(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value
