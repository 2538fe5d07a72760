"""The threading contract every live chart set keeps: ``LiveFigure``, the base of both chart sets.

A chart set is fed trainer events on the training thread and drawn on the kernel's:

* the subscriber (a subclass's ``__call__``) only does O(1) arithmetic into bounded
  buffers under ``_lock`` and marks which chart groups are ``_dirty``; it never touches
  a widget;
* ``flush`` (the widgets' thread) takes a snapshot of the dirty groups under the lock,
  then redraws them inside one ``figure.batch_update()``, at most every ``min_interval``
  seconds.

A subclass says what its buffers are (``_reset_buffers``), what to copy (``_snapshot``),
how to draw it (``_draw``, ``_draw_changes``) and its figure (``_build_figure``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from lab.events import HyperparametersChanged

MAX_CHANGE_MARKERS = 8
"""Hyperparameter changes drawn as markers; older ones stay in ``changes`` but leave the chart."""
CHART_GROUPS = frozenset({"episodes", "updates", "evals", "outcomes", "changes"})
"""What can be dirty: each group redraws its own traces."""


class LiveFigure:
    """Bounded buffers written by a trainer's events, redrawn on a Plotly ``FigureWidget``."""

    _dirty: set[str]
    """Which chart groups changed since the last flush."""
    _traces: dict[Any, Any]
    """Each drawn line, by the name ``point_counts`` reports it under."""

    def __init__(self, max_points: int, window: int, outcome_window: int, success_threshold: float,
                 min_interval: float, height: int) -> None:
        self.max_points = max_points
        self.window = window
        self.outcome_window = outcome_window
        self.success_threshold = success_threshold
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self.changes: list[Any] = []
        """Every live hyperparameter change, oldest first, as the subclass records it."""
        self.flushes = 0
        self._last_flush = 0.0
        self._reset_buffers()
        self.figure = self._build_figure(height)

    # ---- what a subclass fills in ----------------------------------------------------------
    def _reset_buffers(self) -> None:
        """Empty buffers (under the lock, or before anyone else holds the object); clears ``_dirty``."""
        raise NotImplementedError

    def _build_figure(self, height: int) -> Any:
        raise NotImplementedError

    def _snapshot(self, dirty: set[str]) -> dict[str, Any]:
        """Copies of the dirty groups' buffers, by group (called under the lock)."""
        raise NotImplementedError

    def _draw(self, data: dict[str, Any]) -> None:
        """Put a snapshot into the traces (inside the figure's batch update)."""
        raise NotImplementedError

    def _draw_changes(self, changes: list[Any]) -> None:
        raise NotImplementedError

    # ---- shared ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (a new run starts); the next flush empties the traces."""
        with self._lock:
            self._reset_buffers()
            self.changes = []
            self._dirty = set(CHART_GROUPS)

    def flush(self, force: bool = False) -> bool:
        """Redraw what changed, in one batched update; skipped if called again within min_interval."""
        now = time.monotonic()
        if not force and now - self._last_flush < self.min_interval:
            return False
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            if not dirty:
                return False
            data = self._snapshot(dirty)
            changes = list(self.changes[-MAX_CHANGE_MARKERS:]) if "changes" in dirty else None
        self._last_flush = now
        with self.figure.batch_update():
            self._draw(data)
            if changes is not None:
                self._draw_changes(changes)
        self.flushes += 1
        return True

    def point_counts(self) -> dict[Any, int]:
        """Points each trace currently draws (what the browser holds)."""
        return {key: 0 if trace.x is None else len(trace.x) for key, trace in self._traces.items()}


def figure_widget(base: Any) -> Any:
    """The ``FigureWidget`` a chart set shows: small subplot titles, and it fills the panel's width.

    plotly.js re-measures its container on window resize when responsive (``widgets.frontend``
    sends that event once the panel is on the page).
    """
    import plotly.graph_objects as go

    for annotation in base.layout.annotations:
        annotation.font.size = 12
    fig = go.FigureWidget(base)
    fig._config = {**fig._config, "responsive": True, "displaylogo": False, "displayModeBar": False}
    return fig


def change_text(event: HyperparametersChanged) -> str:
    """A live change as a marker's hover text: ``sigma 0.1→0.2, tau 0.005→0.01``."""
    return ", ".join(f"{name} {_short(old)}→{_short(new)}" for name, (old, new) in event.changes.items())


def set_xy(trace: Any, x: Any, y: Any) -> None:
    trace.x = x
    trace.y = y


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
