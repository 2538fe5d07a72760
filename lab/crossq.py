"""CrossQ (Bhatt et al. 2024) for TD3's deterministic actor, readable top to bottom.

CrossQ changes only the critic side of TD3:
1. No target networks: the bootstrap target comes from the live critic and the live actor,
   so value information propagates at once instead of through a slow Polyak average.
2. Batch Renormalization in the critics (lab.batch_renorm), which is what makes (1) stable.
3. One joint forward pass of (s, a) and (s', a') through the critics: the batch statistics
   cover both halves. Separate passes would normalise s' with statistics of s, which are
   out of distribution for it; that is why naive BatchNorm fails in TD learning.
The target is still TD3's: clipped double-Q over the s' half (with no gradient) and target
policy smoothing; the actor still updates every policy_delay critic steps. Adam uses
beta1 = 0.5, as in the paper. The actor is a plain lab.networks.Actor (no normalisation),
so policies export, load and act exactly as TD3's do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import nn

from lab.batch_renorm import BatchRenorm
from lab.config import NetworkConfig, TrainingConfig
from lab.networks import Actor, TwinCritic, output_layer
from lab.replay import Batch
from lab.td3 import TD3, _adam, smoothed_target_action, td3_target


@dataclass(frozen=True)
class CrossQSettings:
    """CrossQ's own knobs, read from training.crossq_<field> (defaults and bounds live in lab/config.py)."""

    adam_beta1: float = 0.5
    """Adam's first-moment decay for actor and critic (the paper's 0.5; Adam's default is 0.9)."""
    renorm_momentum: float = 0.01
    """How fast the Batch Renorm running statistics follow the batches."""
    renorm_warmup: int = 5_000
    """Critic updates of plain BatchNorm before Batch Renorm's corrections start."""
    renorm_relax: int = 40_000
    """Critic updates over which r_max and d_max then relax linearly to 3 and 5."""

    @classmethod
    def from_training(cls, cfg: TrainingConfig) -> CrossQSettings:
        """Read training.crossq_*; the config validates them against the bounds beside each field."""
        return cls(**{f.name: getattr(cfg, f"crossq_{f.name}") for f in fields(cls)})


class RenormTwinCritic(TwinCritic):
    """Two Q(s, a) networks with Batch Renorm on the input and after every hidden activation.

    TwinCritic's weights (a leading dimension of 2, one batched matmul per layer for both
    critics; forward returns shape (2, batch)), normalised by Batch Renorm instead of LayerNorm.
    In training mode the normalisation uses (and updates) the statistics of the batch it is given.
    """

    def __init__(self, obs_dim: int, act_dim: int, net: NetworkConfig, settings: CrossQSettings) -> None:
        super().__init__(obs_dim, act_dim, replace(net, layer_norm=False))
        sizes = [obs_dim + act_dim, *net.critic_hidden, 1]
        self.renorms = [BatchRenorm(width, members=2, momentum=settings.renorm_momentum,
                                    warmup_steps=settings.renorm_warmup, relax_steps=settings.renorm_relax)
                        for width in sizes[:-1]]
        self.norms = nn.ModuleList(self.renorms)  # registers them; self.renorms keeps their type for readers

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, action], dim=-1).unsqueeze(0).expand(2, -1, -1)
        *hidden, (w_out, b_out) = zip(self.weights, self.biases)
        x = self.renorms[0](x)
        for (w, b), norm in zip(hidden, self.renorms[1:]):
            x = norm(self.activation(torch.baddbmm(b, x, w)))
        return output_layer(torch.baddbmm, b_out, x, w_out).squeeze(-1)

    def q1(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The first critic alone, normalised by the running statistics (as in eval mode), for the actor's loss."""
        x = torch.cat([obs, action], dim=-1)
        *hidden, (w_out, b_out) = zip(self.weights, self.biases)
        scale, shift = self.renorms[0].running_affine()
        x = torch.addcmul(shift[0], x, scale[0])
        for (w, b), norm in zip(hidden, self.renorms[1:]):
            scale, shift = norm.running_affine()
            x = torch.addcmul(shift[0], self.activation(torch.addmm(b[0], x, w[0])), scale[0])
        return output_layer(torch.addmm, b_out[0], x, w_out[0]).squeeze(-1)


def _adam_with_beta1(params, lr: float, weight_decay: float, beta1: float) -> torch.optim.Adam:  # type: ignore[no-untyped-def]
    """TD3's (fused where available) Adam with the first-moment decay set."""
    opt = _adam(params, lr, weight_decay)
    for group in opt.param_groups:
        group["betas"] = (beta1, group["betas"][1])
    return opt


class CrossQ(TD3):
    """The learner: actor, Batch-Renorm twin critics and their optimizers; no target networks.

    A TD3 in every other respect (acting, the actor step, policy delay, schedules, live
    config swaps), so the trainer can use either. network.layer_norm applies to the actor
    only: the critics normalise with Batch Renorm.
    """

    def __init__(self, obs_dim: int, act_dim: int, net: NetworkConfig, cfg: TrainingConfig,
                 device: torch.device | str = "cpu", settings: CrossQSettings | None = None) -> None:
        torch.set_flush_denormal(True)  # see TD3: denormal Adam moments are slow on CPUs
        self.config = cfg
        self.settings = settings or CrossQSettings.from_training(cfg)
        self.device = torch.device(device)
        self.actor = Actor(obs_dim, act_dim, net).to(self.device)
        self.critic = RenormTwinCritic(obs_dim, act_dim, net, self.settings).to(self.device)
        beta1 = self.settings.adam_beta1
        self.actor_opt = _adam_with_beta1(self.actor.parameters(), cfg.actor_lr, cfg.weight_decay, beta1)
        self.critic_opt = _adam_with_beta1(self.critic.parameters(), cfg.critic_lr, cfg.weight_decay, beta1)
        self.updates = 0

    def critic_step(self, batch: Batch, want_metrics: bool = False) -> tuple:
        """Regress both Q-functions onto the clipped double-Q target from the same, joint forward pass."""
        n = batch.obs.shape[0]
        with torch.no_grad():
            next_action = smoothed_target_action(self.actor, batch.next_obs,
                                                 self.config.target_policy_noise, self.config.target_noise_clip)
        both = self.critic(torch.cat([batch.obs, batch.next_obs]), torch.cat([batch.actions, next_action]))
        q, next_q = both[:, :n], both[:, n:].detach()  # (2, batch) each; the target half is a constant
        target = td3_target(batch.rewards, batch.discounts, next_q[0], next_q[1], self.config.target_pessimism)
        return self.regress_critics(q, target, batch, want_metrics)

    def soft_update(self) -> None:
        """No target networks: nothing to average."""

    # ---- checkpointing ----------------------------------------------------------------
    PARTS = ("actor", "critic", "actor_opt", "critic_opt")

    def state_dict(self) -> dict:
        return {"algorithm": "crossq", **super().state_dict()}

    def load_state_dict(self, data: dict) -> None:
        if data.get("algorithm") != "crossq":
            raise ValueError(f"agent state algorithm={data.get('algorithm', 'td3')!r} is invalid for the CrossQ "
                             "learner: allowed 'crossq' (a TD3 checkpoint resumes only with training.algorithm=td3)")
        super().load_state_dict(data)

