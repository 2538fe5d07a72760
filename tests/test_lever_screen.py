"""The lever screen: levers parsed and checked, grouped by network shape, each lever's seeds kept apart."""

from __future__ import annotations

import pytest
from toy_env import MODULE_ENV_ID

from lab.bench.screen import Lever, lever_configs, parse_lever, screen_levers, shape_groups, summarize_levers
from lab.config import ConfigError
from lab.presets import preset


def test_a_lever_is_a_name_then_overrides() -> None:
    assert parse_lever(["base"]) == Lever("base")
    assert parse_lever(["ln", "network.layer_norm=true"]) == Lever("ln", ("network.layer_norm=true",))
    with pytest.raises(ConfigError, match="allowed a name first"):
        parse_lever(["network.layer_norm=true"])
    with pytest.raises(ConfigError, match="'oops' is not a KEY=VALUE override"):
        parse_lever(["ln", "oops"])


def test_levers_are_checked_before_anything_trains() -> None:
    base = preset("tiny")
    with pytest.raises(ConfigError, match="lever name 'a' is given twice"):
        lever_configs(base, [Lever("a"), Lever("a", ("noise.sigma=0.2",))], [0])
    with pytest.raises(ConfigError, match="training.ensemble_size=2 is no longer supported"):
        lever_configs(base, [Lever("ensemble", ("training.ensemble_size=2",))], [0])
    assert lever_configs(base, [Lever("per", ("training.use_per=true",))], [0])["per"][0].training.use_per
    with pytest.raises(ConfigError, match="levers a and b give the same config"):
        lever_configs(base, [Lever("a"), Lever("b", (f"noise.sigma={base.noise.sigma}",))], [0])
    with pytest.raises(ConfigError, match="noise.sigma"):
        lever_configs(base, [Lever("bad", ("noise.sigma=-1",))], [0])


def test_levers_of_one_network_shape_share_a_population_and_others_get_their_own() -> None:
    levers = [Lever("base"), Lever("ln", ("network.layer_norm=true",)), Lever("sigma", ("noise.sigma=0.4",)),
              Lever("lr", ("training.actor_lr=3e-4",))]
    configs = lever_configs(preset("tiny"), levers, [3, 4])
    assert [c.run.seed for c in configs["sigma"]] == [3, 4]
    assert configs["sigma"][1].noise.sigma == 0.4
    assert shape_groups(configs) == [["base", "sigma", "lr"], ["ln"]]


def test_each_lever_keeps_its_own_seeds_results() -> None:
    """A lever that learns the toy task solves it on both seeds; one whose critic cannot learn does not."""
    base = preset("tiny", **{
        "env.env_id": MODULE_ENV_ID, "env.success_threshold": 18.0, "run.analyze_episodes": False,
        "training.learning_starts": 200, "training.gamma": 0.5, "noise.kind": "gaussian", "noise.sigma": 0.2})
    levers = [Lever("learns"), Lever("frozen", ("training.critic_lr=1e-9", "training.actor_lr=1e-9"))]
    heard: list[tuple[str, int]] = []
    evaluations: list[tuple[str, int, int]] = []
    results = screen_levers(base, levers, [0, 1], max_steps=800, max_seconds=1e9, eval_every=200,
                            eval_episodes=5, on_result=lambda name, r: heard.append((name, r.seed)),
                            on_evaluated=lambda name, seed, e: evaluations.append((name, seed, e.env_step)))
    assert [r.seed for r in results["learns"]] == [0, 1] and [r.seed for r in results["frozen"]] == [0, 1]
    assert all(r.solved and r.env_steps <= 800 for r in results["learns"])
    assert not any(r.solved for r in results["frozen"])
    assert sorted(heard) == [("frozen", 0), ("frozen", 1), ("learns", 0), ("learns", 1)]
    summary = summarize_levers(results, 800, 1e9)
    assert summary["learns"]["solved"] == 2 and summary["frozen"]["solved"] == 0
    assert summary["frozen"]["env_steps"]["median"] == 800
    assert ("frozen", 1, 800) in evaluations and ("learns", 0, 200) in evaluations
    assert {(name, seed) for name, seed, _ in evaluations} == set(heard)


def test_a_screen_stopped_by_a_signal_raises_instead_of_counting_its_agents_at_the_cap() -> None:
    """SIGTERM mid-screen: no result, since agents stopped at 200 steps would read as unsolved at the 800 cap."""
    import os
    import signal

    from lab.signals import Terminated

    base = preset("tiny", **{"env.env_id": MODULE_ENV_ID, "env.success_threshold": 1e6,
                             "run.analyze_episodes": False, "training.learning_starts": 100})
    heard: list[str] = []

    def terminate(name: str, seed: int, event: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Terminated):
        screen_levers(base, [Lever("base")], [0, 1], max_steps=800, max_seconds=1e9, eval_every=200,
                      eval_episodes=2, on_result=lambda name, r: heard.append(name), on_evaluated=terminate)
    assert heard == []
