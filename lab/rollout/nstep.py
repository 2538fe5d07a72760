"""Turns each env's stream of steps into n-step transitions.

With n=1 this is plain TD3's (s, a, r, s'). With n>1 the reward is the discounted
sum of up to n rewards and s' is n steps ahead, which carries the landing bonus
back to the approach faster. An episode's end flushes the shorter tails.
"""

from __future__ import annotations

from collections import deque

import numpy as np

Transition = tuple[np.ndarray, np.ndarray, float, np.ndarray, bool, int]


class NStepAccumulator:
    """One small queue per env; returns the transitions that became complete."""

    def __init__(self, num_envs: int, n: int) -> None:
        self.n = n
        self.queues: list[deque] = [deque() for _ in range(num_envs)]

    def push(self, env: int, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
             terminated: bool, done: bool, gamma: float) -> list[Transition]:
        """Queue one step; gamma is passed each time so a live change applies to the next sum."""
        q = self.queues[env]
        q.append((obs, action, reward))
        out: list[Transition] = []
        if len(q) == self.n:
            out.append(_emit(q, next_obs, terminated, gamma))
            q.popleft()
        if done:
            while q:
                out.append(_emit(q, next_obs, terminated, gamma))
                q.popleft()
        return out

    def clear(self) -> None:
        for q in self.queues:
            q.clear()


def _emit(q: deque, next_obs: np.ndarray, terminated: bool, gamma: float) -> Transition:
    ret = 0.0
    for k, (_, _, r) in enumerate(q):
        ret += (gamma ** k) * r
    obs, action, _ = q[0]
    return obs, action, ret, next_obs, terminated, len(q)
