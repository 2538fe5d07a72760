"""How long the behavior analyzer takes on a full-length episode.

The trainer analyzes every finished episode on its own thread, so the analyzer must
stay far below the time the episode took to collect. ``benchmark_analyzer`` flies a
few real 1,000-step episodes (an altitude-holding pilot that times out), then times
the analyzer on them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from lab.lander.behavior import BehaviorAnalyzer


def _hover_pilot(obs: np.ndarray) -> np.ndarray:
    """Hold about 5 m above the pad, centred and upright, until the time limit."""
    x, y, vx, vy, angle, spin = obs[:6]
    lean = np.clip(x * 0.5 + vx, -0.4, 0.4)
    side = -((lean - angle) * 0.5 - spin) * 20
    climb = np.clip((0.8 - y) * 6.0, -2, 2) / 7.5  # m/s -> observation units
    return np.clip(np.array([0.144 + 15 * (climb - vy), side], np.float32), -1, 1)


def full_length_episodes(count: int = 3, steps: int = 1000, seed: int = 0) -> list[dict[str, Any]]:
    """Real episodes of exactly ``steps`` steps, as keyword arguments for ``analyze``."""
    import gymnasium as gym

    episodes = []
    env = gym.make("LunarLanderContinuous-v3", max_episode_steps=steps)
    try:
        for i in range(count):
            obs, _ = env.reset(seed=seed + i)
            observations, actions, rewards = [obs], [], []
            terminated = truncated = False
            while not (terminated or truncated):
                action = _hover_pilot(obs)
                obs, reward, terminated, truncated, _ = env.step(action)
                observations.append(obs)
                actions.append(action)
                rewards.append(reward)
            episodes.append({"observations": np.asarray(observations, np.float32),
                             "actions": np.asarray(actions, np.float32), "rewards": np.asarray(rewards, np.float32),
                             "terminated": bool(terminated), "truncated": bool(truncated)})
    finally:
        env.close()
    return episodes


def benchmark_analyzer(episodes: int = 200) -> dict[str, Any]:
    """Milliseconds per analyzed 1,000-step episode (median, mean, p95) and the share of training time.

    ``overhead_percent`` is the analyzer's time as a share of collecting the episode at
    a given number of env steps per second; TD3 on a CPU trains at a few hundred.
    """
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    samples = full_length_episodes()
    analyzer = BehaviorAnalyzer()
    for kwargs in samples:  # warm up numpy's code paths
        analyzer.analyze(**kwargs)
    times = np.empty(episodes)
    for i in range(episodes):
        kwargs = samples[i % len(samples)]
        start = time.perf_counter()
        analyzer.analyze(**kwargs)
        times[i] = time.perf_counter() - start
    ms = times * 1e3
    median = float(np.median(ms))
    steps = int(samples[0]["actions"].shape[0])
    return {
        "episodes": episodes,
        "steps_per_episode": steps,
        "median_ms": median,
        "mean_ms": float(ms.mean()),
        "p95_ms": float(np.percentile(ms, 95)),
        "max_ms": float(ms.max()),
        "overhead_percent": {f"{sps}_steps_per_second": 100.0 * median / 1e3 / (steps / sps)
                             for sps in (500, 5000)},
    }
