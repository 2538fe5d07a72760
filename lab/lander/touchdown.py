"""The touchdown cut: lander physics on top of the exploration noise (why: ``TouchdownCut``).

The env pays a landing's +100 only when the lander comes to rest, so in a drawn fraction of training
episodes the explorer cuts both engines whenever a leg is down (``noise.touchdown_cut``).
"""

from __future__ import annotations

import numpy as np

from lab import lander


class TouchdownCut:
    """In a drawn fraction of training episodes, the explorer cuts both engines whenever a leg is down.

    Why: the env pays a landing's +100 only when the lander comes to rest (about 25 steps without an impulse),
    and a policy that hovers a hand's breadth above the ground, plus noise that fires the engine now and then,
    almost never rests, so the critics never see what touching down is worth
    (docs/experiments/2026-12-01-touchdown-cut.md). Episodes that cut the engines on contact show it; the
    others show what the policy does there.
    The cut acts on the actions stored for learning, never on the policy: evaluation and Trainer.policy
    fly the actor as it is. Each env draws at each episode's start; at probability 0 nothing is drawn.
    """

    def __init__(self, probability: float, num_envs: int, rng: np.random.Generator) -> None:
        self.probability, self.rng = probability, rng
        self.cutting = np.zeros(num_envs, dtype=bool)
        """Whether each env's current episode cuts the engines on touchdown."""

    def reset(self, mask: np.ndarray | None = None) -> None:
        """Draw for new episodes: every env, or the rows in mask."""
        if self.probability == 0.0:
            self.cutting[:] = False
            return
        rows = np.ones(len(self.cutting), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        self.cutting[rows] = self.rng.random(int(rows.sum())) < self.probability


def cut_engines(actions: np.ndarray, obs: np.ndarray, cutting: np.ndarray) -> np.ndarray:
    """actions, with the rows that are cutting and whose lander has a leg down set to engines off; the collector
    passes every acting agent's rows at once, each with its TouchdownCut's draw."""
    if not cutting.any():
        return actions
    right, left = lander.legs(obs)
    cut = cutting & (right | left)
    return np.where(cut[:, None], np.asarray(lander.ENGINES_OFF, dtype=actions.dtype), actions)
