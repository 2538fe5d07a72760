"""Vector env construction and seeding.

The trainer drives Gymnasium's vector env in its default NEXT_STEP autoreset
mode: the step after an episode ends only returns the reset observation, and
that step is never stored as a transition (see lab.collector.Collector.step).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from lab.config import EnvironmentConfig


def make_env(env_id: str, render_mode: str | None = None, max_episode_steps: int = 0) -> gym.Env:
    """gym.make with a clear error; max_episode_steps=0 keeps the env's own time limit."""
    try:
        return gym.make(env_id, render_mode=render_mode, max_episode_steps=max_episode_steps or None)
    except gym.error.Error as exc:
        raise ValueError(f"env.env_id={env_id!r} cannot be made: {exc}") from exc


def env_dims(cfg: EnvironmentConfig) -> tuple[int, int]:
    """Flat observation and action sizes of the configured env."""
    env = make_env(cfg.env_id, max_episode_steps=cfg.max_episode_steps)
    try:
        return (int(np.prod(env.observation_space.shape or ())), int(np.prod(env.action_space.shape or ())))
    finally:
        env.close()


def training_time_limit(cfg: EnvironmentConfig) -> int:
    """Steps per training episode (0: the env's own); evaluation always uses cfg.max_episode_steps."""
    return cfg.train_episode_steps or cfg.max_episode_steps


def make_vector_env(cfg: EnvironmentConfig) -> gym.vector.VectorEnv:
    """num_envs copies for training, sync (one process) or async (a process per env)."""
    fns = [lambda: make_env(cfg.env_id, max_episode_steps=training_time_limit(cfg)) for _ in range(cfg.num_envs)]
    if cfg.vectorization == "async":
        return gym.vector.AsyncVectorEnv(fns, context="spawn")
    return gym.vector.SyncVectorEnv(fns)


def episode_seeds(run_seed: int, epoch: int, num_envs: int) -> list[int]:
    """Env reset seeds for a fresh start of all envs; epoch counts checkpoint boundaries.

    Derived, not drawn, so a run resumed from a checkpoint resets its envs exactly
    as the uninterrupted run did at that boundary.
    """
    ss = np.random.SeedSequence([run_seed, 7919, epoch])
    return [int(s) for s in ss.generate_state(num_envs)]
