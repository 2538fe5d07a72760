"""The panel's status line: what each agent is doing, in one row a person can scan.

``RunStatus`` follows one agent's events on the training thread and only stores a few
numbers (O(1) per event); ``status_html`` formats the rows on the widgets' thread: env
step, episode, steps/s, ETA, best evaluation and the most common recent outcome.
"""

from __future__ import annotations

import html
import threading
import time
from collections import Counter, deque
from typing import Any

from lab.events import CheckpointSaved, EpisodeEnded, Evaluated, RunStateChanged

STATE_COLORS = {"idle": "#57606a", "running": "#1a7f37", "paused": "#9a6700", "stopped": "#57606a",
                "finished": "#0969da", "failed": "#cf222e"}


class RunStatus:
    """One agent's latest figures, kept up to date by its events; read them from any thread."""

    def __init__(self, outcome_window: int = 50) -> None:
        self._lock = threading.Lock()
        self.outcome_window = outcome_window
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.state = "idle"
            self.error: str | None = None
            self.checkpoint: str | None = None
            self.best_eval: float | None = None
            self.last_eval: Evaluated | None = None
            self._outcomes: deque[str] = deque(maxlen=self.outcome_window)
            self._outcome_counts: Counter[str] = Counter()
            self._rate: tuple[float, int] | None = None
            self.steps_per_second = 0.0

    def __call__(self, event: Any) -> None:
        with self._lock:
            if isinstance(event, EpisodeEnded):
                outcome = getattr(getattr(event.analysis, "outcome", None), "value", None)
                if outcome is not None:
                    if len(self._outcomes) == self._outcomes.maxlen:
                        self._outcome_counts[self._outcomes[0]] -= 1
                    self._outcomes.append(outcome)
                    self._outcome_counts[outcome] += 1
            elif isinstance(event, Evaluated):
                self.last_eval = event
                if self.best_eval is None or event.mean_return > self.best_eval:
                    self.best_eval = event.mean_return
            elif isinstance(event, RunStateChanged):
                self.state = event.state
                if event.state == "failed":
                    self.error = event.error or "training failed"
                elif event.state == "running":
                    self.error = None
                if event.checkpoint:
                    self.checkpoint = event.checkpoint
            elif isinstance(event, CheckpointSaved):
                self.checkpoint = event.path

    @property
    def most_common_outcome(self) -> str | None:
        with self._lock:
            best = max(self._outcome_counts.items(), key=lambda kv: kv[1], default=None)
        return best[0] if best and best[1] > 0 else None

    def sample_rate(self, env_step: int, now: float | None = None) -> float:
        """Steps/s measured on the wall clock between calls, smoothed; 0 while nothing moves."""
        now = time.monotonic() if now is None else now
        if self._rate is None or env_step < self._rate[1]:
            self._rate = (now, env_step)
            return self.steps_per_second
        t0, s0 = self._rate
        if now - t0 >= 1.0:
            rate = (env_step - s0) / (now - t0)
            self.steps_per_second = rate if self.steps_per_second == 0 else 0.5 * self.steps_per_second + 0.5 * rate
            self._rate = (now, env_step)
        return self.steps_per_second

    def text(self, slot: Any, state: str) -> str:
        """The agent's row: step of budget, episodes, speed, ETA, best evaluation, most common outcome."""
        step, total = int(slot.env_step), int(slot.config.run.total_steps)
        rate = self.sample_rate(step) if state == "running" else self.steps_per_second
        eta = _duration((total - step) / rate) if state == "running" and rate > 0 else "—"
        best = "—" if self.best_eval is None else f"{self.best_eval:.1f}"
        parts = [f"step {step:,} / {total:,}", f"episode {int(slot.episodes):,}", f"{rate:.0f} steps/s",
                 f"ETA {eta}", f"best eval {best}", f"most common outcome {self.most_common_outcome or '—'}"]
        if state in ("stopped", "finished", "failed") and self.checkpoint:
            parts.append(f"checkpoint {self.checkpoint}")
        return " · ".join(parts)


def status_html(state: str, rows: list[tuple[str, str]]) -> str:
    """The status line as HTML: the engine's state, then one row per agent (label HTML, text); one agent, one line."""
    color = STATE_COLORS.get(state, "#57606a")
    head = f'<b style="color:{color}">{html.escape(state)}</b>'
    if len(rows) == 1 and not rows[0][0]:
        body = f" · {html.escape(rows[0][1])}"
    else:
        body = "".join(f"<div>{label} · {html.escape(text)}</div>" for label, text in rows)
    return f'<div class="lab-status" style="font-family: monospace; font-size: 13px">{head}{body}</div>'


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
