"""The envs every agent flies: num_envs sub-envs per agent, stepped only for the agents that still act.

AgentEnvs holds every agent's sub-envs and steps those of the agents named in each
step, with the NEXT_STEP autoreset of Gymnasium's vector envs (a sub-env that ended
returns its reset observation on its next step, with zero reward; the collector never
stores that step). A stopped or finished agent is simply not named again, so its
physics costs nothing.

InlineEnvs steps them in this process. EnvWorker steps them in a child process
(lab.rollout.worker), so env physics on one core overlaps the batched update on the
other (run.overlap_collection): the loop sends actions, updates while the worker
steps, then collects the results. An error in the child (a bad env.env_id) is raised
again in the parent with its own message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from lab.config import ConfigError, EnvironmentConfig
from lab.rollout.worker import Worker


def make_env(env_id: str, render_mode: str | None = None, max_episode_steps: int = 0) -> gym.Env:
    """gym.make with a clear error; max_episode_steps=0 keeps the env's own time limit."""
    try:
        return gym.make(env_id, render_mode=render_mode, max_episode_steps=max_episode_steps or None)
    except gym.error.Error as exc:
        raise ValueError(f"env.env_id={env_id!r} cannot be made: {exc}") from exc


def episode_seeds(run_seed: int, epoch: int, num_envs: int) -> list[int]:
    """Env reset seeds for a fresh start of an agent's envs; epoch counts checkpoint boundaries.

    Derived, not drawn, so a run resumed from a checkpoint resets its envs exactly
    as the uninterrupted run did at that boundary.
    """
    ss = np.random.SeedSequence([run_seed, 7919, epoch])
    return [int(s) for s in ss.generate_state(num_envs)]

StepResult = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""Observations, rewards, terminated and truncated of the stepped agents' sub-envs, agent after agent."""


class AgentEnvs:
    """K agents' sub-envs; ``step`` advances only the agents it is given, in their order."""

    def __init__(self, cfg: EnvironmentConfig, agents: int, num_envs: int) -> None:
        self.num_envs = num_envs
        self.envs = []
        try:
            for _ in range(agents * num_envs):
                self.envs.append(make_env(cfg.env_id, max_episode_steps=cfg.max_episode_steps))
        except ValueError as exc:
            self.close()
            raise ConfigError(f"{exc} (allowed: a registered Gymnasium id with a continuous action space, "
                              "e.g. LunarLanderContinuous-v3)") from None
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self._ended = np.zeros(len(self.envs), dtype=bool)
        self.steps = np.zeros(agents, dtype=np.int64)
        """Sub-env steps taken per agent: what each agent's physics has cost."""

    def reset(self, seeds: list[int]) -> np.ndarray:
        """Reset every sub-env, the i-th with seeds[i]; returns all observations."""
        self._ended[:] = False
        return np.stack([env.reset(seed=seed)[0] for env, seed in zip(self.envs, seeds, strict=True)])

    def step(self, actions: np.ndarray, agents: Sequence[int]) -> StepResult:
        """Step the sub-envs of agents (actions: num_envs rows per agent, in the same order)."""
        n = self.num_envs
        count = len(agents) * n
        obs = np.empty((count, *self.single_observation_space.shape), dtype=self.single_observation_space.dtype)
        rewards = np.zeros(count, dtype=np.float64)
        terminated = np.zeros(count, dtype=bool)
        truncated = np.zeros(count, dtype=bool)
        for row, i in enumerate(k * n + j for k in agents for j in range(n)):
            if self._ended[i]:
                obs[row] = self.envs[i].reset()[0]
            else:
                obs[row], rewards[row], terminated[row], truncated[row], _ = self.envs[i].step(actions[row])
            self._ended[i] = terminated[row] or truncated[row]
        self.steps[list(agents)] += n
        return obs, rewards, terminated, truncated

    def close(self) -> None:
        for env in self.envs:
            env.close()


class InlineEnvs:
    """All sub-envs in this process."""

    def __init__(self, cfg: EnvironmentConfig, agents: int, num_envs: int) -> None:
        self.envs = AgentEnvs(cfg, agents, num_envs)
        self.single_observation_space = self.envs.single_observation_space
        self.single_action_space = self.envs.single_action_space
        self._pending: tuple[np.ndarray, Sequence[int]] | None = None

    def reset(self, seeds: list[int]) -> np.ndarray:
        return self.envs.reset(seeds)

    def step_async(self, actions: np.ndarray, agents: Sequence[int]) -> None:
        self._pending = (actions, agents)

    def step_wait(self) -> StepResult:
        assert self._pending is not None, "step_wait without step_async"
        actions, agents = self._pending
        self._pending = None
        return self.envs.step(actions, agents)

    def steps_taken(self) -> np.ndarray:
        return self.envs.steps.copy()

    def close(self) -> None:
        self.envs.close()


def _env_handler(cfg: EnvironmentConfig, agents: int, num_envs: int) -> Callable[[str, Any], Any]:
    """The worker's side. The envs are built on the first command, so a bad env.env_id comes back to the
    parent as its ConfigError (through lab.rollout.worker) rather than as a dead child."""
    envs: list[AgentEnvs] = []

    def handle(command: str, payload: Any) -> Any:
        if command == "close":
            for e in envs:
                e.close()
            return None
        if not envs:
            envs.append(AgentEnvs(cfg, agents, num_envs))
        if command == "step":
            return envs[0].step(*payload)
        if command == "reset":
            return envs[0].reset(payload)
        if command == "spaces":
            return envs[0].single_observation_space, envs[0].single_action_space
        if command == "steps":
            return envs[0].steps
        raise ValueError(f"unknown env worker command {command!r}")

    return handle


class EnvWorker:
    """All sub-envs in one child process (lab.rollout.worker); step_async returns at once, step_wait collects."""

    def __init__(self, cfg: EnvironmentConfig, agents: int, num_envs: int) -> None:
        self._worker = Worker("lab-env-worker", _env_handler, cfg, agents, num_envs)
        try:
            self.single_observation_space, self.single_action_space = self._worker.call("spaces")
        except BaseException:
            self._worker.close()
            raise

    def reset(self, seeds: list[int]) -> np.ndarray:
        if self._worker.busy:
            self.step_wait()
        return self._worker.call("reset", seeds)

    def step_async(self, actions: np.ndarray, agents: Sequence[int]) -> None:
        self._worker.send("step", (actions, list(agents)))

    def step_wait(self) -> StepResult:
        return self._worker.receive()

    def steps_taken(self) -> np.ndarray:
        if self._worker.busy:
            raise RuntimeError("steps_taken while a step is under way: call step_wait first")
        return self._worker.call("steps")

    @property
    def alive(self) -> bool:
        return self._worker.alive

    @property
    def pid(self) -> int | None:
        """The worker process's id (for CPU-time accounting)."""
        return self._worker.pid

    def close(self) -> None:
        self._worker.close()


def make_agent_envs(cfg: EnvironmentConfig, agents: int, num_envs: int, worker: bool) -> InlineEnvs | EnvWorker:
    """Every agent's envs, in a worker process (run.overlap_collection) or in this one."""
    return EnvWorker(cfg, agents, num_envs) if worker else InlineEnvs(cfg, agents, num_envs)
