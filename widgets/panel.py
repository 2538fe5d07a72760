"""``TrainingPanel``: train K agents (one by default), watch them, and tune them while they train.

    panel = TrainingPanel("guided")            # a preset name, a Config, a config file, or a Trainer/Population
    panel = TrainingPanel("guided", agents=2)  # A and B side by side: one coloured line each on every chart
    panel                                      # displays: buttons, status, tabs of controls, readout, charts

This module is the view: it draws a ``widgets.panel_model.PanelModel`` and turns clicks and
slider moves into calls on it. With K > 1 a "Change:" selector sends a slider move to every
agent or to one (a field all agents share still changes for all; the panel says so).

Threads: training runs in the engine's background thread. Everything here that touches a
widget runs on the kernel's main thread: control callbacks (ipywidgets calls them there),
and ``tick``, which a ``Ticker`` schedules on the kernel's event loop a few times a second
to redraw the charts, status, readout and clips. Actions that wait on the training loop
(Save checkpoint, Evaluate now) run in short helper threads and report at a later tick.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

from lab.config import Config, ConfigError
from lab.presets import FIRST_RUN_PRESET
from lab.train.slot import TRAINING
from widgets.charts import LiveCharts, agent_color, agent_label
from widgets.controls import RESTART_NOTE, SPECS, ControlSet, ControlSpec, from_widget_value, show, spec_named
from widgets.frontend import PanelFrontend
from widgets.kernel import INTERRUPTED, Ticker
from widgets.panel_model import READOUT, PanelModel, Run
from widgets.status import RunStatus, status_html

REFRESH_SECONDS = 0.3
"""How often a panel redraws: about three times a second."""
ALL_AGENTS = -1
"""The "Change:" selector's value for every agent."""


class TrainingPanel:
    """Buttons, live-tunable controls, a status line, live charts and the latest clips for K agents."""

    def __init__(self, source: str | Path | Config | Run = FIRST_RUN_PRESET, agents: int | None = None,
                 run_dir: str | Path | None = None, name: str | None = None, max_points: int = 400,
                 refresh: float = REFRESH_SECONDS, clips: bool = True) -> None:
        """agents: how many agents train side by side (default 1, or the K of a Trainer/Population given as
        source). clips: record and show a clip of each evaluation (one per agent)."""
        self.model = PanelModel(source, agents=agents, run_dir=run_dir, name=name, clips=clips)
        k = self.model.agents
        self.charts = LiveCharts(k, [self.model.label(a) for a in range(k)] if k > 1 else None, max_points,
                                 min_interval=refresh * 0.9,
                                 success_threshold=self.model.base_config.env.success_threshold)
        self.model.add_watcher(self.charts)
        self.controls = ControlSet.build(self.model.config)
        self._syncing = False
        self._shown_clips: list[str | None] = [None] * k
        self._build_widgets()
        self._ticker = Ticker(self.tick, refresh)
        self._ticker.start()
        self.tick(force=True)

    # ==== the model's state, for notebooks and tests ===========================================
    engine = property(lambda self: self.model.engine, doc="The Trainer (K = 1) or Population the panel drives now.")
    trainer = property(lambda self: self.model.engine, doc="The engine (a Trainer when K = 1); None before Start.")
    population = property(lambda self: self.model.engine, doc="The engine (a Population when K > 1).")
    config = property(lambda self: self.model.config, doc="The selected agent's next-run config (A's for all).")
    base_config = property(lambda self: self.model.base_config)
    name = property(lambda self: self.model.name)
    statuses: list[RunStatus] = property(lambda self: self.model.statuses)  # type: ignore[assignment]
    run_status: RunStatus = property(lambda self: self.model.statuses[0])  # type: ignore[assignment]
    stop_reason = property(lambda self: self.model.stop_reason)
    last_job = property(lambda self: self.model.last_job)
    errors = property(lambda self: self.model.errors, doc="Errors the panel shows (refused values, failures).")
    messages = property(lambda self: self.model.messages)
    figure = property(lambda self: self.charts.figure)
    clip_image = property(lambda self: self.clip_images[0], doc="Agent A's (the only agent's) latest clip.")
    clip_caption = property(lambda self: self.clip_captions[0])

    def most_common_outcomes(self) -> list[str | None]:
        """Each agent's most common outcome among its recent training episodes."""
        return [s.most_common_outcome for s in self.model.statuses]

    # ==== the widget tree ======================================================================
    def _build_widgets(self) -> None:
        buttons: dict[str, tuple[str, str, str, Callable[[], Any], str]] = {
            "start": ("Start", "play", "success", self.start, "start training (a new run if settings need one)"),
            "pause": ("Pause", "pause", "warning", self.toggle_pause, "pause or resume training"),
            "stop": ("Stop", "stop", "danger", self.stop, "stop training and write a checkpoint"),
            "save": ("Save checkpoint", "save", "", self.save_checkpoint, "write a checkpoint now"),
            "evaluate": ("Evaluate now", "bullseye", "", self.evaluate_now,
                         "deterministic evaluation now (of the agent the Change: selector picks, or of every agent)"),
            "reset": ("Reset to preset", "undo", "", self.reset_to_preset, "every control back to the start"),
            "export": ("Export config (YAML)", "download", "", self.export_config, "write the next run's config"),
        }
        self.buttons = {key: self._button(*spec) for key, spec in buttons.items()}
        self.title = w.HTML()
        self.status, self.error_box, self.message_box = (w.HTML(layout=w.Layout(margin="2px 0")) for _ in range(3))
        self.readout = w.HTML(layout=w.Layout(margin="0 0 0 12px"))
        for spec in SPECS:
            self.controls.widgets[spec.key].observe(lambda change, spec=spec: self._on_control(spec, change),
                                                    names="value")
        self.tabs = self.controls.tab_box()
        k = self.model.agents
        self.selector = w.ToggleButtons(
            options=[("All agents", ALL_AGENTS)] + [(self.model.label(a), a) for a in range(k)], value=ALL_AGENTS,
            description="Change:", style={"button_width": "auto"},
            tooltips=["a change goes to every agent"] + [f"a change goes to agent {agent_label(a)} only"
                                                         for a in range(k)],
            layout=w.Layout(display="flex" if k > 1 else "none"))
        self.selector.add_class("lab-agent-select")
        self.selector.observe(self._on_select, names="value")
        self.export_box = w.Textarea(layout=w.Layout(width="100%", height="160px", display="none"))
        self.clip_images = [w.Image(format="gif", layout=w.Layout(width="200px", display="none")) for _ in range(k)]
        self.clip_captions = [w.HTML(f"<i style='color:#57606a'>{self._clip_label(a)}the latest evaluation's clip "
                                     "shows here</i>") for a in range(k)]
        clips = [w.VBox([image, caption]) for image, caption in zip(self.clip_images, self.clip_captions)]
        self.clip_box = w.VBox([w.HTML(f"<b>Latest clip{'s' if k > 1 else ''}</b>"), *clips],
                               layout=w.Layout(width="220px", min_width="220px", margin="30px 0 0 8px"))
        self.clip_box.add_class("lab-clip")
        charts = w.Box([self.charts.figure], layout=w.Layout(flex="1 1 auto", min_width="0"))
        self.widget = w.VBox([
            self.title, w.HBox(list(self.buttons.values()), layout=w.Layout(flex_flow="row wrap")), self.selector,
            self.status, self.error_box, self.message_box, w.HBox([self.tabs, self.readout]),
            w.HBox([charts, self.clip_box], layout=w.Layout(width="100%")), self.export_box, PanelFrontend(),
        ], layout=w.Layout(width="100%"))
        self.widget.add_class("lander-lab-panel")

    def _button(self, label: str, icon: str, style: str, handler: Callable[[], Any], tooltip: str) -> w.Button:
        b = w.Button(description=label, icon=icon, button_style=style, tooltip=tooltip, layout=w.Layout(width="auto"))
        b.on_click(lambda _: self._guard(handler))
        return b

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ==== actions ==============================================================================
    def start(self) -> Run:
        """Train in the background (a new run when settings need one) and redraw as it goes."""
        engine = self.model.start()
        labels = [self.model.label(a) for a in range(self.model.agents)]
        if self.model.agents > 1 and [label for label, _ in self.selector.options[1:]] != labels:
            self.selector.options = [self.selector.options[0], *zip(labels, range(self.model.agents))]
        self._refresh_badges()
        self._ticker.start()
        self.tick(force=True)
        return engine

    def pause(self) -> None:
        self.model.pause()

    def resume(self) -> None:
        self.model.resume()

    def toggle_pause(self) -> None:
        self.model.toggle_pause()

    def stop(self, wait: bool = False, agent: int | None = None) -> Path | None:
        """Stop training (the loop writes a checkpoint first; no blocking unless wait), or one agent alone."""
        return self.model.stop(wait=wait, agent=agent)

    def save_checkpoint(self) -> None:
        """Write a checkpoint between steps, from a helper thread; the path shows when it is done."""
        self.model.save_checkpoint()

    def evaluate_now(self, episodes: int | None = None, agent: int | None = None) -> None:
        """Evaluate between steps, from a helper thread (the selected agent, or every agent); results show when done."""
        self.model.evaluate_now(episodes, agent)

    def export_config(self, path: str | Path | None = None) -> Path:
        """Write the selected agent's next-run config as YAML; also shown under the charts."""
        written = self.model.export_config(path)
        self.export_box.value = written.read_text()
        self.export_box.layout.display = "block"
        return written

    def reset_to_preset(self) -> None:
        """Every control back to the starting config; live values also go to the running engine."""
        self.model.reset_to_base()
        self._sync_controls()
        self.tick(force=True)

    def select(self, agent: int | None) -> None:
        """Send the next changes to one agent (None: all), as the Change: selector does."""
        self.model.select(agent)
        self.selector.value = ALL_AGENTS if agent is None else agent

    def set(self, name: str, value: Any, agent: int | None = None) -> None:
        """Change a control (dotted or bare field name) for one agent or all, as if dragged; raises ConfigError
        when the value is refused."""
        spec = spec_named(name)
        if self.model.agents > 1 or agent is not None:
            self.select(agent)
        self.model.apply(spec.key, value)
        self._set_widget(spec, value)
        self._refresh_badges()
        self.tick(force=True)

    def viewer(self, agent: int | None = None) -> Any:
        """An EpisodeViewer on an agent's last evaluation (the selected agent's, A's when all)."""
        from widgets.viewer import EpisodeViewer

        engine = self.model.require_engine("view episodes")
        k = (self.model.selected or 0) if agent is None else agent
        evaluation = engine.slot(k).last_evaluation
        if evaluation is None:
            raise RuntimeError("no evaluation yet: press Evaluate now, or wait for the first scheduled one")
        return EpisodeViewer.from_evaluation(evaluation, policy=engine.agent_policy(k))

    def wait(self, timeout: float | None = None, steps: int | None = None) -> dict[str, Any]:
        """Block until the run ends (or every agent still training reaches ``steps``), redrawing as it goes;
        Ctrl-C stops it cleanly."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while self.model.running:
                engine = self.model.engine
                assert engine is not None
                if steps is not None and all(s.env_step >= steps for s in engine.slots if s.state == TRAINING):
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
        return {} if self.model.engine is None else self.model.engine.summary()

    def close(self) -> None:
        """Stop training (with a checkpoint), stop redrawing and close the widgets."""
        self._ticker.stop()
        self.model.close()
        self.widget.close()

    # ==== the redraw, on the kernel's thread =====================================================
    def tick(self, force: bool = False) -> None:
        """Redraw charts, status, readout and clips from what the training thread has recorded."""
        if self.model.poll():
            self._sync_controls()
        self.charts.flush(force=force)
        self.status.value = self._status_html()
        self.error_box.value = "".join(
            f'<div class="lab-error" style="color:#cf222e; font-family: monospace">⚠ {html.escape(e)}</div>'
            for e in self.model.errors)
        self.message_box.value = "".join(f'<div class="lab-message" style="color:#57606a">{html.escape(m)}</div>'
                                         for m in self.model.messages)
        self.readout.value = self._readout_html()
        self._refresh_buttons()
        self._show_latest_clips()
        engine = self.model.engine
        where = "" if engine is None else f" · {engine.run_dir}"
        agents = "" if self.model.agents == 1 else f"{self.model.agents} agents · "
        self.title.value = f"<b>Lander Lab</b> · {agents}{html.escape(self.model.name)}{html.escape(where)}"

    def _status_html(self) -> str:
        engine = self.model.engine
        if engine is None:
            return status_html("idle", [("", "press Start to train")])
        rows = []
        for slot, status in zip(engine.slots, self.model.statuses):
            state = slot.public_state(engine.state)
            label = "" if self.model.agents == 1 else \
                f"<b style='color:{agent_color(slot.index)}'>{agent_label(slot.index)}</b>" + \
                ("" if state == engine.state else f" {html.escape(state)}")
            rows.append((label, status.text(slot, state)))
        return status_html(engine.state, rows)

    def _readout_html(self) -> str:
        head, values = self.model.readout()
        k = self.model.agents
        header = "" if k == 1 else "<tr><th></th>" + "".join(
            f"<th style='color:{agent_color(a)}'>{agent_label(a)}</th>" for a in range(k)) + "</tr>"
        rows = "".join(f"<tr><td title='{key}'>{key.split('.')[1]}</td>" + "".join(
            f"<td class='lab-value' data-name='{key}' data-agent='{a}'>{format_value(values[a].get(key))}</td>"
            for a in range(k)) + "</tr>" for key in READOUT)
        pending = self.model.restart_diff()
        note = (f"<div style='color:#9a6700'>{RESTART_NOTE}: {html.escape(', '.join(pending))}</div>"
                if pending else "")
        log = "".join(f"<div style='color:{agent_color(a) if k > 1 else '#8250df'}'>"
                      f"{agent_label(a) + ' ' if k > 1 else ''}step {s:,}: {html.escape(t)}</div>"
                      for a, s, t in self.charts.changes[-4:])
        return (f"<div class='lab-readout' style='font-family: monospace; font-size: 12px'><b>{head}</b>"
                f"<table style='border-spacing: 10px 1px'>{header}{rows}</table>{note}{log}</div>")

    def _refresh_buttons(self) -> None:
        running, engine, busy = self.model.running, self.model.engine, self.model.busy
        self.buttons["start"].disabled = running
        self.buttons["stop"].disabled = self.buttons["pause"].disabled = not running
        self.buttons["save"].disabled = engine is None or "save" in busy
        self.buttons["evaluate"].disabled = engine is None or "evaluate" in busy
        paused = running and self.model.paused
        self.buttons["pause"].description = "Resume" if paused else "Pause"
        self.buttons["pause"].icon = "play" if paused else "pause"

    def _clip_label(self, agent: int) -> str:
        return "" if self.model.agents == 1 else f"{agent_label(agent)}: "

    def _show_latest_clips(self) -> None:
        """Each agent's newest evaluation clip beside the charts (read here, on the kernel's thread)."""
        for k, clip in enumerate(self.model.latest_clips):
            if clip is None or clip.path == self._shown_clips[k]:
                continue
            self._shown_clips[k] = clip.path
            try:
                self.clip_images[k].value = Path(clip.path).read_bytes()
            except OSError as exc:
                self.model.error(f"clip {clip.path} could not be read: {exc}")
                continue
            self.clip_images[k].layout.display = "block"
            self.clip_captions[k].value = (f"<span class='lab-clip-caption'>{html.escape(self._clip_label(k))}"
                                           f"{html.escape(clip.caption)}</span>")

    # ==== controls ==============================================================================
    def _on_control(self, spec: ControlSpec, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        try:
            self.model.apply(spec.key, from_widget_value(spec, change["new"]))
        except ConfigError as exc:
            self.model.error(str(exc))
            self._set_widget(spec, from_widget_value(spec, change["old"]))
        self._refresh_badges()
        self.tick(force=True)

    def _on_select(self, change: dict[str, Any]) -> None:
        self.model.select(None if change["new"] == ALL_AGENTS else change["new"])
        self._sync_controls()

    def _set_widget(self, spec: ControlSpec, value: Any) -> None:
        self._syncing = True
        try:
            show(spec, self.controls.widgets[spec.key], value)
        finally:
            self._syncing = False

    def _sync_controls(self) -> None:
        """Every control to the selected agent's next-run value (A's when all are selected)."""
        config = self.model.config
        for spec in SPECS:
            self._set_widget(spec, config.get(spec.key))
        self._refresh_badges()

    def _refresh_badges(self) -> None:
        pending = set(self.model.restart_diff())
        for spec in SPECS:
            self.controls.badges[spec.key].value = (
                f"<span style='color:#9a6700' title='{RESTART_NOTE}'>⟳ {RESTART_NOTE}</span>"
                if spec.key in pending else "")

    def _guard(self, action: Callable[[], Any]) -> None:
        """Run a button's action; any error shows in the panel instead of vanishing into a log."""
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a visible message
            self.model.error(f"{type(exc).__name__}: {exc}")
        self.tick(force=True)


def format_value(value: Any) -> str:
    """A readout cell: floats to four significant digits, everything else as it prints."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
