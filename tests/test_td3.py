import copy

import pytest
import torch
from learner_batches import random_batch

from lab.config import NetworkConfig, TrainingConfig
from lab.networks import Actor, TwinCritic
from lab.td3 import TD3, actor_objective, smoothed_target_action, td3_target, twin_estimate

NET = NetworkConfig(actor_hidden=(16, 16), critic_hidden=(16, 16))


_batch = random_batch


def test_target_takes_the_smaller_critic_and_zeroes_after_termination():
    rewards = torch.tensor([1.0, 1.0, -1.0])
    discounts = torch.tensor([0.9, 0.0, 0.5])
    q1 = torch.tensor([10.0, 10.0, 4.0])
    q2 = torch.tensor([5.0, 20.0, 8.0])
    assert td3_target(rewards, discounts, q1, q2).tolist() == pytest.approx([5.5, 1.0, 1.0])


def test_target_pessimism_blends_the_twins_from_their_min_to_their_mean():
    q1 = torch.tensor([10.0, 1.0, 3.0])
    q2 = torch.tensor([6.0, 5.0, 3.0])
    assert torch.equal(twin_estimate(q1, q2, 1.0), torch.minimum(q1, q2))
    assert twin_estimate(q1, q2, 0.0).tolist() == pytest.approx([8.0, 3.0, 3.0])
    assert twin_estimate(q1, q2, 0.5).tolist() == pytest.approx([7.0, 2.0, 3.0])
    assert twin_estimate(q1, q2, 2.0).tolist() == pytest.approx([4.0, -1.0, 3.0])


def test_target_pessimism_per_row_leaves_rows_at_one_exactly_the_min():
    g = torch.Generator().manual_seed(0)
    q1, q2 = torch.randn(3, 64, generator=g) * 100, torch.randn(3, 64, generator=g) * 100
    blended = twin_estimate(q1, q2, torch.tensor([1.0, 0.0, 0.25], dtype=torch.float64))
    assert torch.equal(blended[0], torch.minimum(q1[0], q2[0]))
    assert torch.allclose(blended[1], (q1[1] + q2[1]) / 2)
    assert torch.allclose(blended[2], twin_estimate(q1[2], q2[2], 0.25))


def test_target_smoothing_noise_is_clipped_and_actions_stay_in_bounds():
    torch.manual_seed(0)
    actor = Actor(8, 2, NET)
    obs = torch.randn(4096, 8)
    clean = actor(obs)
    noisy = smoothed_target_action(actor, obs, noise_std=10.0, noise_clip=0.05)
    assert (noisy - clean).abs().max() <= 0.05 + 1e-6
    wild = smoothed_target_action(actor, obs, noise_std=10.0, noise_clip=5.0)
    assert wild.abs().max() <= 1.0


def test_twin_critic_matches_two_independent_networks():
    torch.manual_seed(0)
    critic = TwinCritic(8, 2, NetworkConfig(critic_hidden=(16, 8), layer_norm=True))
    obs, act = torch.randn(5, 8), torch.rand(5, 2)
    both = critic(obs, act)
    assert both.shape == (2, 5)
    torch.testing.assert_close(critic.q1(obs, act), both[0])
    # the second critic differs: independent initialisation
    assert not torch.allclose(both[0], both[1])


def test_actor_has_separate_heads_and_main_engine_bias():
    actor = Actor(8, 2, NetworkConfig(actor_hidden=(8,), main_engine_bias=0.5))
    assert actor.main_head.bias.item() == pytest.approx(0.5)
    assert actor.side_head.bias.item() == 0.0
    out = actor(torch.zeros(3, 8))
    assert out.shape == (3, 2) and torch.all(out[:, 0] > 0.3)


def test_actor_objective_adds_the_weighted_mean_square_of_the_pre_tanh_actions():
    q = torch.tensor([1.0, 3.0])
    pre_tanh = torch.tensor([[2.0, 0.0], [0.0, -4.0]])
    assert actor_objective(q, pre_tanh, 0.0).item() == pytest.approx(-2.0)
    assert actor_objective(q, pre_tanh, 0.5).item() == pytest.approx(-2.0 + 0.5 * (4 + 16) / 4)


def test_action_penalty_pulls_a_saturated_actor_back_where_the_critic_does_not_care():
    # A critic that ignores the action gives the actor no gradient; the penalty alone shrinks |pre-tanh|.
    def saturated_agent(penalty):
        torch.manual_seed(0)
        agent = TD3(8, 2, NET, TrainingConfig(policy_delay=1, action_penalty=penalty, actor_lr=1e-2))
        with torch.no_grad():
            agent.actor.main_head.bias.fill_(4.0)
            agent.critic.weights[0][:, 8:].zero_()  # Q independent of the action
        return agent

    batch = _batch()
    magnitudes = {}
    for penalty in (0.0, 1.0):
        agent = saturated_agent(penalty)
        before = agent.actor.pre_tanh(batch.obs)[:, 0].abs().mean().item()
        for _ in range(20):
            agent.actor_step(batch)
        magnitudes[penalty] = (before, agent.actor.pre_tanh(batch.obs)[:, 0].abs().mean().item())
    assert magnitudes[0.0][1] == pytest.approx(magnitudes[0.0][0])
    assert magnitudes[1.0][1] < magnitudes[1.0][0] - 0.5


def test_actor_and_targets_update_only_every_policy_delay_steps():
    torch.manual_seed(0)
    agent = TD3(8, 2, NET, TrainingConfig(policy_delay=3, batch_size=32, buffer_size=64))
    actor_before = copy.deepcopy(agent.actor.state_dict())
    target_before = copy.deepcopy(agent.critic_target.state_dict())
    results = [agent.update(_batch(seed=k)) for k in range(3)]
    assert [r.actor_loss is None for r in results] == [True, True, False]
    changed = [not torch.equal(actor_before[k], v) for k, v in agent.actor.state_dict().items()]
    assert any(changed)
    assert any(not torch.equal(target_before[k], v) for k, v in agent.critic_target.state_dict().items())


def test_soft_update_is_polyak_averaging():
    agent = TD3(8, 2, NET, TrainingConfig(tau=0.25, batch_size=32, buffer_size=64))
    with torch.no_grad():
        for p in agent.critic.parameters():
            p.fill_(1.0)
        for p in agent.critic_target.parameters():
            p.fill_(0.0)
    agent.soft_update()
    for p in agent.critic_target.parameters():
        assert torch.allclose(p, torch.full_like(p, 0.25))


def test_per_weights_scale_the_critic_loss_and_td_errors_are_returned():
    torch.manual_seed(0)
    agent = TD3(8, 2, NET, TrainingConfig(batch_size=32, buffer_size=64))
    state = copy.deepcopy(agent.state_dict())
    batch = _batch()
    torch.manual_seed(1)  # the same target smoothing noise in both updates
    full = agent.update(batch)
    agent.load_state_dict(state)
    batch.weights = torch.full((32,), 0.5)
    torch.manual_seed(1)
    half = agent.update(batch)
    assert float(half.critic_loss) == pytest.approx(0.5 * float(full.critic_loss), rel=1e-5)
    assert full.td_errors.shape == (32,) and torch.all(full.td_errors >= 0)


def test_critic_learns_a_constant_reward():
    torch.manual_seed(0)
    agent = TD3(8, 2, NET, TrainingConfig(critic_lr=3e-3, batch_size=64, buffer_size=64))
    batch = _batch(64)
    batch.rewards = torch.full((64,), 2.0)
    batch.discounts = torch.zeros(64)  # terminal: the target is the reward itself
    losses = [float(agent.update(batch).critic_loss) for _ in range(300)]
    assert losses[-1] < 0.01 * losses[0]


def test_bfloat16_critic_output_keeps_float32_resolution():
    critic = TwinCritic(8, 2, NET)
    with torch.no_grad():
        critic.biases[-1].fill_(100.0 + 1 / 3)  # bf16 steps by 0.5 near 100: it would read 100.5
    obs, act = torch.randn(16, 8), torch.rand(16, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q, q1 = critic(obs, act), critic.q1(obs, act)
    assert q.dtype == q1.dtype == torch.float32
    assert torch.allclose(q, critic(obs, act), atol=0.02) and torch.allclose(q1, q[0], atol=0.02)


def test_bfloat16_updates_learn_and_keep_float32_weights():
    torch.manual_seed(0)
    agent = TD3(8, 2, NET, TrainingConfig(critic_lr=3e-3, batch_size=64, buffer_size=64, precision="bfloat16"))
    batch = _batch(64)
    batch.rewards = torch.full((64,), 2.0)
    batch.discounts = torch.zeros(64)
    losses = [float(agent.update(batch).critic_loss) for _ in range(300)]
    assert losses[-1] < 0.01 * losses[0]
    assert all(p.dtype == torch.float32 for p in [*agent.critic.parameters(), *agent.actor.parameters()])


def test_huber_loss_is_used_when_configured():
    agent = TD3(8, 2, NET, TrainingConfig(critic_loss="huber", batch_size=32, buffer_size=64))
    batch = _batch()
    batch.rewards = torch.full((32,), 100.0)  # huge errors: huber is linear, mse quadratic
    loss = float(agent.update(batch).critic_loss)
    assert loss < 2 * 110  # two critics, each about |error| - 0.5


def test_schedule_scales_learning_rates():
    agent = TD3(8, 2, NET, TrainingConfig(actor_lr=1e-3, critic_lr=2e-3, lr_schedule="linear",
                                          batch_size=32, buffer_size=64))
    a, c = agent.apply_schedule(1.0)
    assert a == pytest.approx(1e-4) and c == pytest.approx(2e-4)
    assert agent.actor_opt.param_groups[0]["lr"] == pytest.approx(1e-4)
