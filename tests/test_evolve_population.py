"""The lab.Population pieces PBT stands on: exploit copies, generations as pauses, shared replay, clean failures.

lab evolve itself (which trains only this way) is tested in test_evolve.py and test_evolve_resume.py.
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import torch

from lab.agents.replay import ReplayBuffer
from lab.config import ConfigError
from lab.rollout.noise import GaussianNoise
from lab.train.population import Population


@pytest.fixture
def pop_config(tiny_config):
    return tiny_config.with_overrides({"run.total_steps": 400, "env.num_envs": 1, "training.batch_size": 16,
                                       "training.learning_starts": 40, "run.analyze_episodes": False,
                                       "env.max_episode_steps": 60, "run.eval_every": 0})


# ---- the Population's own pieces -------------------------------------------------------------
def test_copy_agent_copies_exactly_slot_j_into_slot_i_and_leaves_the_others_bit_identical(pop_config):
    configs = [pop_config.with_overrides({"run.seed": s, "training.actor_lr": lr})
               for s, lr in ((0, 1e-3), (1, 2e-3), (2, 5e-4))]
    with Population(configs=configs, log_to_disk=False) as population:
        population.fit(until_step=150)
        learner = population.learner
        before = {name: t.detach().clone() for name, t in learner.slots.tensors.items()}
        generators = [g.get_state() for g in learner.generators]
        explorers = population.collector.explorers
        noise = [e.noise.state.copy() for e in explorers]
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
        assert population.hyperparameters(0)["training.actor_lr"] == pytest.approx(5e-4)
        assert np.array_equal(explorers[0].noise.state, noise[2]) and np.array_equal(explorers[1].noise.state,
                                                                                     noise[1])
        assert [m.counters() for m in population.members] == counters  # budgets and counters stay the slot's
        obs = torch.randn(5, 8)
        assert torch.equal(population.policy(0).actor(obs), population.policy(2).actor(obs))


def test_copy_agent_across_noise_kinds_gives_the_target_the_sources_process(pop_config):
    configs = [pop_config.with_overrides({"run.seed": s, "noise.kind": kind})
               for s, kind in ((0, "ou"), (1, "gaussian"))]
    with Population(configs=configs, log_to_disk=False) as population:
        population.fit(until_step=60)
        population.copy_agent(1, 0)
        dst, src = population.collector.explorers
        assert isinstance(dst.noise, GaussianNoise) and dst.noise is not src.noise
        assert np.array_equal(dst.noise.state, src.noise.state)
        population.fit(until_step=120)  # the copied process trains on
        assert population.members[0].env_step == 120


def test_fit_until_a_step_pauses_and_a_later_fit_goes_on_exactly_as_one_fit(pop_config):
    def run(pauses):
        with Population(pop_config, seeds=[0, 1], log_to_disk=False) as population:
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
    shared = ReplayBuffer(2, 50, 3, 2, seeds=[0, 1], shared=True)
    rows = lambda v, n: (np.full((n, 3), v, np.float32), np.zeros((n, 2), np.float32),  # noqa: E731
                         np.zeros(n, np.float32), np.full((n, 3), v, np.float32), np.zeros(n, bool))
    shared.add(0, *rows(1.0, 10))
    shared.add(1, *rows(2.0, 5))
    assert shared.obs.shape[0] == 1 and list(shared.size) == [15, 15] and list(shared.pos) == [15, 15]
    batch = shared.sample(200, [0.9, 0.9])
    for k in (0, 1):  # either agent draws from both agents' rows
        assert set(batch.obs[k, :, 0].tolist()) == {1.0, 2.0}
    apart = ReplayBuffer(2, 50, 3, 2, seeds=[0, 1])
    apart.add(0, *rows(1.0, 10))
    apart.add(1, *rows(2.0, 5))
    batch = apart.sample(200, [0.9, 0.9])
    assert set(batch.obs[0, :, 0].tolist()) == {1.0} and set(batch.obs[1, :, 0].tolist()) == {2.0}


def test_a_bad_env_id_names_the_field_and_the_value(pop_config):
    bad = pop_config.with_overrides({"env.env_id": "NoSuchLander-v9"})
    for overlap in (True, False):
        with pytest.raises(ConfigError, match=r"env.env_id='NoSuchLander-v9' cannot be made.*allowed"):
            Population(bad.with_overrides({"run.overlap_collection": overlap}), seeds=[0, 1], log_to_disk=False)
    assert not multiprocessing.active_children()


def test_a_population_that_fails_after_its_env_worker_started_closes_it(pop_config, tmp_path):
    from lab.checkpoint import CheckpointError

    missing = tmp_path / "nope" / "population.pt"
    with pytest.raises(CheckpointError):
        Population(pop_config.with_overrides({"run.overlap_collection": True}), seeds=[0, 1], log_to_disk=False,
                   resume=missing)
    assert not multiprocessing.active_children()  # the env worker was closed, not left until this process exits
