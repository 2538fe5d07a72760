"""Gymnasium's hand-written lander pilot, as a batch function of observations (numpy only, no torch).

It scores about 285 on the lab's evaluation seeds. ``lab.policy.heuristic_policy`` wraps it as a
``Policy``; with ``training.warmup_pilot=heuristic`` it flies a run's warm-up (learning from
demonstrations: Vecerik et al. 2017, Nair et al. 2018), so the buffer holds landings before the first update.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PILOTS = ("heuristic",)
"""Pilots that can fly a warm-up besides uniform random actions (training.warmup_pilot's other choices)."""


class _ContinuousEnv:
    """heuristic() reads only env.unwrapped.continuous."""

    continuous = True
    unwrapped: Any = None


_ENV = _ContinuousEnv()
_ENV.unwrapped = _ENV


def heuristic_actions(obs: np.ndarray) -> np.ndarray:
    """The heuristic pilot's actions for a batch of observations (n, 8) -> (n, 2)."""
    from gymnasium.envs.box2d.lunar_lander import heuristic

    return np.stack([np.asarray(heuristic(_ENV, o), dtype=np.float32) for o in obs])
