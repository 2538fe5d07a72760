"""Sweeps: the results folder, the ranked summary, episode budgets, workers, and resuming after a kill."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.search.runner import run_configuration
from lab.search.space import SpecError, parse_spec
from lab.search.sweep import rank_key, ranked, results_folder, run_sweep

ROOT = Path(__file__).resolve().parent.parent
FAST = {"run.eval_every": 150, "run.eval_episodes": 1, "env.max_episode_steps": 60,
        "training.learning_starts": 100, "run.analyze_episodes": False}


def sweep_data(name="s", **changes):
    data = {"name": name, "type": "grid", "base": "tiny", "steps_per_run": 300, "overrides": dict(FAST),
            "parameters": {"actor_lr": [1e-3, 3e-3], "tau": [0.005]}}
    data.update(changes)
    return data


def test_summary_ranks_finished_runs_and_all_files_are_written(tmp_path):
    spec = parse_spec(sweep_data())
    folder = tmp_path / "sweep"
    lines = []
    results = run_sweep(spec, folder, log=lines.append)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "all_results.json", "optuna.db", "optuna.db.lock", "run_001_results.json", "run_002_results.json", "runs",
        "summary.csv", "sweep_config.json"]
    saved = json.loads((folder / "sweep_config.json").read_text())
    assert saved["runs"] == [{"run": 1, "params": {"actor_lr": 0.001, "tau": 0.005}},
                             {"run": 2, "params": {"actor_lr": 0.003, "tau": 0.005}}]
    run1 = json.loads((folder / "run_001_results.json").read_text())
    assert run1["status"] == "finished" and run1["env_step"] >= 300
    assert run1["config"]["training"]["actor_lr"] == 0.001
    assert [e["env_step"] for e in run1["evaluations"]] == [150, 300]
    assert run1["final_eval_mean"] == run1["evaluations"][-1]["mean_return"]
    assert run1["best_eval_mean"] == max(e["mean_return"] for e in run1["evaluations"])
    assert (Path(run1["run_dir"]) / "checkpoint.pt").exists()

    rows = list(csv.DictReader((folder / "summary.csv").open()))
    assert [r["rank"] for r in rows] == ["1", "2"]
    assert {"run", "status", "solved", "time_to_solve_seconds", "final_eval_mean", "actor_lr", "tau",
            "steps_per_second"} <= set(rows[0])
    finals = [float(r["final_eval_mean"]) for r in rows]
    assert finals == sorted(finals, reverse=True)  # nothing solves in 300 steps: ranked by final evaluation
    assert [r["run"] for r in rows] == [f"run_{r['run']:03d}" for r in results]
    assert {r["actor_lr"] for r in rows} == {"0.001", "0.003"}
    everything = json.loads((folder / "all_results.json").read_text())
    assert everything["finished_runs"] == everything["planned_runs"] == 2
    assert "time-to-solve" in everything["ranking"]
    assert [r["run"] for r in everything["runs"]] == [r["run"] for r in results]
    assert len(lines) == 2 and all(line.startswith("run 00") for line in lines)


def test_ranking_puts_solved_runs_first_fastest_first_then_the_best_final_evaluation():
    def r(run, solved_seconds=None, final=None):
        return {"run": run, "solved": solved_seconds is not None, "time_to_solve_seconds": solved_seconds,
                "time_to_solve_steps": None if solved_seconds is None else int(solved_seconds * 100),
                "final_eval_mean": final}
    results = [r(1, final=-50.0), r(2, 90.0, 210.0), r(3, final=120.0), r(4, 40.0, 205.0), r(5), r(6, 90.0, 250.0)]
    assert [x["run"] for x in ranked(results)] == [4, 6, 2, 3, 1, 5]
    assert rank_key(r(1, 10.0, 200.0)) < rank_key(r(2, final=1000.0))


def test_episodes_per_run_stops_after_that_many_episodes_and_still_evaluates_the_end(tiny_config, tmp_path):
    config = tiny_config.with_overrides({**FAST, "env.num_envs": 1, "run.total_steps": 50_000,
                                         "env.max_episode_steps": 40, "run.eval_every": 1000})
    result = run_configuration(config, tmp_path / "run", episodes=3)
    assert result["status"] == "finished"
    assert result["episodes"] == 3 and result["env_step"] <= 3 * 40
    assert result["evaluations"][-1]["env_step"] == result["env_step"]  # measured where it stopped


def test_an_evaluation_hook_can_stop_a_run_early_as_pruned(tiny_config, tmp_path):
    config = tiny_config.with_overrides({**FAST, "run.total_steps": 3000, "run.eval_every": 150})
    seen = []
    result = run_configuration(config, tmp_path / "run", on_evaluation=lambda e: seen.append(e.env_step) or True)
    assert result["status"] == "pruned"
    assert seen == [150] and result["env_step"] < 300


def test_a_run_that_fails_is_recorded_as_failed_and_the_sweep_goes_on(tmp_path):
    spec = parse_spec(sweep_data(parameters={"env.env_id": ["NoSuchLander-v0", "LunarLanderContinuous-v3"]}))
    results = run_sweep(spec, tmp_path / "sweep", log=lambda _: None)
    by_run = {r["run"]: r for r in results}
    assert by_run[1]["status"] == "failed" and "NoSuchLander-v0" in by_run[1]["error"]
    assert by_run[2]["status"] == "finished"
    assert [r["run"] for r in results] == [2, 1]  # a failed run has no evaluation: it ranks last


def test_a_folder_holding_a_different_sweep_is_refused(tmp_path):
    folder = tmp_path / "sweep"
    run_sweep(parse_spec(sweep_data(parameters={"actor_lr": [1e-3]})), folder, log=lambda _: None)
    with pytest.raises(SpecError, match="holds a different sweep"):
        run_sweep(parse_spec(sweep_data(parameters={"actor_lr": [3e-3]})), folder, log=lambda _: None)


def test_a_corrupt_or_incomplete_sweep_config_is_named(tmp_path):
    spec = parse_spec(sweep_data(parameters={"actor_lr": [1e-3]}))
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "sweep_config.json").write_text('{"name": "s", "runs": [')  # torn by a crash mid-write
    with pytest.raises(SpecError, match=r"sweep results file .*sweep_config.json is corrupt or incomplete"):
        run_sweep(spec, folder, log=lambda _: None)
    (folder / "sweep_config.json").write_text('{"name": "s"}')
    with pytest.raises(SpecError, match=r"sweep_config.json is incomplete: it lacks 'runs'"):
        run_sweep(spec, folder, log=lambda _: None)
    assert not (folder / "optuna.db").exists()  # refused before any study or run


def test_without_out_the_same_sweep_resumes_its_latest_folder(tmp_path):
    spec = parse_spec(sweep_data())
    first = results_folder(spec, root=tmp_path)
    first.mkdir(parents=True)
    from lab.search.sweep import plan_record

    (first / "sweep_config.json").write_text(json.dumps(plan_record(spec, spec.plans())))
    assert results_folder(spec, root=tmp_path) == first  # the same sweep: resume it
    assert results_folder(spec, root=tmp_path, fresh=True) != first
    other = parse_spec(sweep_data(parameters={"actor_lr": [1e-4]}))
    assert results_folder(other, root=tmp_path) != first
    assert first.name.endswith("_s") and first.parent == tmp_path


def _sweep_cli(spec_path, folder, *extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return [sys.executable, "-m", "lab", "sweep", str(spec_path), "--out", str(folder), *extra], env


@pytest.mark.slow
def test_resume_after_a_kill_skips_finished_runs_and_redoes_the_interrupted_one(tmp_path):
    data = sweep_data(parameters={"actor_lr": [1e-3, 2e-3, 3e-3]}, overrides={**FAST, "run.torch_threads": 2})
    spec_path = tmp_path / "sweep.json"
    spec_path.write_text(json.dumps(data))
    folder = tmp_path / "out"
    cmd, env = _sweep_cli(spec_path, folder)
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300  # a hang guard, generous for a busy machine
        while not (folder / "run_001_results.json").exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the first run never finished"
            time.sleep(0.1)
        while not (folder / "runs" / "run_002" / "config.yaml").exists() and proc.poll() is None:
            time.sleep(0.05)  # kill it while run 002 is under way
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = (folder / "run_001_results.json").read_bytes()
    first_mtime = (folder / "run_001_results.json").stat().st_mtime_ns
    assert not (folder / "run_002_results.json").exists()
    assert (folder / "runs" / "run_002").exists()  # the half-done run left its folder behind

    cmd, env = _sweep_cli(spec_path, folder, "--workers", "2", "--heartbeat", "1", "--grace", "3")
    result = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 3 runs already finished" in result.stdout
    assert "run 001 " not in result.stdout  # skipped, not rerun
    assert (folder / "run_001_results.json").read_bytes() == first
    assert (folder / "run_001_results.json").stat().st_mtime_ns == first_mtime
    rerun = json.loads((folder / "run_002_results.json").read_text())
    assert json.loads(first)["config"]["run"]["torch_threads"] == 2  # one process: the config's own threads
    assert rerun["config"]["run"]["torch_threads"] == 1  # worker processes are pinned to one thread each
    episodes_logged = (Path(rerun["run_dir"]) / "episodes.jsonl").read_text().splitlines()
    assert len(episodes_logged) == rerun["episodes"]  # redone from scratch, not appended to the killed attempt
    rows = list(csv.DictReader((folder / "summary.csv").open()))
    assert sorted(r["run"] for r in rows) == ["run_001", "run_002", "run_003"]
