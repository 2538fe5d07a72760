"""The batched TD3 learner: its maths against a plain single-agent TD3 written out here, agent independence,
masks, agents leaving the stacks, state round trips, and the pure target functions."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lab.agents.adam import StackedAdam
from lab.agents.networks import Actor, StackedActor, StackedTwinCritic, TwinCritic
from lab.agents.replay import Batch, ReplayBuffer
from lab.agents.td3 import TD3, initial_modules, lr_factor, smoothed_target_action, td3_target
from lab.config import NetworkConfig, TrainingConfig

NET = NetworkConfig(actor_hidden=(16, 16), critic_hidden=(16, 16))
SEEDS = [3, 5, 7]


def _learner(configs: list[TrainingConfig], net: NetworkConfig = NET) -> TD3:
    return TD3(SEEDS[:len(configs)], 8, 2, net, configs)


def _batch(agents: int, size: int = 32, seed: int = 0) -> Batch:
    buffer = ReplayBuffer(agents, 200, 8, 2, seeds=list(range(agents)))
    rng = np.random.default_rng(seed)
    for k in range(agents):
        n = 150
        buffer.add(k, rng.standard_normal((n, 8), dtype=np.float32), rng.uniform(-1, 1, (n, 2)).astype(np.float32),
                   rng.standard_normal(n).astype(np.float32), rng.standard_normal((n, 8), dtype=np.float32),
                   rng.random(n) < 0.2, rng.integers(1, 4, n).astype(np.uint8))
    batch = buffer.sample(size, [0.99] * agents)
    batch.weights = torch.from_numpy(rng.uniform(0.2, 1.0, (agents, size)).astype(np.float32))  # as PER's would
    return batch


class ReferenceTD3:
    """TD3 for one agent, written plainly with torch.optim.Adam: what each agent of the batched learner must match."""

    def __init__(self, seed: int, cfg: TrainingConfig) -> None:
        self.actor, self.critic = initial_modules(seed, 8, 2, NET)
        self.actor_target, self.critic_target = copy.deepcopy(self.actor), copy.deepcopy(self.critic)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), cfg.actor_lr, weight_decay=cfg.weight_decay)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), cfg.critic_lr, weight_decay=cfg.weight_decay)
        self.generator = torch.Generator().manual_seed(seed + 2)
        self.cfg, self.updates = cfg, 0

    def update(self, obs, actions, rewards, next_obs, discounts, weights) -> tuple[float, bool]:
        c = self.cfg
        self.updates += 1
        with torch.no_grad():
            next_action = smoothed_target_action(self.actor_target, next_obs, c.target_policy_noise,
                                                 c.target_noise_clip, self.generator)
            next_q = self.critic_target(next_obs, next_action)
            y = td3_target(rewards, discounts, next_q[0], next_q[1])
        q = self.critic(obs, actions)
        per_sample = F.huber_loss(q, y.expand_as(q), reduction="none") if c.critic_loss == "huber" \
            else (q - y).square()
        loss = (per_sample * weights).mean(dim=1).sum()
        self.critic_opt.zero_grad()
        loss.backward()
        if c.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.critic.parameters(), c.grad_clip)
        self.critic_opt.step()
        if self.updates % c.policy_delay:
            return float(loss.detach()), False
        actor_loss = -self.critic.q1(obs, self.actor(obs)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        if c.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.actor.parameters(), c.grad_clip)
        self.actor_opt.step()
        with torch.no_grad():
            for target, online in ((self.actor_target, self.actor), (self.critic_target, self.critic)):
                for t, p in zip(target.parameters(), online.parameters()):
                    t.lerp_(p, c.tau)
        return float(loss.detach()), True


def _assert_agent_matches(learner: TD3, k: int, agent: ReferenceTD3) -> None:
    actor, critic = learner.agent_modules(k)
    pos = learner.slots.position(k)
    assert pos is not None
    targets = (learner.actor_target.unstack(pos), learner.critic_target.unstack(pos, 8, 2, NET))
    for mine, theirs in ((actor, agent.actor), (critic, agent.critic), (targets[0], agent.actor_target),
                         (targets[1], agent.critic_target)):
        for (name, a), b in zip(mine.named_parameters(), theirs.parameters()):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), f"agent {k}: {name} differs by {(a - b).abs().max()}"


# ---- the maths -------------------------------------------------------------------------------------------
def test_target_takes_the_smaller_critic_and_zeroes_after_termination():
    rewards = torch.tensor([1.0, 1.0, -1.0])
    discounts = torch.tensor([0.9, 0.0, 0.5])
    q1 = torch.tensor([10.0, 10.0, 4.0])
    q2 = torch.tensor([5.0, 20.0, 8.0])
    assert td3_target(rewards, discounts, q1, q2).tolist() == pytest.approx([5.5, 1.0, 1.0])


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
    assert not torch.allclose(both[0], both[1])  # independent initialisation


def test_actor_has_separate_heads_and_main_engine_bias():
    actor = Actor(8, 2, NetworkConfig(actor_hidden=(8,), main_engine_bias=0.5))
    assert actor.main_head.bias.item() == pytest.approx(0.5)
    assert actor.side_head.bias.item() == 0.0
    out = actor(torch.zeros(3, 8))
    assert out.shape == (3, 2) and torch.all(out[:, 0] > 0.3)


@pytest.mark.parametrize("net", [NET, NetworkConfig(actor_hidden=(16, 8), critic_hidden=(8, 16, 4), layer_norm=True,
                                                   activation="elu")])
def test_stacked_networks_compute_what_each_agents_own_networks_compute(net):
    starts = [initial_modules(s, 8, 2, net) for s in SEEDS]
    actor, critic = StackedActor([s[0] for s in starts]), StackedTwinCritic([s[1] for s in starts])
    obs, act = torch.randn(3, 5, 8), torch.rand(3, 5, 2) * 2 - 1
    for k, (single_actor, single_critic) in enumerate(starts):
        assert torch.allclose(actor(obs)[k], single_actor(obs[k]), atol=1e-6)
        assert torch.allclose(critic(obs, act)[k], single_critic(obs[k], act[k]), atol=1e-6)
        assert torch.allclose(critic.q1(obs, act)[k], single_critic.q1(obs[k], act[k]), atol=1e-6)
        for a, b in zip(actor.unstack(k).parameters(), single_actor.parameters()):
            assert torch.equal(a, b)  # unstacking gives back the very weights


def test_an_agent_starts_from_the_weights_its_seed_gives_and_leaves_the_global_generator_alone():
    state = torch.get_rng_state()
    learner = _learner([TrainingConfig()] * 2)
    assert torch.equal(state, torch.get_rng_state())
    actor, critic = initial_modules(SEEDS[1], 8, 2, NET)
    mine_actor, mine_critic = learner.agent_modules(1)
    for a, b in zip(list(mine_actor.parameters()) + list(mine_critic.parameters()),
                    list(actor.parameters()) + list(critic.parameters())):
        assert torch.equal(a, b)


@pytest.mark.parametrize("options", [
    {},
    {"grad_clip": 0.5, "critic_loss": "huber"},
    {"weight_decay": 1e-3, "target_policy_noise": 0.0},
])
def test_batched_update_equals_a_plain_td3_update_agent_by_agent(options):
    # Different learning rates, tau and delays per agent: each must still match its own TD3.
    configs = [TrainingConfig(actor_lr=1e-3, critic_lr=2e-3, tau=0.005, policy_delay=2, **options),
               TrainingConfig(actor_lr=3e-4, critic_lr=1e-3, tau=0.05, policy_delay=1, **options),
               TrainingConfig(actor_lr=5e-3, critic_lr=5e-4, tau=0.2, policy_delay=3, **options)]
    learner = _learner(configs)
    references = [ReferenceTD3(SEEDS[k], c) for k, c in enumerate(configs)]
    for step in range(4):
        batch = _batch(3, seed=step)
        result = learner.update(batch)
        for k, agent in enumerate(references):
            loss, actor_updated = agent.update(*(getattr(batch, f.name)[k] for f in dataclasses.fields(Batch)[:6]))
            assert float(result.critic_loss[k]) == pytest.approx(loss, rel=1e-4)
            assert bool(result.actor_updated[k]) == actor_updated
    for k, agent in enumerate(references):
        _assert_agent_matches(learner, k, agent)


def test_one_agents_update_takes_torchs_fused_adam_and_matches_the_stacked_steps():
    params = [torch.nn.Parameter(torch.randn(1, 4, 3)), torch.nn.Parameter(torch.randn(1, 3))]
    fused, stepwise = StackedAdam([p.detach().clone() for p in params], 1), StackedAdam(
        [p.detach().clone() for p in params], 1)
    fused_params, stepwise_params = fused.params, stepwise.params
    lr, decay = torch.tensor([1e-2], dtype=torch.float64), torch.tensor([1e-3], dtype=torch.float64)
    for _ in range(5):
        grads = [torch.randn_like(p) for p in params]
        fused.step(grads, lr, decay)
        stepwise.step(grads, lr, decay, mask=torch.tensor([True]))  # a mask forces the stacked path
    for a, b in zip(fused_params, stepwise_params):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)
    assert fused.steps.tolist() == stepwise.steps.tolist() == [5.0]


def test_td_errors_are_the_first_critics_absolute_errors_per_agent():
    learner = _learner([TrainingConfig()] * 2)
    batch = _batch(2)
    with torch.no_grad():
        generator_states = [g.get_state() for g in learner.generators]
        next_action = learner._smoothed_target_action(batch.next_obs, None)
        next_q = learner.critic_target(batch.next_obs, next_action)
        y = td3_target(batch.rewards, batch.discounts, next_q[:, 0], next_q[:, 1])
        q1 = learner.critic(batch.obs, batch.actions)[:, 0]
    for g, state in zip(learner.generators, generator_states):
        g.set_state(state)
    result = learner.update(batch)
    assert result.td_errors.shape == (2, 32)
    assert torch.allclose(result.td_errors, (q1 - y).abs(), atol=1e-6)


def test_changing_one_agents_learning_rate_leaves_the_others_bit_for_bit_unchanged():
    configs = [TrainingConfig(policy_delay=1)] * 3
    plain, changed = _learner(configs), _learner(configs)
    changed.configure([*configs[:2], TrainingConfig(policy_delay=1, actor_lr=5e-2, critic_lr=5e-2)], [2])
    for step in range(3):
        batch = _batch(3, seed=step)
        plain.update(batch)
        changed.update(batch)
    for k in (0, 1):
        for a, b in zip(plain.actor.parameters(), changed.actor.parameters()):
            assert torch.equal(a[k], b[k])
        for a, b in zip(plain.critic.parameters(), changed.critic.parameters()):
            assert torch.equal(a[k], b[k])
    assert not torch.equal(plain.actor.head_weight[2], changed.actor.head_weight[2])
    assert changed.setting("actor_lr", 2) == pytest.approx(5e-2)


def test_a_masked_agent_is_left_exactly_as_it_was():
    learner = _learner([TrainingConfig(policy_delay=1)] * 3)
    before = {k: v.clone() for k, v in learner.actor.state_dict().items()}
    critic_before = {k: v.clone() for k, v in learner.critic_target.state_dict().items()}
    generator = learner.generators[1].get_state()
    learner.update(_batch(3), mask=torch.tensor([True, False, True]))
    for name, value in learner.actor.state_dict().items():
        assert torch.equal(value[1], before[name][1])
        assert not torch.equal(value[0], before[name][0])
    for name, value in learner.critic_target.state_dict().items():
        assert torch.equal(value[1], critic_before[name][1])
    assert torch.equal(learner.generators[1].get_state(), generator)
    assert learner.updates.tolist() == [1, 0, 1]
    assert learner.critic_opt.steps.tolist() == [1.0, 0.0, 1.0]


def test_a_learner_that_keeps_some_agents_updates_them_as_a_masked_full_learner_would():
    configs = [TrainingConfig(policy_delay=2, actor_lr=1e-3 * (k + 1)) for k in range(3)]
    masked, kept = _learner(configs), _learner(configs)
    kept.keep([0, 2])
    assert kept.active == [0, 2] and kept.agents == 2 and kept.actor.head_weight.shape[0] == 2
    assert kept.critic_opt.exp_avg[0].shape[0] == 2 and kept.values["tau"].shape == (2,)
    tau = [*configs[:1], dataclasses.replace(configs[1], tau=0.3), configs[2]]
    kept.configure(tau, [1])  # a parked agent's settings still change, and come back with it
    masked.configure(tau, [1])
    for step in range(3):
        batch = _batch(3, seed=step)
        masked.update(batch, mask=torch.tensor([True, False, True]))
        result = kept.update(_rows(batch, [0, 2]))
        assert result.critic_loss.shape == (2,)
    for name, value in masked.state_dict()["actor"].items():  # the full-K checkpoint format, parked rows in place
        assert torch.equal(kept.state_dict()["actor"][name], value), name
    assert kept.state_dict()["updates"].tolist() == masked.updates.tolist() == [3, 0, 3]
    for a, b in zip(kept.agent_modules(1)[0].parameters(), masked.agent_modules(1)[0].parameters()):
        assert torch.equal(a, b)
    kept.keep(range(3))
    batch = _batch(3, seed=9)
    masked.update(batch)
    kept.update(batch)
    for k in range(3):
        for part in ("actor", "critic", "actor_target", "critic_target"):
            for (name, x), y in zip(getattr(masked, part).named_parameters(), getattr(kept, part).parameters()):
                assert torch.equal(x[k], y[k]), f"agent {k}: {part}.{name}"
    assert kept.setting("tau", 1) == pytest.approx(0.3)


def _rows(batch: Batch, rows: list[int]) -> Batch:
    return Batch(*(getattr(batch, f.name)[rows] for f in dataclasses.fields(Batch)[:6]), batch.indices[rows])


def test_state_round_trip_continues_exactly():
    configs = [TrainingConfig(policy_delay=2), TrainingConfig(policy_delay=1, tau=0.05)]
    learner = _learner(configs)
    for step in range(3):
        learner.update(_batch(2, seed=step))
    state = copy.deepcopy(learner.state_dict())
    restored = TD3([11, 12], 8, 2, NET, configs)  # other seeds: everything must come from the state
    restored.load_state_dict(state)
    batch = _batch(2, seed=7)
    a, b = learner.update(batch), restored.update(batch)
    assert torch.equal(a.critic_loss, b.critic_loss) and torch.equal(a.actor_updated, b.actor_updated)
    for x, y in zip(learner.actor.parameters(), restored.actor.parameters()):
        assert torch.equal(x, y)


def test_one_agent_returns_to_a_saved_state_while_the_others_keep_theirs():
    learner = _learner([TrainingConfig(policy_delay=1)] * 2)
    learner.update(_batch(2, seed=0))
    saved = copy.deepcopy(learner.state_dict())
    learner.update(_batch(2, seed=1))
    after = copy.deepcopy(learner.state_dict())
    learner.load_agent(1, saved)
    now = learner.state_dict()
    for name, value in now["actor"].items():
        assert torch.equal(value[1], saved["actor"][name][1]) and torch.equal(value[0], after["actor"][name][0])
    assert now["updates"].tolist() == [2, 1]


def test_non_finite_weights_are_found_per_agent():
    learner = _learner([TrainingConfig()] * 3)
    with torch.no_grad():
        learner.critic.weights[0][2, 0, 0, 0] = float("nan")
    assert learner.finite_agents() == {0: True, 1: True, 2: False}


def test_huber_loss_is_used_when_configured():
    batch = _batch(2)
    plain = _learner([TrainingConfig()] * 2)
    huber = _learner([TrainingConfig(critic_loss="huber"), TrainingConfig()])
    a, b = plain.update(batch), huber.update(batch)
    assert float(b.critic_loss[0]) < float(a.critic_loss[0])
    assert torch.equal(a.critic_loss[1], b.critic_loss[1])


def test_the_learning_rate_schedule_scales_each_agents_rates():
    assert lr_factor("constant", 0.7) == 1.0
    assert lr_factor("linear", 1.0) == pytest.approx(0.1)
    assert lr_factor("cosine", 0.0) == pytest.approx(1.0) and lr_factor("cosine", 1.0) == pytest.approx(0.1)
    learner = _learner([TrainingConfig(actor_lr=1e-3, critic_lr=2e-3)] * 2)
    learner.set_lr_factors({1: 0.5})
    assert learner.setting("actor_lr", 0) == pytest.approx(1e-3)
    assert learner.setting("actor_lr", 1) == pytest.approx(5e-4)
    assert learner.setting("critic_lr", 1) == pytest.approx(1e-3)


def test_a_critic_learns_a_constant_reward():
    learner = _learner([TrainingConfig(critic_lr=1e-2)])
    batch = _batch(1)
    batch.rewards.fill_(1.0)
    batch.discounts.fill_(0.0)  # every transition terminal: Q(s, a) -> 1
    for _ in range(300):
        learner.update(batch)
    q = learner.critic(batch.obs, batch.actions)
    assert torch.allclose(q, torch.ones_like(q), atol=0.1)


def test_an_actor_step_computes_only_the_agents_whose_policy_delay_is_due(monkeypatch):
    # Agents out of step with each other's delay must not cost every agent an actor step at every update.
    learner = _learner([TrainingConfig(policy_delay=2)] * 3)
    learner.update(_batch(3), mask=torch.tensor([True, False, True]))  # agent 1 falls one update behind
    seen: list[int] = []
    forward = StackedActor.forward
    monkeypatch.setattr(StackedActor, "forward", lambda self, obs, rows=None: seen.append(len(obs)) or forward(
        self, obs, rows))
    before = [p.detach().clone() for p in learner.actor.parameters()]
    result = learner.update(_batch(3, seed=1))
    assert result.actor_updated.tolist() == [True, False, True] and seen[-1] == 2
    assert torch.isnan(result.actor_loss[1]) and torch.isfinite(result.actor_loss[[0, 2]]).all()
    for a, b in zip(learner.actor.parameters(), before):
        assert torch.equal(a[1], b[1]) and not torch.equal(a[0], b[0])
