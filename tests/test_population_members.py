"""What agents of one engine must share (the fields lab/config.py marks shared) and what each keeps its own."""

from __future__ import annotations

import pytest

from lab.agents.td3 import lr_factor
from lab.config import ConfigError, shared_fields
from lab.train.members import member_configs, memory_bytes
from lab.train.population import Population


@pytest.fixture
def base(tiny_config):
    return tiny_config.with_overrides({"run.total_steps": 200, "env.num_envs": 1, "training.batch_size": 16,
                                       "run.analyze_episodes": False, "env.max_episode_steps": 60})


def _agents(base, *overrides: dict) -> list:
    return [base.with_overrides({**o, "run.seed": k}) for k, o in enumerate(overrides)]


@pytest.mark.parametrize(("dotted", "value"), [
    ("network.actor_hidden", [16]), ("network.layer_norm", True), ("env.num_envs", 2), ("training.batch_size", 8),
    ("training.buffer_size", 600), ("training.n_step", 3), ("training.use_per", True), ("run.checkpoint_every", 7),
    ("run.overlap_collection", True), ("run.device", "cpu"),
])
def test_a_field_the_agents_share_must_match_and_is_refused_in_one_line(base, dotted, value):
    assert dotted in [f.key for f in shared_fields()]
    with pytest.raises(ConfigError) as caught:
        member_configs(base, configs=_agents(base, {}, {dotted: value}))
    message = str(caught.value)
    assert message.startswith(f"agent 1 has {dotted}=") and f"must share {dotted}" in message
    assert "\n" not in message


def test_fields_of_their_own_may_differ(base):
    own = {"training.actor_lr": 3e-4, "training.critic_loss": "huber", "training.grad_clip": 0.5,
           "training.warmup_pilot": "heuristic", "noise.kind": "ou", "noise.touchdown_cut": 0.5,
           "network.main_engine_bias": 0.7, "env.reward_shaping": True, "run.total_steps": 100,
           "run.stop_when_solved": True}
    configs = member_configs(base, configs=_agents(base, {}, own))
    assert configs[1].training.critic_loss == "huber" and configs[1].noise.kind == "ou"


def test_per_agent_learner_settings_reach_the_batched_learner(base):
    configs = _agents(base, {}, {"training.critic_loss": "huber", "training.grad_clip": 0.5,
                                 "training.weight_decay": 1e-3, "network.main_engine_bias": 0.7})
    with Population(configs=configs, log_to_disk=False) as population:
        learner = population.learner
        assert learner.huber.tolist() == [False, True]
        assert learner.values["grad_clip"].tolist() == [0.0, 0.5]
        assert learner.values["weight_decay"].tolist() == pytest.approx([0.0, 1e-3])
        main_head_bias = learner.actor.head_bias[:, 0, 0]  # column 0 is the main engine
        assert main_head_bias.tolist() == pytest.approx([0.0, 0.7])


def test_learning_rate_schedules_move_each_agents_rates_by_its_own_progress(base):
    schedules = ("constant", "linear", "cosine")
    configs = _agents(base, *({"training.lr_schedule": s, "training.actor_lr": 2e-3} for s in schedules))
    with Population(configs=configs, log_to_disk=False) as population:
        population.fit()
        for k, schedule in enumerate(schedules):
            last_pay = population.members[k].env_step  # the last updates were paid after this step
            factor = lr_factor(schedule, last_pay / configs[k].run.total_steps)
            assert population.learner.setting("actor_lr", k) == pytest.approx(2e-3 * factor, rel=1e-2)
        assert population.learner.setting("actor_lr", 1) < 2e-3 * 0.5  # the schedule did move it


def test_the_memory_estimate_is_per_agent_times_agents(base):
    one = memory_bytes(base, 1)
    assert memory_bytes(base, 8) == 8 * one
    assert memory_bytes(base.with_overrides({"training.use_per": True}), 1) > one
