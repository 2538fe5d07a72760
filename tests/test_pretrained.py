"""The pretrained agent in assets/ must be there, documented, and land."""

import json

import numpy as np

from lab.evaluation import evaluate
from lab.policy import PRETRAINED_CARD, PRETRAINED_POLICY, load_policy


def test_the_card_documents_how_the_agent_was_made():
    card = json.loads(PRETRAINED_CARD.read_text())
    assert card["command"].startswith("python -m lab train")
    assert {"seed", "env_steps", "train_wall_seconds", "evaluation"} <= set(card)
    assert card["evaluation"]["episodes"] == 100
    assert {"mean_return", "std_return", "success_rate"} <= set(card["evaluation"])


def test_load_policy_without_a_path_loads_the_pretrained_agent():
    policy = load_policy()
    assert str(PRETRAINED_POLICY) in policy.name
    obs = np.zeros((3, 8), np.float32)
    assert policy(obs).shape == (3, 2)
    assert np.all(np.abs(policy(obs)) <= 1.0)


def test_the_pretrained_agent_lands_on_held_out_seeds():
    result = evaluate(load_policy(), episodes=5, seed=100_000)
    assert min(result.returns) >= 200, result.returns
