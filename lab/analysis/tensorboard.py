"""``train --tensorboard``: an event subscriber that writes the run's metrics for TensorBoard.

It writes what the run folder holds: per-episode returns, length and success; the
share of each outcome and behavior over the last ``window`` episodes; learner
metrics; evaluations; hyperparameter changes and run states. TensorBoard is
imported only when a logger is made, with a clear message if it is missing.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from pathlib import Path
from typing import Any

from lab.analysis.diagnostics import UPDATE_FIELDS

INSTALL_HINT = "pip install tensorboard (or pip install 'lander-lab[tensorboard]')"


class TensorBoardLogger:
    """Call it with trainer events; ``close()`` when training ends. Unknown events are ignored."""

    def __init__(self, log_dir: str | Path, window: int = 100, mix_every: int = 10) -> None:
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
        self._handlers = {
            "EpisodeEnded": self._episode, "UpdateMetrics": self._update, "Evaluated": self._evaluation,
            "HyperparametersChanged": self._hyperparameters, "RunStateChanged": self._state,
        }

    def __call__(self, event: Any) -> None:
        handler = self._handlers.get(type(event).__name__)
        if handler is not None:
            handler(event)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()

    # ---- events --------------------------------------------------------------------------------------
    def _episode(self, e: Any) -> None:
        step, w = int(e.env_step), self.writer
        w.add_scalar("episode/raw_return", float(e.raw_return), step)
        w.add_scalar("episode/shaped_return", float(e.shaped_return), step)
        w.add_scalar("episode/length", float(e.length), step)
        w.add_scalar("episode/success", float(bool(e.success)), step)
        self._episodes += 1
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
