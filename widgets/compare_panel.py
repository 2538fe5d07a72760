"""The A/B training panel: several agents trained side by side, one coloured line each.

``widgets.TrainingPanel("guided", agents=4)`` builds one. The state lives in
``widgets.compare_model.CompareModel``; this module draws it: Start/Stop, an agent
selector (a slider then changes only that agent, or all), the same control tabs as the
single-agent panel, a per-agent readout and status, and ``CompareCharts``. Redraws run on
the kernel's thread (``Ticker``), never on the training thread.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from lab.config import Config
from lab.presets import FIRST_RUN_PRESET
from widgets.compare_charts import CompareCharts, agent_color
from widgets.compare_model import COMPARE_READOUT, CompareModel, agent_label
from widgets.controls import spec_named
from widgets.panel_view import REFRESH_SECONDS, PanelView, format_value
from widgets.status import STATE_COLORS

ALL_AGENTS = -1
"""The selector's value for "every agent"."""


class ComparePanel(PanelView):
    """Buttons, an agent selector, live controls, per-agent readout and charts for a population."""

    model: CompareModel

    def __init__(self, source: str | Path | Config = FIRST_RUN_PRESET, agents: int = 2,
                 run_dir: str | Path | None = None, name: str | None = None,
                 max_points: int = 400, refresh: float = REFRESH_SECONDS) -> None:
        self.model = CompareModel(source, agents=agents, run_dir=run_dir, name=name)
        self._seeds = [c.run.seed for c in self.model.configs]
        self._open(CompareCharts(self.model.agents, self._seeds, max_points=max_points, min_interval=refresh * 0.9,
                                 success_threshold=self.model.base_config.env.success_threshold), refresh)

    @property
    def population(self) -> Any:
        return self.model.population

    # ==== the widget tree ======================================================================
    def _build_widgets(self) -> None:
        self._build_parts({
            "start": ("Start", "play", "success", self.start, "train every agent (a new run if needed)"),
            "stop": ("Stop", "stop", "danger", self.stop, "stop every agent and write a checkpoint"),
            "reset": ("Reset to preset", "undo", "", self.reset_to_preset, "every agent back to the preset"),
        }, readout_layout=w.Layout(margin="0 0 0 12px"))
        seeds = self._seeds
        options = [("All agents", ALL_AGENTS)] + [(f"{agent_label(k)} (seed {s})", k) for k, s in enumerate(seeds)]
        self.selector = w.ToggleButtons(options=options, value=ALL_AGENTS, description="Change:",
                                        tooltips=["a change goes to every agent"]
                                        + [f"a change goes to agent {agent_label(k)} only" for k in range(len(seeds))],
                                        style={"button_width": "auto"})
        self.selector.add_class("lab-agent-select")
        self.selector.observe(self._on_select, names="value")
        self.widget = self._frame(above_status=[self.selector], below_controls=[self.charts.figure])
        self.widget.add_class("lander-lab-compare")

    # ==== actions ==============================================================================
    def select(self, agent: int | None) -> None:
        """Send the next slider changes to one agent (None: all), as the selector does."""
        self.model.select(agent)
        self.selector.value = ALL_AGENTS if agent is None else agent

    def set(self, name: str, value: Any, agent: int | None = None) -> None:
        """Change a control for one agent (None: all) as if dragged; raises ConfigError when refused."""
        spec = spec_named(name)
        self.select(agent)
        self._change(spec, value)

    def most_common_outcomes(self) -> list[str | None]:
        """Each agent's most common outcome among its recent episodes."""
        return [s.most_common_outcome for s in self.model.statuses]

    # ==== the redraw, on the kernel's thread =====================================================
    def _run(self) -> Any | None:
        return self.model.population

    def _least_env_step(self) -> int:
        return min(self.model.env_steps())

    def _title_prefix(self) -> str:
        return f"A/B · {self.model.agents} agents · "

    def _status_html(self) -> str:
        state = self.model.state
        color = STATE_COLORS.get(state, "#57606a")
        rows = []
        totals = [c.run.total_steps for c in self.model.configs]
        for k, (status, step) in enumerate(zip(self.model.statuses, self.model.env_steps())):
            best = "—" if status.best_eval is None else f"{status.best_eval:.1f}"
            rows.append(f"<div><b style='color:{agent_color(k)}'>{agent_label(k)}</b> step {step:,} / {totals[k]:,}"
                        f" · episode {status.episodes:,} · best eval {best}"
                        f" · most common outcome {html.escape(status.most_common_outcome or '—')}</div>")
        return (f'<div class="lab-status" style="font-family: monospace; font-size: 13px">'
                f'<b style="color:{color}">{html.escape(state)}</b>{"".join(rows)}</div>')

    def _readout_html(self) -> str:
        head, values = self.model.readout()
        header = "".join(f"<th style='color:{agent_color(k)}'>{agent_label(k)}</th>" for k in range(self.model.agents))
        rows = "".join(
            f"<tr><td>{n}</td>" + "".join(f"<td class='lab-value' data-name='{n}' data-agent='{k}'>"
                                          f"{format_value(v.get(n))}</td>" for k, v in enumerate(values)) + "</tr>"
            for n in COMPARE_READOUT)
        log = "".join(f"<div style='color:{agent_color(a)}'>{agent_label(a)} step {s:,}: {html.escape(t)}</div>"
                      for a, s, t in self.charts.changes[-4:])
        return self._readout_box(head, f"<tr><th></th>{header}</tr>{rows}", log)

    # ==== controls ==============================================================================
    def _on_select(self, change: dict[str, Any]) -> None:
        value = change["new"]
        self.model.select(None if value == ALL_AGENTS else value)
        self._sync_controls()

    def _control_values(self) -> tuple[Config, dict[str, float]]:
        """The selected agent's values (agent A's when all are selected)."""
        agent = self.model.selected or 0
        return self.model.config_for(agent), self.model.schedule_overrides[agent]
