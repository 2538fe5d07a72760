"""noise.ground_scale reaches the actions: on the ground the Trainer's and a population's agents fly their policy."""

from __future__ import annotations

import numpy as np
import torch

from lab import lander
from lab.collector import Collector
from lab.population import Population


def _grounded(obs: np.ndarray, rows: list[int]) -> np.ndarray:
    """obs with a right leg in contact on the given rows (the env itself is not told: only actions are read)."""
    obs = obs.copy()
    obs[rows, lander.RIGHT_LEG] = 1.0
    return obs


def grounded_actions(population: Population) -> tuple[np.ndarray, np.ndarray]:
    """A two-agent population's actions, (agent, env, act_dim), with every lander's right leg down, and the
    observations they answer."""
    collector = population.collector
    collector.fresh_episodes(population.envs, 0)
    collector.obs = _grounded(collector.obs, list(range(len(collector.obs))))
    actions = collector.actions([0, 1], population.learner).reshape(2, population.num_envs, -1)
    return actions, collector.obs.reshape(2, population.num_envs, -1)


def test_the_collector_adds_no_noise_on_the_ground_at_ground_scale_zero(tiny_config):
    config = tiny_config.with_overrides({"noise.kind": "gaussian", "noise.sigma": 0.3, "noise.ground_scale": 0.0})
    collector = Collector(config, np.random.default_rng(0))
    try:
        collector.reset([0, 1])
        collector.obs = _grounded(collector.obs, [0])
        greedy = np.full((2, 2), -0.25, np.float32)
        step = collector.step(lambda obs: greedy.copy())
        assert step.transitions is not None
        actions = step.transitions[1]
        np.testing.assert_array_equal(actions[0], greedy[0])  # landed: the policy's own action
        assert np.abs(actions[1] - greedy[1]).min() > 0  # airborne: noise as before
    finally:
        collector.close()


def test_population_agents_quiet_their_noise_on_the_ground_by_their_own_setting(tiny_config):
    base = tiny_config.with_overrides({"training.learning_starts": 0, "noise.kind": "gaussian",
                                       "noise.sigma": 0.3, "run.analyze_episodes": False})
    configs = [base.with_overrides({"run.seed": 0, "noise.ground_scale": 0.0}),
               base.with_overrides({"run.seed": 1})]
    population = Population(base, configs=configs, log_to_disk=False)
    try:
        actions, obs = grounded_actions(population)
        with torch.no_grad():
            greedy = population.learner.act(torch.from_numpy(obs)).numpy()
    finally:
        population.close()
    np.testing.assert_array_equal(actions[0], greedy[0])
    assert np.abs(actions[1] - greedy[1]).min() > 0
