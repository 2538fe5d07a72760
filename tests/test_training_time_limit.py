"""env.train_episode_steps cuts training episodes only: evaluation keeps the whole task."""

from __future__ import annotations

import pytest

from lab import Trainer
from lab.config import ConfigError
from lab.events import EpisodeEnded, Evaluated
from lab.population import AgentEvent, Population

LIMIT = 25


@pytest.fixture
def limited(tiny_config):
    # Evaluation keeps max_episode_steps=120; a barely trained lander falls for 60+ steps before it
    # crashes or lands, so its evaluation episodes outlast the training limit.
    return tiny_config.with_overrides({"run.total_steps": 300, "env.train_episode_steps": LIMIT,
                                       "run.eval_every": 300, "run.eval_episodes": 2,
                                       "run.analyze_episodes": False, "env.num_envs": 1})


def test_trainer_truncates_training_episodes_but_not_evaluations(limited):
    trainer = Trainer(limited)
    episodes: list[EpisodeEnded] = []
    evaluations: list[Evaluated] = []
    trainer.events.subscribe(episodes.append, EpisodeEnded)
    trainer.events.subscribe(evaluations.append, Evaluated)
    try:
        trainer.fit()
    finally:
        trainer.close()
    lengths = [e.length for e in episodes]
    assert lengths and max(lengths) == LIMIT
    assert evaluations and min(evaluations[-1].lengths) > LIMIT


def test_population_agents_truncate_training_episodes_but_not_evaluations(limited):
    population = Population(limited, seeds=[0, 1])
    events: list[AgentEvent] = []
    population.events.subscribe(events.append)
    try:
        population.fit()
    finally:
        population.close()
    for agent in (0, 1):
        lengths = [e.event.length for e in events if e.agent == agent and isinstance(e.event, EpisodeEnded)]
        evaluations = [e.event for e in events if e.agent == agent and isinstance(e.event, Evaluated)]
        assert lengths and max(lengths) == LIMIT
        assert evaluations and min(evaluations[-1].lengths) > LIMIT


def test_a_population_shares_one_training_time_limit(limited):
    configs = [limited.with_overrides({"run.seed": 0}),
               limited.with_overrides({"run.seed": 1, "env.train_episode_steps": 50})]
    with pytest.raises(ConfigError, match="env.train_episode_steps"):
        Population(limited, configs=configs)
