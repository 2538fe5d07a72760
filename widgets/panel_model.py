"""What the training panel knows and does, with no widgets: ``PanelModel``.

The panel's state lives here: the config the next run will use (the starting config
plus every change made in the panel), which of those changes wait for a new run, the
trainer it drives and its lifecycle, background jobs (save, evaluate) and the errors
and messages a person should see. ``widgets.panel.TrainingPanel`` draws it; tests
drive it directly with a real trainer and no frontend.

Settings are named by their config key: a dotted config field (``noise.sigma``) or a
schedule override (``noise_scale``, ``per_beta``), the names the engine validates.

Threads: trainer events arrive on the training thread and only append to deques;
``poll`` (called by the view on the kernel's thread) turns finished jobs and refused
live changes into messages, errors and config corrections.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import lab.events
from lab.config import Config, ConfigError
from lab.evaluation import EvaluationResult
from lab.io import atomic_write_text
from lab.presets import FIRST_RUN_PRESET, preset_names
from lab.render.clips import ClipSaved, attach_clip_recorder
from lab.train.live import LIVE_CONFIG_FIELDS, LIVE_NAMES, SCHEDULE_OVERRIDES, validate_changes
from lab.train.trainer import Trainer
from widgets.run_model import RunModel, RunWatcher
from widgets.settings import LIVE_KEYS, as_config, config_value, live_resets, next_run_values, restart_fields
from widgets.status import RunStatus

READOUT_NAMES: tuple[str, ...] = tuple(name for name in LIVE_NAMES if not name.startswith("shaping_"))
"""The live hyperparameters the readout lists (the shaping bonuses have their own tab)."""
REFUSED_EVENT: type | None = getattr(lab.events, "HyperparametersRefused", None)
"""The engine's event for a live change it refused; until it exists the panel reads ``events.errors``."""


class PanelModel(RunModel):
    """The state behind one training panel: next run's config, the trainer, jobs, messages."""

    def __init__(self, source: str | Path | Config | Trainer = FIRST_RUN_PRESET, run_dir: str | Path | None = None,
                 name: str | None = None, watchers: Iterable[RunWatcher] = (), clips: bool = True) -> None:
        RunModel.__init__(self, run_dir, watchers)
        self.trainer: Trainer | None = None
        self.clips = clips
        """Record an evaluation clip at each evaluation of the runs the panel starts."""
        self.latest_clip: ClipSaved | None = None
        """The newest clip's event (path, caption); set on the training thread, read by the view."""
        if isinstance(source, Trainer):
            self.trainer = source
            base = source.config
            self.name = name or source.name
        else:
            base = as_config(source)
            self.name = name or (source if isinstance(source, str) and source in preset_names() else "panel")
        self.base_config: Config = base
        self.config: Config = base
        """What the next run will use: the base config plus every change made in the panel."""
        self.schedule_overrides: dict[str, float] = {}
        """Schedule overrides pinned in the panel (not config fields); they go to every new trainer."""
        self.status = RunStatus()
        self.last_job: tuple[str, Any] | None = None
        self.paused = False
        self.busy: set[str] = set()
        self._jobs: deque[tuple[str, Any, BaseException | None]] = deque()
        self._refused: deque[Any] = deque()
        if self.trainer is not None:
            self._attach(self.trainer)

    @property
    def run(self) -> Trainer | None:
        return self.trainer

    # ==== what a person sees ===================================================================
    def readout(self) -> tuple[str, dict[str, Any]]:
        """A heading and the live hyperparameters: the trainer's now, or what the next run will use."""
        if self.trainer is not None:
            values = self.trainer.hyperparameters()
            return "trainer now uses", {n: values.get(n) for n in READOUT_NAMES}
        return "next run will use", next_run_values(self.config, self.schedule_overrides, READOUT_NAMES)

    def restart_diff(self) -> list[str]:
        """Config fields that differ between the panel and the trainer and need a new run."""
        if self.trainer is None:
            return []
        return restart_fields(self.config, self.trainer.config)

    # ==== changing settings ====================================================================
    def apply(self, key: str, value: Any) -> None:
        """Change one setting for the next run, and for the running trainer when it is live.

        ``key`` is a dotted config field or a schedule override. Raises ConfigError (naming
        the field, the value and what is allowed) when the engine refuses the value.
        """
        if key in SCHEDULE_OVERRIDES:
            validate_changes(self.config, {key: value})
            if self.trainer is not None:
                self.trainer.update_hyperparameters(**{key: value})
            self.schedule_overrides[key] = float(value)
            return
        new_config = self.config.with_overrides({key: value})
        if key in LIVE_KEYS and self.trainer is not None:
            self.trainer.update_hyperparameters(**{LIVE_KEYS[key]: value})
        self.config = new_config

    def reset_to_base(self) -> None:
        """Every setting back to the starting config; live values also go to the running trainer."""
        base = self.base_config
        if self.trainer is not None:
            live = live_resets(self.trainer.hyperparameters(), base, self.schedule_overrides)
            if live:
                self.trainer.update_hyperparameters(**live)
        self.config = base
        self.schedule_overrides.clear()
        self.say("controls reset to the starting config")

    def export_text(self) -> str:
        """The panel's config as YAML, with pinned schedule overrides noted at the top."""
        text = self.config.to_yaml()
        if self.schedule_overrides:
            pins = ", ".join(f"{k}={v:g}" for k, v in self.schedule_overrides.items())
            text = f"# pinned in the panel (not config fields): {pins}\n" + text
        return text

    def export_config(self, path: str | Path | None = None) -> Path:
        """Write the panel's config as YAML (atomically); a stamped file in the run folder by default."""
        if path is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            path = Path(self.config.run.out_dir) / f"{self.name}-config-{stamp}.yaml"
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, self.export_text())
        self.say(f"config written to {path}")
        return path

    # ==== the run ==============================================================================
    def _starting(self, run: Trainer) -> str:
        self.paused = False
        return f"training in {run.run_dir}"

    def pause(self) -> None:
        if self.trainer is not None and self.trainer.running:
            self.trainer.pause()
            self.paused = True

    def resume(self) -> None:
        if self.trainer is not None and self.trainer.running:
            self.trainer.resume()
            self.paused = False

    def toggle_pause(self) -> None:
        if not self.running:
            return
        if self.paused:
            self.resume()
        else:
            self.pause()

    def stop(self, wait: bool = False) -> Path | None:
        """Stop training; the loop writes a checkpoint first. Does not block unless wait is true."""
        if self.trainer is None or not self.trainer.running:
            return None
        path = self.trainer.stop(wait=wait)
        self.say(f"stopped; checkpoint {path}" if wait else "stopping: a checkpoint is being written")
        return path

    def save_checkpoint(self) -> None:
        """Write a checkpoint between steps, from a helper thread; ``poll`` reports the path."""
        trainer = self.require_trainer("save a checkpoint")
        self.run_job("save", trainer.save_checkpoint)

    def evaluate_now(self, episodes: int | None = None) -> None:
        """Evaluate the current policy between steps, from a helper thread; ``poll`` reports the result."""
        trainer = self.require_trainer("evaluate")
        self.run_job("evaluate", lambda: trainer.evaluate_now(episodes))

    def needs_new_run(self) -> bool:
        t = self.trainer
        if t is None:
            return True
        return t.state == "failed" or t.env_step >= t.config.run.total_steps or bool(self.restart_diff())

    def require_trainer(self, what: str) -> Trainer:
        if self.trainer is None:
            raise RuntimeError(f"nothing to {what} yet: press Start first")
        return self.trainer

    def _make_run(self, run_dir: Path | None) -> Trainer:
        self.status.reset()
        trainer = Trainer(self.config, run_dir=run_dir, name=self.name)
        self.latest_clip = None
        if self.clips:
            attach_clip_recorder(trainer)
        if self.schedule_overrides:
            trainer.update_hyperparameters(**self.schedule_overrides)
        self.trainer = trainer
        return trainer

    def _attach(self, run: Trainer) -> None:
        self.status.state = run.state
        super()._attach(run)

    def _subscriptions(self, run: Trainer) -> list[Callable[[], None]]:
        subscriptions = [run.events.subscribe(self.status), run.events.subscribe(self._on_clip, ClipSaved)]
        if REFUSED_EVENT is not None:
            subscriptions.append(run.events.subscribe(self._refused.append, REFUSED_EVENT))
        return subscriptions

    def _on_clip(self, event: ClipSaved) -> None:
        self.latest_clip = event

    # ==== background jobs and what the training thread reported ==================================
    def run_job(self, kind: str, fn: Callable[[], Any]) -> None:
        """Run ``fn`` in a helper thread so no button blocks the kernel; one job of a kind at a time."""
        if kind in self.busy:
            return
        self.busy.add(kind)
        self.say(f"{kind}: working…")

        def work() -> None:
            try:
                self._jobs.append((kind, fn(), None))
            except BaseException as exc:  # noqa: BLE001 - shown in the panel, not lost in the thread
                self._jobs.append((kind, None, exc))

        threading.Thread(target=work, name=f"lab-panel-{kind}", daemon=True).start()

    def poll(self) -> bool:
        """Take in finished jobs, refused live changes and a failed run; True when ``config`` was corrected."""
        while self._jobs:
            kind, result, exc = self._jobs.popleft()
            self.busy.discard(kind)
            if exc is not None:
                self.error(f"{kind} failed: {type(exc).__name__}: {exc}")
            elif kind == "save":
                self.say(f"checkpoint saved to {result}")
            elif kind == "evaluate":
                self.say(_evaluation_text(result))
            self.last_job = (kind, result)
        corrected = self._take_refusals()
        if self.status.error and not any(self.status.error in e for e in self._errors):
            self.error(f"training failed: {self.status.error}")
        return corrected

    def _take_refusals(self) -> bool:
        """Show each live change the training loop refused, and put the panel back on the trainer's values."""
        trainer = self.trainer
        if trainer is None:
            return False
        if REFUSED_EVENT is None:  # the engine reports refusals only as text in events.errors
            self._take_bus_errors(trainer)
            return False
        names: set[str] = set()
        while self._refused:
            event = self._refused.popleft()
            changes = ", ".join(f"{k}={v!r}" for k, v in event.changes.items())
            self.error(f"refused at step {event.env_step:,}: {changes}: {event.reason}")
            names.update(event.changes)
        return self._follow_trainer(names, trainer)

    def _follow_trainer(self, names: set[str], trainer: Trainer) -> bool:
        """Set the named live settings to the trainer's current values; True if any changed."""
        if not names:
            return False
        current = trainer.hyperparameters()
        changed = False
        for name in names & set(LIVE_NAMES):
            if name in SCHEDULE_OVERRIDES:
                if name in self.schedule_overrides and self.schedule_overrides[name] != current[name]:
                    self.schedule_overrides[name] = float(current[name])
                    changed = True
                continue
            field = LIVE_CONFIG_FIELDS[name]
            if config_value(self.config, field) != current[name]:
                try:
                    self.config = self.config.with_overrides({field: current[name]})
                    changed = True
                except ConfigError as exc:  # the next run's other settings no longer fit it
                    self.error(str(exc))
        return changed


def _evaluation_text(result: EvaluationResult) -> str:
    mix = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items(), key=lambda kv: -kv[1]))
    return (f"evaluation: mean return {result.mean_return:.1f} ± {result.std_return:.1f}, "
            f"success {100 * result.success_rate:.0f}%" + (f" ({mix})" if mix else ""))
