"""Read a run folder back into a ``DiagnosticsTracker``, tolerating what a crash leaves behind.

A run folder holds config.yaml, episodes.jsonl, updates.jsonl, evaluations.jsonl,
hyperparameters.jsonl, states.jsonl and summary.json. Any of them may be missing
(the run was stopped early, evaluation was off) and the last line of a JSONL file may
be torn; the loader keeps what it can and lists what it could not read in
``RunData.problems``, so reports say so instead of failing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from lab.analysis.diagnostics import DiagnosticsTracker
from lab.io import AliasError, quoted, read_jsonl, shown, strict_yaml
from lab.lander import SUCCESS_RETURN

RUN_FILES = ("episodes.jsonl", "updates.jsonl", "evaluations.jsonl")
"""At least one of these makes a folder a run folder."""


class RunFolderError(ValueError):
    """The folder is missing, unreadable, or not a Lander Lab run folder."""


@dataclass
class RunData:
    """One run folder, loaded."""

    path: Path
    tracker: DiagnosticsTracker
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    states: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The folder's name as printable text (a byte that is not UTF-8 shows as \\xff)."""
        return shown(self.path.name or self.path)

    @property
    def where(self) -> str:
        """The folder's path as printable text."""
        return shown(self.path)

    @property
    def success_threshold(self) -> float:
        return self.tracker.success_threshold

    @property
    def evaluations(self) -> list[dict[str, Any]]:
        return self.tracker.evaluations

    @property
    def final_state(self) -> str | None:
        if self.summary.get("state"):
            return str(self.summary["state"])
        states = [s for s in self.states if s.get("state")]
        return str(states[-1]["state"]) if states else None

    def solved(self) -> tuple[int | None, float | None]:
        """Env step and training seconds of the first evaluation at or above the success threshold."""
        if self.summary.get("solved_at_step") is not None:
            return int(self.summary["solved_at_step"]), _number(self.summary.get("solved_at_seconds"))
        for row in self.evaluations:
            if _number(row.get("mean_return"), -math.inf) >= self.success_threshold:
                return int(row["env_step"]), _number(row.get("train_seconds"))
        return None, None

    def env_steps(self) -> int:
        """The furthest env step any file reached (episodes end before the run's last step)."""
        steps = [self.summary.get("env_step"), *(r.get("env_step") for r in self.evaluations[-1:])]
        columns = self.tracker.episode_columns()["env_step"], self.tracker.update_columns()["env_step"]
        steps += [float(c[-1]) for c in columns if len(c)]
        return int(max((s for s in (_number(v) for v in steps) if s is not None), default=0))

    def train_seconds(self) -> float | None:
        if self.summary.get("train_seconds") is not None:
            return _number(self.summary["train_seconds"])
        seconds = [s for s in (_number(r.get("train_seconds")) for r in self.evaluations) if s is not None]
        return max(seconds) if seconds else None


def load_run(path: str | Path, window: int = 100) -> RunData:
    """Load a run folder; raise RunFolderError when there is nothing to load."""
    path = Path(path)
    if not path.exists():
        raise RunFolderError(f"run folder {quoted(path)} does not exist")
    if not path.is_dir():
        raise RunFolderError(f"run folder {quoted(path)} is not a folder")
    if not any((path / name).is_file() for name in RUN_FILES):
        raise RunFolderError(f"{quoted(path)} is not a run folder: it has none of {', '.join(RUN_FILES)}")
    problems: list[str] = []
    config = _read_config(path / "config.yaml", problems)
    env = config.get("env")
    threshold = _number(env.get("success_threshold"), SUCCESS_RETURN) if isinstance(env, dict) else SUCCESS_RETURN
    tracker = DiagnosticsTracker(window=window, success_threshold=threshold)

    skipped = 0
    for row in _rows(path / "episodes.jsonl", problems):
        raw = _number(row.get("raw_return"))
        step = _number(row.get("env_step"))
        if raw is None or step is None:
            skipped += 1
            continue
        behaviors = row.get("behaviors")
        tracker.record_episode(
            int(step), raw, _number(row.get("shaped_return"), raw), int(_number(row.get("length"), 0)),
            row.get("success") if isinstance(row.get("success"), bool) else None, row.get("outcome"),
            behaviors if isinstance(behaviors, list) else None, _number(row.get("wall_time"), math.nan))
    if skipped:
        problems.append(f"episodes.jsonl: skipped {skipped} row(s) without a numeric env_step and raw_return")

    for row in _rows(path / "updates.jsonl", problems):
        if _number(row.get("env_step")) is not None:
            tracker.record_update(row)
    for row in _rows(path / "evaluations.jsonl", problems):
        evaluation = _evaluation(row)
        if evaluation is not None:
            tracker.record_evaluation(evaluation)
    for row in _rows(path / "hyperparameters.jsonl", problems):
        changes = row.get("changes")
        if _number(row.get("env_step")) is not None and isinstance(changes, dict):
            pairs = {str(k): v for k, v in changes.items() if isinstance(v, (list, tuple)) and len(v) == 2}
            if pairs:
                tracker.record_hyperparameters(int(row["env_step"]), pairs)
    states = _rows(path / "states.jsonl", problems)
    summary = _read_json(path / "summary.json", problems)
    return RunData(path=path, tracker=tracker, config=config, summary=summary, states=states, problems=problems)


def _evaluation(row: dict[str, Any]) -> dict[str, Any] | None:
    """An evaluations.jsonl row with its numbers checked; None when it lacks a step or a mean."""
    step, mean = _number(row.get("env_step")), _number(row.get("mean_return"))
    if step is None or mean is None:
        return None
    outcomes = row.get("outcomes")
    clean = {
        "env_step": int(step), "mean_return": mean, "std_return": _number(row.get("std_return"), 0.0),
        "success_rate": _number(row.get("success_rate"), 0.0),
        "returns": [float(r) for r in row.get("returns") or [] if _number(r) is not None],
        "lengths": [int(n) for n in row.get("lengths") or [] if _number(n) is not None],
        "outcomes": {str(k): int(v) for k, v in outcomes.items() if _number(v) is not None}
        if isinstance(outcomes, dict) else {},
    }
    for key in ("seconds", "train_seconds"):
        if _number(row.get(key)) is not None:
            clean[key] = float(row[key])
    return clean


def _rows(path: Path, problems: list[str]) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    skipped: list[str] = []
    try:
        rows = read_jsonl(path, on_skip=lambda number, reason: skipped.append(f"line {number}: {reason}"))
    except OSError as exc:
        problems.append(f"{path.name}: unreadable ({exc.strerror or exc})")
        return []
    if skipped:
        listed = "; ".join(skipped[:3]) + ("; ..." if len(skipped) > 3 else "")
        problems.append(f"{path.name}: skipped {len(skipped)} unreadable line(s) ({listed})")
    return rows


def _read_config(path: Path, problems: list[str]) -> dict[str, Any]:
    if not path.exists():
        problems.append("config.yaml is missing; assuming a success threshold of 200")
        return {}
    import yaml

    try:
        data = strict_yaml(path.read_text(encoding="utf-8"))
    except AliasError as exc:  # a hostile folder: refused before it expands
        problems.append(f"config.yaml could not be read: it {exc}")
        return {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        problems.append(f"config.yaml could not be read ({type(exc).__name__})")
        return {}
    if not isinstance(data, dict):
        problems.append("config.yaml is not a mapping of sections")
        return {}
    return data


def _read_json(path: Path, problems: list[str]) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{path.name} could not be read ({type(exc).__name__})")
        return {}
    return data if isinstance(data, dict) else {}


@overload
def _number(value: Any) -> float | None: ...


@overload
def _number(value: Any, default: float) -> float: ...


@overload
def _number(value: Any, default: float | None) -> float | None: ...


def _number(value: Any, default: float | None = None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return default
    return float(value)
