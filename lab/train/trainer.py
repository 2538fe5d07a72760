"""``lab.Trainer``: one TD3 run, the engine with a single agent slot, writing one run folder.

    >>> trainer = Trainer("fast")            # a preset name, a Config, or a config file path
    >>> trainer.events.subscribe(print)      # any callable; see lab.events
    >>> trainer.fit()                        # or start() / pause() / resume() / stop()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.checkpoint import save_policy
from lab.config import Config
from lab.evaluation import EvaluationResult
from lab.events import EventBus
from lab.policy import Policy
from lab.presets import as_config
from lab.train.engine import Engine, Layout
from lab.train.run_folder import new_run_dir


class Trainer(Engine):
    """Train TD3 on LunarLanderContinuous under a frozen Config."""

    def __init__(self, config: Config | str | Path = "fast", run_dir: str | Path | None = None,
                 name: str | None = None, resume: str | Path | None = None, log_to_disk: bool = True) -> None:
        """run_dir: the run's folder (default: run.out_dir/<timestamp>_<name>; with resume, the checkpoint's own)."""
        cfg = as_config(config)
        label = name or (config if isinstance(config, str) and "/" not in config and "." not in config else "run")
        if run_dir is not None:
            folder = Path(run_dir)
        elif resume is not None:
            folder = Path(resume).parent
        else:
            folder = new_run_dir(cfg.run.out_dir, label)
        super().__init__([cfg], Layout(folder, (folder,), folder / "checkpoint.pt", population=False), resume,
                         log_to_disk)
        self.name = label
        self.run_dir = folder

    # ---- the one agent's view ------------------------------------------------------------------
    config = property(lambda self: self.slots[0].config, doc="The run's config (with every live change so far).")
    events: EventBus = property(lambda self: self.slots[0].events,  # type: ignore[assignment]
                                doc="The run's events (lab.events), for any subscriber.")
    env_step = property(lambda self: self.slots[0].env_step, doc="Real env steps taken so far.")
    episodes = property(lambda self: self.slots[0].episodes, doc="Training episodes finished so far.")
    last_evaluation = property(lambda self: self.slots[0].last_evaluation)
    checkpoint_path = property(lambda self: self.run_dir / "checkpoint.pt")
    policy_path = property(lambda self: self.run_dir / "policy.pt")

    @property
    def policy(self) -> Policy:
        """A frozen copy of the actor, numpy in and out."""
        return self.agent_policy(0)

    def update_hyperparameters(self, agent: int | None = None, **changes: Any) -> None:  # type: ignore[override]
        """Change live fields (``actor_lr=3e-4``, ``sigma=0.2``; see lab.config's live fields) before the next update.

        Raises ConfigError at once for a field that is not live or an out-of-range value.
        """
        super().update_hyperparameters(None, **changes)

    def hyperparameters(self, agent: int = 0) -> dict[str, Any]:
        """Current values of every live field, by dotted name."""
        return super().hyperparameters(0)

    def evaluate_now(self, episodes: int | None = None) -> EvaluationResult:  # type: ignore[override]
        """Evaluate the current policy; from another thread while running, the loop does it between steps."""
        return super().evaluate_now(0, episodes)

    def stop(self, agent: int | None = None, wait: bool = True, timeout: float | None = 120.0) -> Path | None:  # type: ignore[override]
        """Ask the loop to stop; it saves a checkpoint first. Returns its path when wait is true."""
        super().stop(None, wait, timeout)
        return self.checkpoint_path if self.checkpoint_path.exists() else None

    def summary(self) -> dict[str, Any]:
        return {**self.slots[0].summary(self.train_seconds, self.state), "state": self._run_state(),
                "resumed_from": self.resumed_from}

    def _run_state(self) -> str:
        return "failed" if self.slots[0].state == "failed" else self.state

    def save_policy(self, path: str | Path) -> Path:
        """Write the current policy as a small policy file (what eval, watch and gif read)."""
        actor, critic = self.learner.agent_modules(0)
        return save_policy(actor, path, self.config.network, {"env_step": self.env_step}, critic=critic)
