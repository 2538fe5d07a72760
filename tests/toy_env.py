"""A task TD3 solves in a few hundred updates, for the short learning checks of every learning option.

Each step shows a fresh random state in [-1, 1]^8; the best action is 0.8 times its first two coordinates,
and the reward is 1 - |a - a*|^2. Episodes are 20 steps (truncated, never terminated), so the best return is 20;
acting with zeros earns about 11.5 and uniform random actions about -2.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

ENV_ID = "LabToy/Reach-v0"
MODULE_ENV_ID = f"toy_env:{ENV_ID}"
"""The id to configure: Gymnasium imports this module first, in any process (spawned workers too)."""
BEST_RETURN, ZERO_ACTION_RETURN = 20.0, 11.5


class Reach(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (8,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.state = self.np_random.uniform(-1.0, 1.0, 8).astype(np.float32)
        return self.state, {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        best = 0.8 * self.state[:2]
        reward = 1.0 - float(np.sum((np.asarray(action, dtype=np.float32) - best) ** 2))
        self.state = self.np_random.uniform(-1.0, 1.0, 8).astype(np.float32)
        return self.state, reward, False, False, {}


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point=Reach, max_episode_steps=20)
