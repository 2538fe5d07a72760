"""The ensemble's mechanics: turns per env, who acts, who is deployed, updates, checkpoints and its wiring."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
import torch
from learner_batches import BEST_ACTION, random_batch, train_on_known_problem

from lab.checkpoint import CheckpointError
from lab.config import Config, ConfigError, NetworkConfig, TrainingConfig
from lab.crossq import CrossQ
from lab.ensemble import Ensemble, best_member
from lab.learner import make_agent
from lab.presets import preset
from lab.td3 import TD3
from lab.trainer import Trainer

NET = NetworkConfig(actor_hidden=(16, 16), critic_hidden=(16, 16))
TRAINING = TrainingConfig(batch_size=32, buffer_size=64)


def _ensemble(members: int = 3, num_envs: int = 1, window: int = 2, seed: int = 0) -> Ensemble:
    torch.manual_seed(seed)
    return Ensemble([TD3(8, 2, NET, TRAINING) for _ in range(members)], num_envs, window)


def _window(*returns: float, size: int = 2) -> deque[float]:
    return deque(returns, maxlen=size)


def test_the_best_member_has_the_best_full_window_then_the_best_partial_one_then_member_0():
    assert best_member([_window(), _window(), _window()]) == 0
    assert best_member([_window(-50.0), _window(), _window(10.0)]) == 2  # no full window yet: partial ones count
    assert best_member([_window(-50.0, -40.0), _window(), _window(300.0)]) == 0  # a full window beats a partial
    assert best_member([_window(100.0, 0.0), _window(20.0, 80.0), _window(300.0)]) == 0  # equal means: lower index
    assert best_member([_window(100.0, -10.0), _window(20.0, 80.0), _window(-5.0, 1.0)]) == 1


def test_members_take_turns_per_env_and_each_return_is_credited_to_the_member_that_flew():
    ensemble = _ensemble(members=3, num_envs=2)
    assert ensemble.acting.tolist() == [0, 1] and ensemble.next_turn == 2
    ensemble.episode_ended(1, -100.0)  # member 1 flew env 1; env 1 goes to member 2
    assert ensemble.acting.tolist() == [0, 2] and list(ensemble.recent[1]) == [-100.0]
    ensemble.episode_ended(1, 50.0)  # member 2 flew it; then member 0
    ensemble.episode_ended(0, -20.0)  # member 0 flew env 0; then member 1
    assert ensemble.acting.tolist() == [1, 0]
    assert [list(r) for r in ensemble.recent] == [[-20.0], [-100.0], [50.0]]
    assert ensemble.deployed == 2 and ensemble.actor is ensemble.members[2].actor


def test_each_env_is_answered_by_the_member_acting_there():
    ensemble = _ensemble(members=3, num_envs=4)
    ensemble.acting = np.array([2, 0, 2, 1])
    obs = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    actions = ensemble.explore(obs)
    for i, k in enumerate(ensemble.acting):
        np.testing.assert_allclose(actions[i], ensemble.members[k].explore(obs[i:i + 1])[0], atol=1e-6)
    assert np.abs(actions[0] - ensemble.members[0].explore(obs[:1])[0]).max() > 1e-4  # members differ
    with pytest.raises(ValueError, match="one row per env"):
        ensemble.explore(obs[:3])


def test_the_deployed_member_answers_act_and_the_trainers_policy():
    ensemble = _ensemble(members=2)
    obs = np.zeros((1, 8), np.float32)
    ensemble.deployed = 1
    np.testing.assert_array_equal(ensemble.act(obs), ensemble.members[1].act(obs))
    assert ensemble.critic is ensemble.members[1].critic


def test_every_update_trains_every_member_and_reports_their_means():
    ensemble = _ensemble(members=3)
    before = [[p.clone() for p in m.critic.parameters()] for m in ensemble.members]
    ensemble.update(random_batch())
    result = ensemble.update(random_batch(seed=1))  # the second update is an actor update (policy delay 2)
    assert ensemble.updates == 2 and all(m.updates == 2 for m in ensemble.members)
    for member, old in zip(ensemble.members, before):
        assert any(not torch.equal(a, b) for a, b in zip(member.critic.parameters(), old))
    assert result.actor_loss is not None and result.td_errors.shape == (32,)
    assert bool((result.td_errors >= 0).all())


def test_state_dict_round_trip_restores_members_turns_and_deployment_and_refuses_another_size():
    ensemble = _ensemble(members=3, num_envs=2)
    for k in range(3):
        ensemble.update(random_batch(seed=k))
    for env, ret in ((0, 5.0), (1, -3.0), (0, 9.0)):
        ensemble.episode_ended(env, ret)
    restored = _ensemble(members=3, num_envs=2, seed=99)
    restored.load_state_dict(ensemble.state_dict())
    assert restored.acting.tolist() == ensemble.acting.tolist() and restored.next_turn == ensemble.next_turn
    assert [list(r) for r in restored.recent] == [list(r) for r in ensemble.recent]
    assert restored.deployed == ensemble.deployed
    torch.manual_seed(5)
    expected = ensemble.update(random_batch(seed=9))
    torch.manual_seed(5)
    assert float(restored.update(random_batch(seed=9)).critic_loss) == float(expected.critic_loss)
    with pytest.raises(ValueError, match="holds 3 ensemble members, this ensemble has 2"):
        _ensemble(members=2).load_state_dict(ensemble.state_dict())


def test_make_agent_builds_a_lone_learner_or_an_ensemble_of_the_configured_algorithm():
    config = preset("tiny")
    torch.manual_seed(0)
    lone = make_agent(config, 8, 2)
    torch.manual_seed(0)
    ensemble = make_agent(config.with_overrides({"training.ensemble_size": 3}), 8, 2)
    assert type(lone) is TD3 and isinstance(ensemble, Ensemble) and len(ensemble.members) == 3
    for a, b in zip(lone.actor.parameters(), ensemble.members[0].actor.parameters()):
        assert torch.equal(a, b)  # member 0 starts where a lone run would
    assert not torch.equal(ensemble.members[0].actor.trunk[0].weight, ensemble.members[1].actor.trunk[0].weight)
    crossq = make_agent(config.with_overrides({"training.ensemble_size": 2, "training.algorithm": "crossq"}), 8, 2)
    assert isinstance(crossq, Ensemble) and all(isinstance(m, CrossQ) for m in crossq.members)


def test_config_errors_name_the_field_the_value_and_what_is_allowed():
    with pytest.raises(ConfigError, match=r"training.ensemble_size=0 is invalid: allowed an integer in \[1, 16\]"):
        TrainingConfig(ensemble_size=0)
    for dotted in ("run.overlap_collection", "training.policy_checkpoints"):
        with pytest.raises(ConfigError, match=f"{dotted}=True is invalid with training.ensemble_size=2: allowed"):
            Config().with_overrides({"training.ensemble_size": 2, dotted: True})


def test_an_ensemble_learns_the_best_action_on_a_known_problem():
    torch.manual_seed(0)
    cfg = TrainingConfig(critic_lr=3e-3, actor_lr=3e-3, batch_size=64, buffer_size=512)
    ensemble = Ensemble([TD3(8, 2, NetworkConfig(actor_hidden=(32, 32), critic_hidden=(64, 64)), cfg)
                         for _ in range(2)], num_envs=1, window=2)
    states = train_on_known_problem(ensemble)  # type: ignore[arg-type]
    for member in ensemble.members:
        with torch.no_grad():
            pi = member.actor(states)
        assert (pi.mean(0) - BEST_ACTION).abs().max() < 0.1


def test_in_a_trainer_members_alternate_the_deployed_one_is_the_policy_and_a_checkpoint_resumes_exactly(
        tmp_path) -> None:
    overrides = {"training.ensemble_size": 2, "run.total_steps": 600, "training.learning_starts": 200,
                 "run.eval_every": 0, "run.checkpoint_every": 400, "run.save_replay": True,
                 "run.analyze_episodes": False, "env.max_episode_steps": 50}
    whole = Trainer(preset("tiny", **overrides), run_dir=tmp_path / "a")
    assert isinstance(whole.agent, Ensemble)
    whole.fit()
    ensemble = whole.agent
    assert all(len(r) == r.maxlen == 3 for r in ensemble.recent)  # 12 episodes of 50 steps: six each
    assert whole.learner.deployed_actor is ensemble.members[ensemble.deployed].actor
    obs = np.zeros((3, 8), np.float32)
    np.testing.assert_allclose(whole.policy(obs), ensemble.act(obs), atol=1e-6)
    half = Trainer(preset("tiny", **{**overrides, "run.total_steps": 400}), run_dir=tmp_path / "b")
    half.fit()
    resumed = Trainer(whole.config, run_dir=tmp_path / "c", resume=half.checkpoint_path)
    resumed.fit()
    assert resumed.agent.deployed == ensemble.deployed and resumed.agent.updates == ensemble.updates > 0
    for a, b in zip(ensemble.members, resumed.agent.members):
        assert all(torch.equal(x, y) for x, y in zip(a.actor.parameters(), b.actor.parameters()))
    with pytest.raises(CheckpointError, match="training.ensemble_size=2, the config asks for 3"):
        Trainer(whole.config.with_overrides({"training.ensemble_size": 3}), run_dir=tmp_path / "d",
                resume=whole.checkpoint_path)
    for t in (whole, half, resumed):
        t.close()
