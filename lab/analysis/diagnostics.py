"""Training diagnostics that cost O(1) per episode: a subscriber for the trainer's events.

``DiagnosticsTracker`` keeps one row of fixed-size numpy columns per episode (about
34 bytes: returns, length, success, outcome code, behavior bitmask, step, time) and
per-window outcome and behavior counts, updated as each episode arrives. It never
keeps an event, trajectory or report, so a million episodes cost tens of megabytes,
not gigabytes. Summaries are computed on demand from the columns.

    tracker = DiagnosticsTracker(window=100)
    trainer.events.subscribe(tracker)
    ...
    tracker.summary(); tracker.behavior_statistics()
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from lab import lander
from lab.lander.behavior import BEHAVIOR_BIT, BEHAVIORS, OUTCOME_CODE, OUTCOMES

UPDATE_FIELDS: tuple[str, ...] = (
    "env_step", "updates", "critic_loss", "actor_loss", "mean_q", "critic_grad_norm", "actor_grad_norm",
    "actor_lr", "critic_lr", "noise_scale", "per_beta", "steps_per_second",
)
"""Columns kept from each UpdateMetrics event (or updates.jsonl row)."""

_EPISODE_COLUMNS: dict[str, Any] = {
    "env_step": np.int64,
    "raw_return": np.float32,
    "shaped_return": np.float32,
    "length": np.int32,
    "success": np.bool_,
    "outcome": np.int8,  # index into OUTCOMES, -1 when the episode was not analyzed
    "behaviors": np.uint32,  # bit i set when BEHAVIORS[i] was seen
    "wall_time": np.float64,
}
BYTES_PER_EPISODE = sum(np.dtype(t).itemsize for t in _EPISODE_COLUMNS.values())
"""Bytes one episode costs in the columns (before growth slack)."""


class _Growable:
    """Preallocated numpy columns that double when full: amortized O(1) appends."""

    def __init__(self, dtypes: Mapping[str, Any], capacity: int = 1024, fill: Mapping[str, Any] | None = None) -> None:
        self._fill = dict(fill or {})
        self.columns = {name: np.full(capacity, self._fill.get(name, 0), dtype=dt) for name, dt in dtypes.items()}
        self.size = 0

    @property
    def capacity(self) -> int:
        return len(next(iter(self.columns.values())))

    def append(self, values: Mapping[str, Any]) -> int:
        capacity = self.capacity
        if self.size == capacity:
            for name, col in self.columns.items():
                grown = np.full(2 * capacity, self._fill.get(name, 0), dtype=col.dtype)
                grown[: self.size] = col
                self.columns[name] = grown
        i = self.size
        for name, value in values.items():
            self.columns[name][i] = value
        self.size += 1
        return i

    def view(self) -> dict[str, np.ndarray]:
        return {name: col[: self.size].copy() for name, col in self.columns.items()}

    @property
    def nbytes(self) -> int:
        return sum(col.nbytes for col in self.columns.values())


class DiagnosticsTracker:
    """Subscribes to trainer events; records episodes, learner metrics, evaluations and changes.

    Call it with any event; unknown event types are ignored. Safe to read from another
    thread (a notebook) while the trainer's thread records.
    """

    def __init__(self, window: int = 100, success_threshold: float = lander.SUCCESS_RETURN) -> None:
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        self.window = window
        self.success_threshold = float(success_threshold)
        self._lock = threading.Lock()
        self._episodes = _Growable(_EPISODE_COLUMNS, fill={"outcome": -1})
        self._updates = _Growable({name: np.float64 for name in UPDATE_FIELDS}, capacity=256)
        self._win_outcomes = np.zeros((16, len(OUTCOMES)), np.int32)
        self._win_behaviors = np.zeros((16, len(BEHAVIORS)), np.int32)
        self._win_analyzed = np.zeros(16, np.int32)
        self._best_return = -math.inf
        self._best_episode = -1
        self._successes = 0
        self.evaluations: list[dict[str, Any]] = []
        self.hyperparameter_changes: list[dict[str, Any]] = []
        self.run_states: list[dict[str, Any]] = []
        self.checkpoints = 0
        self._handlers = {
            "EpisodeEnded": self._on_episode,
            "UpdateMetrics": self._on_update,
            "Evaluated": self._on_evaluation,
            "HyperparametersChanged": self._on_hyperparameters,
            "RunStateChanged": self._on_state,
            "CheckpointSaved": self._on_checkpoint,
        }

    # ---- the subscriber ----------------------------------------------------------------------------
    def __call__(self, event: Any) -> None:
        handler = self._handlers.get(type(event).__name__)
        if handler is not None:
            handler(event)

    def _on_episode(self, e: Any) -> None:
        outcome, behaviors = None, None
        analysis = getattr(e, "analysis", None)
        if analysis is not None:
            if isinstance(analysis, Mapping):
                outcome, behaviors = analysis.get("outcome"), analysis.get("behaviors")
            else:
                outcome, behaviors = getattr(analysis, "outcome", None), getattr(analysis, "behaviors", None)
        self.record_episode(e.env_step, e.raw_return, e.shaped_return, e.length, e.success, outcome, behaviors)

    def _on_update(self, e: Any) -> None:
        self.record_update({name: getattr(e, name, math.nan) for name in UPDATE_FIELDS})

    def _on_evaluation(self, e: Any) -> None:
        self.record_evaluation({
            "env_step": e.env_step, "mean_return": e.mean_return, "std_return": e.std_return,
            "success_rate": e.success_rate, "returns": list(e.returns), "lengths": list(e.lengths),
            "outcomes": dict(getattr(e, "outcomes", {}) or {}), "seconds": getattr(e, "seconds", 0.0),
        })

    def _on_hyperparameters(self, e: Any) -> None:
        self.record_hyperparameters(e.env_step, e.changes)

    def _on_state(self, e: Any) -> None:
        with self._lock:
            self.run_states.append({"env_step": e.env_step, "state": e.state, "error": getattr(e, "error", None)})

    def _on_checkpoint(self, e: Any) -> None:
        self.checkpoints += 1

    # ---- recording (also used to rebuild a tracker from a run folder) --------------------------------
    def record_episode(self, env_step: int, raw_return: float, shaped_return: float | None = None, length: int = 0,
                       success: bool | None = None, outcome: Any = None, behaviors: Iterable[Any] | None = None,
                       wall_time: float | None = None) -> None:
        """Append one episode: O(1), no Python object kept."""
        raw = float(raw_return)
        code = OUTCOME_CODE.get(getattr(outcome, "value", outcome), -1) if outcome is not None else -1
        bits = sorted({BEHAVIOR_BIT[n] for n in map(_name, behaviors or ()) if n in BEHAVIOR_BIT})
        succeeded = bool(success) if success is not None else raw >= self.success_threshold
        with self._lock:
            i = self._episodes.append({
                "env_step": int(env_step), "raw_return": raw,
                "shaped_return": raw if shaped_return is None else float(shaped_return),
                "length": int(length), "success": succeeded, "outcome": code,
                "behaviors": sum(1 << bit for bit in bits),
                "wall_time": time.time() if wall_time is None else float(wall_time),
            })
            if raw > self._best_return:
                self._best_return, self._best_episode = raw, i
            self._successes += succeeded
            w = i // self.window
            if w >= len(self._win_analyzed):
                self._grow_windows()
            if code >= 0:
                self._win_analyzed[w] += 1
                self._win_outcomes[w, code] += 1
                if bits:
                    self._win_behaviors[w, bits] += 1

    def _grow_windows(self) -> None:
        grow = len(self._win_analyzed)
        self._win_outcomes = np.concatenate([self._win_outcomes, np.zeros_like(self._win_outcomes[:grow])])
        self._win_behaviors = np.concatenate([self._win_behaviors, np.zeros_like(self._win_behaviors[:grow])])
        self._win_analyzed = np.concatenate([self._win_analyzed, np.zeros_like(self._win_analyzed[:grow])])

    def record_update(self, metrics: Mapping[str, Any]) -> None:
        row = {}
        for name in UPDATE_FIELDS:
            value = metrics.get(name)
            row[name] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
        with self._lock:
            self._updates.append(row)

    def record_evaluation(self, evaluation: Mapping[str, Any]) -> None:
        with self._lock:
            self.evaluations.append(dict(evaluation))

    def record_hyperparameters(self, env_step: int, changes: Mapping[str, Any]) -> None:
        with self._lock:
            self.hyperparameter_changes.append(
                {"env_step": int(env_step), "changes": {k: list(v) for k, v in dict(changes).items()}})

    # ---- reading -----------------------------------------------------------------------------------
    @property
    def episodes(self) -> int:
        return self._episodes.size

    @property
    def nbytes(self) -> int:
        """Memory held for episodes and windows, growth slack included."""
        return (self._episodes.nbytes + self._win_outcomes.nbytes + self._win_behaviors.nbytes
                + self._win_analyzed.nbytes)

    def episode_columns(self) -> dict[str, np.ndarray]:
        """Copies of the per-episode columns (outcome as codes into OUTCOMES, behaviors as bitmasks)."""
        with self._lock:
            return self._episodes.view()

    def update_columns(self) -> dict[str, np.ndarray]:
        with self._lock:
            return self._updates.view()

    def window_counts(self) -> dict[str, np.ndarray]:
        """Per window of episodes: first/last episode, env step at its end, analyzed count, outcome and
        behavior counts (columns in OUTCOMES and BEHAVIORS order)."""
        with self._lock:
            n = self._episodes.size
            count = -(-n // self.window)
            first = np.arange(count) * self.window
            last = np.minimum(first + self.window, n) - 1
            return {
                "first_episode": first, "last_episode": last,
                "env_step": self._episodes.columns["env_step"][last].copy(),
                "analyzed": self._win_analyzed[:count].copy(),
                "outcomes": self._win_outcomes[:count].copy(),
                "behaviors": self._win_behaviors[:count].copy(),
            }

    def most_common_outcome(self, last: int | None = None) -> str | None:
        """The most frequent outcome over the last ``last`` episodes (default: one window); None if none."""
        last = self.window if last is None else last
        with self._lock:
            n = self._episodes.size
            codes = self._episodes.columns["outcome"][max(0, n - last):n]
            codes = codes[codes >= 0]
            if codes.size == 0:
                return None
            return OUTCOMES[int(np.bincount(codes, minlength=len(OUTCOMES)).argmax())].value

    def summary(self) -> dict[str, Any]:
        """Totals, best and last-window figures, the trend, and the latest learner and evaluation state."""
        cols = self.episode_columns()
        updates = self.update_columns()
        n, w = len(cols["raw_return"]), self.window
        raw = cols["raw_return"].astype(np.float64)
        out: dict[str, Any] = {"episodes": n, "window": w,
                               "env_step": int(cols["env_step"][-1]) if n else 0}
        if n:
            tail = slice(max(0, n - w), n)
            moving = moving_average(raw, w)
            best_window = int(moving.argmax())
            out["returns"] = {
                "mean_all": float(raw.mean()),
                "last_window_mean": float(raw[tail].mean()), "last_window_std": float(raw[tail].std()),
                "best_episode": float(self._best_return), "best_episode_index": self._best_episode,
                "best_window_mean": float(moving[best_window]), "best_window_end_episode": best_window,
            }
            out["shaped_returns"] = {"last_window_mean": float(cols["shaped_return"][tail].mean())}
            out["lengths"] = {"last_window_mean": float(cols["length"][tail].mean())}
            success_moving = moving_average(cols["success"].astype(np.float64), w)
            out["success"] = {"total": int(self._successes), "rate_all": self._successes / n,
                              "rate_last_window": float(cols["success"][tail].mean()),
                              "best_window_rate": float(success_moving.max())}
            out["outcomes"] = _outcome_summary(cols["outcome"], tail)
            out["trend"] = _trend(raw, w)
        out["training"] = {"updates_logged": len(updates["env_step"])}
        if len(updates["env_step"]):
            out["training"]["last"] = {k: _finite(v[-1]) for k, v in updates.items()}
        with self._lock:
            evaluations = list(self.evaluations)
            out["hyperparameter_changes"] = len(self.hyperparameter_changes)
            out["state"] = self.run_states[-1]["state"] if self.run_states else None
        if evaluations:
            best = max(evaluations, key=lambda r: r.get("mean_return", -math.inf))
            solved = next((r for r in evaluations if r.get("mean_return", -math.inf) >= self.success_threshold), None)
            out["evaluations"] = {
                "count": len(evaluations), "last": _eval_brief(evaluations[-1]), "best": _eval_brief(best),
                "solved_at_step": solved["env_step"] if solved else None,
            }
        return out

    def behavior_statistics(self) -> dict[str, Any]:
        """Outcome and behavior frequencies per window of episodes, and in total."""
        counts = self.window_counts()
        windows = []
        for i in range(len(counts["analyzed"])):
            analyzed = int(counts["analyzed"][i])
            denominator = max(analyzed, 1)
            windows.append({
                "index": i, "first_episode": int(counts["first_episode"][i]),
                "last_episode": int(counts["last_episode"][i]), "env_step": int(counts["env_step"][i]),
                "analyzed": analyzed,
                "outcomes": {o.value: int(c) / denominator for o, c in zip(OUTCOMES, counts["outcomes"][i]) if c},
                "behaviors": {b.value: int(c) / denominator for b, c in zip(BEHAVIORS, counts["behaviors"][i]) if c},
            })
        outcome_totals = counts["outcomes"].sum(axis=0)
        behavior_totals = counts["behaviors"].sum(axis=0)
        analyzed = int(counts["analyzed"].sum())
        return {
            "window": self.window,
            "analyzed_episodes": analyzed,
            "outcome_totals": {o.value: int(c) for o, c in zip(OUTCOMES, outcome_totals) if c},
            "behavior_totals": {b.value: int(c) for b, c in zip(BEHAVIORS, behavior_totals) if c},
            "windows": windows,
        }


# ---- helpers --------------------------------------------------------------------------------------------
def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` values (shorter at the start), same length as values."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    csum = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, values.size + 1)
    lo = np.maximum(idx - window, 0)
    return (csum[idx] - csum[lo]) / (idx - lo)


def _name(label: Any) -> str:
    return str(getattr(label, "value", label))


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _outcome_summary(codes: np.ndarray, tail: slice) -> dict[str, Any]:
    """Outcome mix of the last window, its most common outcome, and the most common failure overall."""
    recent = codes[tail]
    recent = recent[recent >= 0]
    known = codes[codes >= 0]
    result: dict[str, Any] = {"analyzed": int(known.size)}
    if recent.size:
        counts = np.bincount(recent, minlength=len(OUTCOMES))
        result["last_window"] = {o.value: int(c) / recent.size for o, c in zip(OUTCOMES, counts) if c}
        result["most_common_last_window"] = OUTCOMES[int(counts.argmax())].value
    if known.size:
        totals = np.bincount(known, minlength=len(OUTCOMES))
        failures = np.array([0 if o.landed else int(c) for o, c in zip(OUTCOMES, totals)])
        if failures.any():
            result["most_common_failure"] = OUTCOMES[int(failures.argmax())].value
    return result


def _trend(raw: np.ndarray, window: int) -> dict[str, Any]:
    """Compare the last window of returns with the one before it, in standard errors."""
    n = raw.size
    size = window if n >= 2 * window else n // 2
    if size < 5:
        return {"direction": "too few episodes"}
    last, previous = raw[n - size:], raw[n - 2 * size:n - size]
    delta = float(last.mean() - previous.mean())
    error = math.sqrt(last.var() / size + previous.var() / size) or 1e-9
    direction = "improving" if delta > 2 * error else "declining" if delta < -2 * error else "flat"
    return {"direction": direction, "change": delta, "standard_error": error, "compared_episodes": size,
            "previous_mean": float(previous.mean()), "last_mean": float(last.mean())}


def _eval_brief(row: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("env_step", "mean_return", "std_return", "success_rate", "outcomes", "train_seconds")
    return {k: row[k] for k in keys if k in row}
