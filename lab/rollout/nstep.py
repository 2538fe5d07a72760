"""Turns every env's stream of steps into n-step transitions, all envs at once.

With n=1 this is plain TD3's (s, a, r, s'). With n>1 the reward is the discounted
sum of up to n rewards and s' is n steps ahead, which carries the landing bonus
back to the approach faster. Each env row keeps a window of its last steps: a full
window gives its oldest step's transition, and an episode's end flushes every
shorter tail. One call serves every agent's envs, so a population pays for one
step, not one per agent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Transitions:
    """Complete transitions, row after row (a row's oldest first); ``rows`` names the env row each came from."""

    rows: np.ndarray
    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    nsteps: np.ndarray


def discounts(gamma: float, n: int) -> np.ndarray:
    """gamma**k for k < n, as Python computes them, so a sum equals the step-by-step one bit for bit."""
    return np.array([gamma ** k for k in range(n)], dtype=np.float64)


class NStepWindows:
    """The last up to n steps of every env row."""

    def __init__(self, rows: int, n: int, obs_dim: int, act_dim: int) -> None:
        self.n = n
        self.obs = np.zeros((rows, n, obs_dim), dtype=np.float32)
        self.actions = np.zeros((rows, n, act_dim), dtype=np.float32)
        self.rewards = np.zeros((rows, n), dtype=np.float64)
        self.length = np.zeros(rows, dtype=np.int64)

    def push(self, rows: np.ndarray, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
             next_obs: np.ndarray, terminated: np.ndarray, done: np.ndarray, weights: np.ndarray) -> Transitions:
        """Add one step to each of rows' windows; returns the transitions this completed.

        weights: each row's discounts(gamma, n), passed each step so a live change of gamma applies to the next sum.
        """
        at = self.length[rows]
        self.obs[rows, at], self.actions[rows, at], self.rewards[rows, at] = obs, actions, rewards
        length = at + 1
        # A full window gives its oldest step; an episode's end gives every tail, longest first.
        count = np.where(done, length, length == self.n)
        source = np.repeat(np.arange(len(rows)), count)
        start = np.arange(len(source)) - np.repeat(np.cumsum(count) - count, count)
        row, steps = rows[source], length[source] - start
        returns = np.zeros(len(source), dtype=np.float64)
        for k in range(self.n):  # term by term, as the sum was always written
            inside = k < steps
            returns += np.where(inside, weights[source, k] * self.rewards[row, np.minimum(start + k, self.n - 1)], 0.0)
        out = Transitions(row, self.obs[row, start], self.actions[row, start], returns.astype(np.float32),
                          next_obs[source], terminated[source], steps.astype(np.uint8))
        full = ~done & (length == self.n)
        if full.any():  # drop each full window's oldest step
            slide = rows[full]
            self.obs[slide, :-1], self.actions[slide, :-1] = self.obs[slide, 1:], self.actions[slide, 1:]
            self.rewards[slide, :-1] = self.rewards[slide, 1:]
        self.length[rows] = np.where(done, 0, length - full)
        return out

    def clear(self) -> None:
        self.length[:] = 0
