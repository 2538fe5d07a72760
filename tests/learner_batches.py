"""Batches the learner tests share: random ones, and a problem whose best action and value are known."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lab.replay import Batch
from lab.td3 import TD3

BEST_ACTION = torch.tensor([0.5, -0.3])
"""The known problem's best action in every state."""


def random_batch(n: int = 32, seed: int = 0) -> Batch:
    """n random transitions of 8-dim observations and 2-dim actions, discount 0.99, unit weights."""
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(n, 8, generator=g), torch.rand(n, 2, generator=g) * 2 - 1,
                 torch.randn(n, generator=g), torch.randn(n, 8, generator=g), torch.full((n,), 0.99),
                 torch.ones(n), np.arange(n))


def train_on_known_problem(agent: TD3, updates: int = 2000) -> torch.Tensor:
    """Eight states, reward 1 - |a - BEST_ACTION|^2 on every step, never terminating, gamma 0.5, so
    Q(s, a*) = 2 and pi(s) = a*; returns the eight states after `updates` updates on batches of 64."""
    g = torch.Generator().manual_seed(1)
    states = torch.randn(8, 8, generator=g)
    n = 512
    obs, next_obs = states[torch.randint(8, (n,), generator=g)], states[torch.randint(8, (n,), generator=g)]
    actions = torch.rand(n, 2, generator=g) * 2 - 1
    rewards = 1.0 - (actions - BEST_ACTION).square().sum(1)
    for _ in range(updates):
        i = torch.randint(n, (64,), generator=g)
        agent.update(Batch(obs[i], actions[i], rewards[i], next_obs[i], torch.full((64,), 0.5), torch.ones(64), i))
    return states


def round_trip(make_agent: Callable[[int], Any]) -> tuple[Any, Any]:
    """An agent after six updates and one restored from its state after five, then updated once: their
    sixth updates must give the same losses (asserted here); returns (agent, restored) to compare weights."""
    agent = make_agent(0)
    for k in range(5):
        agent.update(random_batch(seed=k))
    state = copy.deepcopy(agent.state_dict())
    torch.manual_seed(7)  # the same sampling noise in both
    expected = agent.update(random_batch(seed=9))
    restored = make_agent(123)
    restored.load_state_dict(state)
    torch.manual_seed(7)
    got = restored.update(random_batch(seed=9))
    assert float(got.critic_loss) == float(expected.critic_loss)
    assert float(got.actor_loss) == float(expected.actor_loss)
    return agent, restored
