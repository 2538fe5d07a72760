"""Batch Renormalization (Ioffe 2017), the normalisation inside CrossQ's critics.

BatchNorm normalises a training batch with its own mean and std, but evaluates
with running averages: the two disagree when batches are small or drift, as
replay batches do. Batch Renorm corrects the batch statistics towards the
running ones with r = std_B / std_run and d = (mean_B - mean_run) / std_run,
treated as constants (no gradient) and clipped to [1/r_max, r_max] and
[-d_max, d_max]. With r_max = 1 and d_max = 0 it is exactly BatchNorm, which is
how it starts: the running statistics are untrustworthy until they have seen
some batches, so the limits stay there for ``warmup_steps`` training passes and
then relax linearly to their final values over ``relax_steps`` (the paper's
schedule). Eval mode normalises with the running statistics alone.
"""

from __future__ import annotations

import torch
from torch import nn


class BatchRenorm(nn.Module):
    """Normalise (batch, features) inputs, or (members, batch, features) for a stack of independent networks.

    With ``members`` > 0 each member (e.g. each of the twin critics) has its own
    statistics and affine parameters, shaped (members, 1, features).
    """

    running_mean: torch.Tensor
    running_var: torch.Tensor
    steps: torch.Tensor

    def __init__(self, num_features: int, members: int = 0, momentum: float = 0.01, eps: float = 1e-3,
                 r_max: float = 3.0, d_max: float = 5.0, warmup_steps: int = 5_000,
                 relax_steps: int = 40_000) -> None:
        super().__init__()
        _check("num_features", num_features, num_features >= 1, "an integer >= 1")
        _check("members", members, members >= 0, "an integer >= 0 (0 for a plain (batch, features) input)")
        _check("momentum", momentum, 0.0 < momentum <= 1.0, "a number in (0, 1]")
        _check("eps", eps, eps > 0.0, "a number > 0")
        _check("r_max", r_max, r_max >= 1.0, "a number >= 1")
        _check("d_max", d_max, d_max >= 0.0, "a number >= 0")
        _check("warmup_steps", warmup_steps, warmup_steps >= 0, "an integer >= 0")
        _check("relax_steps", relax_steps, relax_steps >= 0, "an integer >= 0")
        shape = (members, 1, num_features) if members else (num_features,)
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))
        self.register_buffer("running_mean", torch.zeros(shape))
        self.register_buffer("running_var", torch.ones(shape))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.members, self.momentum, self.eps = members, momentum, eps
        self.r_max, self.d_max = r_max, d_max
        self.warmup_steps, self.relax_steps = warmup_steps, relax_steps

    def limits(self) -> tuple[float, float]:
        """(r_max, d_max) at the current step: (1, 0), i.e. BatchNorm, during warm-up, then relaxed linearly."""
        past = int(self.steps) - self.warmup_steps
        if past < 0:
            return 1.0, 0.0
        frac = 1.0 if self.relax_steps == 0 else min(1.0, past / self.relax_steps)
        return 1.0 + (self.r_max - 1.0) * frac, self.d_max * frac

    def running_affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Eval-mode normalisation folded into one scale and shift: out = x * scale + shift."""
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        return scale, self.bias - self.running_mean * scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            scale, shift = self.running_affine()
            return torch.addcmul(shift, x, scale)
        batch = x.shape[-2]
        if batch < 2:
            raise ValueError(f"BatchRenorm in training mode needs a batch of at least 2 samples, got {batch}")
        r_max, d_max = self.limits()
        # statistics in float32, also under bf16 autocast (both casts are no-ops in float32)
        y, mean, var = _Renorm.apply(x.float(), self.weight, self.bias, self.running_mean, self.running_var,
                                     r_max, d_max, self.eps)
        with torch.no_grad():
            self.running_mean.lerp_(mean.view_as(self.running_mean), self.momentum)
            unbiased = var.view_as(self.running_var) * (batch / (batch - 1))  # as BatchNorm keeps it
            self.running_var.lerp_(unbiased, self.momentum)
            self.steps += 1
        return y.to(x.dtype)

    def extra_repr(self) -> str:
        return (f"members={self.members}, momentum={self.momentum}, eps={self.eps}, r_max={self.r_max}, "
                f"d_max={self.d_max}, warmup_steps={self.warmup_steps}, relax_steps={self.relax_steps}")


def _check(name: str, value: object, ok: bool, allowed: str) -> None:
    if not ok:
        raise ValueError(f"BatchRenorm {name}={value!r} is invalid: allowed {allowed}")


class _Renorm(torch.autograd.Function):
    """Training-mode Batch Renorm over dim -2 with a hand-fused backward.

    y = weight * ((x - mean) / std * r + d) + bias, with mean and std the batch's and r, d
    constants. Autograd's chain of small ops over every activation costs about three times
    the memory traffic of these few passes. Also returns the batch mean and (biased) var.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, r_max, d_max, eps):  # type: ignore[no-untyped-def]
        mean = x.mean(dim=-2, keepdim=True)  # two passes: ~10x faster than torch.var_mean over dim -2 on CPU
        centred = x - mean
        var = (centred * centred).mean(dim=-2, keepdim=True)
        inv_std = torch.rsqrt(var + eps)
        if r_max > 1.0 or d_max > 0.0:
            running_inv_std = torch.rsqrt(running_var + eps)
            r = (running_inv_std / inv_std).clamp_(1.0 / r_max, r_max)
            d = ((mean - running_mean) * running_inv_std).clamp_(-d_max, d_max)
        else:  # BatchNorm
            r, d = torch.ones_like(mean), torch.zeros_like(mean)
        scale = weight * r * inv_std
        y = torch.addcmul(bias + weight * d - mean * scale, x, scale)
        ctx.save_for_backward(x, weight, r, d, mean, inv_std)
        ctx.mark_non_differentiable(mean, var)
        return y, mean, var

    @staticmethod
    def backward(ctx, grad_y, _grad_mean, _grad_var):  # type: ignore[no-untyped-def]
        x, weight, r, d, mean, inv_std = ctx.saved_tensors
        n = x.shape[-2]
        sum_g = grad_y.sum(dim=-2, keepdim=True)
        sum_g_xhat = inv_std * ((grad_y * x).sum(dim=-2, keepdim=True) - mean * sum_g)  # sum of grad_y * x_hat
        grad_weight = (r * sum_g_xhat + d * sum_g).view_as(weight)
        grad_x = None
        if ctx.needs_input_grad[0]:
            # BatchNorm's input gradient with gamma = weight * r:
            # scale * (g - mean(g) - x_hat * mean(g * x_hat)), expanded into per-feature a * x + b + scale * g
            scale = weight * r * inv_std
            a = -scale * inv_std * sum_g_xhat / n
            b = -scale * sum_g / n - a * mean
            grad_x = torch.addcmul(b, x, a).addcmul_(grad_y, scale)
        return grad_x, grad_weight, sum_g.view_as(weight), None, None, None, None, None
