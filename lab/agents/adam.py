"""Adam for stacked parameters, with a learning rate, a weight decay and an on/off mask per agent.

torch.optim.Adam takes one scalar lr per parameter group; K agents need K of them in one
step, and agents whose policy delay skips this update must keep their weights, moments and
step count untouched. The maths is torch's Adam (L2 weight decay, bias correction), written
with _foreach ops over all parameters. One agent with no mask, a single run's every step,
takes torch's fused kernel instead, which is the same maths in one pass.
"""

from __future__ import annotations

import torch


def agent_view(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(K,) values shaped (K, 1, 1, ...) to broadcast over a stacked parameter."""
    return values.view(-1, *([1] * (like.dim() - 1)))


class StackedAdam:
    """One Adam per agent over parameters whose first dimension is the agent."""

    def __init__(self, params: list[torch.Tensor], agents: int, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = list(params)
        self.beta1, self.beta2 = betas
        self.eps = eps
        device = self.params[0].device
        self.steps = torch.zeros(agents, dtype=torch.float64, device=device)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self._fused = hasattr(torch, "_fused_adam_")

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], lr: torch.Tensor, weight_decay: torch.Tensor,
             mask: torch.Tensor | None = None) -> None:
        """Apply grads with each agent's lr and weight decay; agents where mask is False are left as they were."""
        if mask is None and len(self.steps) == 1 and self._fused:
            self._fused_step(grads, float(lr[0]), float(weight_decay[0]))
            return
        live = torch.ones_like(self.steps) if mask is None else mask.to(self.steps.dtype)
        self.steps += live
        steps = self.steps.clamp(min=1.0)
        correction1 = 1.0 - self.beta1 ** steps
        correction2_sqrt = (1.0 - self.beta2 ** steps).sqrt().float()
        step_size = (lr.double() / correction1 * live).float()
        if bool((weight_decay > 0).any()):
            decay = self._views(weight_decay.float())
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

    def _fused_step(self, grads: list[torch.Tensor], lr: float, weight_decay: float) -> None:
        """torch's fused Adam kernel (it reads the step count, never writes it: we count)."""
        self.steps += 1.0
        step = self.steps.float()
        torch._fused_adam_(self.params, grads, self.exp_avg, self.exp_avg_sq, [], [step] * len(self.params),
                           lr=lr, beta1=self.beta1, beta2=self.beta2, weight_decay=weight_decay, eps=self.eps,
                           amsgrad=False, maximize=False)

    def _views(self, values: torch.Tensor) -> list[torch.Tensor]:
        return [agent_view(values, p) for p in self.params]
