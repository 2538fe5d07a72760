"""Population-based training: selection, mutation within bounds, elitism, weight copies, lineage, the elite file."""

import json

import numpy as np
import pytest
import torch

from lab.search.evolve import (
    EVOLVE_KEYS,
    Population,
    check_evolve_spec,
    mutate,
    next_generation,
    run_evolve,
)
from lab.search.space import SpecError, parse_spec

BOUNDS = {"actor_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
          "critic_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
          "batch_size": {"min": 16, "max": 64, "type": "int"},
          "noise.sigma": {"min": 0.05, "max": 0.4, "type": "float"},
          "policy_delay": {"min": 1, "max": 3, "type": "int"}}
PBT = {"name": "pbt", "base": "tiny", "seed": 3, "population": 3, "generations": 2, "generation_steps": 240,
       "tournament_size": 2, "elite": 1,
       "overrides": {"run.eval_episodes": 1, "env.max_episode_steps": 60, "training.learning_starts": 100,
                     "env.num_envs": 1},
       "parameters": BOUNDS}


def pbt_spec(**changes):
    spec = parse_spec({**PBT, **changes}, kind="evolve", extra_keys=EVOLVE_KEYS)
    check_evolve_spec(spec)
    return spec


def within_bounds(values, spec):
    for p in spec.parameters:
        v = values[p.name]
        assert p.domain.low <= v <= p.domain.high, (p.name, v)
        assert isinstance(v, int) == (p.domain.scale == "int"), (p.name, v)


def test_selection_keeps_the_elite_and_mutation_stays_within_bounds():
    spec = pbt_spec()
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 8))
        hparams = [{p.name: p.sample(rng) for p in spec.parameters} for _ in range(n)]
        fitness = list(rng.normal(size=n) * 100)
        elite = int(rng.integers(0, n))
        out = next_generation(fitness, hparams, spec.parameters, rng, tournament_size=int(rng.integers(1, n)),
                              elite=elite, perturb=(0.1, 10.0), resample_probability=0.3)
        order = sorted(range(n), key=lambda i: -fitness[i])
        for i in order[:elite]:  # the elite survive untouched
            assert out[i].parent == i and out[i].hyperparameters == hparams[i] and not out[i].mutations
        for i, child in enumerate(out):
            within_bounds(child.hyperparameters, spec)
            if child.parent != i:  # a loser copies a strictly fitter winner, then mutates
                assert fitness[child.parent] > fitness[i]
                assert i not in order[:elite]
                for name, (old, new) in child.mutations.items():
                    assert old == hparams[child.parent][name] and new == child.hyperparameters[name]
            else:
                assert child.hyperparameters == hparams[i]
        assert out[order[0]].parent == order[0]  # the best always survives, even with elite=0


def test_mutation_scales_by_a_perturb_factor_and_clips_to_the_bounds():
    spec = pbt_spec()
    lr = next(p for p in spec.parameters if p.name == "actor_lr")
    delay = next(p for p in spec.parameters if p.name == "policy_delay")
    rng = np.random.default_rng(1)
    assert {mutate(lr, 1e-3, rng, (0.5, 2.0), 0.0) for _ in range(50)} == {5e-4, 2e-3}
    assert mutate(lr, 2e-3, rng, (100.0,), 0.0) == 3e-3  # clipped to max
    assert mutate(lr, 2e-3, rng, (1e-6,), 0.0) == 1e-4  # clipped to min
    assert mutate(delay, 3, rng, (1.25,), 0.0) == 3 and mutate(delay, 2, rng, (1.5,), 0.0) == 3
    resampled = {mutate(lr, 1e-3, rng, (1.0,), 1.0) for _ in range(20)}
    assert len(resampled) > 10 and all(1e-4 <= v <= 3e-3 for v in resampled)


def test_one_generation_copies_winners_into_losers_and_the_elite_survives(tmp_path):
    spec = pbt_spec()
    pop = Population(spec)
    try:
        for m in pop.members:
            pop.drive(m, 80)
        assert pop.env_step >= 240 and len(pop.buffer) == pop.env_step  # one shared buffer, every real step in it
        fitness = pop.evaluate()
        hparams = [dict(m.hyperparameters) for m in pop.members]
        weights = [{k: v.clone() for k, v in m.agent.actor.state_dict().items()} for m in pop.members]
        fitness = [-50.0, 10.0, -80.0]  # make the outcome certain: slot 1 is the elite
        out = next_generation(fitness, hparams, spec.parameters, pop.rng, tournament_size=2, elite=1)
        ids = [m.id for m in pop.members]
        parents = pop.replace(out)
        assert out[1].parent == 1 and out[0].parent == 1 and out[2].parent == 1  # both lose to the elite
        for i, m in enumerate(pop.members):
            source = weights[out[i].parent]
            assert all(torch.equal(v, source[k]) for k, v in m.agent.actor.state_dict().items())
            within_bounds(m.hyperparameters, spec)
            assert m.agent.actor_opt.param_groups[0]["lr"] == pytest.approx(m.hyperparameters["actor_lr"])
            assert m.agent.critic_opt.param_groups[0]["lr"] == pytest.approx(m.hyperparameters["critic_lr"])
            assert m.agent.policy_delay == m.hyperparameters["policy_delay"]
            assert m.noise.sigma == pytest.approx(m.hyperparameters["noise.sigma"])
        assert pop.members[1].id == ids[1] and pop.members[1].hyperparameters == hparams[1]
        assert pop.members[0].id not in ids and parents[0] == ids[1]  # a new agent, child of the elite
    finally:
        pop.close()


def test_evolve_writes_lineage_and_an_elite_that_watch_and_gif_can_load(tmp_path):
    from lab.config import Config
    from lab.evaluation import evaluate
    from lab.policy import load_policy

    folder = tmp_path / "pbt"
    result = run_evolve(pbt_spec(), folder, log=lambda _: None)
    lineage = json.loads((folder / "lineage.json").read_text())
    assert [g["generation"] for g in lineage["generations"]] == [1, 2]
    for g in lineage["generations"]:
        assert len(g["members"]) == 3
        assert g["best"]["fitness"] == max(m["fitness"] for m in g["members"])
        assert g["mean_fitness"] == pytest.approx(np.mean([m["fitness"] for m in g["members"]]))
    first = lineage["generations"][0]
    for child in first["next"]:  # every new agent's parent is recorded, and known
        if child["parent"] is not None:
            assert lineage["agents"][str(child["agent"])]["parent"] == child["parent"]
            assert str(child["parent"]) in lineage["agents"]
    elite = lineage["elite"]
    assert elite["generation"] == 2 and elite["fitness"] == lineage["generations"][1]["best"]["fitness"]
    assert result["elite"]["policy"] == str(folder / "elite" / "policy.pt")
    for path in (folder / "elite" / "policy.pt", folder / "elite" / "agent.pt", folder / "elite"):
        policy = load_policy(path)  # what watch and gif call
        score = evaluate(policy, episodes=1, seed=10_000, max_episode_steps=60, analyze=False).mean_return
        assert score == pytest.approx(elite["fitness"], abs=1e-3)  # the very agent that earned the fitness
    config = Config.load(folder / "elite" / "config.yaml")
    assert config.training.actor_lr == elite["hyperparameters"]["actor_lr"]
    assert config.noise.sigma == elite["hyperparameters"]["noise.sigma"]


def test_evolve_files_are_checked_before_anything_runs():
    with pytest.raises(SpecError, match=r"parameter 'tau' \(training.tau\) cannot evolve"):
        pbt_spec(parameters={"tau": {"min": 0.001, "max": 0.01}})
    with pytest.raises(SpecError, match="tournament_size=3 is invalid"):
        pbt_spec(tournament_size=3)
    with pytest.raises(SpecError, match="elite=3 is invalid"):
        pbt_spec(elite=3)
    with pytest.raises(SpecError, match="perturb=.* is invalid"):
        pbt_spec(perturb=[0.8, -1])
    with pytest.raises(SpecError, match="drop steps_per_run"):
        pbt_spec(steps_per_run=100)
    with pytest.raises(SpecError, match="a log range needs min > 0"):
        pbt_spec(parameters={"actor_lr": {"min": 0, "max": 1e-3, "type": "log"}})


def test_the_example_evolve_file_is_valid():
    from pathlib import Path

    from lab.search.evolve import load_evolve_spec, settings

    spec = load_evolve_spec(Path(__file__).resolve().parent.parent / "examples" / "evolve.yaml")
    s = settings(spec)
    assert s["generations"] * s["generation_steps"] <= 100_000  # small by default: total env steps
    assert {p.key for p in spec.parameters} == {"training.actor_lr", "training.critic_lr", "training.batch_size",
                                                "noise.sigma", "training.policy_delay"}


def test_pbt_agents_collect_and_learn_through_the_trainers_own_pieces():
    from lab.agents.replay import PrioritizedReplayBuffer
    from lab.events import EpisodeEnded

    spec = pbt_spec(overrides={**PBT["overrides"], "training.n_step": 3, "training.use_per": True})
    pop = Population(spec)
    episodes = []
    pop.events.subscribe(episodes.append, EpisodeEnded)
    try:
        for m in pop.members:
            pop.drive(m, 80)
        n = len(pop.buffer)
        assert isinstance(pop.buffer, PrioritizedReplayBuffer) and n > 0
        assert pop.buffer.nsteps[:n].max() == 3  # n-step returns, as in the Trainer
        assert not np.allclose(pop.buffer.tree.leaves(np.arange(n)), 1.0)  # learning wrote priorities back
        assert pop.members[-1].agent.updates > 0
        assert episodes and all(e.trajectory.length == e.length for e in episodes)
        assert [e.episode for e in episodes] == list(range(1, len(episodes) + 1))
    finally:
        pop.close()


@pytest.mark.parametrize("algorithm", ["crossq", "sac"])
def test_pbt_members_are_the_configured_learner_and_act_through_its_explore(algorithm, monkeypatch):
    from lab.crossq import CrossQ
    from lab.sac import SAC

    spec = pbt_spec(overrides={**PBT["overrides"], "training.algorithm": algorithm, "noise.sigma": 0.0},
                    parameters={k: v for k, v in BOUNDS.items() if k != "noise.sigma"})
    pop = Population(spec)
    try:
        assert all(type(m.agent) is {"crossq": CrossQ, "sac": SAC}[algorithm] for m in pop.members)
        m = pop.members[0]
        explored = []
        monkeypatch.setattr(m.agent, "explore", lambda obs: explored.append(obs) or m.agent.act(obs))
        pop.drive(m, 160)  # past learning_starts (100): it acts through explore
        assert explored and m.agent.updates > 0
    finally:
        pop.close()


def test_pbt_members_hand_finished_episodes_to_their_learner():
    """An ensemble member's turns advance, and a member with policy checkpoints pays the updates its assessment
    windows owe (before, drive never told the learner an episode ended, so such a member never learned)."""
    from lab.ensemble import Ensemble

    for extra, check in (
            ({"training.ensemble_size": 2}, lambda m: isinstance(m.agent, Ensemble) and all(m.agent.recent)),
            ({"training.policy_checkpoints": True, "training.checkpoint_widen_after": 0,
              "training.checkpoint_window": 1}, lambda m: m.learner.owed < 60 and m.agent.updates > 0)):
        pop = Population(pbt_spec(overrides={**PBT["overrides"], **extra}))
        try:
            m = pop.members[0]
            pop.drive(m, 300)  # five 60-step episodes, the last three after learning_starts (100)
            assert check(m), extra
        finally:
            pop.close()
