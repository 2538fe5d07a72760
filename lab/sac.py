"""SAC (Haarnoja et al. 2018) with a learned temperature, readable top to bottom.

TD3 explores by adding fixed noise to a deterministic actor. SAC's actor is a tanh-squashed Gaussian
and learns, state by state, how much to explore:
1. The policy: mean mu(s) (the plain lab.networks.Actor, so the deployed policy is tanh(mu(s)) and
   exports, loads and acts as TD3's does) and log sigma(s) from a head on the actor's trunk.
2. Soft targets: y = r + discount * (min(Q1', Q2')(s', a') - alpha * log pi(a'|s')), a' ~ pi(s').
3. The actor maximises min(Q1, Q2)(s, a) - alpha * log pi(a|s), a reparameterised sample.
4. The temperature alpha follows the policy's entropy towards target_entropy (Haarnoja et al. 2018b).
The critics and their Polyak-averaged targets are TD3's; there is no target actor. Acting while
training samples pi (``explore``): run it with noise.sigma 0, or the collector's noise adds to it.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lab.config import NetworkConfig, TrainingConfig
from lab.networks import Actor, TwinCritic
from lab.replay import Batch
from lab.td3 import TD3, _adam, actor_objective, load_parts, parts_state, td3_target

LOG_STD_RANGE = (-5.0, 2.0)
"""log sigma is squashed into this range (as CleanRL's SAC does): wide enough to act near-deterministically or
near-uniformly, narrow enough that log pi stays finite."""


class LogStdHead(nn.Module):
    """log sigma(s) from the actor trunk's features, smoothly bounded to LOG_STD_RANGE."""

    def __init__(self, width: int, act_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, act_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        low, high = LOG_STD_RANGE
        return low + 0.5 * (high - low) * (torch.tanh(self.linear(features)) + 1.0)


def squashed_gaussian(mean: torch.Tensor, log_std: torch.Tensor,
                      eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a = tanh(u), u = mean + sigma * eps, and log pi(a) summed over action dimensions.

    log pi(a) = log N(u; mean, sigma) - sum log(1 - tanh(u)^2); the correction is written as
    2 (log 2 - u - softplus(-2u)), which stays finite where tanh saturates.
    """
    u = mean + log_std.exp() * eps
    gaussian = -0.5 * eps.square() - log_std - 0.5 * math.log(2 * math.pi)
    squash = 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
    return torch.tanh(u), (gaussian - squash).sum(dim=-1)


def soft_target(rewards: torch.Tensor, discounts: torch.Tensor, next_q1: torch.Tensor, next_q2: torch.Tensor,
                next_log_prob: torch.Tensor, alpha: float | torch.Tensor,
                pessimism: float | torch.Tensor = 1.0) -> torch.Tensor:
    """y = r + discount * (min(Q1', Q2') - alpha * log pi(a'|s')): TD3's target with the entropy bonus."""
    bonus = alpha * next_log_prob
    return td3_target(rewards, discounts, next_q1 - bonus, next_q2 - bonus, pessimism)


def temperature_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """Raises alpha while the policy's entropy (-log pi) is below target_entropy, lowers it while above."""
    return -(log_alpha * (log_prob.detach() + target_entropy)).mean()


class SAC(TD3):
    """The learner: a Gaussian actor, TD3's twin critics and their targets, and the temperature.

    A TD3 in every other respect the trainer sees (update, schedules, live config swaps, checkpoints).
    The actor steps every training.policy_delay updates (1 is the paper's SAC) and the targets with it.
    """

    def __init__(self, obs_dim: int, act_dim: int, net: NetworkConfig, cfg: TrainingConfig,
                 device: torch.device | str = "cpu") -> None:
        torch.set_flush_denormal(True)  # see TD3: denormal Adam moments are slow on CPUs
        self.config = cfg
        self.device = torch.device(device)
        self.actor = Actor(obs_dim, act_dim, net).to(self.device)
        self.log_std_head = LogStdHead(net.actor_hidden[-1], act_dim).to(self.device)
        self.critic = TwinCritic(obs_dim, act_dim, net).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self._policy_parameters = [*self.actor.parameters(), *self.log_std_head.parameters()]
        self.actor_opt = _adam(self._policy_parameters, cfg.actor_lr, cfg.weight_decay)
        self.critic_opt = _adam(self.critic.parameters(), cfg.critic_lr, cfg.weight_decay)
        self.log_alpha = torch.tensor(math.log(cfg.sac_initial_alpha), device=self.device, requires_grad=True)
        self.alpha_opt = _adam([self.log_alpha], cfg.actor_lr, 0.0)
        self.updates = 0
        self._pairs = [(list(self.critic_target.parameters()), list(self.critic.parameters()))]

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    @property
    def temperature(self) -> float:
        return float(self.alpha)

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A reparameterised action a ~ pi(s), its log-probability, and the mean's pre-tanh value."""
        features = self.actor.trunk(obs)
        mean = self.actor.heads(features)
        action, log_prob = squashed_gaussian(mean, self.log_std_head(features), torch.randn_like(mean))
        return action, log_prob, mean

    @torch.inference_mode()
    def explore(self, obs: np.ndarray) -> np.ndarray:
        """Sampled actions: SAC's own exploration."""
        action, _, _ = self.sample(torch.as_tensor(obs, dtype=torch.float32, device=self.device))
        return action.cpu().numpy()

    def critic_step(self, batch: Batch, want_metrics: bool = False) -> tuple:
        """Regress both Q-functions onto the soft target, a' sampled from the live policy."""
        with torch.no_grad():
            next_action, next_log_prob, _ = self.sample(batch.next_obs)
            next_q1, next_q2 = self.critic_target(batch.next_obs, next_action)
            target = soft_target(batch.rewards, batch.discounts, next_q1, next_q2, next_log_prob, self.alpha,
                                 self.config.target_pessimism)
        q = self.critic(batch.obs, batch.actions)
        return self.regress_critics(q, target, batch, want_metrics)

    def actor_step(self, batch: Batch, want_metrics: bool = False) -> tuple:
        """Raise min(Q1, Q2) - alpha log pi over a fresh sample; then move alpha towards the target entropy."""
        self.critic.requires_grad_(False)  # no critic weight gradients are needed here
        try:
            action, log_prob, mean = self.sample(batch.obs)
            q = self.critic(batch.obs, action).min(dim=0).values
            actor_loss = actor_objective(q - self.alpha * log_prob, mean, self.config.action_penalty)
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
        finally:
            self.critic.requires_grad_(True)
        norm = self._clip(self._policy_parameters, want_metrics)
        self.actor_opt.step()
        self.alpha_opt.zero_grad(set_to_none=True)
        temperature_loss(self.log_alpha, log_prob, self.config.sac_target_entropy).backward()
        self.alpha_opt.step()
        return actor_loss.detach(), norm

    # ---- checkpointing ----------------------------------------------------------------
    PARTS = ("actor", "log_std_head", "critic", "critic_target", "actor_opt", "critic_opt", "alpha_opt")

    def state_dict(self) -> dict:
        return {"algorithm": "sac", **parts_state(self, self.PARTS), "log_alpha": self.log_alpha.detach().clone(),
                "updates": self.updates}

    def load_state_dict(self, data: dict) -> None:
        if data.get("algorithm") != "sac":
            raise ValueError(f"agent state algorithm={data.get('algorithm', 'td3')!r} is invalid for the SAC "
                             "learner: allowed 'sac' (a checkpoint resumes only with the training.algorithm it "
                             "was trained with)")
        load_parts(self, data, self.PARTS)
        with torch.no_grad():
            self.log_alpha.copy_(data["log_alpha"])
        self.updates = int(data["updates"])
