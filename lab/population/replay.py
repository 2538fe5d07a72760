"""K uniform replay buffers stored as one stacked array per column, sampled in one gather.

Agent k owns rows [k, :] of every column and its own index generator, so what one
agent stores or samples never changes another's batches. A sample is one batch per
agent asked for, shaped (agents, batch, ...), ready for the stacked learner; agents
that no longer learn are not asked for, and cost nothing.

Shared (PBT's option, as lab evolve's single-agent path has always trained): one ring
that every agent adds to and samples from, each agent still drawing its indices with
its own generator. ``size`` and ``pos`` then read the same for every agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lab.replay import Batch


class StackedReplayBuffer:
    """Uniform ring buffers, one per agent, with the single-agent buffer's sampling rules."""

    COLUMNS = ("obs", "actions", "rewards", "next_obs", "terminated", "nsteps")
    _weights: np.ndarray | None = None

    def __init__(self, agents: int, capacity: int, obs_dim: int, act_dim: int, seeds: list[int],
                 shared: bool = False) -> None:
        if len(seeds) != agents:
            raise ValueError(f"StackedReplayBuffer needs one seed per agent: got {len(seeds)} for {agents} agents")
        self.agents, self.capacity, self.shared = agents, capacity, shared
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
        self._offsets = (np.arange(agents, dtype=np.int64) * capacity * (not shared))[:, None]
        self._out: dict[str, np.ndarray] = {}

    def _ring(self, agent: int) -> int:
        return 0 if self.shared else agent

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, c).nbytes for c in self.COLUMNS)

    def add(self, agent: int, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, nsteps: np.ndarray | int = 1) -> None:
        """Store a batch of agent's transitions, wrapping around its ring."""
        n = len(obs)
        if n == 0:
            return
        if n > self.capacity:  # only the newest capacity rows can survive anyway
            return self.add(agent, obs[-self.capacity:], actions[-self.capacity:], rewards[-self.capacity:],
                            next_obs[-self.capacity:], terminated[-self.capacity:],
                            nsteps[-self.capacity:] if isinstance(nsteps, np.ndarray) else nsteps)
        pos, ring = int(self.pos[agent]), self._ring(agent)
        idx = np.arange(pos, pos + n) % self.capacity if pos + n > self.capacity else slice(pos, pos + n)
        self.obs[ring, idx] = obs
        self.actions[ring, idx] = actions
        self.rewards[ring, idx] = rewards
        self.next_obs[ring, idx] = next_obs
        self.terminated[ring, idx] = terminated
        self.nsteps[ring, idx] = nsteps
        owners = slice(None) if self.shared else agent
        self.pos[owners] = (pos + n) % self.capacity
        self.size[owners] = min(int(self.size[agent]) + n, self.capacity)

    def sample(self, batch_size: int, gammas: np.ndarray, agents: Sequence[int] | None = None,
               draw: np.ndarray | None = None) -> Batch:
        """One batch for each of agents (all by default), (len(agents), batch_size, ...), in that order.

        gammas holds one discount per batch row. Only rows where draw is True draw indices (the others get
        index 0 and keep their agent's random stream as it was).
        """
        agents = np.arange(self.agents) if agents is None else np.asarray(agents, dtype=np.int64)
        live = np.ones(len(agents), dtype=bool) if draw is None else draw
        empty = agents[live & (self.size[agents] == 0)]
        if len(empty):
            raise RuntimeError(f"cannot sample: agent {int(empty[0])}'s replay buffer is empty")
        idx = np.zeros((len(agents), batch_size), dtype=np.int64)
        for row in np.flatnonzero(live):
            k = agents[row]
            idx[row] = self.rngs[k].integers(0, int(self.size[k]), size=batch_size)
        flat = (idx + self._offsets[agents]).ravel()
        out = self._gather(flat, len(agents), batch_size)
        discounts = np.power(np.asarray(gammas, dtype=np.float32)[:, None], out["nsteps"], dtype=np.float32)
        discounts[out["terminated"]] = 0.0
        t = torch.from_numpy
        return Batch(t(out["obs"]), t(out["actions"]), t(out["rewards"]), t(out["next_obs"]), t(discounts),
                     t(self._ones(len(agents), batch_size)), idx)

    def _gather(self, flat: np.ndarray, rows: int, batch_size: int) -> dict[str, np.ndarray]:
        if not self._out or self._out["rewards"].shape != (rows, batch_size):  # new shape: new scratch arrays
            self._out = {c: np.empty((rows, batch_size, *getattr(self, c).shape[2:]), dtype=getattr(self, c).dtype)
                         for c in self.COLUMNS}
        for c in self.COLUMNS:
            column = getattr(self, c)
            np.take(column.reshape(-1, *column.shape[2:]), flat, axis=0,
                    out=self._out[c].reshape(rows * batch_size, *column.shape[2:]))
        return self._out

    def _ones(self, rows: int, batch_size: int) -> np.ndarray:
        if self._weights is None or self._weights.shape != (rows, batch_size):
            self._weights = np.ones((rows, batch_size), dtype=np.float32)
        return self._weights

    # ---- checkpointing ----------------------------------------------------------------
    def agent_state(self, agent: int) -> dict[str, Any]:
        """Agent's buffer in the single-agent ReplayBuffer.state_dict format."""
        size, ring = int(self.size[agent]), self._ring(agent)
        data: dict[str, Any] = {c: torch.from_numpy(getattr(self, c)[ring, :size].copy()) for c in self.COLUMNS}
        data.update(pos=int(self.pos[agent]), size=size, capacity=self.capacity,
                    rng=self.rngs[agent].bit_generator.state)
        return data

    def load_agent_state(self, agent: int, data: dict[str, Any]) -> None:
        if int(data["capacity"]) != self.capacity:
            raise ValueError(f"agent {agent}'s replay buffer in the checkpoint has capacity {data['capacity']}, "
                             f"the config asks for {self.capacity}")
        size, owners = int(data["size"]), slice(None) if self.shared else agent
        for c in self.COLUMNS:
            getattr(self, c)[self._ring(agent), :size] = data[c].numpy()
        self.pos[owners], self.size[owners] = int(data["pos"]), size
        self.rngs[agent].bit_generator.state = data["rng"]
