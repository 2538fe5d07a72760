"""Adam for stacked parameters, with a learning rate and an on/off mask per agent.

torch.optim.Adam takes one scalar lr per parameter group; a population needs K of
them in one fused step, and agents whose policy delay skips this update must keep
their weights, moments and step count untouched. The maths is torch's Adam
(L2 weight decay, bias correction), written with _foreach ops over all parameters.
"""

from __future__ import annotations

import torch


def agent_view(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(K,) values shaped (K, 1, 1, ...) to broadcast over a stacked parameter."""
    return values.view(-1, *([1] * (like.dim() - 1)))


class StackedAdam:
    """One Adam per agent over parameters whose first dimension is the agent."""

    def __init__(self, params: list[torch.Tensor], lr: torch.Tensor, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: torch.Tensor | None = None) -> None:
        self.params = list(params)
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        agents = lr.shape[0]
        self.weight_decay = torch.zeros(agents) if weight_decay is None else weight_decay
        self.steps = torch.zeros(agents, dtype=torch.float64)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], mask: torch.Tensor | None = None) -> None:
        """Apply grads; agents where mask is False are left exactly as they were."""
        live = torch.ones_like(self.steps) if mask is None else mask.to(self.steps.dtype)
        self.steps += live
        steps = self.steps.clamp(min=1.0)
        correction1 = 1.0 - self.beta1 ** steps
        correction2_sqrt = (1.0 - self.beta2 ** steps).sqrt()
        step_size = (self.lr.double() / correction1 * live).float()
        correction2_sqrt = correction2_sqrt.float()
        if bool((self.weight_decay > 0).any()):
            decay = self._views(self.weight_decay.float())
            grads = torch._foreach_add(grads, torch._foreach_mul(self.params, decay))
        if mask is None:
            torch._foreach_lerp_(self.exp_avg, grads, 1.0 - self.beta1)
            squares = torch._foreach_mul(grads, grads)
            torch._foreach_lerp_(self.exp_avg_sq, squares, 1.0 - self.beta2)
        else:
            live32 = live.float()
            torch._foreach_lerp_(self.exp_avg, grads, self._views(live32 * (1.0 - self.beta1)))
            squares = torch._foreach_mul(grads, grads)
            torch._foreach_lerp_(self.exp_avg_sq, squares, self._views(live32 * (1.0 - self.beta2)))
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, self._views(correction2_sqrt))
        torch._foreach_add_(denom, self.eps)
        update = torch._foreach_div(self.exp_avg, denom)
        torch._foreach_mul_(update, self._views(step_size))
        torch._foreach_sub_(self.params, update)

    def _views(self, values: torch.Tensor) -> list[torch.Tensor]:
        return [agent_view(values, p) for p in self.params]

    def state_dict(self) -> dict:
        return {"steps": self.steps.clone(), "exp_avg": [t.clone() for t in self.exp_avg],
                "exp_avg_sq": [t.clone() for t in self.exp_avg_sq]}

    def load_state_dict(self, data: dict) -> None:
        self.steps.copy_(data["steps"])
        for mine, saved in zip(self.exp_avg + self.exp_avg_sq, list(data["exp_avg"]) + list(data["exp_avg_sq"])):
            mine.copy_(saved)
