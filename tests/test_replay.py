"""Replay for K agents: rings per agent (or one shared), uniform or prioritized per agent."""

import numpy as np
import pytest

from lab.agents.replay import ReplayBuffer, per_beta


def _fill(buffer, n, start=0, agent=0):
    obs = np.arange(start, start + n, dtype=np.float32)[:, None].repeat(8, 1)
    buffer.add(agent, obs, np.zeros((n, 2), np.float32), np.arange(start, start + n, dtype=np.float32), obs + 0.5,
               np.zeros(n, bool))


def _per(capacity, alpha=1.0, seed=0, agents=1):
    return ReplayBuffer(agents, capacity, 8, 2, seeds=[seed + k for k in range(agents)], prioritized=True)


def _prioritize(buffer, agent, indices, td, alpha=1.0, epsilon=0.0):
    buffer.update_priorities([agent], np.asarray(indices)[None], np.asarray(td, dtype=float)[None], [alpha], [epsilon])


def test_wrap_around_keeps_the_newest_transitions():
    buffer = ReplayBuffer(1, 5, 8, 2, seeds=[0])
    _fill(buffer, 3)
    _fill(buffer, 4, start=3)  # 7 added into 5 slots
    assert len(buffer) == 5 and buffer.pos[0] == 2
    assert sorted(buffer.rewards[0].tolist()) == [2, 3, 4, 5, 6]


def test_batch_larger_than_capacity_keeps_the_last_rows():
    buffer = ReplayBuffer(1, 4, 8, 2, seeds=[0])
    _fill(buffer, 10)
    assert sorted(buffer.rewards[0].tolist()) == [6, 7, 8, 9]


def test_discounts_apply_each_agents_gamma_to_the_power_n_and_zero_after_termination():
    buffer = ReplayBuffer(2, 4, 8, 2, seeds=[0, 1])
    obs = np.zeros((3, 8), np.float32)
    for agent in (0, 1):
        buffer.add(agent, obs, np.zeros((3, 2), np.float32), np.zeros(3, np.float32), obs,
                   np.array([False, True, False]), np.array([1, 1, 3], dtype=np.uint8))
    batch = buffer.sample(64, gammas=[0.9, 0.5])
    for row, gamma in enumerate((0.9, 0.5)):
        expected = {0: gamma, 1: 0.0, 2: gamma ** 3}
        for i, d in zip(batch.indices[row], batch.discounts[row].numpy()):
            assert d == pytest.approx(expected[int(i)])
    assert batch.weights.numpy().tolist() == [[1.0] * 64] * 2


def test_memory_is_under_100_bytes_per_transition_with_per():
    buffer = _per(1 << 16)
    assert buffer.nbytes / buffer.capacity <= 100


def test_agents_keep_their_own_transitions_and_sample_only_their_own():
    buffer = ReplayBuffer(3, 20, 8, 2, seeds=[1, 2, 3])
    for agent in range(3):
        _fill(buffer, 10, start=100 * agent, agent=agent)
    batch = buffer.sample(32, gammas=[0.99, 0.99], agents=[2, 0])
    assert set(batch.rewards[0].numpy().tolist()) <= set(range(200, 210))
    assert set(batch.rewards[1].numpy().tolist()) <= set(range(0, 10))
    assert batch.obs.shape == (2, 32, 8)


def test_an_agent_left_out_of_the_draw_keeps_its_random_stream():
    a = ReplayBuffer(2, 20, 8, 2, seeds=[1, 2])
    b = ReplayBuffer(2, 20, 8, 2, seeds=[1, 2])
    for buffer in (a, b):
        for agent in range(2):
            _fill(buffer, 10, agent=agent)
    a.sample(8, [0.99, 0.99], draw=np.array([True, False]))  # agent 1 sits this draw out
    assert np.array_equal(a.sample(8, [0.99] * 2).indices[1], b.sample(8, [0.99] * 2).indices[1])
    assert not np.array_equal(a.sample(8, [0.99] * 2).indices[0], b.sample(8, [0.99] * 2).indices[0])


def test_a_shared_buffer_is_one_ring_that_every_agent_sees():
    buffer = ReplayBuffer(2, 10, 8, 2, seeds=[1, 2], shared=True)
    _fill(buffer, 4, agent=0)
    _fill(buffer, 3, start=10, agent=1)
    assert buffer.size.tolist() == [7, 7] and buffer.pos.tolist() == [7, 7]
    batch = buffer.sample(64, [0.99, 0.99])
    seen = set(batch.rewards.numpy().ravel().tolist())
    assert seen <= {0, 1, 2, 3, 10, 11, 12} and {0, 10} <= seen


def test_new_transitions_get_their_agents_max_priority():
    buffer = _per(8, agents=2)
    _fill(buffer, 4)
    _fill(buffer, 4, agent=1)
    _prioritize(buffer, 0, [0, 1], [5.0, 0.5])
    _fill(buffer, 1, start=4)
    _fill(buffer, 1, start=4, agent=1)
    assert buffer.trees[0].leaves(np.array([4]))[0] == pytest.approx(5.0)
    assert buffer.trees[1].leaves(np.array([4]))[0] == pytest.approx(1.0)  # agent 1 never saw a larger one


def test_importance_weights_match_the_formula():
    buffer = _per(4)
    _fill(buffer, 4)
    _prioritize(buffer, 0, np.arange(4), [1.0, 2.0, 3.0, 4.0])
    beta = 0.5
    batch = buffer.sample(4, [0.99], betas=[beta])
    probs = np.array([1.0, 2.0, 3.0, 4.0])[batch.indices[0]] / 10.0
    expected = (4 * probs) ** -beta
    np.testing.assert_allclose(batch.weights[0].numpy(), expected / expected.max(), rtol=1e-6)


def test_beta_zero_means_no_correction():
    buffer = _per(4)
    _fill(buffer, 4)
    _prioritize(buffer, 0, np.arange(4), [1.0, 2.0, 3.0, 4.0])
    assert np.all(buffer.sample(16, [0.99], betas=[0.0]).weights.numpy() == 1.0)


def test_priority_update_uses_abs_td_error_plus_epsilon_to_the_alpha():
    buffer = _per(4)
    _fill(buffer, 4)
    _prioritize(buffer, 0, [2], [-0.99], alpha=0.5, epsilon=0.01)
    assert buffer.trees[0].leaves(np.array([2]))[0] == pytest.approx(1.0)


def test_prioritized_sampling_prefers_high_priorities():
    buffer = _per(100, seed=3)
    _fill(buffer, 100)
    priorities = np.ones(100)
    priorities[7] = 100.0
    _prioritize(buffer, 0, np.arange(100), priorities)
    draws = np.concatenate([buffer.sample(64, [0.99], betas=[0.4]).indices[0] for _ in range(200)])
    assert np.mean(draws == 7) == pytest.approx(100 / 199, abs=0.03)


def test_beta_anneals_linearly_and_clamps():
    assert per_beta(0.4, 1.0, 0.0) == pytest.approx(0.4)
    assert per_beta(0.4, 1.0, 0.5) == pytest.approx(0.7)
    assert per_beta(0.4, 1.0, 2.0) == pytest.approx(1.0)


def test_agent_state_round_trip_restores_contents_priorities_and_sampling():
    a = _per(16, seed=5)
    _fill(a, 10)
    _prioritize(a, 0, np.arange(10), np.linspace(0.1, 2, 10))
    b = _per(16, seed=99)
    b.load_agent_state(0, a.agent_state(0))
    assert np.array_equal(a.sample(8, [0.99], betas=[0.5]).indices, b.sample(8, [0.99], betas=[0.5]).indices)
    assert b.max_priority[0] == a.max_priority[0]


def test_sampling_an_empty_buffer_is_a_clear_error():
    with pytest.raises(RuntimeError, match="agent 0's replay buffer is empty"):
        ReplayBuffer(1, 4, 8, 2, seeds=[0]).sample(2, [0.99])


@pytest.mark.parametrize("prioritized", [False, True])
def test_adding_many_agents_at_once_stores_what_adding_agent_by_agent_does(prioritized):
    rng = np.random.default_rng(0)
    one_by_one, at_once = (ReplayBuffer(3, 7, 8, 2, seeds=[0, 1, 2], prioritized=prioritized) for _ in range(2))
    for step in range(6):  # wraps around each agent's ring of 7
        agents = np.sort(rng.integers(0, 3, size=rng.integers(0, 5)))
        n = len(agents)
        rows = (rng.standard_normal((n, 8)).astype(np.float32), rng.uniform(-1, 1, (n, 2)).astype(np.float32),
                rng.standard_normal(n).astype(np.float32), rng.standard_normal((n, 8)).astype(np.float32),
                rng.random(n) < 0.3, rng.integers(1, 4, n).astype(np.uint8))
        at_once.add_many(agents, *rows)
        for k in range(3):
            one_by_one.add(k, *(column[agents == k] for column in rows))
        if prioritized:  # new rows get each agent's top priority, whatever came before
            for buffer in (one_by_one, at_once):
                _prioritize(buffer, step % 3, [0, 1], [0.5 + step, 0.1], alpha=1.0)
    for column in ReplayBuffer.COLUMNS:
        np.testing.assert_array_equal(getattr(at_once, column), getattr(one_by_one, column))
    assert at_once.pos.tolist() == one_by_one.pos.tolist() and at_once.size.tolist() == one_by_one.size.tolist()
    for a, b in zip(at_once.trees, one_by_one.trees):
        np.testing.assert_array_equal(a.nodes, b.nodes)
