import copy

import numpy as np
import pytest
import torch
from learner_batches import BEST_ACTION, random_batch, round_trip, train_on_known_problem

from lab.batch_renorm import BatchRenorm
from lab.config import ConfigError, NetworkConfig, TrainingConfig
from lab.crossq import CrossQ, CrossQSettings
from lab.networks import Actor
from lab.policy import Policy
from lab.td3 import TD3

NET = NetworkConfig(actor_hidden=(16, 16), critic_hidden=(16, 16))
QUICK = CrossQSettings(renorm_warmup=3, renorm_relax=5)  # reaches the Batch Renorm phase within a test


_batch = random_batch


def _agent(seed=0, settings=QUICK, **training):
    torch.manual_seed(seed)
    cfg = TrainingConfig(**{"batch_size": 32, "buffer_size": 64, **training})
    return CrossQ(8, 2, NET, cfg, settings=settings)


def _reference_renorm(layer: BatchRenorm, x: torch.Tensor) -> torch.Tensor:
    """Batch Renorm written plainly with autograd (Ioffe 2017, Algorithm 1)."""
    keep = layer.members > 0
    mean, var = x.mean(-2, keepdim=keep), x.var(-2, unbiased=False, keepdim=keep)
    std = torch.sqrt(var + layer.eps)
    running_std = torch.sqrt(layer.running_var + layer.eps)
    r_max, d_max = layer.limits()
    r = (std / running_std).detach().clamp(1 / r_max, r_max)
    d = ((mean - layer.running_mean) / running_std).detach().clamp(-d_max, d_max)
    return ((x - mean) / std * r + d) * layer.weight + layer.bias


# ---- Batch Renorm -----------------------------------------------------------------------
def test_batch_renorm_is_batchnorm_during_warmup_outputs_gradients_and_running_stats():
    torch.manual_seed(0)
    layer, ref = BatchRenorm(5, warmup_steps=10), torch.nn.BatchNorm1d(5, eps=1e-3, momentum=0.01)
    with torch.no_grad():
        for p, q in ((layer.weight, ref.weight), (layer.bias, ref.bias)):
            p.uniform_(0.5, 1.5)
            q.copy_(p)
    for step in range(4):
        x = (torch.randn(64, 5) * 3 + step).requires_grad_()
        x_ref = x.detach().clone().requires_grad_()
        y, y_ref = layer(x), ref(x_ref)
        torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
        g = torch.randn_like(y)
        y.backward(g)
        y_ref.backward(g)
        torch.testing.assert_close(x.grad, x_ref.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(layer.weight.grad, ref.weight.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(layer.bias.grad, ref.bias.grad)
    torch.testing.assert_close(layer.running_mean, ref.running_mean)
    torch.testing.assert_close(layer.running_var, ref.running_var)
    assert int(layer.steps) == 4 and layer.limits() == (1.0, 0.0)


def test_limits_stay_at_batchnorm_through_warmup_then_relax_linearly():
    layer = BatchRenorm(3, r_max=3.0, d_max=5.0, warmup_steps=4, relax_steps=10)
    seen = []
    for step in (0, 4, 9, 14, 100):
        layer.steps.fill_(step)
        seen.append(layer.limits())
    assert seen == [(1.0, 0.0), (1.0, 0.0), (2.0, 2.5), (3.0, 5.0), (3.0, 5.0)]


def test_renorm_corrections_are_clipped_and_carry_no_gradient():
    torch.manual_seed(0)
    layer = BatchRenorm(4, warmup_steps=0, relax_steps=0, r_max=2.0, d_max=0.5)
    x = (torch.randn(32, 4) * 5 + 3).requires_grad_()
    # running statistics far from the batch's: r and d sit at their clips
    layer.running_mean.fill_(-10.0)
    layer.running_var.fill_(1e-2)
    expected = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-3) * 2.0 + 0.5
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)
    # near the running statistics the corrections are unclipped; gradients match plain autograd with r, d detached
    for members, shape in ((0, (32, 4)), (2, (2, 32, 4))):
        layer = BatchRenorm(4, members=members, warmup_steps=0, relax_steps=0)
        with torch.no_grad():
            layer.running_mean.copy_(torch.randn_like(layer.running_mean) * 0.3)
            layer.running_var.copy_(torch.rand_like(layer.running_var) + 0.5)
            layer.weight.uniform_(0.5, 1.5)
        x = torch.randn(shape).requires_grad_()
        expected = _reference_renorm(layer, x)
        gx, gw = torch.autograd.grad(expected.square().sum(), (x, layer.weight))
        y = layer(x)
        torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)
        hx, hw = torch.autograd.grad(y.square().sum(), (x, layer.weight))
        torch.testing.assert_close(hx, gx, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(hw, gw, atol=1e-4, rtol=1e-4)


def test_eval_mode_uses_running_stats_and_leaves_them_alone():
    layer = BatchRenorm(3)
    for _ in range(5):
        layer(torch.randn(16, 3) * 2 + 1)
    layer.eval()
    state = copy.deepcopy(layer.state_dict())
    x = torch.randn(4, 3)
    expected = (x - layer.running_mean) / torch.sqrt(layer.running_var + layer.eps)
    torch.testing.assert_close(layer(x), expected)
    assert all(torch.equal(v, layer.state_dict()[k]) for k, v in state.items())
    torch.testing.assert_close(layer(x[:1]), expected[:1])  # one sample is fine in eval mode


def test_members_are_normalised_independently():
    torch.manual_seed(0)
    stacked = BatchRenorm(3, members=2)
    singles = [BatchRenorm(3), BatchRenorm(3)]
    x = torch.randn(2, 16, 3) * torch.tensor([1.0, 5.0]).view(2, 1, 1)
    y = stacked(x)
    for i, single in enumerate(singles):
        torch.testing.assert_close(y[i], single(x[i]))
        torch.testing.assert_close(stacked.running_var[i, 0], single.running_var)


def test_batch_renorm_rejects_bad_arguments_and_single_sample_batches():
    with pytest.raises(ValueError, match=r"r_max=0\.5 is invalid: allowed a number >= 1"):
        BatchRenorm(3, r_max=0.5)
    with pytest.raises(ValueError, match="at least 2 samples, got 1"):
        BatchRenorm(3)(torch.randn(1, 3))


# ---- the CrossQ learner -------------------------------------------------------------------
def test_one_joint_forward_covers_both_halves_and_the_target_half_gets_no_gradient():
    agent = _agent()
    batch = _batch()
    calls, grads = [], []
    forward = agent.critic.forward

    def spy(obs, action):
        out = forward(obs, action)
        calls.append(obs)
        out.register_hook(grads.append)
        return out

    agent.critic.forward = spy
    agent.update(batch)
    assert len(calls) == 1 and torch.equal(calls[0], torch.cat([batch.obs, batch.next_obs]))
    assert [int(n.steps) for n in agent.critic.norms] == [1, 1, 1]  # one training pass, so one step
    # the input layer's statistics are those of (s, a) and (s', a') together
    torch.testing.assert_close(agent.critic.norms[0].running_mean[:, 0, :8],
                               0.01 * calls[0].mean(0).expand(2, -1))
    (grad,) = grads
    assert grad.shape == (2, 64)
    assert torch.all(grad[:, 32:] == 0) and torch.all(grad[:, :32] != 0)


def test_update_moves_the_critic_every_step_and_the_actor_every_policy_delay():
    agent = _agent(policy_delay=2)
    critic, actor = copy.deepcopy(agent.critic.state_dict()), copy.deepcopy(agent.actor.state_dict())
    first = agent.update(_batch(seed=1))
    assert first.actor_loss is None
    assert all(torch.equal(v, agent.actor.state_dict()[k]) for k, v in actor.items())
    assert any(not torch.equal(v, agent.critic.state_dict()[k]) for k, v in critic.items())
    second = agent.update(_batch(seed=2))
    assert second.actor_loss is not None
    assert any(not torch.equal(v, agent.actor.state_dict()[k]) for k, v in actor.items())
    assert second.td_errors.shape == (32,) and torch.all(second.td_errors >= 0)


def test_critic_loss_falls_on_a_fixed_batch():
    agent = _agent(critic_lr=3e-3, batch_size=64)
    batch = _batch(64)
    batch.rewards = torch.full((64,), 2.0)
    batch.discounts = torch.zeros(64)  # terminal: the target is the reward itself
    losses = [float(agent.update(batch).critic_loss) for _ in range(300)]
    assert losses[-1] < 0.01 * losses[0]
    assert agent.critic.norms[0].limits() == (3.0, 5.0)  # the Batch Renorm phase was reached


def test_q1_is_the_first_critic_in_eval_mode():
    agent = _agent()
    for k in range(3):
        agent.update(_batch(seed=k))
    obs, act = torch.randn(5, 8), torch.rand(5, 2)
    agent.critic.eval()
    torch.testing.assert_close(agent.critic.q1(obs, act), agent.critic(obs, act)[0])


def test_state_dict_round_trip_reproduces_the_next_update_exactly():
    agent, restored = round_trip(lambda seed: _agent(seed=seed))  # past Batch Renorm's warm-up for CrossQ
    for name in ("actor", "critic"):
        a, b = getattr(agent, name).state_dict(), getattr(restored, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert restored.updates == agent.updates == 6


def test_a_td3_state_is_refused_with_a_clear_error():
    td3_state = TD3(8, 2, NET, TrainingConfig(batch_size=32, buffer_size=64)).state_dict()
    with pytest.raises(ValueError, match="algorithm='td3' is invalid for the CrossQ learner"):
        _agent().load_state_dict(td3_state)


def test_paper_settings_and_a_plain_exportable_actor():
    agent = _agent(settings=None)
    assert agent.settings == CrossQSettings()
    assert [g["betas"][0] for g in (*agent.actor_opt.param_groups, *agent.critic_opt.param_groups)] == [0.5, 0.5]
    assert type(agent.actor) is Actor
    assert not any(isinstance(m, (BatchRenorm, torch.nn.modules.batchnorm._BatchNorm)) for m in agent.actor.modules())
    obs = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    np.testing.assert_allclose(Policy.from_actor(agent.actor)(obs), agent.act(obs), rtol=1e-6)
    custom = CrossQSettings.from_training(TrainingConfig(crossq_adam_beta1=0.9, crossq_renorm_warmup=7))
    assert (custom.adam_beta1, custom.renorm_warmup, custom.renorm_relax) == (0.9, 7, 40_000)
    allowed = r"training.crossq_adam_beta1=1.0 is invalid: allowed a number in \[0.0, 1.0\)"
    with pytest.raises(ConfigError, match=allowed):
        TrainingConfig(crossq_adam_beta1=1.0)


def test_bfloat16_updates_learn_and_keep_float32_weights_and_stats():
    agent = _agent(critic_lr=3e-3, batch_size=64, precision="bfloat16")
    batch = _batch(64)
    batch.rewards = torch.full((64,), 2.0)
    batch.discounts = torch.zeros(64)
    losses = [float(agent.update(batch).critic_loss) for _ in range(300)]
    assert losses[-1] < 0.01 * losses[0]
    assert all(t.dtype == torch.float32 for t in agent.critic.state_dict().values() if t.is_floating_point())


def test_learns_the_best_action_and_its_value_on_a_known_problem():
    """The known problem (tests/learner_batches.py): Q(s, a*) = 2 and pi(s) = a*."""
    torch.manual_seed(0)
    cfg = TrainingConfig(critic_lr=3e-3, batch_size=64, buffer_size=512, target_policy_noise=0.0)
    agent = CrossQ(8, 2, NetworkConfig(actor_hidden=(32, 32), critic_hidden=(64, 64)), cfg,
                   settings=CrossQSettings(renorm_warmup=500, renorm_relax=1000))
    states = train_on_known_problem(agent)
    best = BEST_ACTION
    with torch.no_grad():
        pi = agent.actor(states)
        q = agent.critic.q1(states, pi)
    assert (pi.mean(0) - best).abs().max() < 0.1 and (pi - best).abs().max() < 0.3
    assert float(q.mean()) == pytest.approx(2.0, abs=0.15)
