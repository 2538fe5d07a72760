"""The population learner against single-agent TD3, agent independence, live changes, folders and resume."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from lab.checkpoint import CheckpointError, read_checkpoint_file
from lab.config import ConfigError, NetworkConfig, TrainingConfig
from lab.events import CheckpointSaved, EpisodeEnded, HyperparametersChanged
from lab.io import read_jsonl
from lab.policy import load_policy
from lab.population import AgentEvent, Population
from lab.population.learner import PopulationTD3, initial_modules
from lab.population.networks import StackedActor, StackedTwinCritic
from lab.population.replay import StackedReplayBuffer
from lab.replay import Batch
from lab.td3 import TD3

NET = NetworkConfig(actor_hidden=(16, 16), critic_hidden=(16, 16))
SEEDS = [3, 5, 7]


def _learner(configs: list[TrainingConfig], net: NetworkConfig = NET) -> PopulationTD3:
    starts = [initial_modules(s, 8, 2, net) for s in SEEDS[:len(configs)]]
    return PopulationTD3([s[0] for s in starts], [s[1] for s in starts], configs, [s[2] for s in starts])


def _batch(agents: int, size: int = 32, seed: int = 0) -> Batch:
    buffer = StackedReplayBuffer(agents, 200, 8, 2, seeds=list(range(agents)))
    rng = np.random.default_rng(seed)
    for k in range(agents):
        n = 150
        buffer.add(k, rng.standard_normal((n, 8), dtype=np.float32), rng.uniform(-1, 1, (n, 2)).astype(np.float32),
                   rng.standard_normal(n).astype(np.float32), rng.standard_normal((n, 8), dtype=np.float32),
                   rng.random(n) < 0.2, rng.integers(1, 4, n).astype(np.uint8))
    return buffer.sample(size, np.full(agents, 0.99))


def _agent_batch(batch: Batch, k: int) -> Batch:
    return Batch(*(getattr(batch, f.name)[k].clone() for f in dataclasses.fields(Batch)[:6]), batch.indices[k])


def _single(seed: int, cfg: TrainingConfig, learner: PopulationTD3, k: int) -> TD3:
    """The single-agent TD3 a run seeded with seed starts as: same weights as agent k, same noise stream."""
    actor, critic, _ = initial_modules(seed, 8, 2, NET)
    agent = TD3(8, 2, NET, cfg)
    for mine, theirs in ((agent.actor, actor), (agent.actor_target, actor), (agent.critic, critic),
                         (agent.critic_target, critic)):
        mine.load_state_dict(theirs.state_dict())
    return agent


def _assert_agent_matches(learner: PopulationTD3, k: int, agent: TD3, exact: bool = False) -> None:
    check = torch.equal if exact else (lambda a, b: torch.allclose(a, b, rtol=1e-5, atol=1e-6))
    actor, target = learner.actor.unstack(k), learner.actor_target.unstack(k)
    critic = learner.critic.unstack(k, 8, 2, NET)
    critic_target = learner.critic_target.unstack(k, 8, 2, NET)
    for mine, theirs in ((actor, agent.actor), (target, agent.actor_target), (critic, agent.critic),
                         (critic_target, agent.critic_target)):
        for (name, a), b in zip(mine.named_parameters(), theirs.parameters()):
            assert check(a, b), f"agent {k}: {name} differs by {float((a - b).abs().max())}"


# ---- the learner's mathematics -------------------------------------------------------------
@pytest.mark.parametrize("net", [NET, NetworkConfig(actor_hidden=(16, 8), critic_hidden=(8, 16, 4), layer_norm=True,
                                                   activation="elu")])
def test_stacked_networks_compute_what_each_agents_own_networks_compute(net):
    starts = [initial_modules(s, 8, 2, net) for s in SEEDS]
    actor, critic = StackedActor([s[0] for s in starts]), StackedTwinCritic([s[1] for s in starts])
    obs, act = torch.randn(3, 5, 8), torch.rand(3, 5, 2) * 2 - 1
    for k, (single_actor, single_critic, _) in enumerate(starts):
        assert torch.allclose(actor(obs)[k], single_actor(obs[k]), atol=1e-6)
        assert torch.allclose(critic(obs, act)[k], single_critic(obs[k], act[k]), atol=1e-6)
        assert torch.allclose(critic.q1(obs, act)[k], single_critic.q1(obs[k], act[k]), atol=1e-6)
        for a, b in zip(actor.unstack(k).parameters(), single_actor.parameters()):
            assert torch.equal(a, b)  # unstacking gives back the very weights


def test_initial_weights_are_those_of_a_single_agent_run_with_the_same_seed():
    torch.manual_seed(11)
    single = TD3(8, 2, NET, TrainingConfig())
    actor, critic, rng_after = initial_modules(11, 8, 2, NET)
    for a, b in zip(single.actor.parameters(), actor.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(single.critic.parameters(), critic.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(rng_after, torch.get_rng_state())


@pytest.mark.parametrize("options", [
    {},
    {"grad_clip": 0.5, "critic_loss": "huber"},
    {"weight_decay": 1e-3, "target_policy_noise": 0.0},
    {"action_penalty": 0.5},
    {"target_pessimism": (1.0, 0.0, 0.5)},  # a tuple gives each agent its own value
])
def test_batched_update_equals_td3_update_agent_by_agent(options):
    # Different learning rates, tau and delays per agent: each must still match its own TD3.
    mine = [{n: v[k] if isinstance(v, tuple) else v for n, v in options.items()} for k in range(3)]
    configs = [TrainingConfig(actor_lr=1e-3, critic_lr=2e-3, tau=0.005, policy_delay=2, **mine[0]),
               TrainingConfig(actor_lr=3e-4, critic_lr=1e-3, tau=0.05, policy_delay=1, **mine[1]),
               TrainingConfig(actor_lr=5e-3, critic_lr=5e-4, tau=0.2, policy_delay=3, **mine[2])]
    learner = _learner(configs)
    singles = [_single(SEEDS[k], c, learner, k) for k, c in enumerate(configs)]
    for step in range(4):
        batch = _batch(3, seed=step)
        generator_states = [g.get_state() for g in learner.generators]
        result = learner.update(batch)
        for k, agent in enumerate(singles):
            torch.set_rng_state(generator_states[k])  # TD3 draws its target noise from the global generator
            expected = agent.update(_agent_batch(batch, k))
            assert torch.allclose(result.critic_loss[k], expected.critic_loss, rtol=1e-5)
            assert bool(result.actor_updated[k]) == (expected.actor_loss is not None)
    for k, agent in enumerate(singles):
        _assert_agent_matches(learner, k, agent)


def test_changing_one_agents_learning_rate_leaves_the_others_bit_for_bit_unchanged():
    configs = [TrainingConfig(policy_delay=1)] * 3
    plain, changed = _learner(configs), _learner(configs)
    changed.set("actor_lr", 2, 5e-2)
    changed.set("critic_lr", 2, 5e-2)
    for step in range(3):
        batch = _batch(3, seed=step)
        plain.update(batch)
        changed.update(batch)
    for k in (0, 1):
        for a, b in zip(plain.actor.parameters(), changed.actor.parameters()):
            assert torch.equal(a[k], b[k])
        for a, b in zip(plain.critic.parameters(), changed.critic.parameters()):
            assert torch.equal(a[k], b[k])
    assert not torch.equal(plain.actor.head_weight[2], changed.actor.head_weight[2])


def test_a_masked_agent_is_left_exactly_as_it_was():
    learner = _learner([TrainingConfig(policy_delay=1)] * 3)
    before = {k: v.clone() for k, v in learner.actor.state_dict().items()}
    critic_before = {k: v.clone() for k, v in learner.critic_target.state_dict().items()}
    generator = learner.generators[1].get_state()
    learner.update(_batch(3), mask=torch.tensor([True, False, True]))
    for name, value in learner.actor.state_dict().items():
        assert torch.equal(value[1], before[name][1])
        assert not torch.equal(value[0], before[name][0])
    for name, value in learner.critic_target.state_dict().items():
        assert torch.equal(value[1], critic_before[name][1])
    assert torch.equal(learner.generators[1].get_state(), generator)
    assert learner.updates.tolist() == [1, 0, 1]
    assert learner.critic_opt.steps.tolist() == [1.0, 0.0, 1.0]


def test_a_learner_that_keeps_some_agents_updates_them_as_a_masked_full_learner_would():
    configs = [TrainingConfig(policy_delay=2, actor_lr=1e-3 * (k + 1)) for k in range(3)]
    masked, kept = _learner(configs), _learner(configs)
    kept.keep([0, 2])
    assert kept.active == [0, 2] and kept.agents == 2 and kept.actor.head_weight.shape[0] == 2
    assert kept.critic_opt.exp_avg[0].shape[0] == 2 and kept.values["tau"].shape == (2,)
    kept.set("tau", 1, 0.3)  # a parked agent's settings still change, and come back with it
    masked.set("tau", 1, 0.3)
    for step in range(3):
        batch = _batch(3, seed=step)
        masked.update(batch, mask=torch.tensor([True, False, True]))
        result = kept.update(_rows(batch, [0, 2]))
        assert result.critic_loss.shape == (2,)
    for name, value in masked.state_dict()["actor"].items():  # the full-K checkpoint format, parked rows in place
        assert torch.equal(kept.state_dict()["actor"][name], value), name
    assert kept.state_dict()["updates"].tolist() == masked.updates.tolist() == [3, 0, 3]
    for a, b in zip(kept.agent_actor(1).parameters(), masked.agent_actor(1).parameters()):
        assert torch.equal(a, b)
    kept.keep(range(3))
    batch = _batch(3, seed=9)
    masked.update(batch)
    kept.update(batch)
    for k in range(3):
        _assert_learners_match(masked, kept, k)
    assert kept.get("tau", 1) == 0.3


def _rows(batch: Batch, rows: list[int]) -> Batch:
    return Batch(*(getattr(batch, f.name)[rows] for f in dataclasses.fields(Batch)[:6]), batch.indices[rows])


def _assert_learners_match(a: PopulationTD3, b: PopulationTD3, k: int) -> None:
    for part in ("actor", "critic", "actor_target", "critic_target"):
        for (name, x), y in zip(getattr(a, part).named_parameters(), getattr(b, part).parameters()):
            assert torch.equal(x[k], y[k]), f"agent {k}: {part}.{name}"


def test_stacked_replay_samples_only_the_agents_asked_for():
    def filled() -> StackedReplayBuffer:
        buffer = StackedReplayBuffer(3, 20, 2, 1, seeds=[1, 2, 3])
        for k in range(3):
            rows = np.full((20, 2), k, np.float32) + np.arange(20, dtype=np.float32)[:, None]
            buffer.add(k, rows, np.zeros((20, 1), np.float32), np.zeros(20, np.float32), rows, np.zeros(20, bool))
        return buffer

    every, some = filled().sample(4, np.full(3, 0.9)), filled().sample(4, np.array([0.5, 0.9]), agents=[2, 0])
    assert some.obs.shape == (2, 4, 2)
    assert torch.equal(some.obs[0], every.obs[2]) and torch.equal(some.obs[1], every.obs[0])
    assert torch.equal(some.discounts[0], torch.full((4,), 0.5))


def test_stacked_replay_keeps_agents_apart_and_samples_like_the_single_buffer():
    from lab.replay import ReplayBuffer

    stacked = StackedReplayBuffer(2, 10, 3, 2, seeds=[4, 9])
    single = ReplayBuffer(10, 3, 2, seed=9)
    rows = np.arange(36, dtype=np.float32).reshape(12, 3)  # 12 rows into 10 slots: wraps around
    for buffer_add in (lambda *a: stacked.add(1, *a), single.add):
        buffer_add(rows, np.ones((12, 2), np.float32), np.arange(12, dtype=np.float32), rows + 100,
                   np.arange(12) % 5 == 0, 2)
    stacked.add(0, rows[:2] - 1000, np.zeros((2, 2), np.float32), np.zeros(2, np.float32), rows[:2],
                np.zeros(2, bool))
    got, want = stacked.sample(6, np.array([0.5, 0.9])), single.sample(6, 0.9)
    assert torch.equal(got.obs[1], want.obs) and torch.equal(got.discounts[1], want.discounts)
    assert (got.obs[0] < -900).all()  # agent 0 only ever sees its own rows
    assert int(stacked.size[0]) == 2 and int(stacked.size[1]) == 10


# ---- the population loop -------------------------------------------------------------------
@pytest.fixture
def pop_config(tiny_config):
    return tiny_config.with_overrides({"run.total_steps": 300, "env.num_envs": 1, "training.batch_size": 16,
                                       "run.analyze_episodes": False, "env.max_episode_steps": 60})


def _returns(run_dir) -> list[float]:
    return [row["raw_return"] for row in read_jsonl(run_dir / "episodes.jsonl")]


def test_population_writes_an_ordinary_run_folder_per_agent(pop_config, tmp_path):
    config = pop_config.with_overrides({"run.eval_every": 300})
    with Population(config, seeds=[0, 4], run_dir=tmp_path / "pop", overlap=True) as population:
        tagged: list[AgentEvent] = []
        population.events.subscribe(tagged.append)
        summary = population.fit()
    assert summary["state"] == "finished" and summary["agents"] == 2
    for k, seed in enumerate([0, 4]):
        folder = tmp_path / "pop" / f"agent{k}_seed{seed}"
        assert f"seed: {seed}\n" in (folder / "config.yaml").read_text()
        assert _returns(folder), "each agent logs its own episodes"
        assert read_jsonl(folder / "evaluations.jsonl")
        assert load_policy(folder / "policy.pt")(np.zeros(8, np.float32)).shape == (2,)
        assert json.loads((folder / "summary.json").read_text())["env_step"] == 300
        episodes = [e for e in tagged if e.agent == k and isinstance(e.event, EpisodeEnded)]
        assert len(episodes) == len(_returns(folder)) and all(e.seed == seed for e in episodes)
    with pytest.raises(CheckpointError, match="population file, expected a checkpoint"):
        read_checkpoint_file(tmp_path / "pop" / "population.pt", kind="checkpoint")


def test_n_step_transitions_join_the_observations_the_agent_really_saw_n_steps_apart(pop_config):
    config = pop_config.with_overrides({"training.n_step": 3, "env.num_envs": 2, "run.total_steps": 240})
    with Population(config, seeds=[0, 1], log_to_disk=False, overlap=False) as population:
        trajectories = []
        population.events.subscribe(lambda e: trajectories.append((e.agent, e.event.trajectory)) if
                                    isinstance(e.event, EpisodeEnded) else None)
        population.fit()
        buffer = population.buffer
    seen = {(k, t.observations[i].tobytes()): (t, i) for k, t in trajectories for i in range(len(t.actions))}
    checked = 0
    for k in (0, 1):
        for row in range(int(buffer.size[k])):
            found = seen.get((k, buffer.obs[k, row].tobytes()))
            if found is None:  # from an episode still running at the end
                continue
            trajectory, i = found
            n = int(buffer.nsteps[k, row])
            assert np.array_equal(buffer.actions[k, row], trajectory.actions[i])
            assert np.array_equal(buffer.next_obs[k, row], trajectory.observations[i + n]), (k, row)
            checked += 1
    assert checked > 0.8 * int(buffer.size.sum())


def test_changing_agent_2_does_not_change_agent_1s_run(pop_config, tmp_path):
    runs = {}
    for name, change in (("plain", {}), ("changed", {"actor_lr": 2e-2, "sigma": 0.8})):
        with Population(pop_config, seeds=[0, 1, 2], run_dir=tmp_path / name, overlap=False) as population:
            if change:
                population.update_hyperparameters(agent=2, **change)
            population.fit()
            runs[name] = population
    for k, seed in ((0, 0), (1, 1)):
        folder = f"agent{k}_seed{seed}"
        assert _returns(tmp_path / "plain" / folder) == _returns(tmp_path / "changed" / folder)
    assert _returns(tmp_path / "plain" / "agent2_seed2") != _returns(tmp_path / "changed" / "agent2_seed2")


def test_live_changes_apply_to_the_chosen_agent_only(pop_config, tmp_path):
    with Population(pop_config, seeds=[0, 1], run_dir=tmp_path / "pop", overlap=False) as population:
        changes: list[AgentEvent] = []
        population.events.subscribe(changes.append)
        population.update_hyperparameters(agent=1, sigma=0.6, critic_lr=3e-3, policy_delay=3, target_pessimism=0.5)
        assert population.members[1].noise.sigma == 0.6 and population.members[0].noise.sigma != 0.6
        assert population.learner.get("critic_lr", 1) == 3e-3 and population.learner.get("policy_delay", 1) == 3
        assert [population.learner.get("target_pessimism", k) for k in (0, 1)] == [1.0, 0.5]
        assert population.learner.get("critic_lr", 0) == pop_config.training.critic_lr
        assert [(e.agent, sorted(e.event.changes)) for e in changes if isinstance(e.event, HyperparametersChanged)] \
            == [(1, ["critic_lr", "policy_delay", "sigma", "target_pessimism"])]
        population.update_hyperparameters(tau=0.01)  # agent=None: everyone
        assert population.learner.values["tau"].tolist() == pytest.approx([0.01, 0.01])
        with pytest.raises(ConfigError, match="batch_size is shared"):
            population.update_hyperparameters(agent=0, batch_size=8)
        with pytest.raises(ConfigError, match="agent=5 is invalid: allowed 0 to 1"):
            population.update_hyperparameters(agent=5, sigma=0.2)
        with pytest.raises(ConfigError, match="noise.sigma"):
            population.update_hyperparameters(agent=0, sigma=-1.0)


def test_a_population_resumes_exactly_from_its_checkpoint(pop_config, tmp_path):
    config = pop_config.with_overrides({"run.checkpoint_every": 150, "run.save_replay": True})
    with Population(config, seeds=[0, 1], run_dir=tmp_path / "whole", overlap=False) as whole:
        whole.fit()
    with Population(config, seeds=[0, 1], run_dir=tmp_path / "part", overlap=False) as part:
        part.members[0].events.subscribe(lambda event: part.stop(wait=False), CheckpointSaved)
        part.fit()
        assert part.state == "stopped" and max(m.env_step for m in part.members) < 300
    with Population(config, seeds=[0, 1], run_dir=tmp_path / "part", overlap=False,
                    resume=tmp_path / "part" / "population.pt") as resumed:
        resumed.fit()
    for name, value in whole.learner.actor.state_dict().items():
        assert torch.equal(value, resumed.learner.actor.state_dict()[name]), name
    assert [m.env_step for m in whole.members] == [m.env_step for m in resumed.members]


def test_bad_populations_get_one_line_errors(pop_config):
    with pytest.raises(ConfigError, match=r"seed 3 is repeated \(agents 0 and 2\)"):
        Population(pop_config, seeds=[3, 4, 3], log_to_disk=False, overlap=False)
    with pytest.raises(ConfigError, match=r"seed -1 is invalid: allowed integers in \[0, 2147483647\]"):
        Population(pop_config, seeds=[0, -1], log_to_disk=False, overlap=False)
    with pytest.raises(ConfigError, match="agents=0 is invalid: allowed 1 to 256"):
        Population(pop_config, seeds=[], log_to_disk=False, overlap=False)
    wide = pop_config.with_overrides({"network.actor_hidden": [64, 64], "run.seed": 1})
    with pytest.raises(ConfigError, match=r"agent 1 has network.actor_hidden=\(64, 64\) but agent 0 has \(32, 32\)"):
        Population(configs=[pop_config, wide], log_to_disk=False, overlap=False)
    with pytest.raises(ConfigError, match="training.use_per=True is not supported in a population"):
        Population(pop_config.with_overrides({"training.use_per": True}), seeds=[0], log_to_disk=False,
                   overlap=False)


def test_train_seeds_trains_every_seed_in_one_process_with_one_summary(pop_config, tmp_path, capsys):
    import lab
    from lab.population.command import train_seeds

    assert lab.Population is Population
    code = train_seeds(pop_config.with_overrides({"run.total_steps": 150}), [2, 3], out=tmp_path / "seeds",
                       progress=True)
    out = capsys.readouterr().out
    assert code == 0 and "2 agents, seeds 2, 3" in out
    summary = json.loads(out[out.index("{"):])
    assert [m["seed"] for m in summary["members"]] == [2, 3] and summary["env_steps"] == 300
    assert (tmp_path / "seeds" / "agent0_seed2" / "episodes.jsonl").exists()
    assert (tmp_path / "seeds" / "agent1_seed3" / "policy.pt").exists()


def test_bench_population_refuses_zero_agents_in_one_line(capsys):
    from lab.cli import main

    assert main(["bench", "population", "--agents", "0", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: bench population --agents 0 is invalid: allowed integers from 1 to 256"


def test_bench_population_cost_keeps_at_least_one_agent_training(pop_config):
    from lab.bench.population import population_cost

    with pytest.raises(ValueError, match=r"frozen=2 is invalid: allowed 0 to 1 \(at least one agent trains\)"):
        population_cost(pop_config, 2, 100, 50, threads=1, frozen=2)


def _stop_agent_after(population, agent: int, step: int, seen: dict) -> None:
    """Stop agent at its first episode end past step; note what the population looks like then and in later
    steps (the agents step together, one env each, so a later step is a larger env_step)."""

    def on_event(tagged):
        if tagged.agent == agent and isinstance(tagged.event, EpisodeEnded) and tagged.event.env_step > step \
                and "step" not in seen:
            population.stop(agent=agent)
            seen.update(step=population.members[agent].env_step, actor=population.learner.agent_actor(agent),
                        env_steps=population.envs.steps_taken())
        elif isinstance(tagged.event, EpisodeEnded) and tagged.event.env_step > seen.get("step", 10**9):
            seen.setdefault("stacks", set()).add((tuple(population.learner.active), population.learner.actor.agents))

    population.events.subscribe(on_event)


def _weights(population, agent: int) -> list[torch.Tensor]:
    return [p.detach().clone() for p in population.learner.agent_actor(agent).parameters()]


@pytest.mark.parametrize("overlap", [False, True])
def test_a_stopped_agent_leaves_the_batched_work_and_the_others_run_exactly_as_before(pop_config, tmp_path, overlap):
    runs = {}
    for name in ("plain", "stopped"):
        seen: dict = {}
        population = Population(pop_config, seeds=[0, 1, 2], run_dir=tmp_path / name, overlap=overlap)
        with population:
            if name == "stopped":
                _stop_agent_after(population, 1, 100, seen)
            population.fit()
            runs[name] = (population, seen, population.envs.steps_taken())
    plain, (stopped, seen, env_steps) = runs["plain"][0], runs["stopped"]
    assert seen, "agent 1 finished an episode after step 100"
    # Its envs were not stepped again, and the stacks carried the two others only.
    assert env_steps[1] == seen["env_steps"][1] and env_steps[0] > seen["env_steps"][0]
    assert seen["stacks"] == {((0, 2), 2)}
    # Frozen: agent 1 kept its weights and step; after the run the learner holds it again, in its place.
    assert stopped.members[1].env_step == seen["step"] < 300 and stopped.learner.active == [0, 1, 2]
    for a, b in zip(_weights(stopped, 1), seen["actor"].parameters()):
        assert torch.equal(a, b)
    # The others never noticed: same episodes, same updates, bit-for-bit the same weights.
    for k, seed in ((0, 0), (2, 2)):
        folder = f"agent{k}_seed{seed}"
        assert _returns(tmp_path / "plain" / folder) == _returns(tmp_path / "stopped" / folder)
        assert stopped.members[k].updates == plain.members[k].updates > 0
        for a, b in zip(_weights(stopped, k), _weights(plain, k)):
            assert torch.equal(a, b)


def test_a_population_with_a_stopped_agent_checkpoints_it_in_place_and_resumes_exactly(pop_config, tmp_path):
    config = pop_config.with_overrides({"run.checkpoint_every": 150, "run.save_replay": True})
    whole_seen: dict = {}
    with Population(config, seeds=[0, 1, 2], run_dir=tmp_path / "whole", overlap=False) as whole:
        _stop_agent_after(whole, 1, 60, whole_seen)
        whole.fit()
    part_seen: dict = {}
    with Population(config, seeds=[0, 1, 2], run_dir=tmp_path / "part", overlap=False) as part:
        _stop_agent_after(part, 1, 60, part_seen)
        part.members[0].events.subscribe(lambda event: part.stop(wait=False), CheckpointSaved)
        part.fit()
    assert whole_seen["step"] == part_seen["step"] < 150, "agent 1 stopped before the checkpoint"
    saved = read_checkpoint_file(tmp_path / "part" / "population.pt", kind="population")
    assert saved["members"][1]["stopped"] and saved["actor"]["head_weight"].shape[0] == 3
    obs = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    with torch.no_grad():
        frozen_actions = part_seen["actor"](torch.from_numpy(obs)).numpy()
    assert np.array_equal(load_policy(tmp_path / "part" / "population.pt", agent=1)(obs), frozen_actions)
    with Population(config, seeds=[0, 1, 2], run_dir=tmp_path / "part", overlap=False,
                    resume=tmp_path / "part" / "population.pt") as resumed:
        resumed.fit()
    assert [m.env_step for m in whole.members] == [m.env_step for m in resumed.members]
    assert resumed.members[1].env_step == part_seen["step"]
    for name, value in whole.learner.state_dict()["actor"].items():
        assert torch.equal(value, resumed.learner.state_dict()["actor"][name]), name
