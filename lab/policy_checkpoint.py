"""Policy checkpoints (TD7; Fujimoto et al. 2023, "For SALE: State-Action Representation Learning for Deep RL").

A deep RL policy's quality swings from one update to the next, so the policy a run deploys should be
one that has proven itself, not the latest. Training is split into assessment windows: the actor is held
fixed for up to `window` training episodes and judged by its WORST return among them. If that minimum
beats the best minimum so far, the actor becomes the checkpoint. The updates owed for the window's env
steps are paid only when the window closes, so the assessed policy is the one that acted. A window
closes early as soon as one episode falls below the best minimum: that policy cannot win, so no more
steps are spent on it.

With ``score="mean"`` a window is judged by its MEAN return instead and always runs to its end. On
LunarLander the minimum is a harsh judge: one crash among five episodes (about -100 to -300) vetoes a
policy that lands the other four, and a bar set by five early near-random episodes can then hold a bad
checkpoint for tens of thousands of steps; the mean still refuses a policy that mostly crashes.

Early in training a window is one episode (cheap, fast to adopt improvements); after `widen_after`
env steps it widens to `window` episodes and the best minimum is relaxed by `relax` so a policy judged
on more episodes is not held to a bar set by a lucky single one. Only training episodes are used:
evaluation seeds never choose the deployed policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCORES = ("min", "mean")
"""How a window is judged: by its worst episode (TD7) or by its mean."""


@dataclass(frozen=True)
class WindowResult:
    """What the learner does when an episode ends: pay the owed updates when closed; copy the actor when adopt."""

    closed: bool
    adopt: bool


class PolicyCheckpointer:
    """The assessment-window state machine; the trainer owns the actor copies and the update debt."""

    def __init__(self, window: int, widen_after: int, relax: float = 0.9, score: str = "min") -> None:
        if score not in SCORES:
            raise ValueError(f"score={score!r} is invalid: allowed {', '.join(SCORES)}")
        self.window = window
        self.widen_after = widen_after
        self.relax = relax
        self.score = score
        self.episodes_in_window = 0
        self.window_min = math.inf
        self.window_sum = 0.0
        self.best_min = -math.inf
        """The best window score so far (its minimum, or its mean with score="mean")."""
        self.widened = False

    @property
    def current_window(self) -> int:
        return self.window if self.widened else 1

    def episode_ended(self, episode_return: float, env_step: int) -> WindowResult:
        """Account one finished training episode; say whether the window closed and what it decided."""
        self.episodes_in_window += 1
        self.window_min = min(self.window_min, episode_return)
        self.window_sum += episode_return
        if self.score == "min" and self.window_min < self.best_min:
            return self._close(adopt=False, env_step=env_step)
        if self.episodes_in_window >= self.current_window:
            score = self.window_min if self.score == "min" else self.window_sum / self.episodes_in_window
            adopt = score >= self.best_min
            if adopt:
                self.best_min = score
            return self._close(adopt=adopt, env_step=env_step)
        return WindowResult(closed=False, adopt=False)

    def _close(self, adopt: bool, env_step: int) -> WindowResult:
        self.episodes_in_window = 0
        self.window_min = math.inf
        self.window_sum = 0.0
        if not self.widened and env_step >= self.widen_after:
            self.widened = True
            if math.isfinite(self.best_min):
                self.best_min *= self.relax if self.best_min > 0 else 1.0 / self.relax
        return WindowResult(closed=True, adopt=adopt)

    def state_dict(self) -> dict[str, float | int | bool]:
        return {"episodes_in_window": self.episodes_in_window, "window_min": self.window_min,
                "window_sum": self.window_sum, "best_min": self.best_min, "widened": self.widened}

    def load_state_dict(self, state: dict[str, float | int | bool]) -> None:
        self.episodes_in_window = int(state["episodes_in_window"])
        self.window_min = float(state["window_min"])
        self.window_sum = float(state.get("window_sum", 0.0))
        self.best_min = float(state["best_min"])
        self.widened = bool(state["widened"])
