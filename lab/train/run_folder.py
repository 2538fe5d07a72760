"""Writes a run's events to its folder as they happen, so a crash loses nothing already seen.

episodes.jsonl, updates.jsonl, evaluations.jsonl and hyperparameters.jsonl are
appended line by line; the last evaluation's episodes go to eval_episodes.npz for
the episode viewer.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from lab.events import (
    CheckpointSaved,
    EpisodeEnded,
    Evaluated,
    HyperparametersChanged,
    RunStateChanged,
    UpdateMetrics,
    json_safe,
)
from lab.io import JsonlWriter, atomic_write_bytes

RUN_MARKERS = ("checkpoint.pt", "population.pt", "summary.json", "states.jsonl", "episodes.jsonl", "updates.jsonl",
               "evaluations.jsonl")
"""Any of these in a folder means a run already lives there."""


class RunFolderInUse(FileExistsError):
    """A new run was pointed at a folder that already holds one; its logs would be mixed."""


class RunLogger:
    """An event subscriber that appends one JSON line per event to the run folder.

    A folder holds one run: a new run refuses a folder that already has one. Resuming
    (``resume_step`` = the checkpoint's env_step) keeps the folder and first drops the log
    lines written after that checkpoint, since training repeats those steps.
    """

    def __init__(self, run_dir: str | Path, resume_step: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, JsonlWriter] = {}
        elapsed = 0.0 if resume_step is None else truncate_logs(self.run_dir, resume_step)
        self._started = time.time() - elapsed

    def _write(self, name: str, record: dict[str, Any]) -> None:
        if name not in self._writers:
            self._writers[name] = JsonlWriter(self.run_dir / f"{name}.jsonl")
        record["wall_time"] = round(time.time() - self._started, 3)
        self._writers[name].write(record)

    def __call__(self, event: Any) -> None:
        if isinstance(event, EpisodeEnded):
            row = {k: getattr(event, k) for k in ("env_step", "episode", "raw_return", "shaped_return", "length",
                                                   "success", "env_index")}
            if event.analysis is not None:
                row["outcome"] = str(event.analysis.outcome.value)
                row["behaviors"] = [str(b.value) for b in event.analysis.behaviors]
            self._write("episodes", row)
        elif isinstance(event, UpdateMetrics):
            self._write("updates", json_safe(dataclasses.asdict(event)))
        elif isinstance(event, Evaluated):
            self._write("evaluations", dataclasses.asdict(event))
        elif isinstance(event, HyperparametersChanged):
            self._write("hyperparameters", {"env_step": event.env_step,
                                            "changes": {k: list(v) for k, v in event.changes.items()}})
        elif isinstance(event, (RunStateChanged, CheckpointSaved)):
            self._write("states", dataclasses.asdict(event))

    def save_episodes(self, result: Any) -> None:
        """Keep the last evaluation's trajectories, concatenated with offsets, for replay in the viewer."""
        if not result.trajectories:
            return
        save_trajectories(self.run_dir / "eval_episodes.npz", result.trajectories, result.seeds, result.returns)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()


def claim_run_folder(run_dir: str | Path, resume_from: str | Path | None = None) -> None:
    """Refuse a file where the run folder should be, and a folder holding another run.

    One run per folder, resumes included: a resumed run continues in its checkpoint's own folder, or in a
    new, empty one (which then records where it came from).
    """
    run_dir = Path(run_dir)
    for folder in (run_dir, *run_dir.parents):
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f"run folder {str(run_dir)!r} cannot be made: {str(folder)!r} is a file "
                                     "(choose another --out)")
    if not run_dir.is_dir():
        return
    found = [name for name in RUN_MARKERS if (run_dir / name).exists()]
    if not found:
        return
    if resume_from is not None:
        own = Path(resume_from).resolve().parent
        if run_dir.resolve() == own or own in run_dir.resolve().parents:  # the run itself, or one of its agents
            return
        raise RunFolderInUse(f"run folder {str(run_dir)!r} holds another run ({found[0]}): a resumed run continues "
                             f"in its checkpoint's own folder ({str(own)!r}) or in a new, empty one")
    if (run_dir / "population.pt").exists():
        how = f"--resume {run_dir / 'population.pt'} --seeds ... --out {run_dir}"
    else:
        how = f"--resume {run_dir / 'checkpoint.pt'} --out {run_dir}"
    raise RunFolderInUse(f"run folder {str(run_dir)!r} already holds a run ({found[0]}); continue it with {how}, "
                         "or choose a new --out folder")


class RunFolderLock:
    """An OS lock on a run folder for as long as a process trains in it (a killed process releases it).

    Two processes training in one folder would interleave their log lines; the second is refused
    with the holder's PID. The lock file, ``.lock``, stays in the folder and holds the last PID.
    """

    NAME = ".lock"

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / self.NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: Any = open(self.path, "a+")  # noqa: SIM115 - held open for as long as the lock is
        try:
            import fcntl
        except ImportError:  # not on a POSIX system: no lock, as before
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.seek(0)
            holder = self._file.read().strip() or "another process"
            self._file.close()
            raise RunFolderInUse(f"run folder {str(self.path.parent)!r} is in use: process {holder} is training in "
                                 "it; wait for it to end or stop it (two runs in one folder would mix their logs)"
                                 ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(str(os.getpid()))
        self._file.flush()

    def release(self) -> None:
        if not self._file.closed:
            self._file.close()  # closing the descriptor releases the lock


def truncate_logs(run_dir: str | Path, resume_step: int) -> float:
    """Drop JSONL rows past ``resume_step`` (and a torn last line), each file rewritten atomically.

    Returns the latest wall_time kept, so the resumed run's clock continues from it.
    """
    latest = 0.0
    for path in sorted(Path(run_dir).glob("*.jsonl")):
        raw = path.read_bytes()
        lines = raw.splitlines(keepends=True)
        kept = [line for k, line in enumerate(lines) if _keep(line, resume_step, last=k == len(lines) - 1)]
        for line in kept:
            wall = _field(line, "wall_time")
            if isinstance(wall, (int, float)) and not isinstance(wall, bool):
                latest = max(latest, float(wall))
        if len(kept) != len(lines):
            atomic_write_bytes(path, b"".join(kept))
    return latest


def _keep(line: bytes, resume_step: int, last: bool) -> bool:
    """A row at or before the checkpoint stays; so does an unreadable middle line (it is evidence)."""
    record = _record(line)
    if record is None:
        return not (last and not line.endswith(b"\n"))  # a torn tail would glue onto the next row
    step = record.get("env_step")
    return not (isinstance(step, (int, float)) and not isinstance(step, bool) and step > resume_step)


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def _field(line: bytes, name: str) -> Any:
    record = _record(line)
    return None if record is None else record.get(name)


def save_trajectories(path: Path, trajectories: list[Any], seeds: list[int], returns: list[float]) -> None:
    arrays: dict[str, Any] = {
        "observations": np.concatenate([t.observations for t in trajectories]),
        "actions": np.concatenate([t.actions for t in trajectories]),
        "rewards": np.concatenate([t.rewards for t in trajectories]),
        "lengths": np.array([len(t.actions) for t in trajectories]),
        "terminated": np.array([t.terminated for t in trajectories]),
        "truncated": np.array([t.truncated for t in trajectories]),
        "seeds": np.array(seeds), "returns": np.array(returns),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_trajectories(path: str | Path) -> list[dict[str, Any]]:
    """Episodes saved by save_trajectories, as dicts with observations, actions, rewards, seed, return."""
    from lab.events import Trajectory

    with np.load(path) as data:
        out = []
        obs_at = act_at = 0
        for k, n in enumerate(data["lengths"]):
            n = int(n)
            traj = Trajectory(data["observations"][obs_at:obs_at + n + 1], data["actions"][act_at:act_at + n],
                              data["rewards"][act_at:act_at + n], bool(data["terminated"][k]),
                              bool(data["truncated"][k]))
            out.append({"trajectory": traj, "seed": int(data["seeds"][k]), "return": float(data["returns"][k])})
            obs_at += n + 1
            act_at += n
    return out


def new_run_dir(out_dir: str | Path, name: str) -> Path:
    """A fresh folder name under out_dir: <timestamp>_<name>, with -2, -3, ... if taken."""
    from datetime import datetime

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(out_dir) / f"{stamp}_{name}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path
