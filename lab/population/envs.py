"""The population's envs: num_envs sub-envs per agent, stepped only for the agents that still act.

AgentEnvs holds every agent's sub-envs and steps those of the agents named in each
step, with the NEXT_STEP autoreset of Gymnasium's vector envs (a sub-env that ended
returns its reset observation on its next step, with zero reward). A frozen or
finished agent is simply not named again, so its physics costs nothing.

InlineEnvs steps them in this process. EnvWorker steps them in a child process,
so env physics on one core overlaps the batched update on the other: the loop sends
actions, updates while the worker steps, then collects the results.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from typing import Any

import numpy as np

from lab.config import EnvironmentConfig
from lab.envs import make_env

StepResult = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""Observations, rewards, terminated and truncated of the stepped agents' sub-envs, agent after agent."""


class AgentEnvs:
    """K agents' sub-envs; ``step`` advances only the agents it is given, in their order."""

    def __init__(self, cfg: EnvironmentConfig, agents: int, num_envs: int) -> None:
        self.num_envs = num_envs
        self.envs = [make_env(cfg.env_id, max_episode_steps=cfg.max_episode_steps) for _ in range(agents * num_envs)]
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


def _serve(conn: Any, cfg: EnvironmentConfig, agents: int, num_envs: int) -> None:
    """The worker: step or reset on request until told to close."""
    envs = AgentEnvs(cfg, agents, num_envs)
    try:
        while True:
            command, payload = conn.recv()
            if command == "step":
                conn.send(envs.step(*payload))
            elif command == "reset":
                conn.send(envs.reset(payload))
            elif command == "spaces":
                conn.send((envs.single_observation_space, envs.single_action_space))
            elif command == "steps":
                conn.send(envs.steps)
            else:
                break
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        envs.close()
        conn.close()


class EnvWorker:
    """All sub-envs in one child process; step_async returns at once, step_wait collects."""

    def __init__(self, cfg: EnvironmentConfig, agents: int, num_envs: int) -> None:
        context = mp.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, cfg, agents, num_envs), name="lab-population-envs",
                                        daemon=True)
        self._process.start()
        child.close()
        self._busy = False
        self.single_observation_space, self.single_action_space = self._call("spaces", None)

    def _call(self, command: str, payload: Any) -> Any:
        self._conn.send((command, payload))
        return self._receive()

    def _receive(self) -> Any:
        try:
            return self._conn.recv()
        except (EOFError, ConnectionError) as exc:
            self._process.join(1)
            raise RuntimeError(f"the population's env worker process died (exit code {self._process.exitcode}); "
                               "its own error is printed above") from exc

    def reset(self, seeds: list[int]) -> np.ndarray:
        if self._busy:
            self.step_wait()
        return self._call("reset", seeds)

    def step_async(self, actions: np.ndarray, agents: Sequence[int]) -> None:
        self._conn.send(("step", (actions, list(agents))))
        self._busy = True

    def step_wait(self) -> StepResult:
        self._busy = False
        return self._receive()

    def steps_taken(self) -> np.ndarray:
        if self._busy:
            raise RuntimeError("steps_taken while a step is under way: call step_wait first")
        return self._call("steps", None)

    def close(self) -> None:
        if self._process.is_alive():
            try:
                if self._busy:
                    self.step_wait()
                self._conn.send(("close", None))
            except (BrokenPipeError, EOFError, OSError):
                pass
            self._process.join(10)
            if self._process.is_alive():
                self._process.terminate()
        self._conn.close()


def make_population_envs(cfg: EnvironmentConfig, agents: int, num_envs: int, worker: bool) -> InlineEnvs | EnvWorker:
    return EnvWorker(cfg, agents, num_envs) if worker else InlineEnvs(cfg, agents, num_envs)
