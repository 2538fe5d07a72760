"""``TrainingPanel``: start a run, watch it, and tune it while it trains, from one notebook cell.

    panel = TrainingPanel("guided")   # a preset name, a Config, a config file or a Trainer
    panel                             # displays: buttons, status line, tabs of controls, live charts

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
from pathlib import Path
from typing import Any

import ipywidgets as w

from lab.config import Config, ConfigError
from lab.presets import FIRST_RUN_PRESET
from lab.train.trainer import Trainer
from widgets.charts import LiveCharts
from widgets.controls import RESTART_NOTE, SPECS, ControlSpec, spec_named
from widgets.panel_model import READOUT_NAMES, PanelModel
from widgets.panel_view import REFRESH_SECONDS, PanelView, format_value
from widgets.status import RunStatus

__all__ = ["READOUT_NAMES", "TrainingPanel"]


class TrainingPanel(PanelView):
    """Buttons, live-tunable controls, a status line and live charts for one training run."""

    model: PanelModel

    def __new__(cls, source: str | Path | Config | Trainer = FIRST_RUN_PRESET, run_dir: str | Path | None = None,
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

    def __init__(self, source: str | Path | Config | Trainer = FIRST_RUN_PRESET, run_dir: str | Path | None = None,
                 name: str | None = None, max_points: int = 400, refresh: float = REFRESH_SECONDS,
                 agents: int = 1, clips: bool = True) -> None:
        self.model = PanelModel(source, run_dir=run_dir, name=name, clips=clips)
        self._shown_clip: str | None = None
        self._open(LiveCharts(max_points=max_points, min_interval=refresh * 0.9,
                              success_threshold=self.model.base_config.env.success_threshold), refresh)

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

    # ==== the widget tree ======================================================================
    def _build_widgets(self) -> None:
        self._build_parts({
            "start": ("Start", "play", "success", self.start, "start training (a new run if settings need one)"),
            "pause": ("Pause", "pause", "warning", self.toggle_pause, "pause or resume training"),
            "stop": ("Stop", "stop", "danger", self.stop, "stop training and write a checkpoint"),
            "save": ("Save checkpoint", "save", "", self.save_checkpoint, "write a checkpoint now"),
            "evaluate": ("Evaluate now", "bullseye", "", self.evaluate_now, "deterministic evaluation now"),
            "reset": ("Reset to preset", "undo", "", self.reset_to_preset, "every control back to the preset"),
            "export": ("Export config (YAML)", "download", "", self.export_config, "write the panel's config as YAML"),
        }, readout_layout=w.Layout(width="330px", margin="0 0 0 12px"))
        self.export_box = w.Textarea(layout=w.Layout(width="100%", height="160px", display="none"))
        self.clip_image = w.Image(format="gif", layout=w.Layout(width="200px", display="none"))
        self.clip_caption = w.HTML("<i style='color:#57606a'>the latest evaluation's clip shows here</i>")
        self.clip_box = w.VBox([w.HTML("<b>Latest clip</b>"), self.clip_image, self.clip_caption],
                               layout=w.Layout(width="220px", min_width="220px", margin="30px 0 0 8px"))
        self.clip_box.add_class("lab-clip")
        charts = w.Box([self.charts.figure], layout=w.Layout(flex="1 1 auto", min_width="0"))
        self.widget = self._frame(above_status=[], below_controls=[
            w.HBox([charts, self.clip_box], layout=w.Layout(width="100%")),
            self.export_box,
        ])

    # ==== actions ==============================================================================
    def start(self) -> Trainer:
        """Train in the background; a new run when there is none, it ended, or a restart setting changed."""
        trainer = super().start()
        self._refresh_badges()
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

    def export_config(self, path: str | Path | None = None) -> Path:
        """Write the panel's config (base plus every change) as YAML; also shown under the charts."""
        written = self.model.export_config(path)
        self.export_box.value = written.read_text()
        self.export_box.layout.display = "block"
        return written

    def set(self, name: str, value: Any) -> None:
        """Change a control as if dragged; raises ConfigError when the engine refuses the value."""
        self._change(spec_named(name), value)

    def viewer(self) -> Any:
        """An EpisodeViewer on the last evaluation's episodes."""
        from widgets.viewer import EpisodeViewer

        trainer = self.model.require_trainer("view episodes")
        if trainer.last_evaluation is None:
            raise RuntimeError("no evaluation yet: press Evaluate now, or wait for the first scheduled one")
        return EpisodeViewer.from_evaluation(trainer.last_evaluation, policy=trainer.policy)

    # ==== the redraw, on the kernel's thread =====================================================
    def _run(self) -> Trainer | None:
        return self.model.trainer

    def _least_env_step(self) -> int:
        trainer = self.model.trainer
        return 0 if trainer is None else trainer.env_step

    def _poll(self) -> None:
        if self.model.poll():
            self._sync_controls()

    def tick(self, force: bool = False) -> None:
        """Redraw charts, status, readout and the latest clip from what the training thread has recorded."""
        super().tick(force)
        self._show_latest_clip()

    def _status_html(self) -> str:
        return self.run_status.line(self.trainer)

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
        super()._refresh_buttons()
        t, busy = self.trainer, self.model.busy
        running = self.model.running
        self.buttons["pause"].disabled = not running
        self.buttons["save"].disabled = t is None or "save" in busy
        self.buttons["evaluate"].disabled = t is None or "evaluate" in busy
        paused = running and self.model.paused
        self.buttons["pause"].description = "Resume" if paused else "Pause"
        self.buttons["pause"].icon = "play" if paused else "pause"

    def _readout_html(self) -> str:
        head, values = self.model.readout()
        rows = "".join(f"<tr><td>{n}</td><td class='lab-value' data-name='{n}'>{format_value(values.get(n))}</td></tr>"
                       for n in READOUT_NAMES)
        log = "".join(f"<div>step {s:,}: {html.escape(text)}</div>" for s, text in self.charts.changes[-4:])
        return self._readout_box(head, rows, f"<div style='color:#8250df'>{log}</div>")

    # ==== controls ==============================================================================
    def _apply(self, spec: ControlSpec, value: Any) -> None:
        super()._apply(spec, value)
        self._refresh_badges()

    def _control_values(self) -> tuple[Config, dict[str, float]]:
        return self.model.config, self.model.schedule_overrides

    def _sync_controls(self) -> None:
        super()._sync_controls()
        self._refresh_badges()

    def _refresh_badges(self) -> None:
        pending = set(self.model.restart_diff())
        for spec in SPECS:
            badge = self.controls.badges[spec.name]
            badge.value = (f"<span style='color:#9a6700' title='{RESTART_NOTE}'>⟳ {RESTART_NOTE}</span>"
                           if spec.key in pending else "")
