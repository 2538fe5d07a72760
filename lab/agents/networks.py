"""The actor and the twin critics: one agent's (what policy files hold), and K agents' stacked for training.

The twin critics are one module whose weights carry a leading dimension of 2, so
both Q-functions run in one batched matmul per layer instead of two modules. The
learner stacks K agents' weights on a further leading dimension the same way
(``StackedActor``, ``StackedTwinCritic``): every layer of every agent runs in one
batched matmul, agent k starts from exactly the weights a lone agent seeded like it
would, and can be unstacked back into one.
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
        """The actions before tanh squashes them."""
        features = self.trunk(obs)
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
        return torch.baddbmm(b_out, x, w_out).squeeze(-1)

    def q1(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The first critic alone, which is all the actor's loss needs."""
        x = torch.cat([obs, action], dim=-1)
        *hidden, (w_out, b_out) = zip(self.weights, self.biases)
        for i, (w, b) in enumerate(hidden):
            x = torch.addmm(b[0], x, w[0])
            if self.layer_norm:
                x = F.layer_norm(x, x.shape[-1:]) * self.norm_weights[i][0] + self.norm_biases[i][0]
            x = self.activation(x)
        return torch.addmm(b_out[0], x, w_out[0]).squeeze(-1)


# ---- K agents, stacked ----------------------------------------------------------------------------------
def _stack(tensors: list[torch.Tensor]) -> nn.Parameter:
    return nn.Parameter(torch.stack([t.detach() for t in tensors]).contiguous())


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def _norms(module: nn.Module) -> list[nn.LayerNorm]:
    return [m for m in module.modules() if isinstance(m, nn.LayerNorm)]


def _rows(p: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """The stacked parameter of the agents in rows (all when None): their gradients flow back to p's rows."""
    return p if rows is None else p.index_select(0, rows)


def _activation(name: str) -> nn.Module:
    """ReLU in place: the matmul output it overwrites is not needed for the backward pass, so skip a copy.

    Only after a matmul: under layer_norm the normalised tensor is what ReLU overwrites, which is also safe.
    """
    return nn.ReLU(inplace=True) if name == "relu" else ACTIVATIONS[name]()


class StackedActor(nn.Module):
    """K deterministic policies; forward maps obs (K, N, obs_dim) to actions (K, N, 2)."""

    def __init__(self, actors: list[Actor]) -> None:
        super().__init__()
        first = actors[0]
        self.obs_dim, self.act_dim, self.network_config = first.obs_dim, first.act_dim, first.network_config
        net = first.network_config
        trunks = [_linears(a.trunk) for a in actors]
        # x @ W orientation: nn.Linear keeps (out, in), baddbmm wants (in, out).
        self.weights = nn.ParameterList(_stack([t[i].weight.T for t in trunks]) for i in range(len(trunks[0])))
        self.biases = nn.ParameterList(_stack([t[i].bias[None] for t in trunks]) for i in range(len(trunks[0])))
        self.head_weight = _stack([torch.cat([a.main_head.weight, a.side_head.weight]).T for a in actors])
        self.head_bias = _stack([torch.cat([a.main_head.bias, a.side_head.bias])[None] for a in actors])
        norms = [_norms(a.trunk) for a in actors]
        self.norm_weights = nn.ParameterList(_stack([n[i].weight[None] for n in norms]) for i in range(len(norms[0])))
        self.norm_biases = nn.ParameterList(_stack([n[i].bias[None] for n in norms]) for i in range(len(norms[0])))
        self.layer_norm = net.layer_norm
        self.activation = _activation(net.activation)
        self.refresh()

    def refresh(self) -> None:
        """Note the current parameter tensors as plain lists (after they were rebound): ParameterList lookups
        cost more than the small matmuls they feed."""
        self._layers = list(zip(self.weights, self.biases))
        self._norms = list(zip(self.norm_weights, self.norm_biases))

    @property
    def agents(self) -> int:
        return self.head_weight.shape[0]

    def forward(self, obs: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        return torch.tanh(self.pre_tanh(obs, rows))

    def pre_tanh(self, obs: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Each agent's actions before tanh, (K, N, 2); given rows, only those agents' (obs holds theirs only)."""
        x = obs
        for i, (w, b) in enumerate(self._layers):
            x = torch.baddbmm(_rows(b, rows), x, _rows(w, rows))
            if self.layer_norm:
                norm_weight, norm_bias = self._norms[i]
                x = F.layer_norm(x, x.shape[-1:]) * _rows(norm_weight, rows) + _rows(norm_bias, rows)
            x = self.activation(x)
        return torch.baddbmm(_rows(self.head_bias, rows), x, _rows(self.head_weight, rows))

    def unstack(self, k: int) -> Actor:
        """Agent k's policy as an ordinary single-agent Actor (a copy)."""
        actor = Actor(self.obs_dim, self.act_dim, self.network_config)
        with torch.no_grad():
            for i, layer in enumerate(_linears(actor.trunk)):
                layer.weight.copy_(self.weights[i][k].T)
                layer.bias.copy_(self.biases[i][k, 0])
            for i, norm in enumerate(_norms(actor.trunk)):
                norm.weight.copy_(self.norm_weights[i][k, 0])
                norm.bias.copy_(self.norm_biases[i][k, 0])
            actor.main_head.weight.copy_(self.head_weight[k, :, 0][None])
            actor.side_head.weight.copy_(self.head_weight[k, :, 1][None])
            actor.main_head.bias.copy_(self.head_bias[k, 0, :1])
            actor.side_head.bias.copy_(self.head_bias[k, 0, 1:])
        return actor


class StackedTwinCritic(nn.Module):
    """K twin critics; weights are (K, 2, fan_in, fan_out), run as 2K batched matmuls.

    forward returns Q of shape (K, 2, batch); q1 returns the first critic's (K, batch).
    """

    def __init__(self, critics: list[TwinCritic]) -> None:
        super().__init__()
        first = critics[0]
        self.weights = nn.ParameterList(_stack([c.weights[i] for c in critics]) for i in range(len(first.weights)))
        self.biases = nn.ParameterList(_stack([c.biases[i] for c in critics]) for i in range(len(first.biases)))
        self.norm_weights = nn.ParameterList(_stack([c.norm_weights[i] for c in critics])
                                             for i in range(len(first.norm_weights)))
        self.norm_biases = nn.ParameterList(_stack([c.norm_biases[i] for c in critics])
                                            for i in range(len(first.norm_biases)))
        self.layer_norm = first.layer_norm
        self.activation = nn.ReLU(inplace=True) if isinstance(first.activation, nn.ReLU) else first.activation
        self.refresh()

    def refresh(self) -> None:
        """Note the current parameter tensors as plain lists (after they were rebound)."""
        self._layers = list(zip(self.weights, self.biases))
        self._norms = list(zip(self.norm_weights, self.norm_biases))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        k, n = obs.shape[:2]
        x = torch.cat([obs, action], dim=-1).unsqueeze(1).expand(k, 2, n, -1).reshape(2 * k, n, -1)
        return self._run(x, slice(None)).view(k, 2, n)

    def q1(self, obs: torch.Tensor, action: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """The first critic of each agent alone, which is all the actor's loss needs; given rows, only those
        agents' (obs and action hold theirs only)."""
        return self._run(torch.cat([obs, action], dim=-1), 0, rows)

    def _run(self, x: torch.Tensor, twin: int | slice, rows: torch.Tensor | None = None) -> torch.Tensor:
        def pick(p: torch.Tensor) -> torch.Tensor:
            return p.flatten(0, 1) if isinstance(twin, slice) else _rows(p, rows)[:, twin]

        last = len(self._layers) - 1
        for i, (w, b) in enumerate(self._layers):
            x = torch.baddbmm(pick(b), x, pick(w))
            if i == last:
                break
            if self.layer_norm:
                norm_weight, norm_bias = self._norms[i]
                x = F.layer_norm(x, x.shape[-1:]) * pick(norm_weight) + pick(norm_bias)
            x = self.activation(x)
        return x.squeeze(-1)

    def unstack(self, k: int, obs_dim: int, act_dim: int, net: NetworkConfig) -> TwinCritic:
        """Agent k's twin critic as an ordinary single-agent TwinCritic (a copy)."""
        critic = TwinCritic(obs_dim, act_dim, net)
        with torch.no_grad():
            for mine, theirs in zip(critic.parameters(), self.parameters()):
                mine.copy_(theirs[k])
        return critic
