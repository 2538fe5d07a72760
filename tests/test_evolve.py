"""Population-based training on one lab.Population: selection, mutation within bounds, elitism, exploit copies,
lineage, the elite file, the refusals of a file, and the --population flag that now changes nothing."""

import json
from pathlib import Path

import numpy as np
import pytest

from lab.search.evolve import EVOLVE_KEYS, Offspring, check_evolve_spec, mutate, next_generation, run_evolve
from lab.search.evolve_population import EvolvingPopulation, copy_order
from lab.search.space import SpecError, parse_spec

ROOT = Path(__file__).resolve().parent.parent
BOUNDS = {"actor_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
          "critic_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
          "noise.sigma": {"min": 0.05, "max": 0.4, "type": "float"},
          "policy_delay": {"min": 1, "max": 3, "type": "int"}}
PBT = {"name": "pbt", "base": "tiny", "seed": 3, "population": 3, "generations": 2, "generation_steps": 240,
       "tournament_size": 2, "elite": 1,
       "overrides": {"run.eval_episodes": 1, "env.max_episode_steps": 60, "training.learning_starts": 40,
                     "training.batch_size": 16, "env.num_envs": 1, "run.analyze_episodes": False},
       "parameters": BOUNDS}


def pbt_spec(**changes):
    spec = parse_spec({**PBT, **changes}, kind="evolve", extra_keys=EVOLVE_KEYS)
    check_evolve_spec(spec)
    return spec


def settings(spec, **changes):
    from lab.search.evolve import settings as base

    return {**base(spec), **changes}


def within_bounds(values, spec):
    for p in spec.parameters:
        v = values[p.name]
        assert p.domain.low <= v <= p.domain.high, (p.name, v)
        assert isinstance(v, int) == (p.domain.scale == "int"), (p.name, v)


# ---- selection and mutation -------------------------------------------------------------------
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


def test_copies_read_every_winner_before_it_is_itself_replaced():
    chain = [Offspring(1, {}), Offspring(2, {}), Offspring(2, {}), Offspring(3, {})]  # 0<-1<-2, 3 stays
    order = copy_order(chain)
    assert sorted(order) == [0, 1, 2, 3] and order.index(0) < order.index(1)


# ---- the file ---------------------------------------------------------------------------------
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
    with pytest.raises(SpecError, match="shared_replay='yes' is invalid: allowed true or false"):
        pbt_spec(shared_replay="yes")


def test_what_a_population_cannot_train_is_refused_in_one_line_before_any_folder_is_made(tmp_path):
    cases = [({"parameters": {**BOUNDS, "batch_size": {"min": 16, "max": 64, "type": "int"}}},
              r"parameter 'batch_size' \(training.batch_size\) cannot evolve: the agents train as one population "
              r"and share one batch shape"),
             ({"overrides": {**PBT["overrides"], "training.algorithm": "sac"}},
              "training.algorithm is no longer supported")]
    for changes, message in cases:
        with pytest.raises(SpecError, match=message) as info:
            pbt_spec(**changes)
        assert "\n" not in str(info.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["evolve.yaml", "evolve_population.yaml"])
def test_the_example_evolve_files_are_valid_and_small(name):
    from lab.search.evolve import load_evolve_spec

    spec = load_evolve_spec(ROOT / "examples" / name)
    s = settings(spec)
    assert s["generations"] * s["generation_steps"] <= 100_000  # small by default: total env steps
    per_agent = s["generation_steps"] // s["population"]
    assert spec.base.training.learning_starts < per_agent * s["generations"] // 2  # it learns for most of the run
    assert s["shared_replay"] is (name == "evolve.yaml")  # the two examples are the two replay modes
    assert {p.key for p in spec.parameters} == {"training.actor_lr", "training.critic_lr", "noise.sigma",
                                                "training.policy_delay"}


# ---- the population ---------------------------------------------------------------------------
@pytest.mark.parametrize("shared", [False, True])
def test_a_generation_trains_exactly_its_steps_per_agent_with_per_agent_or_shared_replay(shared):
    spec = pbt_spec()
    pop = EvolvingPopulation(spec, settings(spec, shared_replay=shared))
    try:
        buffer = pop.population.buffer  # the engine's replay: how many rows each agent can sample from
        for generation in (1, 2):
            pop.train_generation(generation)
            assert [m.env_step for m in pop.population.members] == [80 * generation] * 3  # 240 // 3 each
            assert all(m["updates"] > 0 for m in pop.population.summary()["members"])
            if shared:
                assert list(buffer.size) == [240 * generation] * 3  # one buffer, every agent's steps in it
            else:
                assert list(buffer.size) == [80 * generation] * 3
        assert pop.env_step == 480
    finally:
        pop.close()


def test_one_generation_copies_winners_into_losers_and_the_elite_survives():
    spec = pbt_spec()
    pop = EvolvingPopulation(spec, settings(spec))
    try:
        pop.train_generation(1)
        obs = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
        actions = [pop.policy(i)(obs) for i in range(3)]
        hparams = [dict(m.hyperparameters) for m in pop.slots]
        ids = [m.id for m in pop.slots]
        fitness = [-50.0, 10.0, -80.0]  # make the outcome certain: slot 1 is the elite, both others lose to it
        out = next_generation(fitness, hparams, spec.parameters, pop.rng, tournament_size=2, elite=1)
        parents = pop.replace(out)
        assert [o.parent for o in out] == [1, 1, 1]
        for i, m in enumerate(pop.slots):
            assert np.array_equal(pop.policy(i)(obs), actions[1])  # every slot now acts as the elite does
            within_bounds(m.hyperparameters, spec)
            live = pop.population.hyperparameters(i)
            assert live["training.actor_lr"] == pytest.approx(m.hyperparameters["actor_lr"])
            assert live["training.critic_lr"] == pytest.approx(m.hyperparameters["critic_lr"])
            assert live["training.policy_delay"] == m.hyperparameters["policy_delay"]
            assert live["noise.sigma"] == pytest.approx(m.hyperparameters["noise.sigma"])
        assert pop.slots[1].id == ids[1] and pop.slots[1].hyperparameters == hparams[1]
        assert pop.slots[0].id not in ids and parents[0] == ids[1]  # a new agent, child of the elite
        assert pop.next_id == 5
    finally:
        pop.close()


# ---- the run and its files -------------------------------------------------------------------
def test_evolve_writes_lineage_and_an_elite_that_watch_gif_and_eval_can_load(tmp_path):
    from lab.config import Config
    from lab.evaluation import evaluate
    from lab.policy import load_policy

    folder = tmp_path / "pbt"
    logs: list[str] = []
    result = run_evolve(pbt_spec(), folder, log=logs.append)
    lineage = json.loads((folder / "lineage.json").read_text())
    assert lineage["trained_as"] == "population" and lineage["shared_replay"] is False
    assert [g["generation"] for g in lineage["generations"]] == [1, 2]
    assert [g["env_step"] for g in lineage["generations"]] == [240, 480]
    for g in lineage["generations"]:
        assert len(g["members"]) == 3
        assert g["best"]["fitness"] == max(m["fitness"] for m in g["members"])
        assert g["mean_fitness"] == pytest.approx(np.mean([m["fitness"] for m in g["members"]]))
        for child in g["next"]:  # every new agent's parent is recorded, and known
            if child["parent"] is not None:
                assert lineage["agents"][str(child["agent"])]["parent"] == child["parent"]
                assert str(child["parent"]) in lineage["agents"]
    elite = lineage["elite"]
    assert elite["generation"] == 2 and elite["fitness"] == lineage["generations"][1]["best"]["fitness"]
    assert result["elite"]["policy"] == str(folder / "elite" / "policy.pt") and result["generations"] == 2
    assert lineage["resume"]["generation"] == 2
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["generation_0002.pt"]  # the last only
    for policy in (load_policy(folder / "elite" / "policy.pt"), load_policy(folder / "elite"),
                   load_policy(elite["checkpoint"], agent=elite["slot"])):  # what watch, gif and eval call
        score = evaluate(policy, episodes=1, seed=10_000, max_episode_steps=60, analyze=False).mean_return
        assert score == pytest.approx(elite["fitness"], abs=1e-3)  # the very agent that earned the fitness
    config = Config.load(folder / "elite" / "config.yaml")
    assert config.training.actor_lr == elite["hyperparameters"]["actor_lr"]
    assert config.noise.sigma == elite["hyperparameters"]["noise.sigma"]
    assert logs[-1] == f"elite policy: {folder / 'elite' / 'policy.pt'} (python -m lab watch " \
                       f"{folder / 'elite' / 'policy.pt'})"


def test_evolve_is_reproducible_with_the_same_file_and_seed(tmp_path):
    def fitness(folder):
        run_evolve(pbt_spec(shared_replay=True), folder, log=lambda _: None)
        lineage = json.loads((folder / "lineage.json").read_text())
        assert lineage["shared_replay"] is True
        return [[m["fitness"] for m in g["members"]] for g in lineage["generations"]], lineage["agents"]

    assert fitness(tmp_path / "a") == fitness(tmp_path / "b")


def test_the_population_flag_is_accepted_and_changes_nothing(tmp_path, capsys):
    from lab.cli import build_parser, main

    spec = tmp_path / "pbt.json"
    spec.write_text(json.dumps({**PBT, "generations": 1}))
    fitness = []
    for flags in ([], ["--population"]):
        out = tmp_path / f"out{len(flags)}"
        assert main(["evolve", str(spec), "--out", str(out), *flags]) == 0
        assert f"results: {out}" in capsys.readouterr().out
        lineage = json.loads((out / "lineage.json").read_text())
        fitness.append([m["fitness"] for m in lineage["generations"][0]["members"]])
    assert fitness[0] == fitness[1]
    parser = build_parser(only="evolve")
    evolve = next(a for a in parser._subparsers._group_actions).choices["evolve"]  # noqa: SLF001
    assert "changes nothing" in evolve.format_help()
