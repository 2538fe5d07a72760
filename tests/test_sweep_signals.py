"""Signals and leases of sweep and tune workers: the exit code names the signal (143 SIGTERM, 129 SIGHUP, 130
Ctrl-C), tune resumes a trial stopped by SIGTERM from its checkpoint, and a worker paused past --grace whose run
another worker took stops the moment it wakes, writing nothing more."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from waiting import wait_for_value

from lab.search.lease import TAKEN_EXIT_CODE, TrialLease
from lab.search.processes import signalled, signals_held, stop_requested, terminate_as_interrupt
from lab.signals import Terminated, exit_code, on_stop_signals

ROOT = Path(__file__).resolve().parent.parent
FAST = {"run.eval_every": 300, "run.eval_episodes": 1, "env.max_episode_steps": 60,
        "training.learning_starts": 100, "run.analyze_episodes": False, "env.num_envs": 1}


# ---- which signal it was ------------------------------------------------------------------------
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_an_interrupt_leaving_a_search_carries_the_signal_even_when_a_trainer_took_it(signum, code):
    """A Trainer installs its own handlers while it trains; the block still learns which signal arrived."""
    with pytest.raises(KeyboardInterrupt) as info:
        with terminate_as_interrupt():
            with on_stop_signals(lambda _: None, (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)):  # the trainer's
                os.kill(os.getpid(), signum)
                time.sleep(0.01)  # the handler runs between bytecodes
            assert stop_requested()
            raise KeyboardInterrupt("run runs/run_001 was interrupted")
    assert exit_code(info.value) == code
    if signum != signal.SIGINT:
        assert isinstance(info.value, Terminated) and info.value.signum == signum
        assert str(info.value) == f"run runs/run_001 was interrupted: stopped by {signal.Signals(signum).name}"
    with terminate_as_interrupt():
        assert not stop_requested()  # every block starts afresh
    assert signal.set_wakeup_fd(-1) == -1  # and leaves no wakeup fd behind
    assert exit_code(signalled(KeyboardInterrupt())) == 130  # outside a block: Ctrl-C


def test_signals_held_wait_for_the_end_of_the_block():
    done = []
    with pytest.raises(Terminated) as info:
        with signals_held():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)
            done.append("the commit")
    assert done == ["the commit"] and info.value.signum == signal.SIGTERM


# ---- the lease ----------------------------------------------------------------------------------
def test_a_lease_beats_and_reports_at_once_a_trial_another_worker_took(tmp_path):
    import optuna
    from optuna.trial import TrialState

    from lab.search.storage import backend, open_storage, pop_waiting

    study = optuna.create_study(study_name="s", storage=open_storage(f"sqlite:///{tmp_path / 'o.db'}", 1, 3))
    for run in (1, 2):
        study.enqueue_trial({}, user_attrs={"run": run})
    mine, other = pop_waiting(study), pop_waiting(study)
    taken: list[list[str]] = []
    storage = backend(study)
    with TrialLease(study, [mine, other], ["run 001", "run 002"], on_taken=taken.append) as lease:
        time.sleep(1.5)
        assert not storage._get_stale_trial_ids(study._study_id)  # noqa: SLF001 - beating, so never stale
        lease.check(timeout=30)
        assert taken == []  # both still ours
        storage.set_trial_state_values(other._trial_id, state=TrialState.FAIL)  # failed as stale elsewhere
        os.kill(os.getpid(), signal.SIGCONT)  # woken after a SIGSTOP: checked before the next line runs
        assert taken and taken[0] == ["run 002"]
    assert study.get_trials()[0].state == TrialState.RUNNING  # the lease never changes a trial itself


def test_the_parent_names_a_worker_that_stopped_because_its_run_was_taken():
    from lab.search.sweep import worker_ended

    assert "another worker took over its run" in worker_ended(123, TAKEN_EXIT_CODE)
    assert worker_ended(123, 1) == "worker process 123 ended with exit code 1"


# ---- real processes -----------------------------------------------------------------------------
def write_spec(tmp_path: Path, kind: str, steps: int, **extra) -> Path:
    data = {"name": "g", "base": "tiny", "steps_per_run": steps, "overrides": {**FAST, **extra.pop("overrides", {})},
            **extra}
    if kind == "sweep":
        data = {"type": "grid", "parameters": {"actor_lr": [1e-3, 2e-3]}, **data}  # extra's parameters win
    else:
        data = {"trials": 1, "pruner": "none", "parameters": {"actor_lr": {"min": 1e-4, "max": 1e-2, "type": "log"}},
                **data}
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(data))
    return path


def start(command: str, spec: Path, out: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SDL_VIDEODRIVER="dummy")
    log = out.parent / f"{out.name}-{time.monotonic_ns()}.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "lab", command, str(spec), "--out", str(out), *args], env=env,
                                cwd=spec.parent, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def output(proc: subprocess.Popen) -> str:
    return proc.log.read_text()  # type: ignore[attr-defined]


def wait_for(predicate, what: str, procs: tuple[subprocess.Popen, ...] = (), timeout: float = 300.0):
    return wait_for_value(predicate, what, procs, output, timeout)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def kill_all(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGCONT)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_sighup_and_sigterm_of_a_sweep_exit_129_and_143_and_the_rerun_finishes(tmp_path):
    spec = write_spec(tmp_path, "sweep", 3000)
    out = tmp_path / "out"
    states = out / "runs" / "run_001" / "states.jsonl"

    def starts() -> int:
        return sum(row.get("state") == "running" for row in lines(states)) if states.exists() else 0

    for signum, code in ((signal.SIGHUP, 129), (signal.SIGTERM, 143)):
        before = starts()
        proc = start("sweep", spec, out)
        try:
            wait_for(lambda n=before: starts() > n, "run 001 under way", (proc,))  # training, handlers in place
            time.sleep(1.0)
            proc.send_signal(signum)
            assert proc.wait(timeout=120) == code, output(proc)
            assert "run 001 interrupted: back in the queue" in output(proc)
            assert "Traceback" not in output(proc)
        finally:
            kill_all(proc)
    final = start("sweep", spec, out)
    try:
        assert final.wait(timeout=600) == 0, output(final)
    finally:
        kill_all(final)
    result = json.loads((out / "run_001_results.json").read_text())
    assert result["status"] == "finished" and result["resumed_from"] == str(out / "runs" / "run_001" / "checkpoint.pt")


@pytest.mark.slow
def test_sigterm_of_tune_exits_143_and_the_rerun_resumes_the_trial_from_its_checkpoint(tmp_path):
    spec = write_spec(tmp_path, "tune", 3000)
    out = tmp_path / "tune"
    first = out / "trials" / "trial_0000"
    proc = start("tune", spec, out)
    try:
        wait_for(lambda: len(lines(first / "evaluations.jsonl")) >= 2, "two evaluations of trial 0", (proc,))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 143, output(proc)
    finally:
        kill_all(proc)
    assert "trial 0000 interrupted: queued again with the same parameters" in output(proc)
    assert "stopped by SIGTERM" in output(proc) and "Traceback" not in output(proc)
    stopped = json.loads((first / "summary.json").read_text())
    assert stopped["state"] == "stopped" and stopped["env_step"] >= 600 and (first / "checkpoint.pt").is_file()

    again = subprocess.run([sys.executable, "-m", "lab", "tune", str(spec), "--out", str(out)], cwd=tmp_path,
                           env=dict(os.environ, PYTHONPATH=str(ROOT), SDL_VIDEODRIVER="dummy"), capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    copy = out / "trials" / "trial_0001"
    result = json.loads((out / "trial_0001_results.json").read_text())
    assert result["resumed_from"] == str(copy / "checkpoint.pt") and result["env_step"] >= 3000
    steps = [e["env_step"] for e in result["evaluations"]]
    assert steps == sorted(set(steps)) and steps[0] == 300  # the whole trial, each evaluation once
    starts = [row for row in lines(copy / "states.jsonl") if row.get("state") == "running"]
    assert [row["env_step"] for row in starts] == [0, stopped["env_step"]]  # resumed, not retrained from 0
    episodes = lines(copy / "episodes.jsonl")
    assert len(episodes) == result["episodes"] == len({e["episode"] for e in episodes})  # each episode once


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file of the sweep but the study's database: (size, mtime) by path."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith("optuna.db")}


@pytest.mark.slow
def test_a_worker_paused_past_grace_stops_the_moment_it_wakes_and_writes_nothing_more(tmp_path):
    from optuna.trial import TrialState

    from lab.search.storage import open_storage, study_lock

    spec = write_spec(tmp_path, "sweep", 6000, overrides={"run.checkpoint_every": 300},
                      parameters={"actor_lr": [1e-3]})  # one run: B has nothing to do but take A's
    out = tmp_path / "out"
    url = f"sqlite:///{out / 'optuna.db'}"
    timing = ("--heartbeat", "1", "--grace", "6")

    def running_pids() -> set[int]:
        import optuna

        with study_lock(url, "g"):
            study = optuna.load_study(study_name="g", storage=open_storage(url, heartbeat=None))
        return {t.user_attrs.get("pid") for t in study.get_trials(states=(TrialState.RUNNING,))}

    a = start("sweep", spec, out, *timing)
    b = None
    try:
        wait_for(lambda: any("path" in row for row in lines(out / "runs" / "run_001" / "states.jsonl")),
                 "run 001's first checkpoint", (a,))
        os.kill(a.pid, signal.SIGSTOP)  # paused, not dead: a laptop lid, a debugger, a scheduler
        b = start("sweep", spec, out, *timing)
        wait_for(lambda: b.pid in running_pids(), "B to take over run 001 after --grace", (b,), timeout=120)
        os.kill(b.pid, signal.SIGSTOP)  # from now on any change on disk is A's
        time.sleep(0.5)
        before = snapshot(out)
        os.kill(a.pid, signal.SIGCONT)
        a.wait(timeout=60)
        time.sleep(0.5)
        assert snapshot(out) == before  # A wrote nothing after it woke
        os.kill(b.pid, signal.SIGCONT)
        assert b.wait(timeout=600) == 0, output(b)
    finally:
        kill_all(a, *(p for p in (b,) if p is not None))
    assert a.returncode == TAKEN_EXIT_CODE, output(a)
    taken = [line for line in output(a).splitlines() if "was failed as stale" in line]
    assert taken == [output(a).strip().splitlines()[-1]] == [
        "error: run 001 was failed as stale (no heartbeat for longer than --grace) and handed to another worker: "
        "this worker stops at once and writes nothing more (raise --grace if workers pause this long)"]
    result = json.loads((out / "run_001_results.json").read_text())
    assert result["resumed_from"] == str(out / "runs" / "run_001" / "checkpoint.pt")  # B went on from A's work
    rows = {r["run"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert float(rows["run_001"]["final_eval_mean"]) == result["final_eval_mean"]  # summary and results agree
    assert int(rows["run_001"]["env_step"]) == result["env_step"]
    episodes = lines(out / "runs" / "run_001" / "episodes.jsonl")
    assert len(episodes) == len({e["episode"] for e in episodes}) == result["episodes"]  # no episode from A after
