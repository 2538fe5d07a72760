"""n-step windows over every env row at once, against the step-by-step n-step return written out plainly."""

from __future__ import annotations

import numpy as np
import pytest

from lab.rollout.nstep import NStepWindows, discounts


def _plain_n_step(streams, n, gammas):
    """Each row's transitions, one step at a time, as a single env's n-step queue computes them."""
    out = []
    queues = {row: [] for row in range(len(gammas))}
    for step in streams:
        for row, obs, action, reward, next_obs, terminated, done in step:
            q = queues[row]
            q.append((obs, action, reward))
            tails = range(len(q)) if done else ([0] if len(q) == n else [])
            for j in tails:
                ret = 0.0
                for k, (_, _, r) in enumerate(q[j:]):
                    ret += gammas[row] ** k * r
                out.append((row, q[j][0], q[j][1], np.float32(ret), next_obs, terminated, len(q) - j))
            if done:
                q.clear()
            elif len(q) == n:
                q.pop(0)
    return out


@pytest.mark.parametrize("n", [1, 3])
def test_windows_give_the_plain_n_step_transitions_bit_for_bit_in_the_same_order(n):
    rng = np.random.default_rng(0)
    rows, gammas = 4, [0.99, 0.9, 0.99, 0.5]
    windows = NStepWindows(rows, n, obs_dim=3, act_dim=2)
    streams, got = [], []
    for _ in range(60):
        acting = np.flatnonzero(rng.random(rows) < 0.8)  # some rows skip a step (an autoreset, a failed agent)
        obs = rng.standard_normal((len(acting), 3)).astype(np.float32)
        actions = rng.uniform(-1, 1, (len(acting), 2)).astype(np.float32)
        rewards = rng.standard_normal(len(acting)) * 10
        next_obs = rng.standard_normal((len(acting), 3)).astype(np.float32)
        terminated = rng.random(len(acting)) < 0.1
        done = terminated | (rng.random(len(acting)) < 0.1)
        streams.append(list(zip(acting, obs, actions, rewards, next_obs, terminated, done)))
        weights = np.stack([discounts(gammas[r], n) for r in acting]) if len(acting) else np.zeros((0, n))
        t = windows.push(acting, obs, actions, rewards, next_obs, terminated, done, weights)
        got += list(zip(t.rows, t.obs, t.actions, t.rewards, t.next_obs, t.terminated, t.nsteps))
    expected = _plain_n_step(streams, n, gammas)
    assert len(got) == len(expected) > 60
    for mine, plain in zip(got, expected):
        assert mine[0] == plain[0]
        for a, b in zip(mine[1:], plain[1:]):
            np.testing.assert_array_equal(a, b)


def test_an_episode_shorter_than_n_gives_every_tail_and_clear_drops_them():
    windows = NStepWindows(1, 3, obs_dim=1, act_dim=1)
    row, w = np.array([0]), discounts(0.5, 3)[None]
    one = np.ones((1, 1), np.float32)
    assert len(windows.push(row, one, one, np.array([1.0]), one, np.array([False]), np.array([False]), w).rows) == 0
    t = windows.push(row, 2 * one, one, np.array([2.0]), 3 * one, np.array([True]), np.array([True]), w)
    assert t.nsteps.tolist() == [2, 1] and t.rewards.tolist() == [2.0, 2.0] and t.terminated.tolist() == [True] * 2
    assert t.obs[:, 0].tolist() == [1.0, 2.0] and windows.length.tolist() == [0]
    windows.push(row, one, one, np.array([1.0]), one, np.array([False]), np.array([False]), w)
    windows.clear()
    assert windows.length.tolist() == [0]
