"""Live training charts on one Plotly ``FigureWidget``, fed by trainer events.

Two halves that never share a thread's work:

* ``LiveCharts.__call__`` is an event subscriber. It runs on the training thread,
  so it only does O(1) arithmetic (running sums) and appends a row to a bounded
  buffer under a lock. It never touches a widget.
* ``LiveCharts.flush`` runs where the widgets live (the kernel's event loop; the
  panel schedules it). It copies what changed since the last flush and redraws
  those traces inside one ``fig.batch_update()``, at most every ``min_interval``
  seconds.

The threading contract lives in ``widgets.live_figure.LiveFigure``; every buffer is a
``widgets.series.BoundedSeries``: when it fills up, its older half is thinned
2:1, so recent data stays at full resolution, old data fades to a coarser outline,
and no trace ever holds more than ``max_points`` points however long the run.
"""

from __future__ import annotations

from typing import Any

from lab.events import EpisodeEnded, Evaluated, HyperparametersChanged, UpdateMetrics
from lab.lander import SUCCESS_RETURN
from lab.lander.behavior import OUTCOMES
from widgets.live_figure import LiveFigure, change_text, figure_widget, set_xy
from widgets.series import BoundedSeries, OutcomeWindow, RollingMean

__all__ = ["OUTCOME_COLORS", "BoundedSeries", "LiveCharts", "RollingMean"]

OUTCOME_COLORS: dict[str, str] = {
    "LANDED_PERFECTLY": "#1a7f37", "LANDED_SOFTLY": "#3fb950", "LANDED_HARD": "#a6d96a",
    "LANDED_TILTED": "#d9ef8b", "CRASHED_HIGH_VELOCITY": "#b2182b", "CRASHED_SPINNING": "#d6604d",
    "CRASHED_SIDEWAYS": "#f4a582", "CRASHED_TILTED": "#fddbc7", "FLEW_OFF_LEFT": "#762a83",
    "FLEW_OFF_RIGHT": "#9970ab", "FLEW_OFF_TOP": "#c2a5cf", "TIMED_OUT_HOVERING": "#4d4d4d",
    "TIMED_OUT_DESCENDING": "#878787", "TIMED_OUT_ASCENDING": "#bababa",
}


# Which subplot each trace sits in: (row, col).
_LAYOUT = {
    "raw": (1, 1), "raw_ma": (1, 1), "eval": (1, 1),
    "shaped_ma": (1, 2), "raw_ma2": (1, 2),
    "success": (1, 3), "eval_success": (1, 3),
    "critic_loss": (2, 1), "actor_loss": (2, 2), "mean_q": (2, 3),
    "noise_scale": (3, 1),
}
_TITLES = ("Return per episode", "Shaped vs raw (moving mean)", "Success rate %", "Critic loss", "Actor loss",
           "Mean Q", "Noise scale", "Outcomes (% of the last episodes)")


class LiveCharts(LiveFigure):
    """Training charts that follow a trainer's events without slowing it down.

    ``window`` episodes make the moving means (return, shaped return, success);
    the outcome chart stacks each outcome's share of the last ``outcome_window``
    episodes. Every trace keeps at most ``max_points`` points.

    >>> charts = LiveCharts()
    >>> unsubscribe = charts.attach(trainer)
    >>> charts.figure          # display it; call charts.flush() on the widgets' thread
    """

    changes: list[tuple[int, str]]
    _solved_line: dict[str, Any]

    def __init__(self, max_points: int = 400, window: int = 50, outcome_window: int = 20,
                 success_threshold: float = SUCCESS_RETURN, min_interval: float = 0.3, height: int = 780) -> None:
        super().__init__(max_points, window, outcome_window, success_threshold, min_interval, height)

    # ---- the subscriber (training thread) ------------------------------------------------
    def __call__(self, event: Any) -> None:
        if isinstance(event, EpisodeEnded):
            self._on_episode(event)
        elif isinstance(event, UpdateMetrics):
            with self._lock:
                self._updates.append((event.env_step, event.critic_loss, event.actor_loss, event.mean_q,
                                      event.noise_scale))
                self._dirty.add("updates")
        elif isinstance(event, Evaluated):
            with self._lock:
                self._evals.append((event.env_step, event.mean_return, event.std_return, 100 * event.success_rate))
                self._dirty.add("evals")
        elif isinstance(event, HyperparametersChanged):
            text = change_text(event)
            with self._lock:
                self.changes.append((event.env_step, text))
                self._dirty.add("changes")

    def _on_episode(self, e: EpisodeEnded) -> None:
        with self._lock:
            raw_ma = self._raw.push(e.raw_return)
            shaped_ma = self._shaped.push(e.shaped_return)
            success = self._success.push(100.0 if e.raw_return >= self.success_threshold else 0.0)
            self._episodes.append((e.env_step, e.raw_return, raw_ma, shaped_ma, success))
            if self._recent_outcomes.push(e):
                self._outcomes.append((e.env_step, *self._recent_outcomes.shares()))
                self._dirty.add("outcomes")
            self._dirty.add("episodes")

    def attach(self, trainer: Any) -> Any:
        """Subscribe to a trainer's events (its success threshold too); returns the unsubscribe function."""
        threshold = float(trainer.config.env.success_threshold)
        if threshold != self.success_threshold:
            with self._lock:
                self.success_threshold = threshold
                self._solved_line = {**self._solved_line, "y0": threshold, "y1": threshold}
                self._dirty.add("changes")
        return trainer.events.subscribe(self)

    def _reset_buffers(self) -> None:
        m = self.max_points
        self._episodes = BoundedSeries(5, m)  # env_step, raw, raw moving mean, shaped moving mean, success %
        self._updates = BoundedSeries(5, m)  # env_step, critic loss, actor loss, mean Q, noise scale
        self._evals = BoundedSeries(4, m)  # env_step, mean, std, success %
        self._outcomes = BoundedSeries(1 + len(OUTCOMES), m)  # env_step, share of each outcome
        self._raw, self._shaped, self._success = (RollingMean(self.window) for _ in range(3))
        self._recent_outcomes = OutcomeWindow(self.outcome_window)
        self._dirty = set()

    # ---- drawing (the widgets' thread) ---------------------------------------------------
    def _snapshot(self, dirty: set[str]) -> dict[str, Any]:
        buffers = {"episodes": self._episodes, "updates": self._updates, "evals": self._evals,
                   "outcomes": self._outcomes}
        return {group: series.snapshot() for group, series in buffers.items() if group in dirty}

    def _draw(self, data: dict[str, Any]) -> None:
        t = self._traces
        if "episodes" in data:
            episodes = data["episodes"]
            x = episodes[:, 0]
            set_xy(t["raw"], x, episodes[:, 1])
            set_xy(t["raw_ma"], x, episodes[:, 2])
            set_xy(t["raw_ma2"], x, episodes[:, 2])
            set_xy(t["shaped_ma"], x, episodes[:, 3])
            set_xy(t["success"], x, episodes[:, 4])
        if "updates" in data:
            updates = data["updates"]
            for k, name in enumerate(("critic_loss", "actor_loss", "mean_q", "noise_scale"), start=1):
                set_xy(t[name], updates[:, 0], updates[:, k])
        if "evals" in data:
            evals = data["evals"]
            set_xy(t["eval"], evals[:, 0], evals[:, 1])
            t["eval"].error_y = {"type": "data", "array": evals[:, 2], "visible": True, "thickness": 1}
            set_xy(t["eval_success"], evals[:, 0], evals[:, 3])
        if "outcomes" in data:
            outcomes = data["outcomes"]
            for k, outcome in enumerate(OUTCOMES, start=1):
                trace = t[outcome.value]
                set_xy(trace, outcomes[:, 0], outcomes[:, k])
                seen = bool(outcomes[:, k].any())
                if trace.showlegend != seen:
                    trace.showlegend = seen  # the legend lists the outcomes that happened

    def _draw_changes(self, changes: list[tuple[int, str]]) -> None:
        shapes = [self._solved_line]
        annotations = list(self._titles)
        for step, text in changes:
            for axis in self._axes:
                shapes.append({"type": "line", "xref": f"x{axis}", "yref": f"y{axis} domain", "x0": step, "x1": step,
                               "y0": 0, "y1": 1, "line": {"color": "#8250df", "width": 1, "dash": "dot"}})
            annotations.append({"x": step, "y": 1.0, "xref": "x", "yref": "y domain", "text": "▼", "showarrow": False,
                                "hovertext": f"step {step}: {text}", "font": {"color": "#8250df", "size": 12},
                                "yanchor": "bottom"})
        self.figure.layout.shapes = shapes
        self.figure.layout.annotations = annotations

    # ---- building --------------------------------------------------------------------------
    def _build_figure(self, height: int) -> Any:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        specs = [[{}, {}, {}], [{}, {}, {}], [{}, {"colspan": 2}, None]]
        base = make_subplots(rows=3, cols=3, specs=specs, subplot_titles=_TITLES, vertical_spacing=0.09,
                             horizontal_spacing=0.06)
        lines = {
            "raw": dict(mode="markers", marker={"size": 4, "color": "#6baed6"}, name="raw return"),
            "raw_ma": dict(mode="lines", line={"color": "#08519c"}, name=f"moving mean ({self.window})"),
            "eval": dict(mode="markers", marker={"symbol": "diamond", "size": 8, "color": "#e6550d"},
                         name="evaluation"),
            "shaped_ma": dict(mode="lines", line={"color": "#31a354"}, name="shaped"),
            "raw_ma2": dict(mode="lines", line={"color": "#08519c"}, name="raw"),
            "success": dict(mode="lines", line={"color": "#08519c"}, name="training success %"),
            "eval_success": dict(mode="markers", marker={"symbol": "diamond", "size": 8, "color": "#e6550d"},
                                 name="evaluation success %"),
            "critic_loss": dict(mode="lines+markers", marker={"size": 4}, line={"color": "#756bb1"},
                                name="critic loss"),
            "actor_loss": dict(mode="lines+markers", marker={"size": 4}, line={"color": "#de2d26"}, name="actor loss"),
            "mean_q": dict(mode="lines+markers", marker={"size": 4}, line={"color": "#636363"}, name="mean Q"),
            "noise_scale": dict(mode="lines+markers", marker={"size": 4}, line={"color": "#fd8d3c", "shape": "hv"},
                                name="noise scale"),
        }
        for name, style in lines.items():
            row, col = _LAYOUT[name]
            base.add_trace(go.Scatter(x=[], y=[], showlegend=False, **style), row=row, col=col)
        for outcome in OUTCOMES:
            base.add_trace(go.Scatter(x=[], y=[], mode="lines", stackgroup="outcomes", name=outcome.value,
                                      line={"width": 0.5, "color": OUTCOME_COLORS[outcome.value]},
                                      showlegend=False), row=3, col=2)
        base.update_yaxes(range=[0, 100], row=3, col=2)
        base.update_yaxes(range=[-5, 105], row=1, col=3)
        base.update_layout(autosize=True, height=height, margin={"l": 40, "r": 10, "t": 30, "b": 70},
                           template="plotly_white",
                           legend={"orientation": "h", "x": 0.0, "y": -0.06, "yanchor": "top", "font": {"size": 10}},
                           uirevision="lander-lab")
        fig = figure_widget(base)
        self._traces = {name: fig.data[i] for i, name in enumerate(lines)}
        self._traces.update({o.value: fig.data[len(lines) + i] for i, o in enumerate(OUTCOMES)})
        self._axes = ["" if i == 1 else str(i) for i in range(1, 9)]
        self._solved_line = {"type": "line", "xref": "x domain", "yref": "y", "x0": 0, "x1": 1,
                             "y0": self.success_threshold, "y1": self.success_threshold,
                             "line": {"color": "#2da44e", "width": 1, "dash": "dash"}}
        self._titles = tuple(fig.layout.annotations)
        fig.layout.shapes = [self._solved_line]
        return fig
