"""Live A/B charts: one coloured line per agent of a population, on one Plotly ``FigureWidget``.

The same two halves as ``widgets.charts.LiveCharts``: ``__call__`` runs on the training
thread for each ``AgentEvent`` and only does O(1) arithmetic into bounded buffers under a
lock; ``flush`` runs on the kernel's thread and redraws what changed in one batch. The
outcome chart is a stacked bar per agent (its last ``outcome_window`` episodes), so two
agents' outcome mixes sit side by side.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lab.analysis.behavior import OUTCOME_CODE, OUTCOMES
from lab.events import EpisodeEnded, Evaluated, HyperparametersChanged, UpdateMetrics
from lab.lander import SUCCESS_RETURN
from lab.population.trainer import AgentEvent
from widgets.charts import MAX_CHANGE_MARKERS, OUTCOME_COLORS, BoundedSeries, RollingMean, _set, _short
from widgets.compare_model import agent_label

AGENT_COLORS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#e16f24", "#6e7781")
"""One colour per agent (cycled past eight)."""
LINES = {"return": (1, 1), "eval": (1, 2), "success": (1, 3), "critic_loss": (2, 1), "noise_scale": (2, 2)}
"""Per-agent traces and their subplot (row, col)."""
_TITLES = ("Return (moving mean)", "Evaluation return", "Success rate % (moving)", "Critic loss", "Noise scale",
           "Outcomes by agent (% of last episodes)")


def agent_color(agent: int) -> str:
    return AGENT_COLORS[agent % len(AGENT_COLORS)]


@dataclass
class _AgentSeries:
    """One agent's buffers; written on the training thread under the charts' lock."""

    window: int
    outcome_window: int
    max_points: int
    episodes: BoundedSeries = field(init=False)  # env_step, return moving mean, success %
    evals: BoundedSeries = field(init=False)  # env_step, mean return
    updates: BoundedSeries = field(init=False)  # env_step, critic loss, noise scale
    outcome_counts: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.episodes = BoundedSeries(3, self.max_points)
        self.evals = BoundedSeries(2, self.max_points)
        self.updates = BoundedSeries(3, self.max_points)
        self.returns, self.successes = RollingMean(self.window), RollingMean(self.window)
        self.recent: deque[int] = deque(maxlen=self.outcome_window)
        self.outcome_counts = np.zeros(len(OUTCOMES), dtype=np.float64)

    def outcome_shares(self) -> np.ndarray:
        return 100.0 * self.outcome_counts / max(len(self.recent), 1)


class CompareCharts:
    """Charts that follow every agent of a population; ``figure`` is the widget to show."""

    _dirty: set[str]
    """Which chart groups changed since the last flush."""

    def __init__(self, agents: int, seeds: list[int] | None = None, max_points: int = 400, window: int = 20,
                 outcome_window: int = 20, success_threshold: float = SUCCESS_RETURN, min_interval: float = 0.3,
                 height: int = 560) -> None:
        self.agents = agents
        self.seeds = list(seeds) if seeds is not None else list(range(agents))
        self.max_points, self.window, self.outcome_window = max_points, window, outcome_window
        self.success_threshold = success_threshold
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self.changes: list[tuple[int, int, str]] = []
        """(agent, env_step, text) of every live change."""
        self.flushes = 0
        self._last_flush = 0.0
        self._reset_buffers()
        self.figure = self._build_figure(height)

    # ---- the subscriber (training thread) ------------------------------------------------
    def __call__(self, wrapped: AgentEvent) -> None:
        k, event = wrapped.agent, wrapped.event
        if not 0 <= k < self.agents:
            return
        s = self._series[k]
        with self._lock:
            if isinstance(event, EpisodeEnded):
                success = 100.0 if event.raw_return >= self.success_threshold else 0.0
                s.episodes.append((event.env_step, s.returns.push(event.raw_return), s.successes.push(success)))
                outcome = getattr(getattr(event.analysis, "outcome", None), "value", None)
                if outcome in OUTCOME_CODE:
                    if len(s.recent) == s.recent.maxlen:
                        s.outcome_counts[s.recent[0]] -= 1
                    s.recent.append(OUTCOME_CODE[outcome])
                    s.outcome_counts[OUTCOME_CODE[outcome]] += 1
                    self._dirty.add("outcomes")
                self._dirty.add("episodes")
            elif isinstance(event, UpdateMetrics):
                s.updates.append((event.env_step, event.critic_loss, event.noise_scale))
                self._dirty.add("updates")
            elif isinstance(event, Evaluated):
                s.evals.append((event.env_step, event.mean_return))
                self._dirty.add("evals")
            elif isinstance(event, HyperparametersChanged):
                text = ", ".join(f"{n} {_short(old)}→{_short(new)}" for n, (old, new) in event.changes.items())
                self.changes.append((k, event.env_step, text))
                self._dirty.add("changes")

    def attach(self, population: Any) -> Any:
        """Subscribe to a population's events; returns the unsubscribe function."""
        self.success_threshold = float(population.configs[0].env.success_threshold)
        return population.events.subscribe(self, AgentEvent)

    def reset(self) -> None:
        """Forget everything (a new run starts); the next flush empties the traces."""
        with self._lock:
            self._reset_buffers()
            self.changes = []
            self._dirty = {"episodes", "updates", "evals", "outcomes", "changes"}

    def _reset_buffers(self) -> None:
        self._series = [_AgentSeries(self.window, self.outcome_window, self.max_points) for _ in range(self.agents)]
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
            episodes = [s.episodes.snapshot() for s in self._series] if "episodes" in dirty else None
            updates = [s.updates.snapshot() for s in self._series] if "updates" in dirty else None
            evals = [s.evals.snapshot() for s in self._series] if "evals" in dirty else None
            shares = np.stack([s.outcome_shares() for s in self._series]) if "outcomes" in dirty else None
            changes = list(self.changes[-MAX_CHANGE_MARKERS:]) if "changes" in dirty else None
        self._last_flush = now
        t = self._traces
        with self.figure.batch_update():
            for k in range(self.agents):
                if episodes is not None:
                    _set(t[("return", k)], episodes[k][:, 0], episodes[k][:, 1])
                    _set(t[("success", k)], episodes[k][:, 0], episodes[k][:, 2])
                if updates is not None:
                    _set(t[("critic_loss", k)], updates[k][:, 0], updates[k][:, 1])
                    _set(t[("noise_scale", k)], updates[k][:, 0], updates[k][:, 2])
                if evals is not None:
                    _set(t[("eval", k)], evals[k][:, 0], evals[k][:, 1])
            if shares is not None:
                for j, outcome in enumerate(OUTCOMES):
                    bar = self._bars[outcome.value]
                    bar.y = shares[:, j]
                    bar.showlegend = bool(shares[:, j].any())
            if changes is not None:
                self._draw_changes(changes)
        self.flushes += 1
        return True

    def _draw_changes(self, changes: list[tuple[int, int, str]]) -> None:
        annotations = list(self._titles)
        for agent, step, text in changes:
            annotations.append({"x": step, "y": 1.0, "xref": "x", "yref": "y domain", "text": "▼",
                                "showarrow": False, "hovertext": f"{agent_label(agent)} step {step}: {text}",
                                "font": {"color": agent_color(agent), "size": 12}, "yanchor": "bottom"})
        self.figure.layout.annotations = annotations

    def point_counts(self) -> dict[tuple[str, int], int]:
        """Points each agent's line draws, by (chart, agent)."""
        return {key: 0 if trace.x is None else len(trace.x) for key, trace in self._traces.items()}

    def outcome_shares(self) -> dict[str, list[float]]:
        """Each drawn outcome's share per agent, as the bars show it."""
        return {name: list(bar.y) for name, bar in self._bars.items() if bar.y is not None and any(bar.y)}

    # ---- building --------------------------------------------------------------------------
    def _build_figure(self, height: int) -> Any:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        base = make_subplots(rows=2, cols=3, subplot_titles=_TITLES, vertical_spacing=0.14, horizontal_spacing=0.06)
        labels = [f"{agent_label(k)} (seed {seed})" for k, seed in enumerate(self.seeds)]
        for name, (row, col) in LINES.items():
            for k in range(self.agents):
                mode = "markers+lines" if name == "eval" else "lines"
                base.add_trace(go.Scatter(x=[], y=[], mode=mode, name=labels[k], legendgroup=f"agent{k}",
                                          showlegend=name == "return", line={"color": agent_color(k)},
                                          marker={"size": 6, "color": agent_color(k)}), row=row, col=col)
        for outcome in OUTCOMES:
            base.add_trace(go.Bar(x=labels, y=[0.0] * self.agents, name=outcome.value, showlegend=False,
                                  marker={"color": OUTCOME_COLORS[outcome.value]}), row=2, col=3)
        base.update_yaxes(range=[-5, 105], row=1, col=3)
        base.update_yaxes(range=[0, 100], row=2, col=3)
        base.add_hline(y=self.success_threshold, line={"color": "#2da44e", "width": 1, "dash": "dash"}, row=1, col=1)
        base.update_layout(autosize=True, height=height, barmode="stack", template="plotly_white",
                           margin={"l": 40, "r": 10, "t": 30, "b": 60}, uirevision="lander-lab-compare",
                           legend={"orientation": "h", "x": 0.0, "y": -0.08, "yanchor": "top", "font": {"size": 10}})
        for annotation in base.layout.annotations:
            annotation.font.size = 12
        fig = go.FigureWidget(base)
        fig._config = {**fig._config, "responsive": True, "displaylogo": False, "displayModeBar": False}
        n = len(LINES) * self.agents
        self._traces = {(name, k): fig.data[i * self.agents + k] for i, name in enumerate(LINES)
                        for k in range(self.agents)}
        self._bars = {o.value: fig.data[n + j] for j, o in enumerate(OUTCOMES)}
        self._titles = tuple(fig.layout.annotations)
        return fig
