"""The population's envs: one Gymnasium vector env with num_envs sub-envs per agent.

InlineEnvs steps them in this process. EnvWorker steps them in a child process,
so env physics on one core overlaps the batched update on the other: the loop sends
actions, updates while the worker steps, then collects the results.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import gymnasium as gym
import numpy as np

from lab.config import EnvironmentConfig
from lab.envs import make_env

StepResult = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _vector_env(cfg: EnvironmentConfig, count: int) -> gym.vector.SyncVectorEnv:
    return gym.vector.SyncVectorEnv([lambda: make_env(cfg.env_id, max_episode_steps=cfg.max_episode_steps)
                                     for _ in range(count)])


class InlineEnvs:
    """All sub-envs in one SyncVectorEnv in this process."""

    def __init__(self, cfg: EnvironmentConfig, count: int) -> None:
        self.envs = _vector_env(cfg, count)
        self.single_observation_space = self.envs.single_observation_space
        self.single_action_space = self.envs.single_action_space
        self._pending: np.ndarray | None = None

    def reset(self, seeds: list[int]) -> np.ndarray:
        return self.envs.reset(seed=seeds)[0]

    def step_async(self, actions: np.ndarray) -> None:
        self._pending = actions

    def step_wait(self) -> StepResult:
        obs, rewards, terminated, truncated, _ = self.envs.step(self._pending)
        return obs, rewards, terminated, truncated

    def close(self) -> None:
        self.envs.close()


def _serve(conn: Any, cfg: EnvironmentConfig, count: int) -> None:
    """The worker: step or reset on request until told to close."""
    envs = _vector_env(cfg, count)
    try:
        while True:
            command, payload = conn.recv()
            if command == "step":
                obs, rewards, terminated, truncated, _ = envs.step(payload)
                conn.send((obs, rewards, terminated, truncated))
            elif command == "reset":
                conn.send(envs.reset(seed=payload)[0])
            elif command == "spaces":
                conn.send((envs.single_observation_space, envs.single_action_space))
            else:
                break
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        envs.close()
        conn.close()


class EnvWorker:
    """All sub-envs in one child process; step_async returns at once, step_wait collects."""

    def __init__(self, cfg: EnvironmentConfig, count: int) -> None:
        context = mp.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, cfg, count), name="lab-population-envs",
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

    def step_async(self, actions: np.ndarray) -> None:
        self._conn.send(("step", actions))
        self._busy = True

    def step_wait(self) -> StepResult:
        self._busy = False
        return self._receive()

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


def make_population_envs(cfg: EnvironmentConfig, count: int, worker: bool) -> InlineEnvs | EnvWorker:
    return EnvWorker(cfg, count) if worker else InlineEnvs(cfg, count)
