"""Set-ups the rollout tests share: a collector for some configs, landers with a leg down, an engine's actions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from lab import lander
from lab.config import Config
from lab.rollout.collector import Collected, Collector
from lab.rollout.envs import InlineEnvs, episode_seeds
from lab.train.engine import Engine


def collector_for(configs: Sequence[Config], rng_seed: int | None = None) -> Collector:
    """A collector over in-process envs for these agents, every env reset with its agent's derived seeds."""
    envs = InlineEnvs(configs[0].env, len(configs), configs[0].env.num_envs)
    rngs = [np.random.default_rng(c.run.seed if rng_seed is None else rng_seed) for c in configs]
    collector = Collector(configs, envs, rngs)
    collector.reset([episode_seeds(c.run.seed, 0, c.env.num_envs) for c in configs])
    return collector


def step_one(collector: Collector, greedy: Callable[[np.ndarray], np.ndarray] | None) -> Collected:
    """One step of agent 0: warming up when greedy is None, else acting from greedy(obs) plus noise."""
    warming = greedy is None
    return collector.step([0], [warming], [1.0],
                          lambda agents, obs: np.stack([greedy(o) for o in obs]) if greedy else obs)


def grounded(obs: np.ndarray, rows: list[int]) -> np.ndarray:
    """obs with a right leg in contact on the given rows (the env itself is not told: only actions are read)."""
    obs = obs.copy()
    obs[rows, lander.RIGHT_LEG] = 1.0
    return obs


def grounded_actions(engine: Engine) -> tuple[np.ndarray, np.ndarray]:
    """Every agent's actions, (agent, env, act_dim), with every lander's right leg down, and the observations
    they answer."""
    collector = engine.collector
    assert collector is not None
    collector.obs = grounded(collector.obs, list(range(len(collector.obs))))
    agents = list(range(engine.agents))
    warming = [collector.explorers[k].warming_up(m.env_step, m.episodes) for k, m in enumerate(engine.slots)]
    actions, _ = collector._actions(agents, warming, [1.0] * len(agents), engine._greedy, collector.obs)
    num_envs = engine.slots[0].config.env.num_envs
    return actions.reshape(len(agents), num_envs, -1), collector.obs.reshape(len(agents), num_envs, -1)
