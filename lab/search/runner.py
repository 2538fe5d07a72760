"""Run one configuration and boil it down to the numbers a search ranks by.

Sweeps, Optuna trials and the notebook all call ``run_configuration``; it trains
with the ordinary Trainer (so every run folder is a normal run folder) and
listens to its events for evaluations, episode counts and early stops.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.config import Config
from lab.events import EpisodeEnded, Evaluated
from lab.io import read_jsonl
from lab.search.processes import stop_requested

EvaluationHook = Callable[[Evaluated], bool]
"""Called after every evaluation; returning True stops the run early (Optuna pruning)."""


@dataclass
class RunLogs:
    """A run's evaluations, episode returns and first solve (env_step, train_seconds), as a result reports them."""

    evaluations: list[dict[str, float]] = field(default_factory=list)
    episode_returns: list[list[float]] = field(default_factory=list)
    solved: tuple[int, float] | None = None


def read_run_logs(run_dir: str | Path, threshold: float, up_to_step: int | None = None) -> RunLogs:
    """Read a run folder's evaluations.jsonl and episodes.jsonl (up to an env_step when given)."""
    run_dir, logs = Path(run_dir), RunLogs()
    for e in read_jsonl(run_dir / "evaluations.jsonl"):
        if up_to_step is None or e["env_step"] <= up_to_step:
            logs.evaluations.append({"env_step": e["env_step"], "train_seconds": round(e["train_seconds"], 3),
                                     "mean_return": round(e["mean_return"], 3),
                                     "std_return": round(e["std_return"], 3), "success_rate": e["success_rate"]})
            if logs.solved is None and e["mean_return"] >= threshold:
                logs.solved = (e["env_step"], e["train_seconds"])
    logs.episode_returns = [[e["env_step"], round(e["raw_return"], 3)] for e in read_jsonl(run_dir / "episodes.jsonl")
                            if up_to_step is None or e["env_step"] <= up_to_step]
    return logs


def folder_result(status: str, error: str | None, summary: dict[str, Any], run_dir: str | Path,
                  threshold: float) -> dict[str, Any]:
    """A run's result dict read back from its folder's logs (a population member writes no events to us)."""
    return _result(status, error, summary, read_run_logs(run_dir, threshold))


class _Recorder:
    """Collects evaluations and episode returns; stops the trainer at the episode budget or when told."""

    def __init__(self, trainer: Any, episodes: int | None, on_evaluation: EvaluationHook | None) -> None:
        self.trainer = trainer
        self.episode_budget = episodes
        self.on_evaluation = on_evaluation
        self.threshold = trainer.config.env.success_threshold
        self.evaluations: list[dict[str, float]] = []
        self.episode_returns: list[list[float]] = []
        self.solved: tuple[int, float] | None = None
        self.stop_reason: str | None = None
        trainer.events.subscribe(self._evaluated, Evaluated)
        trainer.events.subscribe(self._episode, EpisodeEnded)

    def _evaluated(self, e: Evaluated) -> None:
        if stop_requested() and self.stop_reason is None:
            self._stop("interrupted")
        self.evaluations.append({"env_step": e.env_step, "train_seconds": round(e.train_seconds, 3),
                                 "mean_return": round(e.mean_return, 3), "std_return": round(e.std_return, 3),
                                 "success_rate": e.success_rate})
        if self.solved is None and e.mean_return >= self.threshold:
            self.solved = (e.env_step, e.train_seconds)
        if self.on_evaluation is not None and self.stop_reason is None and self.on_evaluation(e):
            self._stop("pruned")

    def _episode(self, e: EpisodeEnded) -> None:
        if stop_requested() and self.stop_reason is None:  # SIGTERM or Ctrl-C in a search (lab.search.processes)
            self._stop("interrupted")
        self.episode_returns.append([e.env_step, round(e.raw_return, 3)])
        if self.episode_budget is not None and e.episode >= self.episode_budget and self.stop_reason is None:
            self._stop("episodes")

    def restore(self, run_dir: Path, env_step: int) -> None:
        """What the run logged up to the checkpoint it resumes from, so the result covers the whole run."""
        logged = read_run_logs(run_dir, self.threshold, up_to_step=env_step)
        self.evaluations, self.episode_returns, self.solved = logged.evaluations, logged.episode_returns, logged.solved

    def final_evaluation(self) -> None:
        if not self.evaluations or self.evaluations[-1]["env_step"] != self.trainer.env_step:
            self.trainer.evaluate_now()  # publishes Evaluated, which lands in self.evaluations

    def _stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.trainer.stop(wait=False)  # we are on the training thread: only set the flag, never join


def run_configuration(config: Config, run_dir: str | Path, episodes: int | None = None,
                      on_evaluation: EvaluationHook | None = None, resume: str | Path | None = None) -> dict[str, Any]:
    """Train one config into run_dir (from the checkpoint ``resume`` when given) and return its result dict.

    status is ``finished`` (budget reached), ``pruned`` (on_evaluation said stop)
    or ``failed`` (with ``error``). A run interrupted from outside (Ctrl-C) raises
    KeyboardInterrupt instead of returning, so a search never records it as done.
    """
    from lab.train.trainer import Trainer

    run_dir = Path(run_dir)
    trainer, recorder, error = None, None, None
    summary = {"env_step": 0, "episodes": 0, "updates": 0, "train_seconds": 0.0, "steps_per_second": 0.0,
               "state": "failed", "run_dir": str(run_dir)}
    try:
        trainer = Trainer(config, run_dir=run_dir, name=run_dir.name, log_to_disk=True, resume=resume)
        recorder = _Recorder(trainer, episodes, on_evaluation)
        if resume is not None:
            recorder.restore(run_dir, trainer.env_step)
        summary = trainer.fit()
        if recorder.stop_reason == "episodes" and config.run.eval_every:
            recorder.final_evaluation()  # an episode budget ends between evaluations: measure the end too
    except Exception as exc:  # noqa: BLE001 - one bad configuration must not end a whole search
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        summary = trainer.summary() if trainer is not None else summary
    finally:
        if trainer is not None:
            trainer.close()
    stop_reason = recorder.stop_reason if recorder else None
    if error is None and summary["state"] == "stopped" and stop_reason in (None, "interrupted"):
        raise KeyboardInterrupt(f"run {run_dir} was interrupted")
    status = "failed" if error else ("pruned" if stop_reason == "pruned" else "finished")
    return _result(status, error, summary, recorder)


def _result(status: str, error: str | None, summary: dict[str, Any], rec: _Recorder | RunLogs | None
            ) -> dict[str, Any]:
    evals = rec.evaluations if rec else []
    solved = rec.solved if rec else None
    means = [e["mean_return"] for e in evals]
    return {
        "status": status,
        "error": error,
        "solved": solved is not None,
        "time_to_solve_seconds": None if solved is None else round(solved[1], 3),
        "time_to_solve_steps": None if solved is None else solved[0],
        "final_eval_mean": means[-1] if means else None,
        "best_eval_mean": max(means) if means else None,
        "final_success_rate": evals[-1]["success_rate"] if evals else None,
        "env_step": summary["env_step"],
        "episodes": summary["episodes"],
        "updates": summary["updates"],
        "train_seconds": summary["train_seconds"],
        "steps_per_second": summary["steps_per_second"],
        "run_dir": summary["run_dir"],
        "evaluations": evals,
        "episode_returns": rec.episode_returns if rec else [],
    }
