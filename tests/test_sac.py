"""SAC's mechanics: the squashed Gaussian, the soft target, the temperature, checkpoints and the trainer's wiring."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from learner_batches import BEST_ACTION, random_batch, round_trip, train_on_known_problem
from torch.distributions import Normal, TanhTransform, TransformedDistribution

from lab.config import Config, ConfigError, NetworkConfig, TrainingConfig
from lab.events import UpdateMetrics
from lab.networks import Actor
from lab.policy import Policy
from lab.presets import preset
from lab.sac import LOG_STD_RANGE, SAC, soft_target, squashed_gaussian, temperature_loss
from lab.td3 import TD3
from lab.trainer import Trainer

NET = NetworkConfig(actor_hidden=(16, 16), critic_hidden=(16, 16))


_batch = random_batch


def _agent(seed=0, **training):
    torch.manual_seed(seed)
    return SAC(8, 2, NET, TrainingConfig(**{"batch_size": 32, "buffer_size": 64, "policy_delay": 1, **training}))


def test_squashed_gaussian_log_prob_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mean, log_std, eps = torch.randn(64, 2, generator=g), torch.rand(64, 2, generator=g) * 3 - 2, torch.randn(
        64, 2, generator=g)
    action, log_prob = squashed_gaussian(mean, log_std, eps)
    reference = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform(cache_size=1)])
    u = mean + log_std.exp() * eps
    expected_action = reference.transforms[0](u)  # the cached transform gives log_prob of the exact pre-image
    torch.testing.assert_close(action, expected_action)
    torch.testing.assert_close(log_prob, reference.log_prob(expected_action).sum(-1), atol=1e-4, rtol=1e-4)


def test_squashed_gaussian_stays_finite_where_tanh_saturates():
    action, log_prob = squashed_gaussian(torch.full((1, 2), 30.0), torch.full((1, 2), -5.0), torch.zeros(1, 2))
    assert torch.isfinite(log_prob).all() and torch.equal(action, torch.ones(1, 2))


def test_soft_target_is_the_clipped_double_q_less_the_entropy_price():
    r, d = torch.tensor([1.0, 2.0]), torch.tensor([0.99, 0.0])
    q1, q2, log_prob = torch.tensor([5.0, 7.0]), torch.tensor([4.0, 9.0]), torch.tensor([-1.0, 3.0])
    torch.testing.assert_close(soft_target(r, d, q1, q2, log_prob, 0.5), torch.tensor([1.0 + 0.99 * 4.5, 2.0]))
    torch.testing.assert_close(soft_target(r, d, q1, q2, log_prob, 0.5, pessimism=0.0),
                               torch.tensor([1.0 + 0.99 * 5.0, 2.0]))


@pytest.mark.parametrize(("log_prob", "direction"), [(5.0, 1), (-5.0, -1)])
def test_the_temperature_rises_when_entropy_is_below_target_and_falls_when_above(log_prob, direction):
    log_alpha = torch.zeros((), requires_grad=True)
    temperature_loss(log_alpha, torch.full((16,), log_prob), target_entropy=-2.0).backward()
    assert log_alpha.grad is not None and math.copysign(1, -float(log_alpha.grad)) == direction


def test_an_update_moves_actor_critic_log_std_and_temperature_and_only_the_critic_targets():
    agent = _agent()
    before = {name: copy.deepcopy(getattr(agent, name).state_dict())
              for name in ("actor", "log_std_head", "critic", "critic_target")}
    alpha = float(agent.alpha)
    result = agent.update(_batch())
    assert result.actor_loss is not None and float(agent.alpha) != alpha
    for name, state in before.items():
        now = getattr(agent, name).state_dict()
        assert any(not torch.equal(state[k], now[k]) for k in state), name
    assert not hasattr(agent, "actor_target")


def test_the_deployed_policy_is_the_mean_and_exploring_samples_around_it():
    agent = _agent(sac_initial_alpha=0.5)
    assert type(agent.actor) is Actor and float(agent.alpha) == pytest.approx(0.5)
    obs = np.random.default_rng(0).standard_normal((256, 8)).astype(np.float32)
    mean = agent.act(obs)
    np.testing.assert_allclose(Policy.from_actor(agent.actor)(obs), mean, rtol=1e-6)
    torch.manual_seed(1)
    sampled = agent.explore(obs)
    torch.manual_seed(1)
    assert np.array_equal(agent.explore(obs), sampled)  # seeded, so runs reproduce
    assert np.abs(sampled).max() <= 1.0 and np.abs(sampled - mean).mean() > 0.1
    low, high = LOG_STD_RANGE
    with torch.no_grad():
        log_std = agent.log_std_head(agent.actor.trunk(torch.as_tensor(obs)))
    assert low <= float(log_std.min()) and float(log_std.max()) <= high


def test_state_dict_round_trip_reproduces_the_next_update_exactly():
    agent, restored = round_trip(lambda seed: _agent(seed=seed))
    for name in ("actor", "log_std_head", "critic", "critic_target"):
        a, b = getattr(agent, name).state_dict(), getattr(restored, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(restored.log_alpha, agent.log_alpha) and restored.updates == agent.updates == 6


def test_a_td3_state_is_refused_with_a_clear_error():
    td3 = TD3(8, 2, NET, TrainingConfig(batch_size=32, buffer_size=64))
    assert math.isnan(td3.temperature)  # what TD3's update metrics report: it has no temperature
    td3_state = td3.state_dict()
    with pytest.raises(ValueError, match="algorithm='td3' is invalid for the SAC learner"):
        _agent().load_state_dict(td3_state)


def test_config_errors_name_the_field_the_value_and_what_is_allowed():
    with pytest.raises(ConfigError, match=r"training.sac_initial_alpha=0.0 is invalid: allowed a number in \(0.0"):
        TrainingConfig(sac_initial_alpha=0.0)
    with pytest.raises(ConfigError, match="run.overlap_collection=True is invalid with training.algorithm='sac'"):
        Config().with_overrides({"training.algorithm": "sac", "run.overlap_collection": True})


def test_learns_the_best_action_on_a_known_problem():
    """The known problem (tests/learner_batches.py): the mean action goes to a*, and alpha falls."""
    torch.manual_seed(0)
    cfg = TrainingConfig(critic_lr=3e-3, actor_lr=3e-3, batch_size=64, buffer_size=512, policy_delay=1,
                         sac_initial_alpha=0.1)
    agent = SAC(8, 2, NetworkConfig(actor_hidden=(32, 32), critic_hidden=(64, 64)), cfg)
    states = train_on_known_problem(agent)
    best = BEST_ACTION
    with torch.no_grad():
        pi = agent.actor(states)
    assert (pi.mean(0) - best).abs().max() < 0.1 and (pi - best).abs().max() < 0.3
    assert float(agent.alpha) < 0.1


def test_the_trainer_explores_with_samples_and_a_checkpoint_resumes_exactly(tmp_path) -> None:
    from lab.checkpoint import CheckpointError

    overrides = {"training.algorithm": "sac", "noise.sigma": 0.0, "training.policy_delay": 1,
                 "run.total_steps": 600, "training.learning_starts": 200, "run.eval_every": 0,
                 "run.checkpoint_every": 400, "run.save_replay": True, "run.analyze_episodes": False}
    whole = Trainer(preset("tiny", **overrides), run_dir=tmp_path / "a")
    assert isinstance(whole.agent, SAC)
    explored: list[tuple[np.ndarray, np.ndarray]] = []
    sample = whole.agent.explore

    def recording(obs: np.ndarray) -> np.ndarray:
        explored.append((obs.copy(), sample(obs)))
        return explored[-1][1]

    whole.agent.explore = recording  # type: ignore[method-assign]
    metrics: list[UpdateMetrics] = []
    whole.events.subscribe(lambda e: metrics.append(e) if isinstance(e, UpdateMetrics) else None)
    whole.fit()
    assert metrics and all(0.0 < m.temperature < 1.0 for m in metrics)  # learned down from its initial 1
    steps = whole.env_step - 200  # acting after the uniform warm-up, one call per vector step
    assert len(explored) == pytest.approx(steps / whole.config.env.num_envs, abs=2)
    obs, acted = explored[-1]
    assert np.abs(acted - whole.agent.act(obs)).mean() > 0.01  # a sample, not the mean action
    half = Trainer(preset("tiny", **{**overrides, "run.total_steps": 400}), run_dir=tmp_path / "b")
    half.fit()
    resumed = Trainer(whole.config, run_dir=tmp_path / "c", resume=half.checkpoint_path)
    resumed.fit()
    assert resumed.agent.updates == whole.agent.updates > 0
    assert torch.equal(resumed.agent.log_alpha, whole.agent.log_alpha)
    for a, b in zip(whole.agent.actor.parameters(), resumed.agent.actor.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(CheckpointError, match="training.algorithm='sac'"):
        Trainer(whole.config.with_overrides({"training.algorithm": "td3"}), run_dir=tmp_path / "d",
                resume=whole.checkpoint_path)
    for t in (whole, half, resumed):
        t.close()
