"""TD3 (Fujimoto et al. 2018), readable top to bottom.

Three ideas on top of DDPG:
1. Clipped double-Q: two critics; the target uses the smaller of their estimates.
2. Target policy smoothing: clipped noise on the target action, so Q is smooth in a.
3. Delayed policy updates: the actor and the targets move once per policy_delay critic steps.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from lab.config import ConfigError, NetworkConfig, TrainingConfig
from lab.networks import Actor, TwinCritic
from lab.replay import Batch


@dataclass
class UpdateResult:
    critic_loss: float | torch.Tensor
    actor_loss: float | torch.Tensor | None
    mean_q: float | torch.Tensor
    td_errors: torch.Tensor
    critic_grad_norm: float | torch.Tensor
    actor_grad_norm: float | torch.Tensor | None


def _adam(params, lr: float, weight_decay: float) -> torch.optim.Adam:  # type: ignore[no-untyped-def]
    """Fused Adam (one kernel for all parameters) where this torch build has it: ~5-10% per update."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def twin_estimate(next_q1: torch.Tensor, next_q2: torch.Tensor,
                  pessimism: float | torch.Tensor = 1.0) -> torch.Tensor:
    """mean(Q1', Q2') - pessimism * |Q1' - Q2'| / 2: their min at 1 (TD3), their mean at 0.

    The min is taken as torch.minimum wherever pessimism is 1, so TD3's runs stay the same bit for bit.
    A tensor pessimism holds one value per row of the Q tensors (one per agent of a population).
    """
    if not isinstance(pessimism, torch.Tensor):
        return torch.minimum(next_q1, next_q2) if pessimism == 1.0 else _blend(next_q1, next_q2, pessimism)
    if bool((pessimism == 1).all()):
        return torch.minimum(next_q1, next_q2)
    weight = pessimism.to(next_q1.dtype).reshape(-1, *([1] * (next_q1.dim() - 1)))
    return torch.where(weight == 1, torch.minimum(next_q1, next_q2), _blend(next_q1, next_q2, weight))


def _blend(next_q1: torch.Tensor, next_q2: torch.Tensor, weight: float | torch.Tensor) -> torch.Tensor:
    return (next_q1 + next_q2) / 2 - weight * (next_q1 - next_q2).abs() / 2


def td3_target(rewards: torch.Tensor, discounts: torch.Tensor, next_q1: torch.Tensor,
               next_q2: torch.Tensor, pessimism: float | torch.Tensor = 1.0) -> torch.Tensor:
    """y = r + discount * min(Q1', Q2') (or a milder blend, see twin_estimate); discount is gamma**n, or 0
    after termination."""
    return rewards + discounts * twin_estimate(next_q1, next_q2, pessimism)


def smoothed_target_action(target_actor: Actor, next_obs: torch.Tensor, noise_std: float,
                           noise_clip: float) -> torch.Tensor:
    """a' = clip(pi'(s') + clip(N(0, std), -c, c), -1, 1)."""
    action = target_actor(next_obs)
    noise = (torch.randn_like(action) * noise_std).clamp_(-noise_clip, noise_clip)
    return (action + noise).clamp_(-1.0, 1.0)


def actor_objective(q: torch.Tensor, pre_tanh: torch.Tensor, action_penalty: float | torch.Tensor) -> torch.Tensor:
    """-mean Q(s, pi(s)) + action_penalty * mean(u**2) over the batch's last dimension, u = pi's pre-tanh output."""
    loss = -q.mean(dim=-1)
    if isinstance(action_penalty, torch.Tensor) or action_penalty > 0:
        loss = loss + action_penalty * pre_tanh.square().mean(dim=(-2, -1))
    return loss


def resolve_device(name: str) -> torch.device:
    """run.device as a torch device; asking for CUDA where there is none is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("run.device='cuda' is invalid: no CUDA device is available; allowed auto or cpu")
    return torch.device(name)


LEARNER_PARTS = ("actor", "critic", "actor_target", "critic_target", "actor_opt", "critic_opt")
"""What a TD3-style learner checkpoints: its networks, their targets and their optimizers."""


class TD3:
    """The learner: actor, twin critics, their targets and optimizers.

    Hyperparameters are read from ``config`` (a frozen TrainingConfig) at each
    update; a live change swaps ``config`` between updates.
    """

    def __init__(self, obs_dim: int, act_dim: int, net: NetworkConfig, cfg: TrainingConfig,
                 device: torch.device | str = "cpu") -> None:
        # Adam's moments of dead ReLU units decay into denormals, which run ~4x slower on CPUs.
        torch.set_flush_denormal(True)
        self.config = cfg
        self.device = torch.device(device)
        self.actor = Actor(obs_dim, act_dim, net).to(self.device)
        self.critic = TwinCritic(obs_dim, act_dim, net).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = _adam(self.actor.parameters(), cfg.actor_lr, cfg.weight_decay)
        self.critic_opt = _adam(self.critic.parameters(), cfg.critic_lr, cfg.weight_decay)
        self.updates = 0
        self._pairs: list[tuple[list[torch.Tensor], list[torch.Tensor]]] = [
            (list(self.actor_target.parameters()), list(self.actor.parameters())),
            (list(self.critic_target.parameters()), list(self.critic.parameters()))]

    @property
    def tau(self) -> float:
        return self.config.tau

    @property
    def policy_delay(self) -> int:
        return self.config.policy_delay

    @property
    def temperature(self) -> float:
        """The entropy temperature a metric reports: TD3 has none (SAC learns one)."""
        return float("nan")

    # ---- acting -----------------------------------------------------------------------
    @torch.inference_mode()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic actions for a batch of observations."""
        return self.actor(torch.as_tensor(obs, dtype=torch.float32, device=self.device)).cpu().numpy()

    def explore(self, obs: np.ndarray) -> np.ndarray:
        """The actions a training collector starts from (and adds its noise to): TD3's deterministic ones."""
        return self.act(obs)

    # ---- learning ---------------------------------------------------------------------
    def update(self, batch: Batch, want_metrics: bool = False) -> UpdateResult:
        """One critic step, and every policy_delay-th call an actor step and a target update."""
        self.updates += 1
        with self.precision_scope():
            critic_loss, mean_q, td_errors, critic_norm = self.critic_step(batch, want_metrics)
            actor_loss = actor_norm = None
            if self.updates % self.policy_delay == 0:
                actor_loss, actor_norm = self.actor_step(batch, want_metrics)
        if actor_loss is not None:
            self.soft_update()
        return UpdateResult(critic_loss, actor_loss, mean_q, td_errors, critic_norm, actor_norm)

    def precision_scope(self) -> torch.autocast:
        """bf16 autocast around the update's forward and backward passes when configured, else a no-op."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bfloat16")

    def critic_step(self, batch: Batch, want_metrics: bool = False) -> tuple:
        """Regress both Q-functions onto the clipped double-Q target; PER weights scale each sample."""
        with torch.no_grad():
            next_action = smoothed_target_action(self.actor_target, batch.next_obs,
                                                 self.config.target_policy_noise, self.config.target_noise_clip)
            next_q1, next_q2 = self.critic_target(batch.next_obs, next_action)
            target = td3_target(batch.rewards, batch.discounts, next_q1, next_q2,
                                self.config.target_pessimism)
        q = self.critic(batch.obs, batch.actions)  # (2, batch)
        return self.regress_critics(q, target, batch, want_metrics)

    def regress_critics(self, q: torch.Tensor, target: torch.Tensor, batch: Batch, want_metrics: bool) -> tuple:
        """One optimizer step of both critics' Q (2, batch) onto the target; PER weights scale each sample."""
        td_errors = q - target
        huber = self.config.critic_loss == "huber"
        per_sample = F.huber_loss(q, target.expand_as(q), reduction="none") if huber else td_errors.square()
        critic_loss = (per_sample * batch.weights).mean(dim=1).sum()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        norm = self._clip(self.critic.parameters(), want_metrics)
        self.critic_opt.step()
        return critic_loss.detach(), q.detach().mean(), td_errors.detach()[0].abs(), norm

    def actor_step(self, batch: Batch, want_metrics: bool = False) -> tuple:
        """Push the actor up the first critic's Q surface (less the action penalty, when configured)."""
        self.critic.requires_grad_(False)  # the actor step needs no critic weight gradients: skip them
        try:
            pre_tanh = self.actor.pre_tanh(batch.obs)
            actor_loss = actor_objective(self.critic.q1(batch.obs, torch.tanh(pre_tanh)), pre_tanh,
                                         self.config.action_penalty)
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
        finally:
            self.critic.requires_grad_(True)
        norm = self._clip(self.actor.parameters(), want_metrics)
        self.actor_opt.step()
        return actor_loss.detach(), norm

    def _clip(self, params, want_norm: bool) -> float | torch.Tensor:  # type: ignore[no-untyped-def]
        """Clip the global gradient norm when configured; compute it only when asked or needed."""
        if self.config.grad_clip > 0:
            return torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip, foreach=True)
        if want_norm:
            grads = [p.grad for p in params if p.grad is not None]
            return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        return 0.0

    @torch.no_grad()
    def soft_update(self) -> None:
        """Polyak averaging, target += tau * (online - target), fused over all parameters."""
        for target, online in self._pairs:
            torch._foreach_lerp_(target, online, self.tau)

    # ---- learning rates -----------------------------------------------------------------
    def apply_schedule(self, progress: float) -> tuple[float, float]:
        """Scale the config's learning rates by the schedule at progress in [0, 1]; returns them."""
        schedule = self.config.lr_schedule
        if schedule == "linear":
            factor = 1.0 - 0.9 * progress
        elif schedule == "cosine":
            factor = 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress)))
        else:
            factor = 1.0
        a, c = self.config.actor_lr * factor, self.config.critic_lr * factor
        for group in self.actor_opt.param_groups:
            group["lr"] = a
        for group in self.critic_opt.param_groups:
            group["lr"] = c
        return a, c

    # ---- checkpointing ----------------------------------------------------------------
    PARTS: tuple[str, ...] = LEARNER_PARTS
    """The attributes a checkpoint saves; a learner without target networks lists fewer."""

    def state_dict(self) -> dict:
        return {**parts_state(self, self.PARTS), "updates": self.updates}

    def load_state_dict(self, data: dict) -> None:
        load_parts(self, data, self.PARTS)
        self.updates = int(data["updates"])


def parts_state(learner: object, parts: tuple[str, ...] = LEARNER_PARTS) -> dict:
    """The state_dict of each named network and optimizer of a learner."""
    return {name: getattr(learner, name).state_dict() for name in parts}


def load_parts(learner: object, data: dict, parts: tuple[str, ...] = LEARNER_PARTS) -> None:
    for name in parts:
        getattr(learner, name).load_state_dict(data[name])
