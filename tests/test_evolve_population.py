"""PBT on a batched Population: exploit copies, generations as pauses, replay modes, refusals, files, signals."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import torch
from lab.population import Population
from lab.population.replay import StackedReplayBuffer

from lab.config import ConfigError
from lab.rollout.noise import PinkNoise
from lab.search.evolve import EVOLVE_KEYS, check_evolve_spec, run_evolve
from lab.search.evolve_population import BatchedPopulation, copy_order
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

    s = base(spec)
    return {**s, "shared_replay": bool(s["shared_replay"]), **changes}


@pytest.fixture
def pop_config(tiny_config):
    return tiny_config.with_overrides({"run.total_steps": 400, "env.num_envs": 1, "training.batch_size": 16,
                                       "training.learning_starts": 40, "run.analyze_episodes": False,
                                       "env.max_episode_steps": 60, "run.eval_every": 0})


# ---- the Population's own pieces -------------------------------------------------------------
def test_copy_agent_copies_exactly_slot_j_into_slot_i_and_leaves_the_others_bit_identical(pop_config):
    configs = [pop_config.with_overrides({"run.seed": s, "training.actor_lr": lr})
               for s, lr in ((0, 1e-3), (1, 2e-3), (2, 5e-4))]
    with Population(configs=configs, log_to_disk=False, overlap=False) as population:
        population.fit(until_step=150)
        learner = population.learner
        before = {name: t.detach().clone() for name, t in learner.slots.tensors.items()}
        generators = [g.get_state() for g in learner.generators]
        noise = [m.noise.state.copy() for m in population.members]
        counters = [m.counters() for m in population.members]
        assert float(before["actor_opt.steps"][2]) > 0  # there are Adam moments to copy
        population.copy_agent(2, 0)
        after = learner.slots.tensors
        for name, rows in before.items():
            assert torch.equal(after[name][0], rows[2]), name
            assert torch.equal(after[name][1], rows[1]) and torch.equal(after[name][2], rows[2]), name
        assert not torch.equal(after["actor.head_weight"][0], before["actor.head_weight"][0])
        assert all(torch.equal(g.get_state(), s) for g, s in zip(learner.generators, generators))
        dst, src = population.members[0], population.members[2]
        assert dst.config == src.config.with_overrides({"run.seed": 0}) and dst.seed == 0
        assert population.hyperparameters(0)["actor_lr"] == pytest.approx(5e-4)
        assert np.array_equal(dst.noise.state, noise[2]) and np.array_equal(population.members[1].noise.state,
                                                                             noise[1])
        assert [m.counters() for m in population.members] == counters  # budgets and counters stay the slot's
        obs = torch.randn(5, 8)
        assert torch.equal(population.policy(0).actor(obs), population.policy(2).actor(obs))


def test_copy_agent_across_noise_kinds_gives_the_target_the_sources_process(pop_config):
    configs = [pop_config.with_overrides({"run.seed": s, "noise.kind": kind})
               for s, kind in ((0, "ou"), (1, "pink"))]
    with Population(configs=configs, log_to_disk=False, overlap=False) as population:
        population.fit(until_step=60)
        population.copy_agent(1, 0)
        dst, src = population.members
        assert isinstance(dst.noise, PinkNoise) and dst.noise is not src.noise
        assert np.array_equal(dst.noise.state, src.noise.state)
        population.fit(until_step=120)  # the copied process trains on
        assert dst.env_step == 120


def test_fit_until_a_step_pauses_and_a_later_fit_goes_on_exactly_as_one_fit(pop_config):
    def run(pauses):
        with Population(pop_config, seeds=[0, 1], log_to_disk=False, overlap=False) as population:
            for until in pauses:
                population.fit(until_step=until)
                assert population.state == "paused"
                assert [m.env_step for m in population.members] == [until, until]
            population.fit()
            assert population.state == "finished"
            return population.learner.state_dict(), [m.env_step for m in population.members]

    (paused, steps), (straight, straight_steps) = run([120, 250]), run([])
    assert steps == straight_steps == [400, 400]
    for part in ("actor", "critic", "actor_target", "critic_target"):
        assert all(torch.equal(paused[part][k], straight[part][k]) for k in straight[part]), part


def test_shared_replay_holds_every_agents_transitions_and_each_agent_samples_from_all():
    shared = StackedReplayBuffer(2, 50, 3, 2, seeds=[0, 1], shared=True)
    rows = lambda v, n: (np.full((n, 3), v, np.float32), np.zeros((n, 2), np.float32),  # noqa: E731
                         np.zeros(n, np.float32), np.full((n, 3), v, np.float32), np.zeros(n, bool))
    shared.add(0, *rows(1.0, 10))
    shared.add(1, *rows(2.0, 5))
    assert shared.obs.shape[0] == 1 and list(shared.size) == [15, 15] and list(shared.pos) == [15, 15]
    batch = shared.sample(200, np.array([0.9, 0.9]))
    for k in (0, 1):  # either agent draws from both agents' rows
        assert set(batch.obs[k, :, 0].tolist()) == {1.0, 2.0}
    apart = StackedReplayBuffer(2, 50, 3, 2, seeds=[0, 1])
    apart.add(0, *rows(1.0, 10))
    apart.add(1, *rows(2.0, 5))
    batch = apart.sample(200, np.array([0.9, 0.9]))
    assert set(batch.obs[0, :, 0].tolist()) == {1.0} and set(batch.obs[1, :, 0].tolist()) == {2.0}


def test_a_bad_env_id_names_the_field_and_the_value(pop_config):
    bad = pop_config.with_overrides({"env.env_id": "NoSuchLander-v9"})
    for overlap in (True, False):
        with pytest.raises(ConfigError, match=r"env.env_id='NoSuchLander-v9' cannot be made.*allowed"):
            Population(bad, seeds=[0, 1], log_to_disk=False, overlap=overlap)
    assert not multiprocessing.active_children()


def test_a_population_that_fails_after_its_env_worker_started_closes_it(pop_config, tmp_path):
    from lab.checkpoint import CheckpointError

    missing = tmp_path / "nope" / "population.pt"
    with pytest.raises(CheckpointError):
        Population(pop_config, seeds=[0, 1], log_to_disk=False, overlap=True, resume=missing)
    assert not multiprocessing.active_children()  # the env worker was closed, not left until this process exits


# ---- evolve on a population -------------------------------------------------------------------
@pytest.mark.parametrize("shared", [False, True])
def test_a_generation_trains_exactly_its_steps_per_agent_with_per_agent_or_shared_replay(shared):
    spec = pbt_spec()
    pop = BatchedPopulation(spec, settings(spec, shared_replay=shared))
    try:
        buffer = pop.population.buffer
        for generation in (1, 2):
            pop.train_generation()
            assert [m.env_step for m in pop.population.members] == [80 * generation] * 3  # 240 // 3 each
            assert all(m.updates > 0 for m in pop.population.members)
            if shared:
                assert buffer.shared and list(buffer.size) == [240 * generation] * 3  # one buffer, every step
            else:
                assert not buffer.shared and list(buffer.size) == [80 * generation] * 3
        assert pop.population.state == "finished" and pop.env_step == 480
    finally:
        pop.close()


def test_copies_read_every_winner_before_it_is_itself_replaced():
    from lab.search.evolve import Offspring

    chain = [Offspring(1, {}), Offspring(2, {}), Offspring(2, {}), Offspring(3, {})]  # 0<-1<-2, 3 stays
    order = copy_order(chain)
    assert sorted(order) == [0, 1, 2, 3] and order.index(0) < order.index(1)


def test_evolve_on_a_population_writes_lineage_and_the_elite_that_earned_its_fitness(tmp_path):
    from lab.evaluation import evaluate
    from lab.policy import load_policy

    folder = tmp_path / "pbt"
    logs: list[str] = []
    result = run_evolve(pbt_spec(), folder, log=logs.append, population=True)
    lineage = json.loads((folder / "lineage.json").read_text())
    assert lineage["trained_as"] == "population" and lineage["shared_replay"] is False
    assert [g["generation"] for g in lineage["generations"]] == [1, 2]
    assert [g["env_step"] for g in lineage["generations"]] == [240, 480]
    for child in lineage["generations"][0]["next"]:
        if child["parent"] is not None:
            assert lineage["agents"][str(child["agent"])]["parent"] == child["parent"]
    elite = lineage["elite"]
    assert result["elite"]["policy"] == str(folder / "elite" / "policy.pt")
    for path in (folder / "elite" / "policy.pt", folder / "elite" / "agent.pt"):
        score = evaluate(load_policy(path), episodes=1, seed=10_000, max_episode_steps=60,
                         analyze=False).mean_return
        assert score == pytest.approx(elite["fitness"], abs=1e-3)
    agent = torch.load(folder / "elite" / "agent.pt", weights_only=False)
    assert {"critic", "critic_target", "actor_target", "population_rows"} <= set(agent["agent"])


def test_evolve_on_a_population_refuses_batch_size_in_one_line(tmp_path):
    spec = pbt_spec(parameters={**BOUNDS, "batch_size": {"min": 16, "max": 64, "type": "int"}})
    with pytest.raises(SpecError, match=r"parameter 'batch_size' \(training.batch_size\) cannot evolve on a "
                                        r"population: its agents share one batch") as info:
        run_evolve(spec, tmp_path / "pbt", log=lambda _: None, population=True)
    assert "\n" not in str(info.value) and not (tmp_path / "pbt").exists()


def test_a_config_a_population_refuses_trains_one_after_another_and_says_so(tmp_path):
    spec = pbt_spec(generations=1, overrides={**PBT["overrides"], "training.use_per": True})
    logs: list[str] = []
    run_evolve(spec, tmp_path / "pbt", log=logs.append, population=True)
    assert "one after another" in logs[0] and "training.use_per=True" in logs[0]
    assert json.loads((tmp_path / "pbt" / "lineage.json").read_text())["trained_as"] == "one after another"


def test_shared_replay_false_needs_a_population_and_must_be_a_boolean(tmp_path):
    with pytest.raises(SpecError, match="shared_replay=false needs a population"):
        run_evolve(pbt_spec(shared_replay=False), tmp_path / "pbt", log=lambda _: None)
    with pytest.raises(SpecError, match="shared_replay='yes' is invalid: allowed true or false"):
        pbt_spec(shared_replay="yes")


def test_the_example_population_evolve_file_is_valid_for_both_paths():
    from lab.search.evolve import load_evolve_spec, settings
    from lab.search.evolve_population import check_population_spec, population_refusal

    spec = load_evolve_spec(ROOT / "examples" / "evolve_population.yaml")
    check_population_spec(spec)
    assert population_refusal(spec) is None and settings(spec)["shared_replay"] is None
    s = settings(spec)
    assert s["generations"] * s["generation_steps"] <= 100_000


def test_evolve_on_a_population_is_reproducible_with_the_same_file_and_seed(tmp_path):
    def fitness(folder):
        run_evolve(pbt_spec(shared_replay=True), folder, log=lambda _: None, population=True)
        lineage = json.loads((folder / "lineage.json").read_text())
        assert lineage["shared_replay"] is True
        return [[m["fitness"] for m in g["members"]] for g in lineage["generations"]], lineage["agents"]

    assert fitness(tmp_path / "a") == fitness(tmp_path / "b")
