"""``lab sweep --population K``: compatible queued runs train as one lab.Population, each with its own result.

The in-process tests run real (tiny) populations; the slow ones kill or stop a real
``python -m lab sweep`` process mid-population and check that all its runs come back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.cli import main
from lab.config import ConfigError
from lab.search import population_runs
from lab.search.population_runs import plan_groups, wanted_runs
from lab.search.space import parse_spec
from lab.search.sweep import run_sweep
from lab.train.members import member_configs

ROOT = Path(__file__).resolve().parent.parent
FAST = {"run.eval_every": 150, "run.eval_episodes": 1, "env.max_episode_steps": 60,
        "training.learning_starts": 100, "run.analyze_episodes": False}


def sweep_data(name="p", **changes):
    """Three learning rates, each with 1-step and 3-step returns: the 3 runs of one n-step can share a population."""
    data = {"name": name, "type": "grid", "base": "tiny", "steps_per_run": 300, "overrides": dict(FAST),
            "parameters": {"actor_lr": [1e-3, 2e-3, 3e-3], "training.n_step": [1, 3]}}
    data.update(changes)
    return data


def load_study(folder, name="p"):
    import optuna

    from lab.search.storage import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(f"sqlite:///{folder / 'optuna.db'}",
                                                                   heartbeat=None))


def test_compatible_runs_train_as_one_population_and_each_trial_gets_a_lone_runs_result(tmp_path):
    folder = tmp_path / "sweep"
    data = sweep_data(parameters={"actor_lr": [1e-3, 3e-3], "training.n_step": [1, 3]})
    lines = []
    results = run_sweep(parse_spec(data), folder, log=lines.append, population=4)

    home = folder / "runs" / "population_001-003"
    assert lines[0] == f"population of 2 runs (001, 003) in {home}"  # the 3-step runs cannot join (n-step is shared)
    population = json.loads((home / "summary.json").read_text())
    assert population["agents"] == 2 and population["state"] == "finished"
    assert (home / "population.pt").is_file()
    assert json.loads((home / "sweep_runs.json").read_text()) == {"runs": [1, 3]}

    records = {r: json.loads((folder / f"run_{r:03d}_results.json").read_text()) for r in range(1, 5)}
    assert set(records[1]) == set(records[2])  # a member's record and a lone run's: the same fields
    for r in (1, 3):  # each member: its own folder, its own config, its own evaluations
        run_dir = folder / "runs" / f"run_{r:03d}"
        assert run_dir.is_symlink() and run_dir.resolve().parent == home.resolve()
        rec = records[r]
        assert rec["run_dir"] == str(run_dir) and rec["status"] == "finished" and rec["env_step"] >= 300
        assert rec["config"]["training"]["actor_lr"] == rec["params"]["actor_lr"]
        logged = [json.loads(line) for line in (run_dir / "evaluations.jsonl").read_text().splitlines()]
        assert [e["env_step"] for e in rec["evaluations"]] == [e["env_step"] for e in logged] == [150, 300]
        assert rec["final_eval_mean"] == round(logged[-1]["mean_return"], 3)
        assert rec["episodes"] == len((run_dir / "episodes.jsonl").read_text().splitlines())
        assert {"solved", "time_to_solve_seconds", "time_to_solve_steps"} <= set(rec)
    assert records[1]["episode_returns"] != records[3]["episode_returns"]  # two learning rates, two agents
    assert f"population of 2 runs (002, 004) in {folder / 'runs' / 'population_002-004'}" in lines  # 3-step runs
    for r in (2, 4):
        assert (folder / "runs" / f"run_{r:03d}").resolve().parent == (folder / "runs" / "population_002-004").resolve()

    study = load_study(folder)
    told = {t.user_attrs["run"]: t for t in study.get_trials() if t.state.name == "COMPLETE"}
    assert sorted(told) == [1, 2, 3, 4]
    assert all(told[r].user_attrs["result"] == records[r] for r in told)
    assert all(told[r].value == records[r]["final_eval_mean"] for r in told)
    assert sorted(r["run"] for r in results) == [1, 2, 3, 4]
    assert len((folder / "summary.csv").read_text().splitlines()) == 5

    again = []  # a re-run finds every run done and trains nothing
    stamps = {p: p.stat().st_mtime_ns for p in folder.glob("run_*_results.json")}
    run_sweep(parse_spec(data), folder, log=again.append, population=4)
    assert again == [f"resuming {folder}: 4 of 4 runs already finished"]
    assert {p: p.stat().st_mtime_ns for p in folder.glob("run_*_results.json")} == stamps


def test_an_episode_budget_stops_each_member_at_its_own_episode_count_and_reruns_repeat(tmp_path):
    data = sweep_data(parameters={"actor_lr": [1e-3, 3e-3]}, steps_per_run=None, episodes_per_run=3,
                      overrides={**FAST, "run.total_steps": 50_000, "env.max_episode_steps": 40})
    data.pop("steps_per_run")
    run_sweep(parse_spec(data), tmp_path / "sweep", log=lambda _: None, population=2)
    for r in (1, 2):
        rec = json.loads((tmp_path / "sweep" / f"run_{r:03d}_results.json").read_text())
        assert rec["status"] == "finished"
        assert 3 <= rec["episodes"] <= 4 and rec["env_step"] <= 2 * 2 * 40  # 2 envs: two may end on one step
        assert rec["evaluations"][-1]["env_step"] == rec["env_step"]  # measured where it stopped
    assert (tmp_path / "sweep" / "runs" / "population_001-002" / "population.pt").is_file()
    run_sweep(parse_spec(data), tmp_path / "again", log=lambda _: None, population=2)
    for r in (1, 2):  # same configs and seed, same results
        first, again = (json.loads((tmp_path / f / f"run_{r:03d}_results.json").read_text())
                        for f in ("sweep", "again"))
        assert first["episode_returns"] == again["episode_returns"]
        assert [e["mean_return"] for e in first["evaluations"]] == [e["mean_return"] for e in again["evaluations"]]


def test_a_population_that_fails_records_each_run_as_failed_and_the_sweep_goes_on(tmp_path):
    data = sweep_data(parameters={"env.env_id": ["NoSuchLander-v0", "LunarLanderContinuous-v3"],
                                  "actor_lr": [1e-3, 2e-3]})
    results = {r["run"]: r for r in run_sweep(parse_spec(data), tmp_path / "sweep", log=lambda _: None, population=2)}
    assert {r: results[r]["status"] for r in results} == {1: "failed", 2: "failed", 3: "finished", 4: "finished"}
    assert all(results[r]["error"] for r in (1, 2)) and results[1]["error"] == results[2]["error"]
    assert (tmp_path / "sweep" / "runs" / "population_003-004" / "population.pt").is_file()


def test_a_stop_request_puts_every_member_back_and_the_rerun_resumes_the_population(tmp_path, monkeypatch):
    data = sweep_data(parameters={"actor_lr": [1e-3, 3e-3]}, steps_per_run=450,
                      overrides={**FAST, "run.checkpoint_every": 150})
    folder = tmp_path / "sweep"
    home = folder / "runs" / "population_001-002"
    monkeypatch.setattr(population_runs, "stop_requested", lambda: (home / "population.pt").is_file())
    lines = []
    with pytest.raises(KeyboardInterrupt):
        run_sweep(parse_spec(data), folder, log=lines.append, population=2)
    assert lines[1:] == [f"run 00{r} interrupted: back in the queue" for r in (1, 2)]
    assert not list(folder.glob("run_*_results.json"))
    stopped_at = [json.loads((home / f"agent{k}_seed0" / "summary.json").read_text())["env_step"] for k in range(2)]
    assert all(150 <= s < 450 for s in stopped_at)
    waiting = [t for t in load_study(folder).get_trials() if t.state.name == "WAITING"]
    assert sorted(t.user_attrs["run"] for t in waiting) == [1, 2]

    monkeypatch.undo()
    lines = []
    run_sweep(parse_spec(data), folder, log=lines.append, population=2)
    assert lines[0] == f"population of 2 runs (001, 002) in {home}, resumed from population.pt"
    for r in (1, 2):
        rec = json.loads((folder / f"run_{r:03d}_results.json").read_text())
        assert rec["resumed_from"] == str(home / "population.pt") and rec["env_step"] >= 450
        assert [e["env_step"] for e in rec["evaluations"]] == [150, 300, 450]  # the whole run, once
        episodes = (folder / "runs" / f"run_{r:03d}" / "episodes.jsonl").read_text().splitlines()
        assert len(episodes) == rec["episodes"]  # no episode logged twice across the stop


def test_groups_follow_member_configs_rules_and_the_size_limit():
    spec = parse_spec(sweep_data(parameters={"network.actor_hidden": [[32, 32], [16]], "actor_lr": [1e-3, 2e-3, 3e-3],
                                             "training.n_step": [1, 3]}))
    plans = {p.index: p.params for p in spec.plans()}
    groups = plan_groups(spec.plans(), 2)
    assert set(groups) == set(plans)
    for run, group in groups.items():
        assert run in group and len(group) <= 2
        shapes = {json.dumps(plans[r]["network.actor_hidden"]) for r in group}
        assert len(shapes) == 1  # one network shape per population
        assert len({plans[r]["training.n_step"] for r in group}) == 1  # one n-step per population
    together = {g for g in groups.values() if len(g) == 2}
    assert together == {(1, 3), (2, 4), (7, 9), (8, 10)}  # per shape and n-step: 3 runs make a pair and one left
    assert sum(len(g) == 1 for g in groups.values()) == 4
    assert plan_groups(spec.plans(), 1) == {r: (r,) for r in plans}


def test_runs_with_one_seed_share_a_population_unless_their_configs_are_identical():
    spec = parse_spec({"name": "r", "type": "random", "base": "tiny", "steps_per_run": 300, "num_samples": 4,
                       "seed": 3, "parameters": {"noise.kind": {"choices": ["ou"]}, "tau": {"choices": [0.005, 0.01]}}})
    plans = spec.plans()
    assert {p.config.run.seed for p in plans} == {3}
    groups = plan_groups(plans, 4)
    for group in set(groups.values()):
        configs = [p.config for p in plans if p.index in group]
        assert len(configs) == len({json.dumps(c.to_dict(), sort_keys=True) for c in configs})  # no twin agents
    assert max(len(g) for g in groups.values()) == 2  # two distinct points, each drawn twice
    base = plans[0].config
    assert len(member_configs(base, configs=[base, base.with_overrides({"training.actor_lr": 0.002})])) == 2
    with pytest.raises(ConfigError, match=r"seed 3 is repeated \(agents 0 and 1\)"):
        member_configs(base, configs=[base, base])


def checkpointed_population(runs: Path, members: list[int]) -> Path:
    """A population's folder as a killed sweep leaves it: checkpoint, member list, run folders linked in agent order."""
    home = population_runs.population_dir(runs, members)
    for k, r in enumerate(members):
        (home / f"agent{k}_seed0").mkdir(parents=True)
        population_runs.link_run_folder(runs / f"run_{r:03d}", home / f"agent{k}_seed0")
    (home / "population.pt").write_bytes(b"x")
    (home / "sweep_runs.json").write_text(json.dumps({"runs": members}))
    return home


def test_a_run_resumes_where_its_progress_is(tmp_path):
    groups = {1: (1, 2, 3), 2: (1, 2, 3), 3: (1, 2, 3)}
    runs = tmp_path / "runs"
    assert wanted_runs(tmp_path, 2, groups) == [1, 2, 3]
    (runs / "run_003").mkdir(parents=True)
    (runs / "run_003" / "checkpoint.pt").write_bytes(b"x")  # run 3 was trained alone once: it resumes alone
    assert wanted_runs(tmp_path, 3, groups) == [3]
    assert wanted_runs(tmp_path, 1, groups) == [1, 2]
    home = checkpointed_population(runs, [2, 1])  # a population saved with another membership and order
    assert (runs / "run_002").resolve() == (home / "agent0_seed0").resolve()
    assert wanted_runs(tmp_path, 1, groups) == [2, 1]  # its checkpoint's members, in agent order


def test_a_checkpointed_populations_run_waits_until_its_partners_are_queued_again(tmp_path):
    """A dead worker's trials go stale one by one: the first one back must not train alone."""
    import optuna

    from lab.search.storage import pop_waiting

    checkpointed_population(tmp_path / "runs", [1, 2])
    study = optuna.create_study()
    for r in (1, 2, 3):
        study.enqueue_trial({}, user_attrs={"run": r})
    assert pop_waiting(study, runs={2}) is not None  # run 2 still "runs" on the dead worker
    assert population_runs.takeable_runs(study, tmp_path) == {3}
    study.tell(study.get_trials()[1].number, state=optuna.trial.TrialState.FAIL)  # stale at last, queued again
    study.enqueue_trial({}, user_attrs={"run": 2})
    assert population_runs.takeable_runs(study, tmp_path) == {1, 2, 3}


def test_without_the_flag_a_run_left_in_a_population_trains_alone_and_the_population_stays(tmp_path):
    folder = tmp_path / "sweep"
    member = folder / "runs" / "population_001-002" / "agent0_seed0"
    member.mkdir(parents=True)
    (member / "episodes.jsonl").write_text("{}\n")
    population_runs.link_run_folder(folder / "runs" / "run_001", member)
    run_sweep(parse_spec(sweep_data(parameters={"actor_lr": [1e-3]})), folder, log=lambda _: None)
    run_dir = folder / "runs" / "run_001"
    assert not run_dir.is_symlink() and (run_dir / "checkpoint.pt").is_file()
    assert (member / "episodes.jsonl").read_text() == "{}\n"  # nothing saved is lost


@pytest.mark.parametrize("value", ["0", "-2", "257"])
def test_a_bad_population_size_is_one_line_naming_the_value_and_what_is_allowed(capsys, tmp_path, value):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(sweep_data()))
    code = main(["sweep", str(spec), "--out", str(tmp_path / "out"), "--population", value])
    err = capsys.readouterr().err
    assert code == 2 and len([line for line in err.splitlines() if line.strip()]) == 1, err
    assert f"--population={value} is invalid: allowed an integer from 1 to 256" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match=r"--population=0 is invalid"):
        run_sweep(parse_spec(sweep_data()), tmp_path / "api", population=0)


def test_a_dry_run_shows_which_runs_train_together(capsys, tmp_path):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(sweep_data()))
    assert main(["sweep", str(spec), "--dry-run", "--population", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3:] == ["--population 2: 4 runs in 2 population(s), 2 run(s) alone", "  population: run_001 run_003",
                          "  population: run_002 run_004"]
    assert not (tmp_path / "sweep_results").exists()


def _start(spec: Path, out: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SDL_VIDEODRIVER="dummy")
    return subprocess.Popen([sys.executable, "-m", "lab", "sweep", str(spec), "--out", str(out), *args], env=env,
                            cwd=spec.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_worker_stopped_or_killed_mid_population_gives_back_all_its_runs(tmp_path, how):
    data = sweep_data(parameters={"actor_lr": [1e-3, 2e-3, 3e-3]}, steps_per_run=1000,
                      overrides={**FAST, "run.checkpoint_every": 200})
    spec = tmp_path / "p.json"
    spec.write_text(json.dumps(data))
    folder = tmp_path / "out"
    home = folder / "runs" / "population_001-002-003"
    proc = _start(spec, folder, "--population", "3", "--heartbeat", "1", "--grace", "3")
    try:
        _wait_for(home / "population.pt", proc)
        if how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)  # the sweep process alone, as a scheduler would
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 143  # 128 + SIGTERM
            for r in (1, 2, 3):
                assert f"run 00{r} interrupted: back in the queue" in out, out
        else:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not list(folder.glob("run_*_results.json"))
    rerun = _start(spec, folder, "--population", "3", "--heartbeat", "1", "--grace", "3")
    out, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out
    assert f"population of 3 runs (001, 002, 003) in {home}, resumed from population.pt" in out
    for r in (1, 2, 3):
        rec = json.loads((folder / f"run_{r:03d}_results.json").read_text())
        assert rec["status"] == "finished" and rec["env_step"] >= 1000
        assert rec["resumed_from"] == str(home / "population.pt")


@pytest.mark.slow
def test_worker_processes_each_train_their_own_population(tmp_path):
    data = sweep_data(parameters={"actor_lr": [1e-3, 2e-3, 3e-3], "tau": [0.005, 0.01]})
    spec = tmp_path / "p.json"
    spec.write_text(json.dumps(data))
    folder = tmp_path / "out"
    proc = _start(spec, folder, "--population", "3", "--workers", "2")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    for runs in ("001, 002, 003", "004, 005, 006"):
        assert f"population of 3 runs ({runs})" in out, out
    for r in range(1, 7):
        rec = json.loads((folder / f"run_{r:03d}_results.json").read_text())
        assert rec["status"] == "finished" and (folder / "runs" / f"run_{r:03d}").is_symlink()
        assert rec["config"]["run"]["torch_threads"] == 1  # worker processes are pinned to one thread each
