"""``train --tensorboard``: an event subscriber that writes the run's metrics for TensorBoard.

It writes what the run folder holds: per-episode returns, length and success; the
share of each outcome and behavior over the last ``window`` episodes; learner
metrics; evaluations; hyperparameter changes and run states. With ``hparams`` it also
fills TensorBoard's HParams tab (the run's config against its final metrics, written on
``close()``), and evaluation clips (``ClipSaved`` events from lab.render.clips) appear as
videos. TensorBoard is imported only when a logger is made, with a clear message if it is
missing. ``attach_tensorboard(trainer)`` wires one to a trainer.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab.analysis.diagnostics import UPDATE_FIELDS

INSTALL_HINT = "pip install tensorboard (or pip install 'lander-lab[tensorboard]')"


class TensorBoardLogger:
    """Call it with trainer events; ``close()`` when training ends. Unknown events are ignored."""

    def __init__(self, log_dir: str | Path, window: int = 100, mix_every: int = 10,
                 hparams: Mapping[str, Any] | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ImportError(f"TensorBoard logging needs the tensorboard package, which is not installed: "
                              f"{INSTALL_HINT}") from exc
        if window < 1 or mix_every < 1:
            raise ValueError(f"window={window} and mix_every={mix_every} must both be at least 1")
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(log_dir=str(self.log_dir), flush_secs=10)
        self.mix_every = mix_every
        self._outcomes: deque[str] = deque(maxlen=window)
        self._behaviors: deque[tuple[str, ...]] = deque(maxlen=window)
        self._seen_outcomes: set[str] = set()
        self._seen_behaviors: set[str] = set()
        self._episodes = 0
        self.hparams = flatten_hparams(hparams) if hparams is not None else None
        self._returns: deque[float] = deque(maxlen=window)
        self._final: dict[str, float] = {}
        self._hparams_written = False
        self._handlers = {
            "EpisodeEnded": self._episode, "UpdateMetrics": self._update, "Evaluated": self._evaluation,
            "HyperparametersChanged": self._hyperparameters, "RunStateChanged": self._state,
            "ClipSaved": self._clip,
        }

    def __call__(self, event: Any) -> None:
        handler = self._handlers.get(type(event).__name__)
        if handler is not None:
            handler(event)

    def close(self) -> None:
        """Write the hparams summary (once) and close the event file."""
        if self.hparams is not None and not self._hparams_written:
            self._write_hparams()
        self.writer.flush()
        self.writer.close()

    def final_metrics(self) -> dict[str, float]:
        """What the HParams tab compares runs by: evaluations, recent training returns, steps."""
        metrics = dict(self._final)
        if self._returns:
            metrics["hparams/mean_return_last_episodes"] = sum(self._returns) / len(self._returns)
        return metrics

    def _write_hparams(self) -> None:
        """Like SummaryWriter.add_hparams, but into this run's own event file rather than a timestamped sub-folder."""
        from torch.utils.tensorboard.summary import hparams

        metrics = self.final_metrics()
        experiment, start, end = hparams(self.hparams, metrics)
        file_writer = self.writer._get_file_writer()
        for summary in (experiment, start, end):
            file_writer.add_summary(summary)
        step = int(metrics.get("hparams/env_steps", 0))
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, step)
        self._hparams_written = True

    # ---- events --------------------------------------------------------------------------------------
    def _episode(self, e: Any) -> None:
        step, w = int(e.env_step), self.writer
        w.add_scalar("episode/raw_return", float(e.raw_return), step)
        w.add_scalar("episode/shaped_return", float(e.shaped_return), step)
        w.add_scalar("episode/length", float(e.length), step)
        w.add_scalar("episode/success", float(bool(e.success)), step)
        self._episodes += 1
        self._returns.append(float(e.raw_return))
        self._final["hparams/env_steps"] = float(step)
        self._final["hparams/episodes"] = float(self._episodes)
        analysis = getattr(e, "analysis", None)
        if analysis is None:
            return
        outcome = str(getattr(analysis.outcome, "value", analysis.outcome))
        behaviors = tuple(str(getattr(b, "value", b)) for b in analysis.behaviors)
        self._outcomes.append(outcome)
        self._behaviors.append(behaviors)
        self._seen_outcomes.add(outcome)
        self._seen_behaviors.update(behaviors)
        if self._episodes % self.mix_every == 0:
            self._write_mix(step)

    def _write_mix(self, step: int) -> None:
        """Share of each outcome and behavior seen so far, over the last window of analyzed episodes."""
        total = len(self._outcomes)
        outcomes = Counter(self._outcomes)
        behaviors = Counter(b for names in self._behaviors for b in names)
        for name in sorted(self._seen_outcomes):
            self.writer.add_scalar(f"outcomes/{name}", outcomes[name] / total, step)
        for name in sorted(self._seen_behaviors):
            self.writer.add_scalar(f"behaviors/{name}", behaviors[name] / total, step)

    def _update(self, e: Any) -> None:
        step = int(e.env_step)
        for name in UPDATE_FIELDS[1:]:
            value = getattr(e, name, None)
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(f"train/{name}", float(value), step)

    def _evaluation(self, e: Any) -> None:
        step, w = int(e.env_step), self.writer
        w.add_scalar("eval/mean_return", float(e.mean_return), step)
        w.add_scalar("eval/std_return", float(e.std_return), step)
        w.add_scalar("eval/success_rate", float(e.success_rate), step)
        best = max(self._final.get("hparams/best_eval_return", -math.inf), float(e.mean_return))
        self._final.update({"hparams/best_eval_return": best, "hparams/last_eval_return": float(e.mean_return),
                            "hparams/last_eval_success_rate": float(e.success_rate),
                            "hparams/env_steps": float(max(step, self._final.get("hparams/env_steps", 0.0)))})
        outcomes = dict(getattr(e, "outcomes", {}) or {})
        total = sum(outcomes.values())
        for name, count in sorted(outcomes.items()):
            w.add_scalar(f"eval/outcomes/{name}", count / total, step)

    def _hyperparameters(self, e: Any) -> None:
        step = int(e.env_step)
        lines = []
        for name, (old, new) in e.changes.items():
            if isinstance(new, (int, float)) and not isinstance(new, bool):
                self.writer.add_scalar(f"hyperparameters/{name}", float(new), step)
            lines.append(f"{name}: {old} -> {new}")
        self.writer.add_text("hyperparameters", f"step {step:,}: " + "; ".join(lines), step)

    def _state(self, e: Any) -> None:
        text = str(e.state) + (f": {e.error}" if getattr(e, "error", None) else "")
        self.writer.add_text("run/state", text, int(e.env_step))
        self.writer.flush()

    def _clip(self, e: Any) -> None:
        """An evaluation clip as a video: the GIF the clip recorder wrote, in the summary add_video makes.

        torch's add_video encodes frames to a GIF through moviepy 1.x (it imports moviepy.editor, gone in
        moviepy 2) and silently writes nothing without it; the clip already is a GIF, so its bytes go into
        the same Summary.Image record, and no extra package is needed.
        """
        from tensorboard.compat.proto.summary_pb2 import Summary

        frames = e.frames
        height, width = int(frames.shape[1]), int(frames.shape[2])
        image = Summary.Image(height=height, width=width, colorspace=3,
                              encoded_image_string=Path(e.path).read_bytes())
        step = int(e.env_step)
        self.writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag="eval/clip", image=image)]), step)
        self.writer.add_text("eval/clip_caption", str(e.caption), step)


def flatten_hparams(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'training': {'actor_lr': 1e-3}} -> {'training.actor_lr': 1e-3}; values the HParams tab cannot show
    (lists, booleans, None) become text."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_hparams(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


def attach_tensorboard(trainer: Any, log_dir: str | Path | None = None) -> TensorBoardLogger:
    """A logger on the trainer's events, into RUN_DIR/tensorboard, with its config as hyperparameters."""
    logger = TensorBoardLogger(log_dir or Path(trainer.run_dir) / "tensorboard", hparams=trainer.config.to_dict())
    trainer.events.subscribe(logger)
    return logger
