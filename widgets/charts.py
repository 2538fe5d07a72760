"""Live training charts for K agents on one Plotly ``FigureWidget``: one line per agent on every chart.

With one agent the lines take the familiar colours (raw returns, moving mean, evaluations,
shaped return, ...) and the outcome chart stacks the outcome mix over time; with K agents
each agent has its colour and the outcome chart stacks each agent's recent mix in a bar.

Two halves that never share a thread's work:

* ``LiveCharts.__call__`` is an event subscriber (``AgentEvent`` from an engine's
  ``agent_events``; a plain event counts as agent 0's). It runs on the training thread, so
  it only does O(1) arithmetic into bounded buffers (``widgets.series``) under a lock and
  marks which chart groups are dirty. It never touches a widget.
* ``LiveCharts.flush`` runs where the widgets live (the kernel's event loop; the panel
  schedules it). It copies the dirty groups under the lock and redraws them inside one
  ``figure.batch_update()``, at most every ``min_interval`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lab.events import EpisodeEnded, Evaluated, HyperparametersChanged, UpdateMetrics
from lab.lander import SUCCESS_RETURN
from lab.lander.behavior import OUTCOMES
from lab.train.engine import AgentEvent
from widgets.series import BoundedSeries, OutcomeWindow, RollingMean

OUTCOME_COLORS: dict[str, str] = {
    "LANDED_PERFECTLY": "#1a7f37", "LANDED_SOFTLY": "#3fb950", "LANDED_HARD": "#a6d96a",
    "LANDED_TILTED": "#d9ef8b", "CRASHED_HIGH_VELOCITY": "#b2182b", "CRASHED_SPINNING": "#d6604d",
    "CRASHED_SIDEWAYS": "#f4a582", "CRASHED_TILTED": "#fddbc7", "FLEW_OFF_LEFT": "#762a83",
    "FLEW_OFF_RIGHT": "#9970ab", "FLEW_OFF_TOP": "#c2a5cf", "TIMED_OUT_HOVERING": "#4d4d4d",
    "TIMED_OUT_DESCENDING": "#878787", "TIMED_OUT_ASCENDING": "#bababa",
}
AGENT_COLORS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#e16f24", "#6e7781")
"""One colour per agent (cycled past eight)."""
CHANGE_COLOR = "#8250df"
"""Live-change markers of a single agent."""
MAX_CHANGE_MARKERS = 8
"""Live changes drawn as markers; older ones stay in ``changes`` but leave the chart."""
TITLES = ("Return per episode", "Shaped vs raw (moving mean)", "Success rate %", "Critic loss", "Actor loss",
          "Mean Q", "Noise scale", "Outcomes (% of the last episodes)")
LINES: dict[str, tuple[int, int, dict[str, Any]]] = {
    "raw": (1, 1, dict(mode="markers", marker={"size": 4, "color": "#6baed6"}, name="raw return")),
    "raw_ma": (1, 1, dict(mode="lines", line={"color": "#08519c"}, name="moving mean")),
    "eval": (1, 1, dict(mode="markers", marker={"symbol": "diamond", "size": 8, "color": "#e6550d"},
                        name="evaluation")),
    "shaped_ma": (1, 2, dict(mode="lines", line={"color": "#31a354", "dash": "dash"}, name="shaped")),
    "raw_ma2": (1, 2, dict(mode="lines", line={"color": "#08519c"}, name="raw")),
    "success": (1, 3, dict(mode="lines", line={"color": "#08519c"}, name="training success %")),
    "eval_success": (1, 3, dict(mode="markers", marker={"symbol": "diamond", "size": 8, "color": "#e6550d"},
                                name="evaluation success %")),
    "critic_loss": (2, 1, dict(mode="lines+markers", marker={"size": 4}, line={"color": "#756bb1"},
                               name="critic loss")),
    "actor_loss": (2, 2, dict(mode="lines+markers", marker={"size": 4}, line={"color": "#de2d26"}, name="actor loss")),
    "mean_q": (2, 3, dict(mode="lines+markers", marker={"size": 4}, line={"color": "#636363"}, name="mean Q")),
    "noise_scale": (3, 1, dict(mode="lines+markers", marker={"size": 4}, line={"color": "#fd8d3c", "shape": "hv"},
                               name="noise scale")),
}
"""Each agent's traces: subplot (row, col) and the single agent's style."""
_COLUMNS = {"episodes": ("raw", "raw_ma", "shaped_ma", "success"), "updates": ("critic_loss", "actor_loss", "mean_q",
                                                                              "noise_scale")}
"""Which trace each column of a buffer feeds (after the env_step column)."""


def agent_label(agent: int) -> str:
    """A, B, C ... Z, then #26, #27 ..."""
    return chr(ord("A") + agent) if agent < 26 else f"#{agent}"


def agent_color(agent: int) -> str:
    return AGENT_COLORS[agent % len(AGENT_COLORS)]


@dataclass
class _AgentSeries:
    """One agent's buffers; written on the training thread under the charts' lock."""

    window: int
    outcome_window: int
    max_points: int
    episodes: BoundedSeries = field(init=False)  # env_step, raw, raw moving mean, shaped moving mean, success %
    updates: BoundedSeries = field(init=False)  # env_step, critic loss, actor loss, mean Q, noise scale
    evals: BoundedSeries = field(init=False)  # env_step, mean, std, success %
    outcomes: BoundedSeries = field(init=False)  # env_step, share of each outcome (over time: one agent)

    def __post_init__(self) -> None:
        self.episodes, self.updates = BoundedSeries(5, self.max_points), BoundedSeries(5, self.max_points)
        self.evals, self.outcomes = BoundedSeries(4, self.max_points), BoundedSeries(1 + len(OUTCOMES), self.max_points)
        self.raw, self.shaped, self.successes = (RollingMean(self.window) for _ in range(3))
        self.recent = OutcomeWindow(self.outcome_window)


class LiveCharts:
    """Training charts that follow K agents' events without slowing training down.

    ``window`` episodes make the moving means (return, shaped return, success); the outcome
    chart shows each outcome's share of the last ``outcome_window`` episodes. Every trace
    keeps at most ``max_points`` points however long the run.

    >>> charts = LiveCharts(agents=2)
    >>> unsubscribe = charts.attach(population)   # or a Trainer
    >>> charts.figure          # display it; call charts.flush() on the widgets' thread
    """

    def __init__(self, agents: int = 1, labels: Sequence[str] | None = None, max_points: int = 400,
                 window: int = 50, outcome_window: int = 20, success_threshold: float = SUCCESS_RETURN,
                 min_interval: float = 0.3, height: int = 780) -> None:
        self.agents = agents
        self.labels = list(labels) if labels is not None else [agent_label(k) for k in range(agents)]
        self.max_points, self.window, self.outcome_window = max_points, window, outcome_window
        self.success_threshold = success_threshold
        self.min_interval = min_interval
        self.changes: list[tuple[int, int, str]] = []
        """(agent, env_step, text) of every live change, oldest first."""
        self.flushes = 0
        self._last_flush = 0.0
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._solved_line: dict[str, Any] = {}
        self._reset_buffers()
        self.figure = self._build_figure(height)

    # ---- the subscriber (training thread) ------------------------------------------------
    def __call__(self, event: Any) -> None:
        k, event = (event.agent, event.event) if isinstance(event, AgentEvent) else (0, event)
        if not 0 <= k < self.agents:
            return
        s = self._series[k]
        with self._lock:
            if isinstance(event, EpisodeEnded):
                success = 100.0 if event.raw_return >= self.success_threshold else 0.0
                s.episodes.append((event.env_step, event.raw_return, s.raw.push(event.raw_return),
                                   s.shaped.push(event.shaped_return), s.successes.push(success)))
                if s.recent.push(event):
                    s.outcomes.append((event.env_step, *s.recent.shares()))
                    self._dirty.add("outcomes")
                self._dirty.add("episodes")
            elif isinstance(event, UpdateMetrics):
                s.updates.append((event.env_step, event.critic_loss, event.actor_loss, event.mean_q, event.noise_scale))
                self._dirty.add("updates")
            elif isinstance(event, Evaluated):
                s.evals.append((event.env_step, event.mean_return, event.std_return, 100 * event.success_rate))
                self._dirty.add("evals")
            elif isinstance(event, HyperparametersChanged):
                self.changes.append((k, event.env_step, change_text(event)))
                self._dirty.add("changes")

    def attach(self, engine: Any) -> Any:
        """Follow a Trainer's or Population's agents (and their success threshold); returns the unsubscribe."""
        threshold = float(engine.slots[0].config.env.success_threshold)
        with self._lock:
            if threshold != self.success_threshold:
                self.success_threshold = threshold
                self._solved_line = {**self._solved_line, "y0": threshold, "y1": threshold}
                self._dirty.add("changes")
        if self.agents > 1:  # the legend and the bars name each agent with its seed in this run
            self.labels = [f"{agent_label(s.index)} (seed {s.seed})" for s in engine.slots]
            with self.figure.batch_update():
                for (_, k), trace in self._traces.items():
                    trace.name = self.labels[k]
                for trace in self._outcome_traces.values():
                    trace.x = self.labels
        return engine.agent_events.subscribe(self, AgentEvent)

    def reset(self) -> None:
        """Forget everything (a new run starts); the next flush empties the traces."""
        with self._lock:
            self._reset_buffers()
            self._dirty = {"episodes", "updates", "evals", "outcomes", "changes"}

    def _reset_buffers(self) -> None:
        self._series = [_AgentSeries(self.window, self.outcome_window, self.max_points) for _ in range(self.agents)]
        self.changes = []
        self._dirty = set()

    # ---- drawing (the widgets' thread) ---------------------------------------------------
    def flush(self, force: bool = False) -> bool:
        """Redraw what changed, in one batched update; skipped if called again within min_interval."""
        now = time.monotonic()
        if not force and now - self._last_flush < self.min_interval:
            return False
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            if not dirty:
                return False
            data = {group: [getattr(s, group).snapshot() for s in self._series] for group in dirty - {"changes"}}
            if "outcomes" in dirty:
                data["shares"] = [s.recent.shares() for s in self._series]
            changes = list(self.changes[-MAX_CHANGE_MARKERS:]) if "changes" in dirty else None
        self._last_flush = now
        with self.figure.batch_update():
            self._draw(data)
            if changes is not None:
                self._draw_changes(changes)
        self.flushes += 1
        return True

    def _draw(self, data: dict[str, Any]) -> None:
        t = self._traces
        for k in range(self.agents):
            for group, names in _COLUMNS.items():
                if group in data:
                    rows = data[group][k]
                    for column, name in enumerate(names, start=1):
                        _set_xy(t[(name, k)], rows[:, 0], rows[:, column])
            if "episodes" in data:
                rows = data["episodes"][k]
                _set_xy(t[("raw_ma2", k)], rows[:, 0], rows[:, 2])
            if "evals" in data:
                rows = data["evals"][k]
                _set_xy(t[("eval", k)], rows[:, 0], rows[:, 1])
                t[("eval", k)].error_y = {"type": "data", "array": rows[:, 2], "visible": True, "thickness": 1}
                _set_xy(t[("eval_success", k)], rows[:, 0], rows[:, 3])
        if "outcomes" in data:
            self._draw_outcomes(data["outcomes"][0], np.stack(data["shares"]))

    def _draw_outcomes(self, over_time: np.ndarray, shares: np.ndarray) -> None:
        """One agent: each outcome's share over time, stacked; K agents: each agent's recent mix as a stacked bar."""
        for j, outcome in enumerate(OUTCOMES):
            trace = self._outcome_traces[outcome.value]
            if self.agents == 1:
                _set_xy(trace, over_time[:, 0], over_time[:, 1 + j])
                seen = bool(over_time[:, 1 + j].any())
            else:
                trace.y = shares[:, j]
                seen = bool(shares[:, j].any())
            if trace.showlegend != seen:
                trace.showlegend = seen  # the legend lists the outcomes that happened

    def _draw_changes(self, changes: list[tuple[int, int, str]]) -> None:
        shapes, annotations = [self._solved_line], list(self._titles)
        axes = self._axes if self.agents == 1 else self._axes[:-1]  # bars have no time axis
        for agent, step, text in changes:
            color = CHANGE_COLOR if self.agents == 1 else agent_color(agent)
            who = "" if self.agents == 1 else f"{self.labels[agent]} "
            shapes += [{"type": "line", "xref": f"x{axis}", "yref": f"y{axis} domain", "x0": step, "x1": step,
                        "y0": 0, "y1": 1, "line": {"color": color, "width": 1, "dash": "dot"}} for axis in axes]
            annotations.append({"x": step, "y": 1.0, "xref": "x", "yref": "y domain", "text": "▼", "showarrow": False,
                                "hovertext": f"{who}step {step}: {text}", "font": {"color": color, "size": 12},
                                "yanchor": "bottom"})
        self.figure.layout.shapes = shapes
        self.figure.layout.annotations = annotations

    def point_counts(self) -> dict[Any, int]:
        """Points each trace draws now (what the browser holds): (trace, agent) or an outcome's name."""
        traces: dict[Any, Any] = {**self._traces, **self._outcome_traces}
        return {key: 0 if trace.y is None else len(trace.y) for key, trace in traces.items()}

    def outcome_shares(self) -> dict[str, list[float]]:
        """Each outcome's share of every agent's last episodes, as the chart shows it last (outcomes seen only)."""
        with self._lock:
            shares = np.stack([s.recent.shares() for s in self._series])
        return {o.value: [float(v) for v in shares[:, j]] for j, o in enumerate(OUTCOMES) if shares[:, j].any()}

    # ---- building --------------------------------------------------------------------------
    def _style(self, name: str, k: int) -> dict[str, Any]:
        """The single agent's style, or agent k's colour on every trace of it."""
        style = {**LINES[name][2], "legendgroup": f"agent{k}", "showlegend": False}
        if self.agents > 1:
            color = agent_color(k)
            style.update(name=self.labels[k], showlegend=name == "raw_ma",
                         marker={**style.get("marker", {}), "color": color,
                                 **({"opacity": 0.3} if name == "raw" else {})})
            if "line" in style:
                style["line"] = {**style["line"], "color": color}
        return style

    def _build_figure(self, height: int) -> Any:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        specs = [[{}, {}, {}], [{}, {}, {}], [{}, {"colspan": 2}, None]]
        base = make_subplots(rows=3, cols=3, specs=specs, subplot_titles=TITLES, vertical_spacing=0.09,
                             horizontal_spacing=0.06)
        keys = [(name, k) for name in LINES for k in range(self.agents)]
        for name, k in keys:
            row, col = LINES[name][:2]
            base.add_trace(go.Scatter(x=[], y=[], **self._style(name, k)), row=row, col=col)
        for outcome in OUTCOMES:
            color = OUTCOME_COLORS[outcome.value]
            trace = go.Scatter(x=[], y=[], mode="lines", stackgroup="outcomes", line={"width": 0.5, "color": color}) \
                if self.agents == 1 else go.Bar(x=self.labels, y=[0.0] * self.agents, marker={"color": color})
            base.add_trace(trace.update(name=outcome.value, showlegend=False), row=3, col=2)
        base.update_yaxes(range=[-5, 105], row=1, col=3)
        base.update_yaxes(range=[0, 100], row=3, col=2)
        base.update_layout(autosize=True, height=height, margin={"l": 40, "r": 10, "t": 30, "b": 70},
                           template="plotly_white", barmode="stack", uirevision="lander-lab",
                           legend={"orientation": "h", "x": 0.0, "y": -0.06, "yanchor": "top", "font": {"size": 10}})
        for annotation in base.layout.annotations:
            annotation.font.size = 12
        fig = go.FigureWidget(base)
        # plotly.js re-measures its container on resize when responsive (widgets.frontend sends one once shown)
        fig._config = {**fig._config, "responsive": True, "displaylogo": False, "displayModeBar": False}
        self._traces = {key: fig.data[i] for i, key in enumerate(keys)}
        self._outcome_traces = {o.value: fig.data[len(keys) + j] for j, o in enumerate(OUTCOMES)}
        self._axes = ["" if i == 1 else str(i) for i in range(1, 9)]
        self._solved_line = {"type": "line", "xref": "x domain", "yref": "y", "x0": 0, "x1": 1,
                             "y0": self.success_threshold, "y1": self.success_threshold,
                             "line": {"color": "#2da44e", "width": 1, "dash": "dash"}}
        self._titles = tuple(fig.layout.annotations)
        fig.layout.shapes = [self._solved_line]
        return fig


def change_text(event: HyperparametersChanged) -> str:
    """A live change as a marker's hover text: ``noise.sigma 0.1→0.2, training.tau 0.005→0.01``."""
    return ", ".join(f"{name} {_short(old)}→{_short(new)}" for name, (old, new) in event.changes.items())


def _set_xy(trace: Any, x: Any, y: Any) -> None:
    trace.x = x
    trace.y = y


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
