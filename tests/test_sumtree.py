import numpy as np
import pytest

from lab.agents.sumtree import SumTree


def test_every_parent_is_the_sum_of_its_children():
    tree = SumTree(10)
    rng = np.random.default_rng(0)
    tree.update(np.arange(10), rng.uniform(0.1, 5.0, size=10))
    tree.update(np.array([3, 7]), np.array([9.0, 0.5]))
    internal = np.arange(1, tree.leaf_base)
    np.testing.assert_allclose(tree.nodes[internal], tree.nodes[2 * internal] + tree.nodes[2 * internal + 1])
    assert tree.total == pytest.approx(tree.leaves(np.arange(10)).sum())


def test_duplicate_indices_in_one_update_keep_the_sums_exact():
    tree = SumTree(8)
    tree.update(np.arange(8), np.ones(8))
    tree.update(np.array([2, 2, 5]), np.array([4.0, 6.0, 3.0]))
    assert tree.leaves(np.array([2]))[0] == 6.0
    assert tree.total == pytest.approx(6 + 3 + 6 * 1.0)


def test_find_maps_values_to_their_interval():
    tree = SumTree(4)
    tree.update(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))  # cumulative: 1, 3, 6, 10
    found = tree.find(np.array([0.0, 0.99, 1.0, 2.9, 3.0, 5.99, 6.0, 9.99]))
    assert found.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_stratified_sampling_is_proportional_to_priority():
    tree = SumTree(5)
    priorities = np.array([1.0, 2.0, 3.0, 4.0, 0.0])
    tree.update(np.arange(5), priorities)
    rng = np.random.default_rng(1)
    draws = np.concatenate([tree.sample_stratified(250, rng) for _ in range(400)])
    freq = np.bincount(draws, minlength=5) / len(draws)
    np.testing.assert_allclose(freq, priorities / priorities.sum(), atol=0.01)
    assert freq[4] == 0.0  # zero priority is never drawn


def test_non_power_of_two_capacity_never_returns_padding():
    tree = SumTree(3)
    tree.update(np.arange(3), np.array([1.0, 1.0, 1.0]))
    assert tree.find(np.array([2.999999999, 3.0])).max() <= 2


def test_capacity_must_be_positive():
    with pytest.raises(ValueError, match="capacity"):
        SumTree(0)
