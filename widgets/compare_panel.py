"""The A/B training panel: several agents trained side by side, one coloured line each.

``widgets.TrainingPanel("fast", agents=4)`` builds one. The state lives in
``widgets.compare_model.CompareModel``; this module draws it: Start/Stop, an agent
selector (a slider then changes only that agent, or all), the same control tabs as the
single-agent panel, a per-agent readout and status, and ``CompareCharts``. Redraws run on
the kernel's thread (``Ticker``), never on the training thread.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import ipywidgets as w

from lab.config import Config, ConfigError
from widgets.compare_charts import CompareCharts, agent_color
from widgets.compare_model import COMPARE_READOUT, CompareModel, agent_label
from widgets.controls import (
    RESTART_NOTE,
    SPEC_BY_NAME,
    SPECS,
    ControlSet,
    ControlSpec,
    from_widget_value,
    to_widget_value,
)
from widgets.frontend import PanelFrontend
from widgets.kernel import INTERRUPTED, Ticker
from widgets.panel import REFRESH_SECONDS, _fmt
from widgets.status import STATE_COLORS

ALL_AGENTS = -1
"""The selector's value for "every agent"."""


class ComparePanel:
    """Buttons, an agent selector, live controls, per-agent readout and charts for a population."""

    def __init__(self, source: str | Path | Config = "fast", agents: int = 2, run_dir: str | Path | None = None,
                 name: str | None = None, max_points: int = 400, refresh: float = REFRESH_SECONDS) -> None:
        self.model = CompareModel(source, agents=agents, run_dir=run_dir, name=name)
        seeds = [c.run.seed for c in self.model.configs]
        self.charts = CompareCharts(self.model.agents, seeds, max_points=max_points, min_interval=refresh * 0.9,
                                    success_threshold=self.model.base_config.env.success_threshold)
        self.model.add_watcher(self.charts)
        self._syncing = False
        self.controls = ControlSet.build(self.model.base_config)
        self._build_widgets(seeds)
        self._ticker = Ticker(self.tick, refresh)
        self._ticker.start()
        self.tick(force=True)

    @property
    def population(self) -> Any:
        return self.model.population

    @property
    def errors(self) -> list[str]:
        return self.model.errors

    @property
    def messages(self) -> list[str]:
        return self.model.messages

    @property
    def figure(self) -> Any:
        return self.charts.figure

    # ==== the widget tree ======================================================================
    def _build_widgets(self, seeds: list[int]) -> None:
        def button(label: str, icon: str, style: str, handler: Any, tooltip: str) -> w.Button:
            b = w.Button(description=label, icon=icon, button_style=style, tooltip=tooltip,
                         layout=w.Layout(width="auto"))
            b.on_click(lambda _: self._guard(handler))
            return b

        self.buttons: dict[str, w.Button] = {
            "start": button("Start", "play", "success", self.start, "train every agent (a new run if needed)"),
            "stop": button("Stop", "stop", "danger", self.stop, "stop every agent and write a checkpoint"),
            "reset": button("Reset to preset", "undo", "", self.reset_to_preset, "every agent back to the preset"),
        }
        options = [("All agents", ALL_AGENTS)] + [(f"{agent_label(k)} (seed {s})", k) for k, s in enumerate(seeds)]
        self.selector = w.ToggleButtons(options=options, value=ALL_AGENTS, description="Change:",
                                        tooltips=["a change goes to every agent"]
                                        + [f"a change goes to agent {agent_label(k)} only" for k in range(len(seeds))],
                                        style={"button_width": "auto"})
        self.selector.add_class("lab-agent-select")
        self.selector.observe(self._on_select, names="value")
        self.title = w.HTML()
        self.status = w.HTML(layout=w.Layout(margin="2px 0"))
        self.error_box = w.HTML(layout=w.Layout(margin="2px 0"))
        self.message_box = w.HTML(layout=w.Layout(margin="2px 0"))
        self.readout = w.HTML(layout=w.Layout(margin="0 0 0 12px"))
        for spec in SPECS:
            self.controls.widgets[spec.name].observe(lambda change, spec=spec: self._on_control(spec, change),
                                                     names="value")
        self.tabs = self.controls.tab_box()
        self.widget = w.VBox([
            self.title,
            w.HBox(list(self.buttons.values()), layout=w.Layout(flex_flow="row wrap")),
            self.selector,
            self.status, self.error_box, self.message_box,
            w.HBox([self.tabs, self.readout]),
            self.charts.figure,
            PanelFrontend(),
        ], layout=w.Layout(width="100%"))
        self.widget.add_class("lander-lab-panel")
        self.widget.add_class("lander-lab-compare")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ==== actions ==============================================================================
    def start(self) -> Any:
        """Train every agent in the background (a new population when settings need one)."""
        population = self.model.start()
        self._ticker.start()
        self.tick(force=True)
        return population

    def stop(self, wait: bool = False) -> None:
        self.model.stop(wait=wait)

    def reset_to_preset(self) -> None:
        self.model.reset_to_base()
        self._sync_controls()
        self.tick(force=True)

    def select(self, agent: int | None) -> None:
        """Send the next slider changes to one agent (None: all), as the selector does."""
        self.model.select(agent)
        self.selector.value = ALL_AGENTS if agent is None else agent

    def set(self, name: str, value: Any, agent: int | None = None) -> None:
        """Change a control for one agent (None: all) as if dragged; raises ConfigError when refused."""
        spec = SPEC_BY_NAME.get(name)
        if spec is None:
            raise ConfigError(f"the panel has no control {name!r}: allowed {', '.join(SPEC_BY_NAME)}")
        self.select(agent)
        self.model.apply(spec.key, value)
        self._set_widget(spec, value)
        self.tick(force=True)

    def wait(self, timeout: float | None = None, steps: int | None = None) -> dict[str, Any]:
        """Block until every agent ends (or all reach ``steps``), redrawing; Ctrl-C stops cleanly."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while self.model.running:
                if steps is not None and min(self.model.env_steps()) >= steps:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                time.sleep(self._ticker.interval)
                self.tick()
        except KeyboardInterrupt:
            self.stop(wait=True)
            self.model.stop_reason = INTERRUPTED
            raise
        finally:
            self.tick(force=True)
        return self.population.summary() if self.population is not None else {}

    def most_common_outcomes(self) -> list[str | None]:
        """Each agent's most common outcome among its recent episodes."""
        return [s.most_common_outcome for s in self.model.statuses]

    def close(self) -> None:
        self._ticker.stop()
        self.model.close()
        self.widget.close()

    # ==== the redraw, on the kernel's thread =====================================================
    def tick(self, force: bool = False) -> None:
        self.model.poll()
        self.charts.flush(force=force)
        self.status.value = self._status_html()
        self.error_box.value = "".join(
            f'<div class="lab-error" style="color:#cf222e; font-family: monospace">⚠ {html.escape(e)}</div>'
            for e in self.model.errors)
        self.message_box.value = "".join(f'<div class="lab-message" style="color:#57606a">{html.escape(m)}</div>'
                                         for m in self.model.messages)
        self.readout.value = self._readout_html()
        running = self.model.running
        self.buttons["start"].disabled = running
        self.buttons["stop"].disabled = not running
        where = f" · {self.population.run_dir}" if self.population is not None else ""
        self.title.value = (f"<b>Lander Lab</b> · A/B · {self.model.agents} agents · "
                            f"{html.escape(self.model.name)}{html.escape(where)}")

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
                                          f"{_fmt(v.get(n))}</td>" for k, v in enumerate(values)) + "</tr>"
            for n in COMPARE_READOUT)
        log = "".join(f"<div style='color:{agent_color(a)}'>{agent_label(a)} step {s:,}: {html.escape(t)}</div>"
                      for a, s, t in self.charts.changes[-4:])
        pending = self.model.restart_diff()
        note = (f"<div style='color:#9a6700'>{RESTART_NOTE}: {html.escape(', '.join(pending))}</div>"
                if pending else "")
        return (f"<div class='lab-readout' style='font-family: monospace; font-size: 12px'>"
                f"<b>{head}</b><table><tr><th></th>{header}</tr>{rows}</table>{note}{log}</div>")

    # ==== controls ==============================================================================
    def _on_select(self, change: dict[str, Any]) -> None:
        value = change["new"]
        self.model.select(None if value == ALL_AGENTS else value)
        self._sync_controls()

    def _on_control(self, spec: ControlSpec, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        try:
            self.model.apply(spec.key, from_widget_value(spec, change["new"]))
        except ConfigError as exc:
            self.model.error(str(exc))
            self._set_widget(spec, from_widget_value(spec, change["old"]))
        self.tick(force=True)

    def _set_widget(self, spec: ControlSpec, value: Any) -> None:
        self._syncing = True
        try:
            self.controls.widgets[spec.name].value = to_widget_value(spec, value)
        finally:
            self._syncing = False

    def _sync_controls(self) -> None:
        """Every control to the selected agent's value (agent A's when all are selected)."""
        agent = self.model.selected or 0
        config = self.model.config_for(agent)
        for spec in SPECS:
            self._set_widget(spec, self.model.schedule_overrides[agent].get(spec.name, spec.config_value(config)))

    def _guard(self, action: Any) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a visible message
            self.model.error(f"{type(exc).__name__}: {exc}")
        self.tick(force=True)
