"""``TrainingPanel``: start a run, watch it, and tune it while it trains, from one notebook cell.

    panel = TrainingPanel("fast")   # a preset name, a Config, a config file or a Trainer
    panel                           # displays: buttons, status line, tabs of controls, live charts

This module is the view: it draws a ``widgets.panel_model.PanelModel`` (the state, the
config diff, what applies on restart, the trainer's lifecycle) and turns clicks and
slider moves into calls on it.

Threads: training runs in the trainer's background thread. Everything here that touches
a widget runs on the kernel's main thread: control callbacks (ipywidgets calls them
there), and ``tick``, which the panel schedules on the kernel's event loop a few times
a second to redraw the charts and the status line. Actions that wait on the training
loop (Save checkpoint, Evaluate now) run in short helper threads and hand their result
to the next tick, so no button blocks the kernel.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import ipywidgets as w

from lab.config import Config, ConfigError
from lab.trainer import Trainer
from widgets.charts import LiveCharts
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
from widgets.panel_model import READOUT_NAMES, PanelModel
from widgets.status import RunStatus

__all__ = ["READOUT_NAMES", "TrainingPanel"]

REFRESH_SECONDS = 0.3
"""How often the panel redraws: about three times a second."""


class TrainingPanel:
    """Buttons, live-tunable controls, a status line and live charts for one training run."""

    def __new__(cls, source: str | Path | Config | Trainer = "fast", run_dir: str | Path | None = None,
                name: str | None = None, max_points: int = 400, refresh: float = REFRESH_SECONDS,
                agents: int = 1, clips: bool = True) -> Any:
        """``agents`` other than 1 gives the A/B panel (``widgets.compare_panel.ComparePanel``, no clips)."""
        if agents != 1:
            from widgets.compare_panel import ComparePanel

            if isinstance(source, Trainer):
                raise ConfigError(f"agents={agents!r} trains a new population: give a preset name, a config file "
                                  "or a Config, not a Trainer")
            return ComparePanel(source, agents=agents, run_dir=run_dir, name=name, max_points=max_points,
                                refresh=refresh)
        return super().__new__(cls)

    def __init__(self, source: str | Path | Config | Trainer = "fast", run_dir: str | Path | None = None,
                 name: str | None = None, max_points: int = 400, refresh: float = REFRESH_SECONDS,
                 agents: int = 1, clips: bool = True) -> None:
        self.model = PanelModel(source, run_dir=run_dir, name=name, clips=clips)
        self._shown_clip: str | None = None
        base = self.model.base_config
        self.charts = LiveCharts(max_points=max_points, min_interval=refresh * 0.9,
                                 success_threshold=base.env.success_threshold)
        self.model.add_watcher(self.charts)
        self._syncing = False
        self.controls = ControlSet.build(base)
        self._build_widgets()
        self._ticker = Ticker(self.tick, refresh)
        self._ticker.start()
        self.tick(force=True)

    # ==== the model's state, for notebooks and tests ===========================================
    @property
    def trainer(self) -> Trainer | None:
        return self.model.trainer

    @property
    def config(self) -> Config:
        """What the next run will use: the base config plus every change made in the panel."""
        return self.model.config

    @property
    def base_config(self) -> Config:
        return self.model.base_config

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def run_status(self) -> RunStatus:
        return self.model.status

    @property
    def stop_reason(self) -> str | None:
        return self.model.stop_reason

    @property
    def last_job(self) -> tuple[str, Any] | None:
        return self.model.last_job

    @property
    def errors(self) -> list[str]:
        """Errors the panel is showing (refused values, failed actions, a failed run)."""
        return self.model.errors

    @property
    def messages(self) -> list[str]:
        return self.model.messages

    @property
    def figure(self) -> Any:
        return self.charts.figure

    # ==== the widget tree ======================================================================
    def _build_widgets(self) -> None:
        def button(label: str, icon: str, style: str, handler: Any, tooltip: str) -> w.Button:
            b = w.Button(description=label, icon=icon, button_style=style, tooltip=tooltip,
                         layout=w.Layout(width="auto"))
            b.on_click(lambda _: self._guard(handler))
            return b

        self.buttons: dict[str, w.Button] = {
            "start": button("Start", "play", "success", self.start, "start training (a new run if settings need one)"),
            "pause": button("Pause", "pause", "warning", self.toggle_pause, "pause or resume training"),
            "stop": button("Stop", "stop", "danger", self.stop, "stop training and write a checkpoint"),
            "save": button("Save checkpoint", "save", "", self.save_checkpoint, "write a checkpoint now"),
            "evaluate": button("Evaluate now", "bullseye", "", self.evaluate_now, "deterministic evaluation now"),
            "reset": button("Reset to preset", "undo", "", self.reset_to_preset, "every control back to the preset"),
            "export": button("Export config (YAML)", "download", "", self.export_config,
                             "write the panel's config as YAML"),
        }
        self.title = w.HTML()
        self.status = w.HTML(layout=w.Layout(margin="2px 0"))
        self.error_box = w.HTML(layout=w.Layout(margin="2px 0"))
        self.message_box = w.HTML(layout=w.Layout(margin="2px 0"))
        self.readout = w.HTML(layout=w.Layout(width="330px", margin="0 0 0 12px"))
        self.export_box = w.Textarea(layout=w.Layout(width="100%", height="160px", display="none"))
        for spec in SPECS:
            self.controls.widgets[spec.name].observe(lambda change, spec=spec: self._on_control(spec, change),
                                                     names="value")
        self.tabs = self.controls.tab_box()
        self.clip_image = w.Image(format="gif", layout=w.Layout(width="200px", display="none"))
        self.clip_caption = w.HTML("<i style='color:#57606a'>the latest evaluation's clip shows here</i>")
        self.clip_box = w.VBox([w.HTML("<b>Latest clip</b>"), self.clip_image, self.clip_caption],
                               layout=w.Layout(width="220px", min_width="220px", margin="30px 0 0 8px"))
        self.clip_box.add_class("lab-clip")
        self.widget = w.VBox([
            self.title,
            w.HBox(list(self.buttons.values()), layout=w.Layout(flex_flow="row wrap")),
            self.status, self.error_box, self.message_box,
            w.HBox([self.tabs, self.readout]),
            w.HBox([w.Box([self.charts.figure], layout=w.Layout(flex="1 1 auto", min_width="0")), self.clip_box],
                   layout=w.Layout(width="100%")),
            self.export_box,
            PanelFrontend(),
        ], layout=w.Layout(width="100%"))
        self.widget.add_class("lander-lab-panel")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ==== actions ==============================================================================
    def start(self) -> Trainer:
        """Train in the background; a new run when there is none, it ended, or a restart setting changed."""
        trainer = self.model.start()
        self._refresh_badges()
        self._ticker.start()
        self.tick(force=True)
        return trainer

    def pause(self) -> None:
        self.model.pause()

    def resume(self) -> None:
        self.model.resume()

    def toggle_pause(self) -> None:
        self.model.toggle_pause()

    def stop(self, wait: bool = False) -> Path | None:
        """Stop training; the loop writes a checkpoint first. Does not block unless wait is true."""
        return self.model.stop(wait=wait)

    def save_checkpoint(self) -> None:
        """Write a checkpoint between steps, from a helper thread; the path shows when it is done."""
        self.model.save_checkpoint()
        self._refresh_buttons()

    def evaluate_now(self, episodes: int | None = None) -> None:
        """Evaluate the current policy between steps, from a helper thread; the result shows when done."""
        self.model.evaluate_now(episodes)
        self._refresh_buttons()

    def reset_to_preset(self) -> None:
        """Every control back to the starting config; live values also go to the running trainer."""
        self.model.reset_to_base()
        self._sync_controls(self.model.config)
        self.tick(force=True)

    def export_config(self, path: str | Path | None = None) -> Path:
        """Write the panel's config (base plus every change) as YAML; also shown under the charts."""
        written = self.model.export_config(path)
        self.export_box.value = written.read_text()
        self.export_box.layout.display = "block"
        return written

    def set(self, name: str, value: Any) -> None:
        """Change a control as if dragged; raises ConfigError when the engine refuses the value."""
        spec = SPEC_BY_NAME.get(name)
        if spec is None:
            raise ConfigError(f"the panel has no control {name!r}: allowed {', '.join(SPEC_BY_NAME)}")
        self._apply(spec, value)
        self._set_widget(spec, value)
        self.tick(force=True)

    def wait(self, timeout: float | None = None, steps: int | None = None) -> dict[str, Any]:
        """Block until the run ends (or reaches ``steps``), redrawing as it goes; Ctrl-C stops it cleanly."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while self.trainer is not None and self.trainer.running:
                if steps is not None and self.trainer.env_step >= steps:
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
        return self.trainer.summary() if self.trainer is not None else {}

    def viewer(self) -> Any:
        """An EpisodeViewer on the last evaluation's episodes."""
        from widgets.viewer import EpisodeViewer

        trainer = self.model.require_trainer("view episodes")
        if trainer.last_evaluation is None:
            raise RuntimeError("no evaluation yet: press Evaluate now, or wait for the first scheduled one")
        return EpisodeViewer.from_evaluation(trainer.last_evaluation, policy=trainer.policy)

    def close(self) -> None:
        """Stop training (with a checkpoint), stop redrawing and close the widgets."""
        self._ticker.stop()
        self.model.close()
        self.widget.close()

    # ==== the redraw, on the kernel's thread =====================================================
    def tick(self, force: bool = False) -> None:
        """Redraw charts, status and readout from what the training thread has recorded."""
        if self.model.poll():
            self._sync_controls(self.model.config)
        self.charts.flush(force=force)
        self.status.value = self.run_status.line(self.trainer)
        self.error_box.value = "".join(
            f'<div class="lab-error" style="color:#cf222e; font-family: monospace">⚠ {html.escape(e)}</div>'
            for e in self.model.errors)
        self.message_box.value = "".join(f'<div class="lab-message" style="color:#57606a">{html.escape(m)}</div>'
                                         for m in self.model.messages)
        self.readout.value = self._readout_html()
        self._refresh_buttons()
        self.title.value = self._title_html()
        self._show_latest_clip()

    def _show_latest_clip(self) -> None:
        """The newest evaluation clip beside the charts (read here, on the kernel's thread)."""
        clip = self.model.latest_clip
        if clip is None or clip.path == self._shown_clip:
            return
        try:
            self.clip_image.value = Path(clip.path).read_bytes()
        except OSError as exc:
            self.model.error(f"clip {clip.path} could not be read: {exc}")
            self._shown_clip = clip.path
            return
        self._shown_clip = clip.path
        self.clip_image.layout.display = "block"
        self.clip_caption.value = f"<span class='lab-clip-caption'>{html.escape(clip.caption)}</span>"

    def _refresh_buttons(self) -> None:
        t, busy = self.trainer, self.model.busy
        running = self.model.running
        self.buttons["start"].disabled = running
        self.buttons["pause"].disabled = not running
        self.buttons["stop"].disabled = not running
        self.buttons["save"].disabled = t is None or "save" in busy
        self.buttons["evaluate"].disabled = t is None or "evaluate" in busy
        paused = running and self.model.paused
        self.buttons["pause"].description = "Resume" if paused else "Pause"
        self.buttons["pause"].icon = "play" if paused else "pause"

    def _readout_html(self) -> str:
        head, values = self.model.readout()
        rows = "".join(f"<tr><td>{n}</td><td class='lab-value' data-name='{n}'>{_fmt(values.get(n))}</td></tr>"
                       for n in READOUT_NAMES)
        changes = self.charts.changes[-4:]
        log = "".join(f"<div>step {s:,}: {html.escape(text)}</div>" for s, text in changes)
        pending = self.model.restart_diff()
        note = (f"<div style='color:#9a6700'>{RESTART_NOTE}: {html.escape(', '.join(pending))}</div>"
                if pending else "")
        return (f"<div class='lab-readout' style='font-family: monospace; font-size: 12px'>"
                f"<b>{head}</b><table>{rows}</table>{note}"
                f"<div style='color:#8250df'>{log}</div></div>")

    def _title_html(self) -> str:
        where = f" · {self.trainer.run_dir}" if self.trainer is not None else ""
        return f"<b>Lander Lab</b> · {html.escape(self.name)}{html.escape(where)}"

    # ==== controls ==============================================================================
    def _on_control(self, spec: ControlSpec, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        try:
            self._apply(spec, from_widget_value(spec, change["new"]))
        except ConfigError as exc:
            self.model.error(str(exc))
            self._set_widget(spec, from_widget_value(spec, change["old"]))
        self.tick(force=True)

    def _apply(self, spec: ControlSpec, value: Any) -> None:
        """Hand the value to the model (next run, and the trainer when live); raises ConfigError."""
        self.model.apply(spec.key, value)
        self._refresh_badges()

    def _set_widget(self, spec: ControlSpec, value: Any) -> None:
        self._syncing = True
        try:
            self.controls.widgets[spec.name].value = to_widget_value(spec, value)
        finally:
            self._syncing = False

    def _sync_controls(self, config: Config) -> None:
        """Every control to the config's value (pinned schedule overrides to their pin)."""
        for spec in SPECS:
            value = self.model.schedule_overrides.get(spec.name, spec.config_value(config))
            self._set_widget(spec, value)
        self._refresh_badges()

    def _refresh_badges(self) -> None:
        pending = set(self.model.restart_diff())
        for spec in SPECS:
            badge = self.controls.badges[spec.name]
            badge.value = (f"<span style='color:#9a6700' title='{RESTART_NOTE}'>⟳ {RESTART_NOTE}</span>"
                           if spec.key in pending else "")

    def _guard(self, action: Any) -> None:
        """Run a button's action; any error shows in the panel instead of vanishing into a log."""
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a visible message
            self.model.error(f"{type(exc).__name__}: {exc}")
        self.tick(force=True)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
