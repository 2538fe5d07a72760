"""The engine with K agents (lab.Population): run folders per agent, agent independence, live changes, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lab.checkpoint import CheckpointError, read_checkpoint_file
from lab.config import ConfigError
from lab.events import CheckpointSaved, EpisodeEnded, HyperparametersChanged
from lab.io import read_jsonl
from lab.policy import load_policy
from lab.train.engine import AgentEvent
from lab.train.population import Population


# ---- the population loop -------------------------------------------------------------------
@pytest.fixture
def pop_config(tiny_config):
    return tiny_config.with_overrides({"run.total_steps": 300, "env.num_envs": 1, "training.batch_size": 16,
                                       "run.analyze_episodes": False, "env.max_episode_steps": 60})


def _returns(run_dir) -> list[float]:
    return [row["raw_return"] for row in read_jsonl(run_dir / "episodes.jsonl")]


def test_population_writes_an_ordinary_run_folder_per_agent(pop_config, tmp_path):
    config = pop_config.with_overrides({"run.eval_every": 300, "run.overlap_collection": True})
    with Population(config, seeds=[0, 4], run_dir=tmp_path / "pop") as population:
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
    with Population(config, seeds=[0, 1], log_to_disk=False) as population:
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
        with Population(pop_config, seeds=[0, 1, 2], run_dir=tmp_path / name) as population:
            if change:
                population.update_hyperparameters(agent=2, **change)
            population.fit()
            runs[name] = population
    for k, seed in ((0, 0), (1, 1)):
        folder = f"agent{k}_seed{seed}"
        assert _returns(tmp_path / "plain" / folder) == _returns(tmp_path / "changed" / folder)
    assert _returns(tmp_path / "plain" / "agent2_seed2") != _returns(tmp_path / "changed" / "agent2_seed2")


def test_live_changes_apply_to_the_chosen_agent_only(pop_config, tmp_path):
    with Population(pop_config, seeds=[0, 1], run_dir=tmp_path / "pop") as population:
        changes: list[AgentEvent] = []
        population.events.subscribe(changes.append)
        population.update_hyperparameters(agent=1, sigma=0.6, critic_lr=3e-3, **{"training.policy_delay": 3})
        explorers = population.collector.explorers
        assert explorers[1].noise.sigma == 0.6 and explorers[0].noise.sigma != 0.6
        assert population.learner.setting("critic_lr", 1) == 3e-3 and population.learner.setting("policy_delay", 1) == 3
        assert population.learner.setting("critic_lr", 0) == pop_config.training.critic_lr
        assert [(e.agent, sorted(e.event.changes)) for e in changes if isinstance(e.event, HyperparametersChanged)] \
            == [(1, ["noise.sigma", "training.critic_lr", "training.policy_delay"])]
        assert population.hyperparameters(1)["noise.sigma"] == 0.6 and population.members[1].config.noise.sigma == 0.6
        population.update_hyperparameters(tau=0.01)  # agent=None: everyone
        assert population.learner.values["tau"].tolist() == pytest.approx([0.01, 0.01])
        with pytest.raises(ConfigError, match="network.actor_hidden cannot change while training"):
            population.update_hyperparameters(**{"network.actor_hidden": [8]})
        with pytest.raises(ConfigError, match="training.batch_size is shared"):
            population.update_hyperparameters(agent=0, batch_size=8)
        with pytest.raises(ConfigError, match="agent=5 is invalid: allowed 0 to 1"):
            population.update_hyperparameters(agent=5, sigma=0.2)
        with pytest.raises(ConfigError, match="noise.sigma"):
            population.update_hyperparameters(agent=0, sigma=-1.0)


def test_a_population_resumes_exactly_from_its_checkpoint(pop_config, tmp_path):
    config = pop_config.with_overrides({"run.checkpoint_every": 150, "run.save_replay": True})
    with Population(config, seeds=[0, 1], run_dir=tmp_path / "whole") as whole:
        whole.fit()
    assert read_checkpoint_file(tmp_path / "whole" / "population.pt", kind="population")["kind"] == "population"
    with Population(config, seeds=[0, 1], run_dir=tmp_path / "part") as part:
        part.members[0].events.subscribe(lambda event: part.stop(wait=False), CheckpointSaved)
        part.fit()
        assert part.state == "stopped" and max(m.env_step for m in part.members) < 300
    with Population(config, seeds=[0, 1], run_dir=tmp_path / "part",
                    resume=tmp_path / "part" / "population.pt") as resumed:
        resumed.fit()
    for name, value in whole.learner.actor.state_dict().items():
        assert torch.equal(value, resumed.learner.actor.state_dict()[name]), name
    assert [m.env_step for m in whole.members] == [m.env_step for m in resumed.members]


def test_bad_populations_get_one_line_errors(pop_config, tmp_path):
    with pytest.raises(ConfigError, match=r"seed 3 is repeated \(agents 0 and 2\)"):
        Population(pop_config, seeds=[3, 4, 3], log_to_disk=False)
    with pytest.raises(ConfigError, match=r"seed -1 is invalid: allowed integers in \[0, 2147483647\]"):
        Population(pop_config, seeds=[0, -1], log_to_disk=False)
    with pytest.raises(ConfigError, match=r"agents=0 is invalid: allowed an integer from 1 to 256 \(one per seed"):
        Population(pop_config, seeds=[], log_to_disk=False)
    wide = pop_config.with_overrides({"network.actor_hidden": [64, 64], "run.seed": 1})
    with pytest.raises(ConfigError, match=r"agent 1 has network.actor_hidden=\(64, 64\) but agent 0 has \(32, 32\)"):
        Population(configs=[pop_config, wide], log_to_disk=False)
    big = pop_config.with_overrides({"network.actor_hidden": [4096, 4096], "network.critic_hidden": [4096, 4096],
                                     "training.buffer_size": 1_000_000})
    with pytest.raises(ConfigError, match=r"agents=256 is invalid .* 256 agents would need about [\d,.]+ GiB"):
        Population(big, seeds=range(256), run_dir=tmp_path / "never" / "made")
    assert not (tmp_path / "never").exists()  # refused before any folder, not after 256 agent folders


def test_train_seeds_trains_every_seed_in_one_process_with_one_summary(pop_config, tmp_path, capsys):
    import lab
    from lab.commands.train_seeds import train_seeds

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
            seen.update(step=population.members[agent].env_step, actor=population.learner.agent_modules(agent)[0],
                        env_steps=population.collector.envs.steps_taken())
        elif isinstance(tagged.event, EpisodeEnded) and tagged.event.env_step > seen.get("step", 10**9):
            seen.setdefault("stacks", set()).add((tuple(population.learner.active), population.learner.actor.agents))

    population.events.subscribe(on_event)


def _weights(population, agent: int) -> list[torch.Tensor]:
    return [p.detach().clone() for p in population.learner.agent_modules(agent)[0].parameters()]


@pytest.mark.parametrize("overlap", [False, True])
def test_a_stopped_agent_leaves_the_batched_work_and_the_others_run_exactly_as_before(pop_config, tmp_path, overlap):
    runs = {}
    for name in ("plain", "stopped"):
        seen: dict = {}
        config = pop_config.with_overrides({"run.overlap_collection": overlap})
        population = Population(config, seeds=[0, 1, 2], run_dir=tmp_path / name)
        with population:
            if name == "stopped":
                _stop_agent_after(population, 1, 100, seen)
            population.fit()
            runs[name] = (population, seen, population.collector.envs.steps_taken())
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
    with Population(config, seeds=[0, 1, 2], run_dir=tmp_path / "whole") as whole:
        _stop_agent_after(whole, 1, 60, whole_seen)
        whole.fit()
    part_seen: dict = {}
    with Population(config, seeds=[0, 1, 2], run_dir=tmp_path / "part") as part:
        _stop_agent_after(part, 1, 60, part_seen)
        part.members[0].events.subscribe(lambda event: part.stop(wait=False), CheckpointSaved)
        part.fit()
    assert whole_seen["step"] == part_seen["step"] < 150, "agent 1 stopped before the checkpoint"
    saved = read_checkpoint_file(tmp_path / "part" / "population.pt", kind="population")
    assert saved["agents"][1]["state"] == "stopped" and saved["actor"]["head_weight"].shape[0] == 3
    obs = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    with torch.no_grad():
        frozen_actions = part_seen["actor"](torch.from_numpy(obs)).numpy()
    assert np.array_equal(load_policy(tmp_path / "part" / "population.pt", agent=1)(obs), frozen_actions)
    with Population(config, seeds=[0, 1, 2], run_dir=tmp_path / "part",
                    resume=tmp_path / "part" / "population.pt") as resumed:
        resumed.fit()
    assert [m.env_step for m in whole.members] == [m.env_step for m in resumed.members]
    assert resumed.members[1].env_step == part_seen["step"]
    for name, value in whole.learner.state_dict()["actor"].items():
        assert torch.equal(value, resumed.learner.state_dict()["actor"][name]), name


def test_bench_population_prints_the_update_bound(capsys):
    """Each row carries what batching gives the update alone, so a missed ratio can be told from a slow collector."""
    import torch

    from lab.cli import main

    threads = torch.get_num_threads()
    assert main(["bench", "population", "--preset", "tiny", "--agents", "1", "2", "--steps", "300",
                 "--learning-starts", "100", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert torch.get_num_threads() == threads
    assert table["update_ms_one_agent"] > 0
    one, two = table["rows"]
    assert one["update_ms_per_agent"] > 0 and two["update_ms_per_agent"] > 0
    # the bound is rounded from unrounded times, so from the printed 3-decimal times it follows within its own
    # rounding (0.005) plus theirs (0.0005 ms each): comparing two roundings failed whenever they straddled a boundary
    single, batched = table["update_ms_one_agent"], two["update_ms_per_agent"]
    ratio = single / batched
    assert abs(two["update_bound"] - ratio) <= 0.005 + ratio * (0.0005 / single + 0.0005 / batched) + 1e-9


def test_bench_population_rounds_take_each_ratio_against_its_own_rounds_trainer_and_report_medians(capsys):
    """The machine's speed drifts within minutes: a ratio against a Trainer timed once, long before, drifts with it."""
    import statistics

    from lab.cli import main

    assert main(["bench", "population", "--preset", "tiny", "--agents", "1", "2", "--steps", "300",
                 "--learning-starts", "100", "--rounds", "3", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["rounds"] == 3
    for row in table["rows"]:
        assert len(row["vs_trainer_by_round"]) == 3
        assert row["vs_trainer"] == pytest.approx(statistics.median(row["vs_trainer_by_round"]), abs=0.011)
    assert main(["bench", "population", "--rounds", "0"]) == 2
    assert "--rounds 0 is invalid: allowed a positive integer" in capsys.readouterr().err


def test_bench_population_with_too_few_steps_to_time_says_so_in_one_line(capsys):
    from lab.cli import main

    assert main(["bench", "population", "--preset", "tiny", "--agents", "1", "--steps", "30",
                 "--learning-starts", "40"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: steps=30 is too few to time") and "\n" not in err
