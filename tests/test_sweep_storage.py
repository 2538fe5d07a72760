"""Sweeps on real Optuna storage: workers on SQLite and PostgreSQL, killed workers, killed parents, bad storage.

Every test runs real ``python -m lab sweep`` processes on a 6-run grid of the tiny
preset and reads the study back: each planned run has exactly one result (no
duplicate, no gap), and a run whose worker died was redone once.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from waiting import wait_for_value

ROOT = Path(__file__).resolve().parent.parent
FAST = {"run.eval_every": 150, "run.eval_episodes": 1, "env.max_episode_steps": 60,
        "training.learning_starts": 100, "run.analyze_episodes": False}
TIMING = ["--heartbeat", "1", "--grace", "6"]


def grid_file(tmp_path: Path, name: str = "g", steps: int = 400, **overrides) -> Path:
    data = {"name": name, "type": "grid", "base": "tiny", "steps_per_run": steps, "overrides": {**FAST, **overrides},
            "parameters": {"actor_lr": [1e-3, 2e-3, 3e-3], "tau": [0.005, 0.01]}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def start(spec: Path, out: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SDL_VIDEODRIVER="dummy")
    path = out.parent / f"{out.name}-{uuid.uuid4().hex[:6]}.log"
    with open(path, "w") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "lab", "sweep", str(spec), "--out", str(out), *TIMING, *args],
                                env=env, cwd=spec.parent, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    proc.log_path = path  # type: ignore[attr-defined]
    return proc


def output(proc: subprocess.Popen) -> str:
    return proc.log_path.read_text()  # type: ignore[attr-defined]


def load(url: str, name: str = "g"):
    """The study as the workers see it; under their lock, since a first open creates the schema."""
    import optuna

    from lab.search.storage import driver_url, open_storage, study_lock

    url = driver_url(url)
    with study_lock(url, name):
        return optuna.load_study(study_name=name, storage=open_storage(url, heartbeat=None))


def wait_for(predicate, what: str, timeout: float = 180.0, procs: tuple[subprocess.Popen, ...] = ()):
    return wait_for_value(predicate, what, procs, output, timeout, poll=0.1)


def running_pids(url: str, name: str = "g") -> set[int]:
    from optuna.trial import TrialState

    return {t.user_attrs["pid"] for t in load(url, name).get_trials(states=(TrialState.RUNNING,))
            if "pid" in t.user_attrs}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def check_complete(url: str, name: str = "g") -> list:
    """Six runs, one result each; every trial without a result died and has exactly one retry or requeue."""
    from optuna.trial import TrialState

    trials = load(url, name).get_trials()
    with_result = [t for t in trials if "result" in t.user_attrs]
    assert sorted(t.user_attrs["run"] for t in with_result) == [1, 2, 3, 4, 5, 6]  # no duplicate, no gap
    assert all(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in trials)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    dead = [t for t in trials if "result" not in t.user_attrs]
    for t in dead:
        assert t.state == TrialState.FAIL
        copies = [c for c in trials if t.number in c.system_attrs.get("retry_history", ())
                  or c.system_attrs.get("requeued_from") == t.number]
        assert len(copies) == 1 and copies[0].user_attrs["run"] == t.user_attrs["run"]
    return dead


def two_workers_one_killed(tmp_path: Path, url: str | None, name: str = "g") -> None:
    spec = grid_file(tmp_path, name, steps=800)
    out_a, out_b = tmp_path / "a", (tmp_path / "b" if url else tmp_path / "a")  # SQLite: one folder, one file
    storage = ["--storage", url, "--study", name] if url else []
    url = url or f"sqlite:///{out_a / 'optuna.db'}"
    a = start(spec, out_a, *storage)
    try:
        wait_for(lambda: a.pid in running_pids(url, name), "worker A to start a run", procs=(a,))
        b = start(spec, out_b, *storage)
        try:
            from optuna.trial import TrialState

            def a_midway():  # A has just started a run and B has finished one: kill A in the middle of both
                trials = load(url, name).get_trials()
                now = datetime.datetime.now()
                busy = [t for t in trials if t.state == TrialState.RUNNING and t.user_attrs.get("pid") == a.pid
                        and (now - t.datetime_start).total_seconds() < 2.0]
                done = [t for t in trials if "result" in t.user_attrs]
                return busy if busy and done else None

            busy = wait_for(a_midway, "A busy with a run after a first result", procs=(a, b))
            os.kill(a.pid, signal.SIGKILL)
            a.wait()
            assert b.wait(timeout=300) == 0, output(b)
        finally:
            if b.poll() is None:
                os.killpg(b.pid, signal.SIGKILL)
    finally:
        if a.poll() is None:
            os.killpg(a.pid, signal.SIGKILL)
    dead = check_complete(url, name)
    assert busy[0].number in [t.number for t in dead]  # the killed run was failed as stale and redone once
    assert "6 of 6 runs done" in output(b)
    rows = list(csv.DictReader((out_b / "summary.csv").open()))  # read back from the study, on B's side
    assert sorted(r["run"] for r in rows) == [f"run_{i:03d}" for i in range(1, 7)]
    everything = json.loads((out_b / "all_results.json").read_text())
    assert everything["finished_runs"] == everything["planned_runs"] == 6


@pytest.mark.slow
def test_two_processes_on_sqlite_finish_a_6_run_grid_with_one_killed_midway(tmp_path):
    two_workers_one_killed(tmp_path, None)


def postgres_url() -> str:
    url = os.environ.get("LAB_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("LAB_TEST_POSTGRES_URL is not set: scripts/run_tests.sh starts PostgreSQL through "
                        "scripts/postgres.sh when Debian's postgresql package is installed")
        pytest.skip("no PostgreSQL: run through scripts/run_tests.sh, or set LAB_TEST_POSTGRES_URL")
    return url


@pytest.mark.slow
@pytest.mark.postgres
def test_two_processes_on_postgresql_finish_a_6_run_grid_with_one_killed_midway(tmp_path):
    two_workers_one_killed(tmp_path, postgres_url(), name=f"g-{uuid.uuid4().hex[:8]}")


@pytest.mark.slow
def test_workers_stop_with_their_parent_and_a_rerun_finishes_without_running_anything_twice(tmp_path):
    spec = grid_file(tmp_path)
    out = tmp_path / "out"
    url = f"sqlite:///{out / 'optuna.db'}"
    for stop in (signal.SIGTERM, signal.SIGKILL):
        parent = start(spec, out, "--workers", "2")
        try:
            workers = wait_for(lambda: (p := running_pids(url)) and len(p) == 2 and p, "two workers in runs",
                               procs=(parent,))
            os.kill(parent.pid, stop)  # the parent alone, as a scheduler or the OOM killer would
            parent.wait(timeout=60)
            wait_for(lambda pids=workers: not any(alive(pid) for pid in pids), f"workers to exit after {stop.name}",
                     timeout=60)
            assert not running_pids(url), output(parent)  # each worker put its run back in the queue
            if stop == signal.SIGTERM:
                assert parent.returncode == 143, output(parent)  # 128 + SIGTERM, as for train
        finally:
            if parent.poll() is None:
                os.killpg(parent.pid, signal.SIGKILL)
    final = start(spec, out, "--workers", "2")
    assert final.wait(timeout=300) == 0, output(final)
    assert "6 of 6 runs done" in output(final)
    dead = check_complete(url)
    assert len(dead) == 4  # two interrupted runs per signal, each requeued once and run once
    results = [json.loads((out / f"run_{i:03d}_results.json").read_text()) for i in range(1, 7)]
    assert all(r["status"] == "finished" for r in results)


@pytest.mark.slow
def test_a_run_killed_after_a_checkpoint_is_redone_from_it(tmp_path):
    spec = grid_file(tmp_path, steps=900, **{"run.checkpoint_every": 300, "env.num_envs": 1})
    out = tmp_path / "out"
    url = f"sqlite:///{out / 'optuna.db'}"
    first = start(spec, out)
    try:
        states = out / "runs" / "run_001" / "states.jsonl"
        wait_for(lambda: any("path" in row and row["env_step"] >= 300 for row in map(json.loads,
                                                                                   states.read_text().splitlines())),
                 "run 001's first checkpoint", procs=(first,))
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert not (out / "run_001_results.json").exists()
    again = start(spec, out)
    assert again.wait(timeout=480) == 0, output(again)  # a hang guard, generous for a busy machine
    check_complete(url)
    result = json.loads((out / "run_001_results.json").read_text())
    assert result["resumed_from"] == str(out / "runs" / "run_001" / "checkpoint.pt")
    assert result["env_step"] >= 900
    assert result["evaluations"][0]["env_step"] == 150  # the result covers the run from its start


# ---- one-line errors, before anything runs --------------------------------------------------------
def cli(capsys, *argv: str) -> tuple[int, str]:
    from lab.cli import main

    code = main(list(argv))
    return code, capsys.readouterr().err


def tune_file(tmp_path: Path) -> Path:
    data = {"name": "t", "base": "tiny", "steps_per_run": 300, "trials": 2, "overrides": FAST,
            "parameters": {"actor_lr": {"min": 1e-4, "max": 1e-2, "type": "log"}}}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("command", ["sweep", "tune"])
def test_bad_unreachable_or_corrupt_storage_is_one_line_and_exit_2(tmp_path, capsys, command):
    spec = grid_file(tmp_path) if command == "sweep" else tune_file(tmp_path)
    out = tmp_path / "out"
    code, err = cli(capsys, command, str(spec), "--out", str(out), "--storage", "redis://localhost/0")
    assert code == 2 and err.count("\n") == 1
    assert "--storage 'redis://localhost/0' is invalid" in err and "postgresql://" in err
    code, err = cli(capsys, command, str(spec), "--out", str(out), "--storage", "optuna.db")
    assert code == 2 and err.count("\n") == 1 and "--storage 'optuna.db' is invalid" in err

    code, err = cli(capsys, command, str(spec), "--out", str(out), "--storage",
                    "postgresql://lab:secret@127.0.0.1:1/lab")  # nothing listens on port 1
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("error: cannot use storage postgresql") and "127.0.0.1" in err and "secret" not in err

    out.mkdir(exist_ok=True)
    (out / "optuna.db").write_bytes(os.urandom(4096))
    code, err = cli(capsys, command, str(spec), "--out", str(out))
    assert code == 2 and err.count("\n") == 1, err
    assert f"storage file {(out / 'optuna.db').resolve()} is corrupt" in err
    assert not (out / "runs").exists() and not (out / "trials").exists()  # nothing ran


def test_a_search_file_that_differs_from_the_stored_plan_is_refused_naming_the_difference(tmp_path, capsys):
    from lab.search.space import SpecError, load_spec
    from lab.search.sweep import open_sweep_study

    spec_path = grid_file(tmp_path)
    spec = load_spec(spec_path)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    open_sweep_study(spec, spec.plans(), url, "g")  # the first worker queued the plan
    again = open_sweep_study(spec, spec.plans(), url, "g")  # the same file opens the same queue
    assert len(again.get_trials()) == 6

    edited = json.loads(spec_path.read_text())
    edited["parameters"]["actor_lr"] = [1e-3, 2.5e-3, 3e-3]
    spec_path.write_text(json.dumps(edited))
    code, err = cli(capsys, "sweep", str(spec_path), "--out", str(tmp_path / "other"), "--storage", url,
                    "--study", "g")
    assert code == 2 and err.count("\n") == 1, err
    assert "does not match the plan stored in study 'g'" in err
    assert "run 003 differs (actor_lr: stored 0.002, file 0.0025)" in err
    assert not (tmp_path / "other" / "runs").exists()

    edited["parameters"]["actor_lr"] = [1e-3, 2e-3, 3e-3]
    edited["overrides"]["training.tau"] = 0.02
    edited["parameters"].pop("tau")
    edited["parameters"]["actor_hidden"] = [[16], [32]]
    spec_path.write_text(json.dumps(edited))
    with pytest.raises(SpecError, match=r"run 001 differs \(actor_hidden: stored '<absent>', file \[16\]"):
        open_sweep_study(load_spec(spec_path), load_spec(spec_path).plans(), url, "g")
    edited["parameters"] = {"actor_lr": [1e-3, 2e-3, 3e-3], "tau": [0.005, 0.01]}
    spec_path.write_text(json.dumps(edited))
    with pytest.raises(SpecError, match=r"base config training.tau: stored 0.005, file 0.02"):
        open_sweep_study(load_spec(spec_path), load_spec(spec_path).plans(), url, "g")
    assert len(load(url).get_trials()) == 6  # nothing was queued twice


def test_a_trial_taken_by_a_worker_killed_before_its_first_beat_goes_stale_and_comes_back(tmp_path):
    """The hang of a resumed sweep: a trial left RUNNING with no heartbeat at all was never failed as stale."""
    import optuna
    from optuna.trial import TrialState

    from lab.search.storage import fail_stale, open_storage, pop_waiting

    storage = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}", heartbeat=1, grace=1)
    study = optuna.create_study(study_name="s", storage=storage)
    study.enqueue_trial({}, user_attrs={"run": 1})
    taken = pop_waiting(study)
    assert taken is not None  # the worker dies here: no heartbeat thread ever starts
    time.sleep(2.5)  # past the grace period
    fail_stale(study)
    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    assert states[taken.number] == TrialState.FAIL
    queued = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.WAITING]
    assert [t.user_attrs["run"] for t in queued] == [1]  # the retry callback queued the run again
