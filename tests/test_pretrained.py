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


def test_the_pretrained_agent_carries_its_critic_so_the_value_overlay_works_after_install():
    policy = load_policy()
    obs = np.zeros((3, 8), np.float32)
    values = policy.value(obs, policy(obs))
    assert policy.critic is not None and values.shape == (3,) and np.all(np.isfinite(values))


def test_the_pretrained_agent_lands_on_held_out_seeds():
    result = evaluate(load_policy(), episodes=5, seed=100_000)
    assert min(result.returns) >= 200, result.returns


def _make_pretrained():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("make_pretrained", Path(__file__).parent.parent / "scripts" /
                                                  "make_pretrained.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_card_is_true_about_the_preset_it_names():
    """Its config differs from its preset today in exactly the fields it lists (make_pretrained.py --card-only)."""
    from lab.presets import preset_names

    card = json.loads(PRETRAINED_CARD.read_text())
    assert card["preset"] in preset_names() and f"--preset {card['preset']}" in card["command"]
    make = _make_pretrained()
    assert card["differs_from_preset"] == make.differences(card["config"], card["preset"]), \
        "the card's preset changed: run python scripts/make_pretrained.py --card-only"
    assert card["note"] == make.describe(card)
    network = card["config"]["network"]
    assert (network["actor_hidden"], network["critic_hidden"]) == (card["network"]["actor_hidden"],
                                                                   card["network"]["critic_hidden"])


def test_card_differences_list_changed_new_and_retired_fields():
    from lab.presets import preset

    make = _make_pretrained()
    config = preset("fast").to_dict()
    assert make.differences(config, "fast") == {}
    config["network"]["actor_hidden"] = [128, 128]
    del config["noise"]["touchdown_cut"]           # a field added after the run: it counts as its default (0)
    config["training"]["retired_knob"] = 3          # a field the lab no longer has
    assert make.differences(config, "fast") == {
        "network.actor_hidden": {"run": [128, 128], "preset": [64, 64]},
        "noise.touchdown_cut": {"run": 0.0, "preset": 0.5},
        "training.retired_knob": {"run": 3, "preset": None}}
    assert make.differences(preset("guided").to_dict(), "fast") == {
        "training.warmup_pilot": {"run": "heuristic", "preset": "uniform"}}
