"""Writes a run's events to its folder as they happen, so a crash loses nothing already seen.

episodes.jsonl, updates.jsonl, evaluations.jsonl and hyperparameters.jsonl are
appended line by line; the last evaluation's episodes go to eval_episodes.npz for
the episode viewer.
"""

from __future__ import annotations

import dataclasses
import io
import time
from pathlib import Path
from typing import Any

import numpy as np

from lab.events import CheckpointSaved, EpisodeEnded, Evaluated, HyperparametersChanged, RunStateChanged, UpdateMetrics
from lab.io import JsonlWriter, atomic_write


class RunLogger:
    """An event subscriber that appends one JSON line per event to the run folder."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, JsonlWriter] = {}
        self._started = time.time()

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
            self._write("updates", dataclasses.asdict(event))
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
    atomic_write(path, lambda fh: fh.write(buffer.getvalue()))


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
