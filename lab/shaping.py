"""Optional reward shaping, as in the original design.

All bonuses are gated on descending (vy < -0.05), so the agent is paid for
approaching the pad, not for hovering near it. The env's raw reward is never
changed in place: the trainer keeps raw and shaped returns apart.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from lab.config import EnvironmentConfig

DESCENDING_VY = -0.05
"""Observation-scale vertical speed below which the lander counts as descending."""
LANDING_REWARD = 50.0
"""A raw terminal reward above this means the env paid its +100 for coming to rest."""


def shaping_bonus(next_obs: np.ndarray, raw_reward: np.ndarray, terminated: np.ndarray,
                  cfg: EnvironmentConfig) -> np.ndarray:
    """The shaping term for a batch of steps (add it to the raw reward)."""
    next_obs = np.atleast_2d(next_obs)
    y, vy, angle = next_obs[:, 1], next_obs[:, 3], next_obs[:, 4]
    left, right = next_obs[:, 6] > 0.5, next_obs[:, 7] > 0.5
    descending = vy < DESCENDING_VY
    bonus = np.full(len(next_obs), -cfg.shaping_time_penalty, dtype=np.float64)
    bonus += descending * (y < cfg.shaping_ground_height) * cfg.shaping_ground_bonus
    bonus += descending * (left.astype(np.float64) + right) * cfg.shaping_leg_bonus
    bonus += descending * (np.abs(angle) < cfg.shaping_upright_angle) * cfg.shaping_upright_bonus
    landed = np.asarray(terminated) & left & right & (np.asarray(raw_reward) > LANDING_REWARD)
    bonus += landed * cfg.shaping_landing_bonus
    return bonus.astype(np.float32)


class RewardShaping(gym.Wrapper):
    """Gymnasium wrapper form of the same shaping; the raw reward goes to info['raw_reward']."""

    def __init__(self, env: gym.Env, cfg: EnvironmentConfig) -> None:
        super().__init__(env)
        self.cfg = cfg

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        bonus = shaping_bonus(np.asarray(obs)[None], np.array([reward]), np.array([terminated]), self.cfg)[0]
        info = dict(info, raw_reward=float(reward))
        return obs, float(reward) + float(bonus), terminated, truncated, info
