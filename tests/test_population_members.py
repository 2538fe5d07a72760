"""What a population accepts from its members' configs: each setting is either honoured per agent or refused."""

from __future__ import annotations

import pytest

from lab.config import ConfigError, TrainingConfig
from lab.population import Population
from lab.population.members import member_configs
from lab.td3 import TD3


@pytest.fixture
def base(tiny_config):
    return tiny_config.with_overrides({"run.total_steps": 200, "env.num_envs": 1, "training.batch_size": 16,
                                       "run.analyze_episodes": False, "env.max_episode_steps": 60})


def _agents(base, *overrides: dict) -> list:
    return [base.with_overrides({**o, "run.seed": k}) for k, o in enumerate(overrides)]


@pytest.mark.parametrize(("dotted", "value", "allowed"), [
    ("training.algorithm", "crossq", "allowed 'td3'"),
    ("training.algorithm", "sac", "allowed 'td3'"),
    ("training.policy_checkpoints", True, "allowed False"),
    ("training.ensemble_size", 2, "allowed 1"),
    ("training.use_per", True, "allowed False"),
    ("training.precision", "bfloat16", "allowed 'float32'"),
    ("run.device", "cuda", "allowed 'auto' or 'cpu'"),
])
def test_settings_a_population_cannot_honour_are_refused_in_one_line(base, dotted, value, allowed):
    configs = _agents(base, {}, {dotted: value})
    with pytest.raises(ConfigError) as caught:
        member_configs(base, configs=configs)
    message = str(caught.value)
    assert message.startswith(f"agent 1: {dotted}={value!r} is not supported in a population")
    assert allowed in message and "\n" not in message


def test_switches_that_only_matter_with_a_refused_setting_are_accepted(base):
    # As in a single run, per_kind and the CrossQ and policy-checkpoint knobs do nothing unless switched on.
    inert = {"training.per_kind": "lap", "training.per_alpha": 0.1, "training.crossq_adam_beta1": 0.9,
             "training.checkpoint_window": 9, "env.vectorization": "async"}
    assert member_configs(base, configs=_agents(base, {}, inert))[1].training.per_kind == "lap"


def test_per_agent_learner_settings_reach_the_batched_learner(base):
    configs = _agents(base, {}, {"training.critic_loss": "huber", "training.grad_clip": 0.5,
                                 "training.weight_decay": 1e-3, "network.main_engine_bias": 0.7})
    with Population(configs=configs, log_to_disk=False, overlap=False) as population:
        learner = population.learner
        assert learner.huber.tolist() == [False, True]
        assert learner.values["grad_clip"].tolist() == [0.0, 0.5]
        assert learner.values["weight_decay"].tolist() == pytest.approx([0.0, 1e-3])
        main_head_bias = learner.actor.head_bias[:, 0, 0]  # column 0 is the main engine
        assert main_head_bias.tolist() == pytest.approx([0.0, 0.7])


def test_learning_rate_schedules_follow_the_single_agent_learner(base):
    schedules = ("constant", "linear", "cosine")
    configs = _agents(base, *({"training.lr_schedule": s, "training.actor_lr": 2e-3} for s in schedules))
    with Population(configs=configs, log_to_disk=False, overlap=False) as population:
        population.fit()
        for k, schedule in enumerate(schedules):
            single = TD3(8, 2, configs[k].network, TrainingConfig(lr_schedule=schedule, actor_lr=2e-3))
            progress = population.members[k].env_step / configs[k].run.total_steps
            actor_lr, critic_lr = single.apply_schedule(progress)
            assert population.learner.get("actor_lr", k) == pytest.approx(actor_lr, rel=1e-12)
            assert population.learner.get("critic_lr", k) == pytest.approx(critic_lr, rel=1e-12)
        assert population.learner.get("actor_lr", 1) < 2e-3 * 0.5  # the schedule did move it
