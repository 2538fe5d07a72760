"""``TrainingPanel``: start a run, watch it, and tune it while it trains, from one notebook cell.

    panel = TrainingPanel("fast")   # a preset name, a Config, a config file or a Trainer
    panel                           # displays: buttons, status line, tabs of controls, live charts

Threads: training runs in the trainer's background thread. Everything here that touches
a widget runs on the kernel's main thread: control callbacks (ipywidgets calls them
there), and ``tick``, which the panel schedules on the kernel's event loop a few times
a second to redraw the charts and the status line. Actions that wait on the training
loop (Save checkpoint, Evaluate now) run in short helper threads and hand their result
to the next tick, so no button blocks the kernel.
"""

from __future__ import annotations

import html
import threading
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

import ipywidgets as w

from lab.config import Config, ConfigError
from lab.hyperparameters import LIVE_CONFIG_FIELDS, validate_changes
from lab.presets import preset, preset_names
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
from widgets.kernel import Ticker, watch_trainer
from widgets.status import RunStatus

REFRESH_SECONDS = 0.3
"""How often the panel redraws: about three times a second."""
READOUT_NAMES = ("actor_lr", "critic_lr", "tau", "gamma", "batch_size", "policy_delay", "updates_per_step", "sigma",
                 "theta", "noise_scale", "per_alpha", "per_beta", "reward_shaping")
_LIVE_FIELDS = set(LIVE_CONFIG_FIELDS.values())


class TrainingPanel:
    """Buttons, live-tunable controls, a status line and live charts for one training run."""

    def __init__(self, source: str | Path | Config | Trainer = "fast", run_dir: str | Path | None = None,
                 name: str | None = None, max_points: int = 400, refresh: float = REFRESH_SECONDS) -> None:
        self.trainer: Trainer | None = None
        self._owns_trainer = False
        if isinstance(source, Trainer):
            self.trainer = source
            base = source.config
            self.name = name or source.name
        else:
            base = _as_config(source)
            self.name = name or (str(source) if isinstance(source, str) and source in preset_names() else "panel")
        self.base_config: Config = base
        self.config: Config = base
        """What the next run will use: the base config plus every change made in the panel."""
        self._schedule_overrides: dict[str, float] = {}
        self._run_dir = Path(run_dir) if run_dir else None
        self._syncing = False
        self._unsubscribe: list[Any] = []
        self._jobs: deque[tuple[str, Any, BaseException | None]] = deque()
        self._busy: set[str] = set()
        self._messages: deque[str] = deque(maxlen=2)
        self._errors: deque[str] = deque(maxlen=4)
        self._bus_errors_seen = 0
        self.stop_reason: str | None = None
        self.last_job: tuple[str, Any] | None = None
        self._paused = False

        self.charts = LiveCharts(max_points=max_points, min_interval=refresh * 0.9,
                                 success_threshold=base.env.success_threshold)
        self.run_status = RunStatus()
        self.controls = ControlSet.build(base)
        self._build_widgets()
        if self.trainer is not None:
            self._attach(self.trainer)
        self._ticker = Ticker(self.tick, refresh)
        self._ticker.start()
        self.tick(force=True)

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
        self.widget = w.VBox([
            self.title,
            w.HBox(list(self.buttons.values()), layout=w.Layout(flex_flow="row wrap")),
            self.status, self.error_box, self.message_box,
            w.HBox([self.tabs, self.readout]),
            self.charts.figure,
            self.export_box,
            PanelFrontend(),
        ], layout=w.Layout(width="100%"))
        self.widget.add_class("lander-lab-panel")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    @property
    def figure(self) -> Any:
        return self.charts.figure

    # ==== actions ==============================================================================
    def start(self) -> Trainer:
        """Train in the background; a new run when there is none, it ended, or a restart setting changed."""
        if self.trainer is not None and self.trainer.running:
            return self.trainer
        if self._needs_new_trainer():
            self._new_trainer()
        assert self.trainer is not None
        self._errors.clear()
        self.stop_reason = None
        self._paused = False
        self.trainer.start()
        self._ticker.start()
        self._say(f"training in {self.trainer.run_dir}")
        self.tick(force=True)
        return self.trainer

    def pause(self) -> None:
        if self.trainer is not None and self.trainer.running:
            self.trainer.pause()
            self._paused = True

    def resume(self) -> None:
        if self.trainer is not None and self.trainer.running:
            self.trainer.resume()
            self._paused = False

    def toggle_pause(self) -> None:
        if self.trainer is None or not self.trainer.running:
            return
        if self._paused:
            self.resume()
        else:
            self.pause()

    def stop(self, wait: bool = False) -> Path | None:
        """Stop training; the loop writes a checkpoint first. Does not block unless wait is true."""
        if self.trainer is None or not self.trainer.running:
            return None
        path = self.trainer.stop(wait=wait)
        self._say("stopping: a checkpoint is being written" if not wait else f"stopped; checkpoint {path}")
        return path

    def save_checkpoint(self) -> None:
        """Write a checkpoint between steps, from a helper thread; the path shows when it is done."""
        trainer = self._require_trainer("save a checkpoint")
        self._run_job("save", trainer.save_checkpoint)

    def evaluate_now(self, episodes: int | None = None) -> None:
        """Evaluate the current policy between steps, from a helper thread; the result shows when done."""
        trainer = self._require_trainer("evaluate")
        self._run_job("evaluate", lambda: trainer.evaluate_now(episodes))

    def reset_to_preset(self) -> None:
        """Every control back to the starting config; live values also go to the running trainer."""
        base = self.base_config
        live = {}
        if self.trainer is not None:
            current = self.trainer.hyperparameters()
            for spec in SPECS:
                if spec.field in _LIVE_FIELDS and current.get(spec.name) != spec.config_value(base):
                    live[spec.name] = spec.config_value(base)
            for name in self._schedule_overrides:
                live[name] = SPEC_BY_NAME[name].config_value(base)
        if live and self.trainer is not None:
            self.trainer.update_hyperparameters(**live)
        self.config = base
        self._schedule_overrides.clear()
        self._sync_controls(base)
        self._say("controls reset to the starting config")
        self.tick(force=True)

    def export_config(self, path: str | Path | None = None) -> Path:
        """Write the panel's config (base plus every change) as YAML; also shown under the charts."""
        text = self.config.to_yaml()
        if self._schedule_overrides:
            pins = ", ".join(f"{k}={v:g}" for k, v in self._schedule_overrides.items())
            text = f"# pinned in the panel (not config fields): {pins}\n" + text
        if path is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            path = Path(self.config.run.out_dir) / f"{self.name}-config-{stamp}.yaml"
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.export_box.value = text
        self.export_box.layout.display = "block"
        self._say(f"config written to {path}")
        return path

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
            self.stop_reason = "interrupted"
            raise
        finally:
            self.tick(force=True)
        return self.trainer.summary() if self.trainer is not None else {}

    def viewer(self) -> Any:
        """An EpisodeViewer on the last evaluation's episodes."""
        from widgets.viewer import EpisodeViewer

        trainer = self._require_trainer("view episodes")
        if trainer.last_evaluation is None:
            raise RuntimeError("no evaluation yet: press Evaluate now, or wait for the first scheduled one")
        return EpisodeViewer.from_evaluation(trainer.last_evaluation, policy=trainer.policy)

    def close(self) -> None:
        """Stop training (with a checkpoint), stop redrawing and close the widgets."""
        self._ticker.stop()
        if self.trainer is not None:
            if self.trainer.running:
                self.trainer.stop(wait=True)
            self._detach()
            if self._owns_trainer:
                self.trainer.close()
        self.widget.close()

    # ==== the redraw, on the kernel's thread =====================================================
    def tick(self, force: bool = False) -> None:
        """Redraw charts, status and readout from what the training thread has recorded."""
        self._drain_jobs()
        self.charts.flush(force=force)
        trainer = self.trainer
        self.status.value = self.run_status.line(trainer)
        if trainer is not None:
            bus_errors = trainer.events.errors
            for text in bus_errors[self._bus_errors_seen:]:
                self._errors.append(text)
            self._bus_errors_seen = len(bus_errors)
            if self.run_status.error and not any(self.run_status.error in e for e in self._errors):
                self._errors.append(f"training failed: {self.run_status.error}")
        self.error_box.value = "".join(
            f'<div class="lab-error" style="color:#cf222e; font-family: monospace">⚠ {html.escape(e)}</div>'
            for e in self._errors)
        self.message_box.value = "".join(f'<div class="lab-message" style="color:#57606a">{html.escape(m)}</div>'
                                         for m in self._messages)
        self.readout.value = self._readout_html()
        self._refresh_buttons()
        self.title.value = self._title_html()

    def _refresh_buttons(self) -> None:
        t = self.trainer
        running = t is not None and t.running
        self.buttons["start"].disabled = running
        self.buttons["pause"].disabled = not running
        self.buttons["stop"].disabled = not running
        self.buttons["save"].disabled = t is None or "save" in self._busy
        self.buttons["evaluate"].disabled = t is None or "evaluate" in self._busy
        paused = running and self._paused
        self.buttons["pause"].description = "Resume" if paused else "Pause"
        self.buttons["pause"].icon = "play" if paused else "pause"

    def _readout_html(self) -> str:
        t = self.trainer
        if t is None:
            values = {s.name: s.config_value(self.config) for s in SPECS if s.name in READOUT_NAMES}
            values.update(self._schedule_overrides)
            head = "next run will use"
        else:
            values = t.hyperparameters()
            head = "trainer now uses"
        rows = "".join(f"<tr><td>{n}</td><td class='lab-value' data-name='{n}'>{_fmt(values.get(n))}</td></tr>"
                       for n in READOUT_NAMES)
        changes = self.charts.changes[-4:]
        log = "".join(f"<div>step {s:,}: {html.escape(text)}</div>" for s, text in changes)
        pending = self._restart_diff()
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
            self._errors.append(str(exc))
            self._set_widget(spec, from_widget_value(spec, change["old"]))
        self.tick(force=True)

    def _apply(self, spec: ControlSpec, value: Any) -> None:
        """Validate against the next run's config, then hand live values to the trainer; raises ConfigError."""
        new_config = self.config.with_overrides({spec.field: value}) if spec.field else self.config
        if spec.live and self.trainer is not None:
            self.trainer.update_hyperparameters(**{spec.name: value})
        elif spec.field is None:
            validate_changes(self.config, {spec.name: value})  # a schedule override, kept for the next run
        if spec.field is None:
            self._schedule_overrides[spec.name] = float(value)
        self.config = new_config
        self._refresh_badges()

    def _set_widget(self, spec: ControlSpec, value: Any) -> None:
        self._syncing = True
        try:
            self.controls.widgets[spec.name].value = to_widget_value(spec, value)
        finally:
            self._syncing = False

    def _sync_controls(self, config: Config) -> None:
        for spec in SPECS:
            self._set_widget(spec, spec.config_value(config))
        self._refresh_badges()

    def _refresh_badges(self) -> None:
        pending = set(self._restart_diff())
        for spec in SPECS:
            badge = self.controls.badges[spec.name]
            badge.value = (f"<span style='color:#9a6700' title='{RESTART_NOTE}'>⟳ {RESTART_NOTE}</span>"
                           if spec.key in pending else "")

    def _restart_diff(self) -> list[str]:
        """Fields that differ between the panel's config and the trainer's and need a new run."""
        if self.trainer is None:
            return []
        mine, theirs = self.config.to_dict(), self.trainer.config.to_dict()
        return [f"{section}.{k}" for section, values in mine.items() for k, v in values.items()
                if f"{section}.{k}" not in _LIVE_FIELDS and theirs[section].get(k) != v]

    # ==== trainer lifecycle =====================================================================
    def _needs_new_trainer(self) -> bool:
        t = self.trainer
        if t is None:
            return True
        return t.state == "failed" or t.env_step >= t.config.run.total_steps or bool(self._restart_diff())

    def _new_trainer(self) -> None:
        old = self.trainer
        if old is not None:
            self._detach()
            if self._owns_trainer:
                old.close()
        self.charts.reset()
        self.run_status.reset()
        self._bus_errors_seen = 0
        run_dir, self._run_dir = self._run_dir, None  # a second run gets its own folder
        trainer = Trainer(self.config, run_dir=run_dir, name=self.name)
        if self._schedule_overrides:
            trainer.update_hyperparameters(**self._schedule_overrides)
        self.trainer, self._owns_trainer = trainer, True
        self._attach(trainer)
        self._refresh_badges()

    def _attach(self, trainer: Trainer) -> None:
        self.run_status.state = trainer.state
        self._unsubscribe = [self.charts.attach(trainer), trainer.events.subscribe(self.run_status)]
        watch_trainer(trainer, self._on_kernel_stop)

    def _detach(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _on_kernel_stop(self, reason: str, stopped: list[Any]) -> None:
        if any(t is self.trainer for t in stopped):
            self.stop_reason = reason
            self._messages.append(f"training stopped because {reason}; a checkpoint is being written")

    def _require_trainer(self, what: str) -> Trainer:
        if self.trainer is None:
            raise RuntimeError(f"nothing to {what} yet: press Start first")
        return self.trainer

    # ==== helper threads and messages ===========================================================
    def _run_job(self, kind: str, fn: Any) -> None:
        if kind in self._busy:
            return
        self._busy.add(kind)
        self._say(f"{kind}: working…")

        def work() -> None:
            try:
                self._jobs.append((kind, fn(), None))
            except BaseException as exc:  # noqa: BLE001 - shown in the panel, not lost in the thread
                self._jobs.append((kind, None, exc))

        threading.Thread(target=work, name=f"lab-panel-{kind}", daemon=True).start()
        self._refresh_buttons()

    def _drain_jobs(self) -> None:
        while self._jobs:
            kind, result, exc = self._jobs.popleft()
            self._busy.discard(kind)
            if exc is not None:
                self._errors.append(f"{kind} failed: {type(exc).__name__}: {exc}")
            elif kind == "save":
                self._say(f"checkpoint saved to {result}")
            elif kind == "evaluate":
                mix = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items(), key=lambda kv: -kv[1]))
                self._say(f"evaluation: mean return {result.mean_return:.1f} ± {result.std_return:.1f}, "
                          f"success {100 * result.success_rate:.0f}%" + (f" ({mix})" if mix else ""))
            self.last_job = (kind, result)

    def _guard(self, action: Any) -> None:
        """Run a button's action; any error shows in the panel instead of vanishing into a log."""
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a visible message
            self._errors.append(f"{type(exc).__name__}: {exc}")
        self.tick(force=True)

    def _say(self, text: str) -> None:
        self._messages.append(text)

    @property
    def errors(self) -> list[str]:
        """Errors the panel is showing (refused values, failed actions, a failed run)."""
        return list(self._errors)

    @property
    def messages(self) -> list[str]:
        return list(self._messages)


def _as_config(source: str | Path | Config) -> Config:
    if isinstance(source, Config):
        return source
    if isinstance(source, str) and source in preset_names():
        return preset(source)
    return Config.load(source)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
