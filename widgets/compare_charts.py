"""Live A/B charts: one coloured line per agent of a population, on one Plotly ``FigureWidget``.

The same two halves as ``widgets.charts.LiveCharts`` (``widgets.live_figure.LiveFigure``):
``__call__`` runs on the training thread for each ``AgentEvent`` and only does O(1)
arithmetic into bounded buffers under a lock; ``flush`` runs on the kernel's thread and
redraws what changed in one batch. The outcome chart is a stacked bar per agent (its last
``outcome_window`` episodes), so two agents' outcome mixes sit side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lab.events import EpisodeEnded, Evaluated, HyperparametersChanged, UpdateMetrics
from lab.lander import SUCCESS_RETURN
from lab.lander.behavior import OUTCOMES
from lab.train.population import AgentEvent
from widgets.charts import OUTCOME_COLORS
from widgets.compare_model import agent_label
from widgets.live_figure import LiveFigure, change_text, figure_widget, set_xy
from widgets.series import BoundedSeries, OutcomeWindow, RollingMean

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
    outcomes: OutcomeWindow = field(init=False)

    def __post_init__(self) -> None:
        self.episodes = BoundedSeries(3, self.max_points)
        self.evals = BoundedSeries(2, self.max_points)
        self.updates = BoundedSeries(3, self.max_points)
        self.returns, self.successes = RollingMean(self.window), RollingMean(self.window)
        self.outcomes = OutcomeWindow(self.outcome_window)


class CompareCharts(LiveFigure):
    """Charts that follow every agent of a population; ``figure`` is the widget to show."""

    changes: list[tuple[int, int, str]]
    """(agent, env_step, text) of every live change."""

    def __init__(self, agents: int, seeds: list[int] | None = None, max_points: int = 400, window: int = 20,
                 outcome_window: int = 20, success_threshold: float = SUCCESS_RETURN, min_interval: float = 0.3,
                 height: int = 560) -> None:
        self.agents = agents
        self.seeds = list(seeds) if seeds is not None else list(range(agents))
        super().__init__(max_points, window, outcome_window, success_threshold, min_interval, height)

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
                if s.outcomes.push(event):
                    self._dirty.add("outcomes")
                self._dirty.add("episodes")
            elif isinstance(event, UpdateMetrics):
                s.updates.append((event.env_step, event.critic_loss, event.noise_scale))
                self._dirty.add("updates")
            elif isinstance(event, Evaluated):
                s.evals.append((event.env_step, event.mean_return))
                self._dirty.add("evals")
            elif isinstance(event, HyperparametersChanged):
                self.changes.append((k, event.env_step, change_text(event)))
                self._dirty.add("changes")

    def attach(self, population: Any) -> Any:
        """Subscribe to a population's events; returns the unsubscribe function."""
        self.success_threshold = float(population.configs[0].env.success_threshold)
        return population.events.subscribe(self, AgentEvent)

    def _reset_buffers(self) -> None:
        self._series = [_AgentSeries(self.window, self.outcome_window, self.max_points) for _ in range(self.agents)]
        self._dirty = set()

    # ---- drawing (the widgets' thread) ---------------------------------------------------
    def _snapshot(self, dirty: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {group: [getattr(s, group).snapshot() for s in self._series]
                                for group in ("episodes", "updates", "evals") if group in dirty}
        if "outcomes" in dirty:
            data["outcomes"] = np.stack([s.outcomes.shares() for s in self._series])
        return data

    def _draw(self, data: dict[str, Any]) -> None:
        t = self._traces
        episodes, updates, evals = data.get("episodes"), data.get("updates"), data.get("evals")
        for k in range(self.agents):
            if episodes is not None:
                set_xy(t[("return", k)], episodes[k][:, 0], episodes[k][:, 1])
                set_xy(t[("success", k)], episodes[k][:, 0], episodes[k][:, 2])
            if updates is not None:
                set_xy(t[("critic_loss", k)], updates[k][:, 0], updates[k][:, 1])
                set_xy(t[("noise_scale", k)], updates[k][:, 0], updates[k][:, 2])
            if evals is not None:
                set_xy(t[("eval", k)], evals[k][:, 0], evals[k][:, 1])
        shares = data.get("outcomes")
        if shares is not None:
            for j, outcome in enumerate(OUTCOMES):
                bar = self._bars[outcome.value]
                bar.y = shares[:, j]
                bar.showlegend = bool(shares[:, j].any())

    def _draw_changes(self, changes: list[tuple[int, int, str]]) -> None:
        annotations = list(self._titles)
        for agent, step, text in changes:
            annotations.append({"x": step, "y": 1.0, "xref": "x", "yref": "y domain", "text": "▼",
                                "showarrow": False, "hovertext": f"{agent_label(agent)} step {step}: {text}",
                                "font": {"color": agent_color(agent), "size": 12}, "yanchor": "bottom"})
        self.figure.layout.annotations = annotations

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
        fig = figure_widget(base)
        n = len(LINES) * self.agents
        self._traces = {(name, k): fig.data[i * self.agents + k] for i, name in enumerate(LINES)
                        for k in range(self.agents)}
        self._bars = {o.value: fig.data[n + j] for j, o in enumerate(OUTCOMES)}
        self._titles = tuple(fig.layout.annotations)
        return fig
