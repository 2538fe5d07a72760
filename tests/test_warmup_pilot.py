"""training.warmup_pilot: Gymnasium's hand-written pilot, plus the exploration noise, flies the warm-up."""

from __future__ import annotations

import numpy as np
import pytest
from rollout_helpers import collector_for, grounded_actions, step_one

from lab import Trainer
from lab.config import ConfigError, TrainingConfig
from lab.policy import heuristic_policy
from lab.presets import FIRST_RUN_PRESET, preset
from lab.train.population import Population
from widgets.controls import SPECS, spec_named
from widgets.panel_model import PanelModel

HEURISTIC = heuristic_policy()


@pytest.mark.parametrize("sigma", [0.0, 0.3])
def test_the_guide_pilot_flies_the_warm_up_with_the_configured_noise_and_the_actor_flies_after_it(
        tiny_config, sigma):
    config = tiny_config.with_overrides({"training.warmup_pilot": "heuristic", "noise.kind": "gaussian",
                                         "noise.sigma": sigma})
    collector = collector_for([config])
    try:
        obs = collector.obs.copy()
        step = step_one(collector, None)  # warming up
        assert len(step.transitions.rows) == 2  # both envs' steps
        deviation = np.abs(step.transitions.actions - np.clip(HEURISTIC(obs), -1, 1))
        if sigma == 0.0:
            assert deviation.max() == 0.0  # exactly the pilot's commands
        else:
            assert 0.0 < deviation.max() < 1.5  # the pilot plus noise (saturated commands may clip back)
        actor = np.full((2, 2), 0.3, np.float32)
        step = step_one(collector, lambda o: actor.copy())  # learning: the actor, never the pilot
        assert len(step.transitions.rows) == 2  # both envs' steps
        if sigma == 0.0:
            np.testing.assert_array_equal(step.transitions.actions, actor)
    finally:
        collector.close()


def test_the_uniform_warm_up_is_unchanged_by_the_new_option(tiny_config):
    """The default draws uniform actions from the agent's own RNG, and nothing else."""
    collector = collector_for([tiny_config], rng_seed=3)
    try:
        collector.explorers[0].rng = np.random.default_rng(3)  # the reset's cut draws nothing at probability 0
        step = step_one(collector, None)
        assert len(step.transitions.rows) == 2  # both envs' steps
        expected = np.random.default_rng(3).uniform(-1.0, 1.0, size=(2, 2)).astype(np.float32)
        np.testing.assert_array_equal(step.transitions.actions, expected)
    finally:
        collector.close()


@pytest.mark.parametrize("overlap", [False, True], ids=["synchronous", "env worker"])
def test_a_trainer_warmed_up_by_the_guide_pilot_sees_landings_before_its_first_update(tiny_config, overlap):
    """The point of the option: the buffer holds the landing's +100 before TD3 learns anything."""
    config = tiny_config.with_overrides({"training.warmup_pilot": "heuristic", "training.learning_starts": 1_500,
                                         "run.overlap_collection": overlap,
                                         "run.total_steps": 1_500, "run.eval_every": 0, "noise.kind": "gaussian",
                                         "noise.sigma": 0.05, "run.analyze_episodes": False,
                                         "env.max_episode_steps": 0})
    trainer = Trainer(config, log_to_disk=False)
    try:
        trainer.fit()
        rewards = trainer.buffer.rewards[0, : len(trainer.buffer)]
        assert trainer.episodes >= 2
        assert rewards.max() >= 90.0  # a landing's +100 (a lander at rest) is in the buffer
    finally:
        trainer.close()


def test_population_agents_warm_up_with_their_own_pilot(tiny_config):
    base = tiny_config.with_overrides({"noise.kind": "gaussian", "noise.sigma": 0.0, "run.analyze_episodes": False,
                                       "training.learning_starts": 10_000})
    configs = [base.with_overrides({"run.seed": 0, "training.warmup_pilot": "heuristic"}),
               base.with_overrides({"run.seed": 1})]
    population = Population(base, configs=configs, log_to_disk=False)
    try:
        actions, obs = grounded_actions(population)
    finally:
        population.close()
    np.testing.assert_array_equal(actions[0], np.clip(HEURISTIC(obs[0]), -1, 1))
    assert not np.array_equal(actions[1], np.clip(HEURISTIC(obs[1]), -1, 1))


def test_warmup_pilot_is_validated_with_its_choices():
    with pytest.raises(ConfigError, match=r"training.warmup_pilot='expert' is invalid: allowed one of"):
        TrainingConfig(warmup_pilot="expert")


def test_guided_is_fast_with_the_pilots_warm_up_and_the_panels_starting_point():
    guided, fast = preset("guided").to_dict(), preset("fast").to_dict()
    assert guided["training"].pop("warmup_pilot") == "heuristic" and fast["training"].pop("warmup_pilot") == "uniform"
    assert guided == fast  # nothing else differs, so fast's screens describe the rest of guided
    assert FIRST_RUN_PRESET == "guided"


def test_a_panel_without_a_source_starts_from_the_guided_preset():
    model = PanelModel()
    try:
        assert model.name == "guided" and model.config == preset("guided")
    finally:
        model.close()


def test_the_panel_offers_the_pilot_as_a_restart_setting_and_the_next_run_takes_it():
    spec = spec_named("warmup_pilot")
    assert (spec.tab, spec.key, spec.kind, spec.live) == ("Exploration", "training.warmup_pilot", "toggle", False)
    assert spec.info.bounds.choices == ("uniform", "heuristic")
    assert "training.warmup_pilot" in [s.key for s in SPECS if s.tab == "Exploration"]
    model = PanelModel()
    try:
        model.apply("training.warmup_pilot", "uniform")
        assert model.config == preset("guided").with_overrides({"training.warmup_pilot": "uniform"})
        assert model.config == preset("fast")  # the pilot off is exactly fast
    finally:
        model.close()


def test_two_agents_of_a_panel_can_differ_in_their_warm_up_pilot_alone(tiny_config):
    """The pilot is a restart setting agents need not share: B alone flies its warm-up with it."""
    model = PanelModel(tiny_config, agents=2)
    try:
        model.select(1)
        model.apply("training.warmup_pilot", "heuristic")
        population = model.start()
        assert [m.config.training.warmup_pilot for m in population.members] == ["uniform", "heuristic"]
        model.stop(wait=True)
    finally:
        model.close()
