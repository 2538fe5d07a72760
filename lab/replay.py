"""Replay buffers: uniform, and prioritized on a SumTree.

Storage is preallocated numpy columns (about 80 bytes per transition, plus 16 for
the tree with PER). Adds, samples and priority updates take whole batches; the
sampled batch is gathered into reusable arrays, so the hot loop allocates nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lab.sumtree import SumTree


@dataclass
class Batch:
    """One sampled batch; ``weights`` are importance-sampling weights (ones without PER)."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    discounts: torch.Tensor
    """gamma**n for a bootstrapped n-step transition, 0 where the episode terminated."""
    weights: torch.Tensor
    indices: np.ndarray


class ReplayBuffer:
    """Uniform ring buffer."""

    COLUMNS = ("obs", "actions", "rewards", "next_obs", "terminated", "nsteps")

    def __init__(self, capacity: int, obs_dim: int, act_dim: int, seed: int = 0, device: str = "cpu") -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros((capacity, act_dim), dtype=np.float32)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.bool_)
        self.nsteps = np.ones(capacity, dtype=np.uint8)
        self.pos = 0
        self.size = 0
        self.rng = np.random.default_rng(seed)
        self.device = torch.device(device)
        self._out: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, c).nbytes for c in self.COLUMNS)

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, nsteps: np.ndarray | int = 1) -> np.ndarray:
        """Store a batch of transitions, wrapping around; returns the slots written."""
        n = len(obs)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        if n > self.capacity:  # only the newest capacity rows can survive anyway
            cut = n - self.capacity
            obs, actions, rewards, next_obs, terminated = (a[cut:] for a in (obs, actions, rewards, next_obs,
                                                                            terminated))
            nsteps = nsteps[cut:] if isinstance(nsteps, np.ndarray) else nsteps
            n = self.capacity
        idx = (self.pos + np.arange(n)) % self.capacity
        self.obs[idx] = obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.next_obs[idx] = next_obs
        self.terminated[idx] = terminated
        self.nsteps[idx] = nsteps
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)
        return idx

    def _indices(self, batch_size: int, beta: float) -> tuple[np.ndarray, np.ndarray | None]:
        return self.rng.integers(0, self.size, size=batch_size), None

    def sample(self, batch_size: int, gamma: float, beta: float = 0.0) -> Batch:
        """A batch of tensors; discounts are computed here so a live gamma change applies at once."""
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        idx, weights = self._indices(batch_size, beta)
        out = self._gather(idx)
        discounts = np.power(gamma, out["nsteps"], dtype=np.float32)
        discounts[out["terminated"]] = 0.0
        w = np.ones(batch_size, dtype=np.float32) if weights is None else weights.astype(np.float32)
        to = self._tensor
        return Batch(to(out["obs"]), to(out["actions"]), to(out["rewards"]), to(out["next_obs"]),
                     to(discounts), to(w), idx)

    def _gather(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        n = len(idx)
        if not self._out or len(self._out["rewards"]) != n:  # batch size changed: new scratch arrays
            self._out = {c: np.empty((n, *getattr(self, c).shape[1:]), dtype=getattr(self, c).dtype)
                         for c in self.COLUMNS}
        for c in self.COLUMNS:
            np.take(getattr(self, c), idx, axis=0, out=self._out[c])
        return self._out

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(array)
        return t if self.device.type == "cpu" else t.to(self.device, non_blocking=True)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray, alpha: float | None = None,
                          lap: bool = False) -> None:
        """Uniform replay ignores priorities."""

    # ---- checkpointing ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {c: torch.from_numpy(getattr(self, c)[: self.size].copy()) for c in self.COLUMNS}
        data.update(pos=self.pos, size=self.size, capacity=self.capacity,
                    rng=_rng_state(self.rng))
        return data

    def load_state_dict(self, data: dict[str, Any]) -> None:
        if int(data["capacity"]) != self.capacity:
            raise ValueError(f"replay buffer capacity in checkpoint is {data['capacity']}, "
                             f"the config asks for {self.capacity}")
        size = int(data["size"])
        for c in self.COLUMNS:
            getattr(self, c)[:size] = data[c].numpy()
        self.pos, self.size = int(data["pos"]), size
        _set_rng_state(self.rng, data["rng"])


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional PER (Schaul et al. 2016) with stratified sampling.

    New transitions get the largest priority seen so far, so each is replayed at
    least about once. Priorities are stored already raised to alpha; an alpha
    change (the learner passes the current config's) applies to priorities written after it.
    """

    def __init__(self, capacity: int, obs_dim: int, act_dim: int, alpha: float, epsilon: float,
                 seed: int = 0, device: str = "cpu") -> None:
        super().__init__(capacity, obs_dim, act_dim, seed, device)
        self.tree = SumTree(capacity)
        self.alpha = alpha
        self.epsilon = epsilon
        self.max_priority = 1.0

    @property
    def nbytes(self) -> int:
        return super().nbytes + self.tree.nodes.nbytes

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, nsteps: np.ndarray | int = 1) -> np.ndarray:
        idx = super().add(obs, actions, rewards, next_obs, terminated, nsteps)
        if len(idx):
            self.tree.update(idx, np.full(len(idx), self.max_priority))
        return idx

    def _indices(self, batch_size: int, beta: float) -> tuple[np.ndarray, np.ndarray]:
        idx = np.minimum(self.tree.sample_stratified(batch_size, self.rng), self.size - 1)
        probs = self.tree.leaves(idx) / self.tree.total
        weights = np.power(self.size * np.maximum(probs, 1e-12), -beta)
        return idx, weights / weights.max()  # normalise by the batch max: weights only scale down

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray, alpha: float | None = None,
                          lap: bool = False) -> None:
        """Proportional priorities (|td| + eps)**alpha, or LAP's max(|td|, 1)**alpha, which never starves a sample."""
        magnitude = np.maximum(np.abs(td_errors), 1.0) if lap else np.abs(td_errors) + self.epsilon
        priorities = np.power(magnitude, self.alpha if alpha is None else alpha)
        self.tree.update(indices, priorities)
        self.max_priority = max(self.max_priority, float(priorities.max()))

    def state_dict(self) -> dict[str, Any]:
        data = super().state_dict()
        data.update(tree=torch.from_numpy(self.tree.nodes.copy()), max_priority=self.max_priority,
                    alpha=self.alpha)
        return data

    def load_state_dict(self, data: dict[str, Any]) -> None:
        super().load_state_dict(data)
        self.tree.nodes[:] = data["tree"].numpy()
        self.max_priority = float(data["max_priority"])
        self.alpha = float(data["alpha"])


def per_beta(start: float, end: float, progress: float) -> float:
    """Importance-sampling exponent annealed linearly from start to end over training."""
    return start + min(1.0, max(0.0, progress)) * (end - start)


def _rng_state(rng: np.random.Generator) -> Mapping[str, Any]:
    return rng.bit_generator.state


def _set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state
