"""The actor and the twin critics.

The twin critics are one module whose weights carry a leading dimension of 2, so
both Q-functions run in one batched matmul per layer instead of two modules.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lab.config import NetworkConfig

ACTIVATIONS = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}


def mlp(sizes: list[int], activation: str, layer_norm: bool) -> nn.Sequential:
    """Hidden layers only: Linear (+ LayerNorm) + activation for each width after the first."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(fan_in, fan_out))
        if layer_norm:
            layers.append(nn.LayerNorm(fan_out))
        layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def output_layer(op, bias: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """The critic's last layer in float32 even under bfloat16 autocast: Q-values need more than bf16's ~3 digits."""
    if not torch.is_autocast_enabled(x.device.type):
        return op(bias, x, weight)
    with torch.autocast(x.device.type, enabled=False):
        return op(bias.float(), x.float(), weight.float())


class Actor(nn.Module):
    """Deterministic policy: a shared trunk, then a main-engine head and a side-engine head.

    Separate heads let the main engine start with a bias towards thrust, which keeps
    early episodes from free-falling into crashes (the original design's trick).
    """

    def __init__(self, obs_dim: int, act_dim: int, net: NetworkConfig) -> None:
        super().__init__()
        if act_dim != 2:
            raise ValueError(f"Actor expects 2 actions (main, side engine), got act_dim={act_dim}")
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.network_config = net
        self.trunk = mlp([obs_dim, *net.actor_hidden], net.activation, net.layer_norm)
        width = net.actor_hidden[-1]
        self.main_head = nn.Linear(width, 1)
        self.side_head = nn.Linear(width, 1)
        for head in (self.main_head, self.side_head):  # small last layer: start near zero action
            nn.init.uniform_(head.weight, -3e-3, 3e-3)
            nn.init.zeros_(head.bias)
        nn.init.constant_(self.main_head.bias, net.main_engine_bias)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.pre_tanh(obs))

    def pre_tanh(self, obs: torch.Tensor) -> torch.Tensor:
        """The actions before tanh squashes them: what training.action_penalty keeps small."""
        return self.heads(self.trunk(obs))

    def heads(self, features: torch.Tensor) -> torch.Tensor:
        """The pre-tanh actions from the trunk's features (SAC reads the same features for its log-std)."""
        return torch.cat([self.main_head(features), self.side_head(features)], dim=-1)


class TwinCritic(nn.Module):
    """Two Q(s, a) networks evaluated in one pass; forward returns shape (2, batch)."""

    def __init__(self, obs_dim: int, act_dim: int, net: NetworkConfig) -> None:
        super().__init__()
        sizes = [obs_dim + act_dim, *net.critic_hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default init, per critic
            self.weights.append(nn.Parameter(torch.empty(2, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(2, 1, fan_out).uniform_(-bound, bound)))
        self.norm_weights = nn.ParameterList()
        self.norm_biases = nn.ParameterList()
        if net.layer_norm:
            for width in net.critic_hidden:
                self.norm_weights.append(nn.Parameter(torch.ones(2, 1, width)))
                self.norm_biases.append(nn.Parameter(torch.zeros(2, 1, width)))
        self.layer_norm = net.layer_norm
        self.activation = ACTIVATIONS[net.activation]()

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs, action], dim=-1).unsqueeze(0).expand(2, -1, -1)
        *hidden, (w_out, b_out) = zip(self.weights, self.biases)
        for i, (w, b) in enumerate(hidden):
            x = torch.baddbmm(b, x, w)
            if self.layer_norm:
                x = F.layer_norm(x, x.shape[-1:]) * self.norm_weights[i] + self.norm_biases[i]
            x = self.activation(x)
        return output_layer(torch.baddbmm, b_out, x, w_out).squeeze(-1)

    def q1(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The first critic alone, which is all the actor's loss needs."""
        x = torch.cat([obs, action], dim=-1)
        *hidden, (w_out, b_out) = zip(self.weights, self.biases)
        for i, (w, b) in enumerate(hidden):
            x = torch.addmm(b[0], x, w[0])
            if self.layer_norm:
                x = F.layer_norm(x, x.shape[-1:]) * self.norm_weights[i][0] + self.norm_biases[i][0]
            x = self.activation(x)
        return output_layer(torch.addmm, b_out[0], x, w_out[0]).squeeze(-1)
