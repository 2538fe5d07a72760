"""noise.touchdown_cut: in drawn episodes the explorer cuts both engines while a leg is down; nothing else changes."""

from __future__ import annotations

import numpy as np
import pytest
from rollout_helpers import collector_for, grounded, grounded_actions, step_one

from lab import lander
from lab.config import ConfigError, NoiseConfig
from lab.lander.touchdown import TouchdownCut, cut_engines
from lab.train.population import Population

OFF = np.asarray(lander.ENGINES_OFF, np.float32)


def test_at_probability_zero_nothing_is_drawn_or_changed():
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    cut = TouchdownCut(0.0, 3, rng)
    cut.reset()
    actions = np.ones((3, 2), np.float32)
    landed = grounded(np.zeros((3, 8), np.float32), [0, 1, 2])
    assert cut_engines(actions, landed, cut.cutting) is actions and rng.bit_generator.state == before


def test_a_cutting_env_with_a_leg_down_gets_engines_off_and_every_other_row_keeps_its_action():
    cut = TouchdownCut(1.0, 4, np.random.default_rng(0))
    cut.reset()
    cut.cutting[3] = False  # an episode that drew no cut
    obs = grounded(np.zeros((4, 8), np.float32), [0, 3])
    obs[1, lander.LEFT_LEG] = 1.0
    actions = np.full((4, 2), 0.7, np.float32)
    out = cut_engines(actions, obs, cut.cutting)
    np.testing.assert_array_equal(out[0], OFF)  # right leg down
    np.testing.assert_array_equal(out[1], OFF)  # left leg down
    np.testing.assert_array_equal(out[2], actions[2])  # airborne
    np.testing.assert_array_equal(out[3], actions[3])  # on the ground, but this episode does not cut
    assert out.dtype == np.float32 and not lander.main_power(OFF[0]) and not lander.side_power(OFF[1])


def test_each_episode_draws_its_own_cut_and_a_reset_redraws_only_the_envs_that_ended():
    cut = TouchdownCut(0.5, 4000, np.random.default_rng(1))
    cut.reset()
    assert 0.45 < cut.cutting.mean() < 0.55
    before = cut.cutting.copy()
    ended = np.zeros(4000, bool)
    ended[:2000] = True
    cut.reset(ended)
    np.testing.assert_array_equal(cut.cutting[2000:], before[2000:])
    assert 0.45 < cut.cutting[:2000].mean() < 0.55 and (cut.cutting[:2000] != before[:2000]).any()


def test_the_collector_stores_the_cut_actions_during_warm_up_and_after_it(tiny_config):
    config = tiny_config.with_overrides({"noise.kind": "gaussian", "noise.sigma": 0.3, "noise.touchdown_cut": 1.0})
    collector = collector_for([config])
    try:
        assert collector.explorers[0].cut.cutting.all()
        for actor in (None, lambda obs: np.full((2, 2), 0.9, np.float32)):
            collector.obs = grounded(collector.obs, [0])
            step = step_one(collector, actor)
            assert len(step.transitions.rows) == 2  # both envs' steps
            actions = step.transitions.actions
            np.testing.assert_array_equal(actions[0], OFF)  # a leg down: engines off, and stored so
            assert not np.array_equal(actions[1], OFF)  # airborne: the explorer's own action
    finally:
        collector.close()


def test_touchdown_cut_is_validated_with_its_range():
    with pytest.raises(ConfigError, match=r"noise.touchdown_cut=1.5 is invalid: allowed a number in \[0.0, 1.0\]"):
        NoiseConfig(touchdown_cut=1.5)


def test_population_agents_cut_their_engines_by_their_own_setting_in_warm_up_and_after(tiny_config):
    base = tiny_config.with_overrides({"noise.kind": "gaussian", "noise.sigma": 0.3, "run.analyze_episodes": False})
    for learning_starts in (10_000, 0):  # uniform warm-up actions, then the policy's
        configs = [base.with_overrides({"run.seed": 0, "noise.touchdown_cut": 1.0,
                                        "training.learning_starts": learning_starts}),
                   base.with_overrides({"run.seed": 1, "training.learning_starts": learning_starts})]
        population = Population(base, configs=configs, log_to_disk=False)
        try:
            actions, _ = grounded_actions(population)
        finally:
            population.close()
        assert (actions[0] == OFF).all()  # agent 0 cuts on the ground
        assert not (actions[1] == OFF).all(axis=1).any()  # agent 1 flies its own actions
