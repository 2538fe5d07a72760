"""One agent slot of the engine: its config, counters, state, run folder writer and events.

A single run is one slot; a population is K. The slot keeps what is the agent's own
bookkeeping; its weights live in the batched learner's stacks, its experience in the
replay buffer's ring and its exploration in the collector's explorer, each at index k.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.config import Config
from lab.evaluation import EvaluationResult
from lab.events import EventBus
from lab.train.run_folder import RunLogger

TRAINING, STOPPED, SOLVED, FAILED = "training", "stopped", "solved", "failed"
"""An agent's own states: still training (until its step budget); stopped on request; stopped at an evaluation
that solved the task (run.stop_when_solved); failed (it diverged: nothing non-finite of it is saved)."""


class AgentSlot:
    """Agent k's config, counters and state, its event bus and (when logging to disk) its run folder."""

    def __init__(self, index: int, config: Config, run_dir: Path, log_to_disk: bool,
                 resume_step: int | None = None) -> None:
        self.index, self.config, self.run_dir = index, config, run_dir
        self.seed = config.run.seed
        self.events = EventBus()
        self.logger = RunLogger(run_dir, resume_step=resume_step) if log_to_disk else None
        if self.logger:
            self.events.subscribe(self.logger)
            config.save(run_dir / "config.yaml")
        self.env_step = 0
        self.episodes = 0
        self.updates = 0
        self.update_debt = 0.0
        self.best_eval: float | None = None
        self.solved_at: tuple[int, float] | None = None
        self.last_evaluation: EvaluationResult | None = None
        self.last_eval_step = -1
        self.saved_step: int | None = None
        """The env step of the last checkpoint written with this agent, or None."""
        self.state = TRAINING
        self.error: str | None = None
        self.warnings: list[str] = []
        self.resumed_from: str | None = None
        """The checkpoint this agent's run was resumed from, when it went on in a folder of its own."""
        self.pause_at: int | None = None
        """Stop acting at this env_step for now (the end of a fit(until_step=...)); None: the budget rules."""

    @property
    def active(self) -> bool:
        """Still acting and learning: training, not paused, not at its step budget."""
        limit = self.config.run.total_steps if self.pause_at is None else min(self.pause_at,
                                                                               self.config.run.total_steps)
        return self.state == TRAINING and self.env_step < limit

    def counters(self) -> dict[str, Any]:
        """What a checkpoint keeps of the slot."""
        return {"env_step": self.env_step, "episodes": self.episodes, "updates": self.updates,
                "update_debt": self.update_debt, "best_eval": self.best_eval,
                "solved_at": list(self.solved_at or []), "last_eval_step": self.last_eval_step,
                "state": self.state, "error": self.error, "warnings": list(self.warnings)}

    def restore(self, counters: dict[str, Any]) -> None:
        self.env_step, self.episodes = int(counters["env_step"]), int(counters["episodes"])
        self.updates, self.update_debt = int(counters["updates"]), float(counters["update_debt"])
        self.best_eval = counters["best_eval"]
        self.solved_at = (int(counters["solved_at"][0]), float(counters["solved_at"][1])) \
            if counters["solved_at"] else None
        self.last_eval_step = int(counters["last_eval_step"])
        state = counters["state"]
        self.state = state if state in (STOPPED, SOLVED, FAILED) else TRAINING  # a budget raised on resume goes on
        self.error, self.warnings = counters["error"], list(counters["warnings"])
        self.saved_step = self.env_step

    def public_state(self, run_state: str) -> str:
        """The state its summary.json and events say, in a run's words (running, paused, stopped, finished,
        failed): its own where it has ended, else the run's."""
        if self.state == FAILED or run_state == "failed":
            return "failed"
        if self.state == STOPPED:
            return "stopped"
        if self.state == SOLVED or self.env_step >= self.config.run.total_steps:
            return "finished"
        return run_state

    def summary(self, train_seconds: float, run_state: str) -> dict[str, Any]:
        """The agent's summary.json: how far it came, how it did, and its state."""
        return {
            "agent": self.index, "seed": self.seed, "env_step": self.env_step, "episodes": self.episodes,
            "updates": self.updates, "train_seconds": round(train_seconds, 3),
            "steps_per_second": round(self.env_step / train_seconds, 2) if train_seconds else 0.0,
            "best_eval": self.best_eval,
            "last_eval": None if self.last_evaluation is None else self.last_evaluation.mean_return,
            "solved_at_step": None if self.solved_at is None else self.solved_at[0],
            "solved_at_seconds": None if self.solved_at is None else round(self.solved_at[1], 3),
            "state": self.public_state(run_state), "error": self.error, "warnings": list(self.warnings),
            "checkpoint_step": self.saved_step, "run_dir": str(self.run_dir), "resumed_from": self.resumed_from,
        }

    def close(self) -> None:
        if self.logger:
            self.logger.close()
