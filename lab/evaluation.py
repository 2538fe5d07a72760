"""Deterministic evaluation on fixed seeds.

Episodes run side by side in plain envs (no autoreset) so the policy sees one
batched forward pass per step. Seeds are seed, seed+1, ... so every evaluation
of every agent faces the same landers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lab.events import Trajectory
from lab.lander import ENV_ID, SUCCESS_RETURN
from lab.policy import Policy, as_policy
from lab.rollout.envs import make_env
from lab.rollout.episodes import run_episodes


@dataclass
class EvaluationResult:
    mean_return: float
    std_return: float
    success_rate: float
    returns: list[float]
    lengths: list[int]
    seeds: list[int]
    trajectories: list[Trajectory] = field(default_factory=list)
    reports: list[Any] = field(default_factory=list)
    """BehaviorReports, when analyze was on."""

    @property
    def outcomes(self) -> dict[str, int]:
        return dict(Counter(_name(r.outcome) for r in self.reports))

    def to_dict(self) -> dict[str, Any]:
        return {"mean_return": self.mean_return, "std_return": self.std_return,
                "success_rate": self.success_rate, "returns": self.returns, "lengths": self.lengths,
                "seeds": self.seeds, "outcomes": self.outcomes}


def evaluate(policy: Any = None, episodes: int = 10, seed: int = 10_000,
             env_id: str = ENV_ID, success_threshold: float = SUCCESS_RETURN,
             analyze: bool = True, keep_trajectories: bool = False, batch: int = 32,
             max_episode_steps: int = 0) -> EvaluationResult:
    """Run ``episodes`` deterministic episodes with seeds seed..seed+episodes-1."""
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes={episodes!r} is invalid: allowed an integer >= 1")
    pi = as_policy(policy)
    seeds = list(range(seed, seed + episodes))
    trajectories: list[Trajectory] = []
    for start in range(0, episodes, batch):
        trajectories.extend(_run_batch(pi, env_id, seeds[start:start + batch], max_episode_steps))
    returns = [float(t.rewards.sum()) for t in trajectories]
    reports = []
    if analyze:
        from lab.lander.behavior import BehaviorAnalyzer

        analyzer = BehaviorAnalyzer()
        reports = [analyzer.analyze(t.observations, t.actions, t.terminated, t.truncated, t.rewards)
                   for t in trajectories]
    arr = np.asarray(returns)
    return EvaluationResult(
        mean_return=float(arr.mean()), std_return=float(arr.std()),
        success_rate=float((arr >= success_threshold).mean()), returns=returns,
        lengths=[len(t.actions) for t in trajectories], seeds=seeds,
        trajectories=trajectories if keep_trajectories else [], reports=reports)


def _run_batch(policy: Policy, env_id: str, seeds: list[int], max_episode_steps: int) -> list[Trajectory]:
    envs = [make_env(env_id, max_episode_steps=max_episode_steps) for _ in seeds]
    try:
        return run_episodes(policy, envs, seeds)
    finally:
        for env in envs:
            env.close()


def _name(value: Any) -> str:
    return str(getattr(value, "value", value))
