"""Bounded buffers the chart subscribers fill on the training thread: O(1) work per event.

``BoundedSeries`` keeps a trace's rows under ``max_points`` by thinning its older half,
``RollingMean`` is a moving mean from running sums, and ``OutcomeWindow`` is each
outcome's share of the last few episodes. ``widgets.charts`` keeps one set per agent, so
every agent's lines thin, average and count the same way.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from lab.lander.behavior import OUTCOME_CODE, OUTCOMES


class BoundedSeries:
    """Rows of floats, never more than ``max_points``: amortized O(1) appends.

    When full, the older half is thinned to every second row, which frees a quarter
    of the space. Repeated thinning leaves old data at stride 2, 4, 8...: a coarse
    outline of the past and the recent past in full.
    """

    def __init__(self, columns: int, max_points: int = 400) -> None:
        if max_points < 8:
            raise ValueError(f"max_points must be at least 8, got {max_points}")
        self.max_points = max_points
        self._rows = np.empty((max_points, columns), dtype=np.float64)
        self.size = 0
        self.appended = 0
        """Rows ever appended, thinned or not."""

    def append(self, row: tuple[float, ...]) -> None:
        if self.size == self.max_points:
            half = self.max_points // 2
            kept = self._rows[0:half:2]
            n = len(kept)
            self._rows[:n] = kept
            self._rows[n:n + self.max_points - half] = self._rows[half:self.max_points].copy()
            self.size = n + self.max_points - half
        self._rows[self.size] = row
        self.size += 1
        self.appended += 1

    def snapshot(self) -> np.ndarray:
        return self._rows[: self.size].copy()

    def clear(self) -> None:
        self.size = 0
        self.appended = 0


class RollingMean:
    """Mean of the last ``window`` values with running sums: O(1) per value."""

    def __init__(self, window: int) -> None:
        self.values: deque[float] = deque(maxlen=window)
        self.total = 0.0

    def push(self, value: float) -> float:
        if len(self.values) == self.values.maxlen:
            self.total -= self.values[0]
        self.values.append(value)
        self.total += value
        return self.total / len(self.values)


class OutcomeWindow:
    """Each outcome's share of the last ``size`` episodes, from running counts: O(1) per episode."""

    def __init__(self, size: int) -> None:
        self.recent: deque[int] = deque(maxlen=size)
        self.counts = np.zeros(len(OUTCOMES), dtype=np.float64)

    def push(self, episode: Any) -> bool:
        """Count an ``EpisodeEnded``'s outcome; False (nothing counted) when it has none."""
        outcome = getattr(getattr(episode.analysis, "outcome", None), "value", None)
        if outcome not in OUTCOME_CODE:
            return False
        code = OUTCOME_CODE[outcome]
        if len(self.recent) == self.recent.maxlen:
            self.counts[self.recent[0]] -= 1
        self.recent.append(code)
        self.counts[code] += 1
        return True

    def shares(self) -> np.ndarray:
        """Percent of the window per outcome, in ``OUTCOMES`` order (zeros before the first episode)."""
        return 100.0 * self.counts / max(len(self.recent), 1)
