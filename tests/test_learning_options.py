"""Mechanics of the learning options: LAP priorities and TD7's policy-checkpoint windows, alone and in a trainer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lab.config import ConfigError
from lab.policy_checkpoint import PolicyCheckpointer
from lab.presets import preset
from lab.replay import PrioritizedReplayBuffer
from lab.trainer import Trainer


def _per_buffer() -> PrioritizedReplayBuffer:
    buffer = PrioritizedReplayBuffer(8, 2, 1, alpha=0.5, epsilon=1e-6, seed=0)
    buffer.add(np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32), np.zeros(4, np.float32),
               np.zeros((4, 2), np.float32), np.zeros(4, bool))
    return buffer


def test_lap_priorities_never_fall_below_one_and_grow_with_the_error() -> None:
    buffer = _per_buffer()
    buffer.update_priorities(np.arange(4), np.array([0.0, 0.5, 1.0, 4.0]), alpha=0.4, lap=True)
    expected = np.array([1.0, 1.0, 1.0, 4.0 ** 0.4])
    assert np.allclose(buffer.tree.leaves(np.arange(4)), expected)
    assert math.isclose(buffer.tree.total, expected.sum(), rel_tol=1e-9)
    assert math.isclose(buffer.max_priority, 4.0 ** 0.4)


def test_proportional_priorities_fall_towards_epsilon_where_lap_keeps_one() -> None:
    proportional, lap = _per_buffer(), _per_buffer()
    proportional.update_priorities(np.arange(4), np.array([0.0, 0.5, 1.0, 4.0]), alpha=1.0)
    lap.update_priorities(np.arange(4), np.array([0.0, 0.5, 1.0, 4.0]), alpha=1.0, lap=True)
    assert proportional.tree.leaves(np.array([0]))[0] == pytest.approx(1e-6)
    assert lap.tree.leaves(np.array([0]))[0] == 1.0


def test_a_single_episode_window_adopts_a_policy_that_matches_the_best() -> None:
    ckpt = PolicyCheckpointer(window=5, widen_after=10_000)
    first = ckpt.episode_ended(-100.0, env_step=80)
    assert first.adopt and first.closed
    worse = ckpt.episode_ended(-150.0, env_step=140)
    assert worse.closed and not worse.adopt
    better = ckpt.episode_ended(-20.0, env_step=230)
    assert better.adopt and ckpt.best_min == -20.0


def test_a_wide_window_is_judged_by_its_worst_episode_and_closes_early() -> None:
    ckpt = PolicyCheckpointer(window=3, widen_after=0, relax=0.9)
    ckpt.episode_ended(100.0, env_step=200)  # widens after this first (one-episode) window
    assert ckpt.widened and math.isclose(ckpt.best_min, 90.0)
    for step in (500, 800):  # the window is not full yet: updates stay owed
        pending = ckpt.episode_ended(250.0, env_step=step)
        assert not pending.closed and not pending.adopt
    full = ckpt.episode_ended(95.0, env_step=1100)
    assert full.closed and full.adopt and ckpt.best_min == 95.0
    early = ckpt.episode_ended(50.0, env_step=1220)  # below the best minimum: closes at once
    assert early.closed and not early.adopt


def test_a_mean_window_runs_to_its_end_and_forgives_one_crash_that_min_would_not() -> None:
    by_mean, by_min = PolicyCheckpointer(3, widen_after=0, score="mean"), PolicyCheckpointer(3, widen_after=0)
    for ckpt in (by_mean, by_min):
        ckpt.episode_ended(-50.0, env_step=100)  # the first, one-episode window sets the bar (relaxed to -55.6)
    crash = by_mean.episode_ended(-200.0, env_step=400)
    assert not crash.closed  # a mean can still recover: the window goes on
    assert by_min.episode_ended(-200.0, env_step=400).closed  # the minimum already lost
    by_mean.episode_ended(240.0, env_step=700)
    full = by_mean.episode_ended(250.0, env_step=1000)
    assert full.closed and full.adopt and by_mean.best_min == pytest.approx(290.0 / 3)
    worse = [by_mean.episode_ended(r, env_step=1300 + 300 * i) for i, r in enumerate((100.0, 90.0, 80.0))]
    assert worse[-1].closed and not worse[-1].adopt and by_mean.best_min == pytest.approx(290.0 / 3)


def test_relaxing_a_negative_bar_lowers_it() -> None:
    ckpt = PolicyCheckpointer(window=4, widen_after=0, relax=0.9)
    ckpt.episode_ended(-90.0, env_step=100)
    assert ckpt.best_min < -90.0


def test_checkpointer_state_round_trip() -> None:
    a = PolicyCheckpointer(window=3, widen_after=0)
    for ret in (10.0, 50.0, 40.0):
        a.episode_ended(ret, env_step=1000)
    b = PolicyCheckpointer(window=3, widen_after=0)
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()
    assert b.episode_ended(5.0, 2000) == a.episode_ended(5.0, 2000)


def test_config_names_the_new_fields_and_their_ranges() -> None:
    with pytest.raises(ConfigError, match="training.per_kind"):
        preset("tiny", **{"training.per_kind": "rank"})
    with pytest.raises(ConfigError, match="training.checkpoint_window"):
        preset("tiny", **{"training.checkpoint_window": 0})
    with pytest.raises(ConfigError, match="training.checkpoint_score"):
        preset("tiny", **{"training.checkpoint_score": "median"})


def _tiny(tmp_path, **overrides):  # type: ignore[no-untyped-def]
    config = preset("tiny", **{"run.total_steps": 1500, "training.learning_starts": 200, "run.eval_every": 0,
                               "run.checkpoint_every": 0, "run.analyze_episodes": False, **overrides})
    return Trainer(config, run_dir=tmp_path / "run")


def test_policy_checkpoints_deploy_a_copy_and_pay_updates_only_when_a_window_closes(tmp_path) -> None:
    trainer = _tiny(tmp_path, **{"training.policy_checkpoints": True, "training.checkpoint_window": 2,
                                 "training.checkpoint_widen_after": 600})
    learner = trainer.learner
    assert learner.deployed_actor is not trainer.agent.actor
    trainer.fit()
    assert learner.checkpointer is not None and learner.checkpointer.widened
    # every transition since learning started owes one update: paid when its window closed, or still owed
    assert trainer.agent.updates > 0 and learner.owed > 0
    n = trainer.config.env.num_envs  # learning starts inside the vector step that crosses learning_starts
    assert trainer.agent.updates + learner.owed == pytest.approx(trainer.env_step - 200, abs=n)
    obs = np.zeros(8, np.float32)
    with torch.no_grad():
        expected = learner.deployed_actor(torch.as_tensor(obs[None])).numpy()[0]
    assert np.allclose(trainer.policy(obs), expected)
    trainer.close()


def test_without_policy_checkpoints_the_trainer_deploys_its_live_actor(tmp_path) -> None:
    trainer = _tiny(tmp_path)
    assert trainer.learner.deployed_actor is trainer.agent.actor and trainer.learner.checkpointer is None
    trainer.close()


def test_policy_checkpoints_resume_exactly(tmp_path) -> None:
    overrides = {"training.policy_checkpoints": True, "training.checkpoint_window": 2,
                 "training.checkpoint_widen_after": 400, "run.checkpoint_every": 700, "run.save_replay": True}
    whole = _tiny(tmp_path / "a", **overrides)
    whole.fit()
    half = _tiny(tmp_path / "b", **{**overrides, "run.total_steps": 700})
    half.fit()
    resumed = Trainer(whole.config, run_dir=tmp_path / "b" / "run", resume=half.checkpoint_path)
    resumed.fit()
    for a, b in zip(whole.learner.deployed_actor.parameters(), resumed.learner.deployed_actor.parameters()):
        assert torch.equal(a, b)
    assert whole.learner.checkpointer.state_dict() == resumed.learner.checkpointer.state_dict()  # type: ignore[union-attr]
    for t in (whole, half, resumed):
        t.close()


def test_training_algorithm_picks_the_learner_and_a_checkpoint_keeps_it(tmp_path) -> None:
    from lab.checkpoint import CheckpointError
    from lab.crossq import CrossQ

    trainer = _tiny(tmp_path, **{"training.algorithm": "crossq", "run.total_steps": 400})
    assert isinstance(trainer.agent, CrossQ)
    trainer.fit()
    assert trainer.agent.updates > 0
    td3_config = trainer.config.with_overrides({"training.algorithm": "td3"})
    with pytest.raises(CheckpointError, match="training.algorithm='crossq'"):
        Trainer(td3_config, run_dir=tmp_path / "other", resume=trainer.checkpoint_path)
    trainer.close()
