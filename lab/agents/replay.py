"""Replay for K agents: one ring buffer per agent, uniform or prioritized (on a SumTree per agent).

Each column is one stacked numpy array, so a sample is one gather for every agent asked
for, shaped (agents, batch, ...), ready for the stacked learner. Agent k owns rows [k, :]
of every column, its own index generator and (with PER) its own priorities, so what one
agent stores or samples never changes another's batches. Agents that no longer learn are
not asked for, and cost nothing.

Shared (PBT's option): one ring that every agent adds to and samples from, each agent still
drawing its indices with its own generator (and, with PER, its own priorities).

Prioritized replay is proportional PER (Schaul et al. 2016) with stratified sampling: a new
transition gets the largest priority its agent has seen, so each is replayed about once at
least; priorities are stored already raised to the agent's alpha.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lab.agents.sumtree import SumTree


@dataclass
class Batch:
    """One batch per agent, (agents, batch, ...); ``weights`` are importance-sampling weights (ones without PER)."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    discounts: torch.Tensor
    """gamma**n for a bootstrapped n-step transition, 0 where the episode terminated."""
    weights: torch.Tensor
    indices: np.ndarray


def per_beta(start: float, end: float, progress: float) -> float:
    """Importance-sampling exponent annealed linearly from start to end over training."""
    return start + min(1.0, max(0.0, progress)) * (end - start)


class ReplayBuffer:
    """Ring buffers, one per agent (or one shared), uniform or prioritized."""

    COLUMNS = ("obs", "actions", "rewards", "next_obs", "terminated", "nsteps")

    def __init__(self, agents: int, capacity: int, obs_dim: int, act_dim: int, seeds: Sequence[int],
                 prioritized: bool = False, shared: bool = False, device: torch.device | str = "cpu") -> None:
        if len(seeds) != agents:
            raise ValueError(f"ReplayBuffer needs one seed per agent: got {len(seeds)} for {agents} agents")
        self.agents, self.capacity, self.shared, self.prioritized = agents, capacity, shared, prioritized
        rings = 1 if shared else agents
        self.obs = np.zeros((rings, capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((rings, capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros((rings, capacity, act_dim), dtype=np.float32)
        self.rewards = np.zeros((rings, capacity), dtype=np.float32)
        self.terminated = np.zeros((rings, capacity), dtype=np.bool_)
        self.nsteps = np.ones((rings, capacity), dtype=np.uint8)
        self.pos = np.zeros(agents, dtype=np.int64)
        self.size = np.zeros(agents, dtype=np.int64)
        self.rngs = [np.random.default_rng(s) for s in seeds]
        self.trees = [SumTree(capacity) for _ in range(agents)] if prioritized else []
        self.max_priority = np.ones(agents)
        self.device = torch.device(device)
        self._offsets = (np.arange(agents, dtype=np.int64) * capacity * (not shared))[:, None]
        self._out: dict[str, np.ndarray] = {}

    def _ring(self, agent: int) -> int:
        return 0 if self.shared else agent

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, c).nbytes for c in self.COLUMNS) + sum(t.nodes.nbytes for t in self.trees)

    def __len__(self) -> int:
        """Transitions held by agent 0 (a single run's buffer)."""
        return int(self.size[0])

    # ---- storing ---------------------------------------------------------------------------------------
    def add(self, agent: int, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, nsteps: np.ndarray | int = 1) -> None:
        """Store a batch of agent's transitions, wrapping around its ring; new ones get the top priority."""
        n = len(obs)
        if n == 0:
            return
        if n > self.capacity:  # only the newest capacity rows can survive anyway
            keep = slice(n - self.capacity, n)
            obs, actions, rewards, next_obs, terminated = (a[keep] for a in (obs, actions, rewards, next_obs,
                                                                            terminated))
            nsteps = nsteps[keep] if isinstance(nsteps, np.ndarray) else nsteps
            n = self.capacity
        pos, ring = int(self.pos[agent]), self._ring(agent)
        idx = (pos + np.arange(n)) % self.capacity
        self._write(ring, idx, obs, actions, rewards, next_obs, terminated, nsteps)
        owners = range(self.agents) if self.shared else [agent]
        for k in owners:
            self.pos[k] = (pos + n) % self.capacity
            self.size[k] = min(int(self.size[k]) + n, self.capacity)
            if self.prioritized:
                self.trees[k].update(idx, np.full(n, self.max_priority[k]))

    def add_many(self, agents: np.ndarray, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                 next_obs: np.ndarray, terminated: np.ndarray, nsteps: np.ndarray) -> None:
        """Store several agents' transitions in one pass (agents[i] owns row i): what add does agent by agent,
        in each agent's row order, without a call per agent."""
        counts = np.bincount(agents, minlength=self.agents)
        if self.shared or counts.max(initial=0) > self.capacity:  # one ring or wrapping onto itself: agent by agent
            for k in np.flatnonzero(counts):
                mine = agents == k
                self.add(int(k), obs[mine], actions[mine], rewards[mine], next_obs[mine], terminated[mine],
                         nsteps[mine])
            return
        order = np.argsort(agents, kind="stable")
        rank = np.empty(len(agents), dtype=np.int64)
        rank[order] = np.arange(len(agents)) - np.searchsorted(agents[order], agents[order])  # place in its agent
        idx = (self.pos[agents] + rank) % self.capacity
        self._write(agents, idx, obs, actions, rewards, next_obs, terminated, nsteps)
        self.pos = (self.pos + counts) % self.capacity
        self.size = np.minimum(self.size + counts, self.capacity)
        for k in np.flatnonzero(counts) if self.prioritized else ():
            self.trees[k].update(idx[agents == k], np.full(int(counts[k]), self.max_priority[k]))

    def _write(self, rings: int | np.ndarray, idx: np.ndarray, *columns: Any) -> None:
        """Each column's rows into rings (one ring, or one per row) at idx."""
        for name, values in zip(self.COLUMNS, columns, strict=True):
            getattr(self, name)[rings, idx] = values

    # ---- sampling --------------------------------------------------------------------------------------
    def sample(self, batch_size: int, gammas: Sequence[float], agents: Sequence[int] | None = None,
               draw: np.ndarray | None = None, betas: Sequence[float] | None = None) -> Batch:
        """One batch for each of agents (all by default), in that order, each discounted by its own gamma.

        Only rows where draw is True draw indices (the others get index 0 and keep their agent's random stream
        as it was). betas: each agent's importance-sampling exponent under PER.
        """
        agents = np.arange(self.agents) if agents is None else np.asarray(agents, dtype=np.int64)
        live = np.ones(len(agents), dtype=bool) if draw is None else draw
        empty = agents[live & (self.size[agents] == 0)]
        if len(empty):
            raise RuntimeError(f"cannot sample: agent {int(empty[0])}'s replay buffer is empty")
        idx = np.zeros((len(agents), batch_size), dtype=np.int64)
        weights = np.ones((len(agents), batch_size), dtype=np.float32)
        for row in np.flatnonzero(live):
            k = int(agents[row])
            if self.prioritized:
                beta = 0.0 if betas is None else float(betas[int(row)])
                idx[row], weights[row] = self._prioritized(k, batch_size, beta)
            else:
                idx[row] = self.rngs[k].integers(0, int(self.size[k]), size=batch_size)
        out = self._gather((idx + self._offsets[agents]).ravel(), len(agents), batch_size)
        discounts = np.power(np.asarray(gammas, dtype=np.float32)[:, None], out["nsteps"], dtype=np.float32)
        discounts[out["terminated"]] = 0.0
        to = self._tensor
        return Batch(to(out["obs"]), to(out["actions"]), to(out["rewards"]), to(out["next_obs"]), to(discounts),
                     to(weights), idx)

    def _prioritized(self, k: int, batch_size: int, beta: float) -> tuple[np.ndarray, np.ndarray]:
        tree, size = self.trees[k], int(self.size[k])
        idx = np.minimum(tree.sample_stratified(batch_size, self.rngs[k]), size - 1)
        probs = tree.leaves(idx) / tree.total
        weights = np.power(size * np.maximum(probs, 1e-12), -beta)
        return idx, weights / weights.max()  # normalised by the batch max: weights only scale down

    def update_priorities(self, agents: Sequence[int], indices: np.ndarray, td_errors: np.ndarray,
                          alphas: Sequence[float], epsilons: Sequence[float]) -> None:
        """(|td| + eps)**alpha for each row's agent; uniform replay ignores priorities."""
        if not self.prioritized:
            return
        for row, k in enumerate(agents):
            priorities = np.power(np.abs(td_errors[row]) + epsilons[row], alphas[row])
            self.trees[k].update(indices[row], priorities)
            self.max_priority[k] = max(self.max_priority[k], float(priorities.max()))

    def _gather(self, flat: np.ndarray, rows: int, batch_size: int) -> dict[str, np.ndarray]:
        if not self._out or self._out["rewards"].shape != (rows, batch_size):  # new shape: new scratch arrays
            self._out = {c: np.empty((rows, batch_size, *getattr(self, c).shape[2:]), dtype=getattr(self, c).dtype)
                         for c in self.COLUMNS}
        for c in self.COLUMNS:
            column = getattr(self, c)
            np.take(column.reshape(-1, *column.shape[2:]), flat, axis=0,
                    out=self._out[c].reshape(rows * batch_size, *column.shape[2:]))
        return self._out

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(array)
        return t if self.device.type == "cpu" else t.to(self.device, non_blocking=True)

    # ---- checkpointing ---------------------------------------------------------------------------------
    def agent_state(self, agent: int) -> dict[str, Any]:
        """One agent's transitions, position, random stream and priorities."""
        size, ring = int(self.size[agent]), self._ring(agent)
        data: dict[str, Any] = {c: torch.from_numpy(getattr(self, c)[ring, :size].copy()) for c in self.COLUMNS}
        data.update(pos=int(self.pos[agent]), size=size, capacity=self.capacity,
                    rng=self.rngs[agent].bit_generator.state)
        if self.prioritized:
            data.update(tree=torch.from_numpy(self.trees[agent].nodes.copy()),
                        max_priority=float(self.max_priority[agent]))
        return data

    def load_agent_state(self, agent: int, data: dict[str, Any]) -> None:
        if int(data["capacity"]) != self.capacity:
            raise ValueError(f"agent {agent}'s replay buffer in the checkpoint has capacity {data['capacity']}, "
                             f"the config asks for {self.capacity}")
        size = int(data["size"])
        for c in self.COLUMNS:
            getattr(self, c)[self._ring(agent), :size] = data[c].numpy()
        for k in range(self.agents) if self.shared else [agent]:
            self.pos[k], self.size[k] = int(data["pos"]), size
        self.rngs[agent].bit_generator.state = data["rng"]
        if self.prioritized and "tree" in data:
            self.trees[agent].nodes[:] = data["tree"].numpy()
            self.max_priority[agent] = float(data["max_priority"])
