"""Episode recording: every episode the lab flies, in training, evaluation and the renderers, ends as a Trajectory.

``EpisodeRecorder`` assembles one episode step by step; ``run_episodes`` flies a batch of
plain (non-vector) envs to the end with one batched forward pass per step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gymnasium as gym
import numpy as np

from lab.events import Trajectory

Actor = Callable[[np.ndarray], np.ndarray]


class EpisodeRecorder:
    """One episode in progress; ``finish`` turns it into the Trajectory every part of the lab shares."""

    def __init__(self, first_obs: np.ndarray, seed: int | None = None, act_dim: int = 2) -> None:
        self.observations: list[np.ndarray] = [first_obs]
        self.actions: list[np.ndarray] = []
        self.rewards: list[float] = []
        self.shaped_return = 0.0
        self.seed, self.act_dim = seed, act_dim

    def add(self, action: np.ndarray, reward: float, next_obs: np.ndarray, shaped: float | None = None) -> None:
        self.observations.append(next_obs)
        self.actions.append(action)
        self.rewards.append(reward)
        self.shaped_return += reward if shaped is None else shaped

    @property
    def raw_return(self) -> float:
        return float(np.sum(self.rewards))

    def finish(self, terminated: bool, truncated: bool) -> Trajectory:
        actions = (np.stack(self.actions).astype(np.float32, copy=False) if self.actions
                   else np.zeros((0, self.act_dim), np.float32))
        return Trajectory(np.stack(self.observations), actions, np.asarray(self.rewards, dtype=np.float32),
                          bool(terminated), bool(truncated), self.seed)


def run_episodes(actor: Actor, envs: Sequence[gym.Env], seeds: Sequence[int]) -> list[Trajectory]:
    """Fly one episode per env to its end, all side by side; each env is reset with its seed."""
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds)]).astype(np.float32)
    recorders = [EpisodeRecorder(o.copy(), seed=s) for o, s in zip(obs, seeds)]  # obs rows are overwritten
    ends: list[tuple[bool, bool]] = [(False, False)] * len(seeds)
    active = list(range(len(seeds)))
    while active:
        actions = actor(obs[active])
        still = []
        for k, i in enumerate(active):
            o, r, term, trunc, _ = envs[i].step(actions[k])
            recorders[i].add(actions[k], float(r), np.asarray(o, dtype=np.float32))
            obs[i] = o
            if term or trunc:
                ends[i] = (bool(term), bool(trunc))
            else:
                still.append(i)
        active = still
    return [r.finish(*end) for r, end in zip(recorders, ends)]
