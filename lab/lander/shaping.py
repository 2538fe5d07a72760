"""Optional reward shaping, as in the original design.

All bonuses are gated on descending (vy < -0.05), so the agent is paid for
approaching the pad, not for hovering near it. The env's raw reward is never
changed in place: the trainer keeps raw and shaped returns apart.
"""

from __future__ import annotations

import numpy as np

from lab import lander
from lab.config import EnvironmentConfig

DESCENDING_VY = -0.05
"""Observation-scale vertical speed below which the lander counts as descending."""
LANDED_REWARD = lander.LANDING_REWARD / 2
"""A raw terminal reward above this means the env paid its +100 for coming to rest."""


def shaping_bonus(next_obs: np.ndarray, raw_reward: np.ndarray, terminated: np.ndarray,
                  cfg: EnvironmentConfig) -> np.ndarray:
    """The shaping term for a batch of steps (add it to the raw reward)."""
    next_obs = np.atleast_2d(next_obs)
    y, vy, angle = next_obs[:, lander.Y], next_obs[:, lander.VY], next_obs[:, lander.ANGLE]
    right, left = lander.legs(next_obs)
    descending = vy < DESCENDING_VY
    bonus = np.full(len(next_obs), -cfg.shaping_time_penalty, dtype=np.float64)
    bonus += descending * (y < cfg.shaping_ground_height) * cfg.shaping_ground_bonus
    bonus += descending * (right.astype(np.float64) + left) * cfg.shaping_leg_bonus
    bonus += descending * (np.abs(angle) < cfg.shaping_upright_angle) * cfg.shaping_upright_bonus
    landed = np.asarray(terminated) & right & left & (np.asarray(raw_reward) > LANDED_REWARD)
    bonus += landed * cfg.shaping_landing_bonus
    return bonus.astype(np.float32)
