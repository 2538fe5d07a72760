"""What K agents of one population may and may not differ in, and the state each keeps.

Agents share one batched update, so anything that shapes a tensor (network,
batch size, buffer size, envs per agent) must match; learning rates, tau, noise,
gamma, policy delay, seeds and budgets may differ. Two agents may share a seed
only when their configs differ (a sweep's grid points often do); with the same
config too they would be the same agent twice, which is refused.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lab.config import Config, ConfigError
from lab.evaluation import EvaluationResult
from lab.events import EventBus
from lab.hyperparameters import live_values, scheduled_noise_scale
from lab.lander.touchdown import TouchdownCut
from lab.noise import make_noise
from lab.nstep import NStepAccumulator
from lab.run_log import RunLogger

SHARED_FIELDS = (
    "network.actor_hidden", "network.critic_hidden", "network.layer_norm", "network.activation",
    "env.env_id", "env.num_envs", "env.max_episode_steps", "env.train_episode_steps",
    "training.batch_size", "training.buffer_size", "training.updates_per_step", "training.n_step",
    "run.torch_threads", "run.checkpoint_every", "run.save_replay",
)
"""Config fields every member must share: they fix a tensor's shape or the loop's rhythm."""
REQUIRED = {"training.algorithm": "td3", "training.policy_checkpoints": False, "training.use_per": False,
            "training.ensemble_size": 1, "training.precision": "float32", "run.stop_when_solved": False}
"""Settings the population learner supports only one way: one TD3 per agent updated every step in float32 from
uniform replay.

The fields that only these switches turn on (crossq_*, checkpoint_*, per_*, ensemble_window) then change nothing,
as in a single run; every other field is honoured per agent (main_engine_bias, critic_loss, grad_clip,
weight_decay, lr_schedule, noise, shaping, budgets) or shared by all (SHARED_FIELDS).
"""
REFUSED = {"run.device": ("cuda", "'auto' or 'cpu' (a population trains on the CPU)")}
"""Values the population cannot honour, with what it allows instead."""
MAX_AGENTS = 256


def config_value(config: Config, dotted: str) -> Any:
    """A field by its dotted name (``training.batch_size``)."""
    section, name = dotted.split(".")
    return getattr(getattr(config, section), name)


def population_refusal(config: Config) -> str | None:
    """Why this config cannot be a population's agent (a setting it supports only one way), or None."""
    for dotted, allowed in REQUIRED.items():
        if config_value(config, dotted) != allowed:
            return (f"{dotted}={config_value(config, dotted)!r} is not supported in a population: "
                    f"allowed {allowed!r} (train it alone with lab.Trainer)")
    for dotted, (refused, allowed) in REFUSED.items():
        if config_value(config, dotted) == refused:
            return f"{dotted}={refused!r} is not supported in a population: allowed {allowed}"
    return None


def member_configs(config: Config, seeds: Sequence[int] | None = None,
                   configs: Sequence[Config] | None = None) -> list[Config]:
    """One Config per agent, checked; from a base config and seeds, or given outright."""
    if configs is None:
        if seeds is None:
            seeds = [config.run.seed]
        seeds = list(seeds)
        bad = [s for s in seeds if not isinstance(s, numbers.Integral) or isinstance(s, bool) or not 0 <= s < 2**31]
        if bad:
            raise ConfigError(f"seed {bad[0]!r} is invalid: allowed integers in [0, {2**31 - 1}]")
        seeds = [int(s) for s in seeds]
        configs = [config.with_overrides({"run.seed": s}) for s in seeds]
    configs = list(configs)
    if not 1 <= len(configs) <= MAX_AGENTS:
        raise ConfigError(f"agents={len(configs)} is invalid: allowed 1 to {MAX_AGENTS} agents per population")
    seen: dict[int, list[int]] = {}
    for k, c in enumerate(configs):
        twin = next((j for j in seen.get(c.run.seed, []) if configs[j] == c), None)
        if twin is not None:  # same config and seed: two identical agents; a sweep's points may share a seed
            raise ConfigError(f"seed {c.run.seed} is repeated (agents {twin} and {k}): "
                              "each agent of a population needs its own seed")
        seen.setdefault(c.run.seed, []).append(k)
    first = configs[0]
    for k, c in enumerate(configs):
        why = population_refusal(c)
        if why is not None:
            raise ConfigError(f"agent {k}: {why}")
        for dotted in SHARED_FIELDS:
            if config_value(c, dotted) != config_value(first, dotted):
                raise ConfigError(f"agent {k} has {dotted}={config_value(c, dotted)!r} but agent 0 has "
                                  f"{config_value(first, dotted)!r}: agents of one population must share {dotted} "
                                  "(group members by shape into separate populations)")
    return configs


@dataclass
class EpisodeTrace:
    """The running episode of one sub-env."""

    observations: list[np.ndarray]
    actions: list[np.ndarray] = field(default_factory=list)
    raw_rewards: list[float] = field(default_factory=list)
    shaped_return: float = 0.0


class Member:
    """One agent's bookkeeping: its config, random streams, noise, counters, run folder and events."""

    def __init__(self, index: int, config: Config, run_dir: Path, act_dim: int, log_to_disk: bool,
                 resume_step: int | None = None) -> None:
        self.index, self.config, self.run_dir = index, config, run_dir
        self.seed = config.run.seed
        self.rng = np.random.default_rng(self.seed)
        self.noise = make_noise(config.noise, config.env.num_envs, act_dim, self.rng)
        self.touchdown_cut = TouchdownCut(config.noise.touchdown_cut, config.env.num_envs, self.rng)
        self.nstep = NStepAccumulator(config.env.num_envs, config.training.n_step)
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
        self.schedule_overrides: dict[str, float] = {}
        self.stopped = False
        self.pause_at: int | None = None
        """Stop acting at this env_step for now (the end of a fit(until_step=...)); None: the budget rules."""
        self.traces: list[EpisodeTrace] = []

    @property
    def active(self) -> bool:
        """Still acting and learning: neither stopped nor paused nor at its step budget."""
        limit = self.config.run.total_steps if self.pause_at is None else min(self.pause_at,
                                                                               self.config.run.total_steps)
        return not self.stopped and self.env_step < limit

    def live_values(self) -> dict[str, Any]:
        """Every live hyperparameter's value now, by its live name (noise_scale and per_beta as scheduled)."""
        return live_values(self.config, self.schedule_overrides, self.episodes, self.env_step)

    def noise_scale(self) -> float:
        """The exploration noise multiplier now (read every step, so without the rest of live_values)."""
        return scheduled_noise_scale(self.config, self.schedule_overrides, self.episodes)

    def counters(self) -> dict[str, Any]:
        return {"env_step": self.env_step, "episodes": self.episodes, "updates": self.updates,
                "update_debt": self.update_debt, "best_eval": self.best_eval,
                "solved_at": list(self.solved_at or []), "last_eval_step": self.last_eval_step,
                "stopped": self.stopped}

    def restore(self, counters: dict[str, Any]) -> None:
        self.env_step, self.episodes = int(counters["env_step"]), int(counters["episodes"])
        self.updates, self.update_debt = int(counters["updates"]), float(counters["update_debt"])
        self.best_eval = counters["best_eval"]
        self.solved_at = tuple(counters["solved_at"]) if counters["solved_at"] else None  # type: ignore[assignment]
        self.last_eval_step, self.stopped = int(counters["last_eval_step"]), bool(counters["stopped"])

    def summary(self, train_seconds: float) -> dict[str, Any]:
        return {
            "agent": self.index, "seed": self.seed, "env_step": self.env_step, "episodes": self.episodes,
            "updates": self.updates, "train_seconds": round(train_seconds, 3),
            "steps_per_second": round(self.env_step / train_seconds, 2) if train_seconds else 0.0,
            "best_eval": self.best_eval,
            "last_eval": None if self.last_evaluation is None else self.last_evaluation.mean_return,
            "solved_at_step": None if self.solved_at is None else self.solved_at[0],
            "solved_at_seconds": None if self.solved_at is None else round(self.solved_at[1], 3),
            "run_dir": str(self.run_dir),
        }

    def close(self) -> None:
        if self.logger:
            self.logger.close()
