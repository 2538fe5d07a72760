import numpy as np
import pytest

from lab.replay import PrioritizedReplayBuffer, ReplayBuffer, per_beta


def _fill(buffer, n, start=0):
    obs = np.arange(start, start + n, dtype=np.float32)[:, None].repeat(8, 1)
    buffer.add(obs, np.zeros((n, 2), np.float32), np.arange(start, start + n, dtype=np.float32), obs + 0.5,
               np.zeros(n, bool))


def test_wrap_around_keeps_the_newest_transitions():
    buffer = ReplayBuffer(5, 8, 2)
    _fill(buffer, 3)
    _fill(buffer, 4, start=3)  # 7 added into 5 slots
    assert len(buffer) == 5 and buffer.pos == 2
    assert sorted(buffer.rewards.tolist()) == [2, 3, 4, 5, 6]


def test_batch_larger_than_capacity_keeps_the_last_rows():
    buffer = ReplayBuffer(4, 8, 2)
    _fill(buffer, 10)
    assert sorted(buffer.rewards.tolist()) == [6, 7, 8, 9]


def test_discounts_apply_gamma_to_the_power_n_and_zero_after_termination():
    buffer = ReplayBuffer(4, 8, 2)
    obs = np.zeros((3, 8), np.float32)
    buffer.add(obs, np.zeros((3, 2), np.float32), np.zeros(3, np.float32), obs, np.array([False, True, False]),
               np.array([1, 1, 3], dtype=np.uint8))
    batch = buffer.sample(64, gamma=0.9)
    expected = {0: 0.9, 1: 0.0, 2: 0.9 ** 3}
    for i, d in zip(batch.indices, batch.discounts.numpy()):
        assert d == pytest.approx(expected[int(i)])
    assert batch.weights.numpy().tolist() == [1.0] * 64


def test_memory_is_under_100_bytes_per_transition_with_per():
    buffer = PrioritizedReplayBuffer(1 << 16, 8, 2, alpha=0.6, epsilon=1e-6)
    assert buffer.nbytes / buffer.capacity <= 100


def test_new_transitions_get_the_max_priority():
    buffer = PrioritizedReplayBuffer(8, 8, 2, alpha=1.0, epsilon=0.0)
    _fill(buffer, 4)
    buffer.update_priorities(np.array([0, 1]), np.array([5.0, 0.5]))
    _fill(buffer, 1, start=4)
    assert buffer.tree.leaves(np.array([4]))[0] == pytest.approx(5.0)


def test_importance_weights_match_the_formula():
    buffer = PrioritizedReplayBuffer(4, 8, 2, alpha=1.0, epsilon=0.0)
    _fill(buffer, 4)
    buffer.update_priorities(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    beta = 0.5
    batch = buffer.sample(4, gamma=0.99, beta=beta)
    probs = np.array([1.0, 2.0, 3.0, 4.0])[batch.indices] / 10.0
    expected = (4 * probs) ** -beta
    np.testing.assert_allclose(batch.weights.numpy(), expected / expected.max(), rtol=1e-6)


def test_beta_zero_means_no_correction():
    buffer = PrioritizedReplayBuffer(4, 8, 2, alpha=1.0, epsilon=0.0)
    _fill(buffer, 4)
    buffer.update_priorities(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    assert np.all(buffer.sample(16, 0.99, beta=0.0).weights.numpy() == 1.0)


def test_priority_update_uses_abs_td_error_plus_epsilon_to_the_alpha():
    buffer = PrioritizedReplayBuffer(4, 8, 2, alpha=0.5, epsilon=0.01)
    _fill(buffer, 4)
    buffer.update_priorities(np.array([2]), np.array([-0.99]))
    assert buffer.tree.leaves(np.array([2]))[0] == pytest.approx(1.0)


def test_prioritized_sampling_prefers_high_priorities():
    buffer = PrioritizedReplayBuffer(100, 8, 2, alpha=1.0, epsilon=0.0, seed=3)
    _fill(buffer, 100)
    priorities = np.ones(100)
    priorities[7] = 100.0
    buffer.update_priorities(np.arange(100), priorities)
    draws = np.concatenate([buffer.sample(64, 0.99, 0.4).indices for _ in range(200)])
    assert np.mean(draws == 7) == pytest.approx(100 / 199, abs=0.03)


def test_beta_anneals_linearly_and_clamps():
    assert per_beta(0.4, 1.0, 0.0) == pytest.approx(0.4)
    assert per_beta(0.4, 1.0, 0.5) == pytest.approx(0.7)
    assert per_beta(0.4, 1.0, 2.0) == pytest.approx(1.0)


def test_state_dict_round_trip_restores_contents_and_sampling():
    a = PrioritizedReplayBuffer(16, 8, 2, alpha=0.6, epsilon=1e-6, seed=5)
    _fill(a, 10)
    a.update_priorities(np.arange(10), np.linspace(0.1, 2, 10))
    b = PrioritizedReplayBuffer(16, 8, 2, alpha=0.6, epsilon=1e-6, seed=99)
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.sample(8, 0.99, 0.5).indices, b.sample(8, 0.99, 0.5).indices)


def test_sampling_an_empty_buffer_is_a_clear_error():
    with pytest.raises(RuntimeError, match="empty"):
        ReplayBuffer(4, 8, 2).sample(2, 0.99)
