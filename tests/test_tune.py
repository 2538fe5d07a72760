"""Optuna: two worker processes share one study (SQLite, and a real PostgreSQL server), then export the best."""

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from lab.config import Config
from lab.search.space import SpecError, parse_spec
from lab.search.tune import TUNE_KEYS, check_tune_spec, driver_url

ROOT = Path(__file__).resolve().parent.parent
TUNE = {
    "name": "tt", "base": "tiny", "steps_per_run": 300, "trials": 5, "startup_trials": 2, "seed": 0,
    "overrides": {"run.eval_every": 150, "run.eval_episodes": 1, "env.max_episode_steps": 60,
                  "training.learning_starts": 100, "run.analyze_episodes": False},
    "parameters": {"actor_lr": {"min": 1e-4, "max": 1e-2, "type": "log"}, "batch_size": {"choices": [16, 32]},
                   "actor_hidden": [[16, 16], [32]]},
}


def _two_workers_share_one_study(tmp_path, storage_args, trials=3):
    """A worker process, and once it holds trial 0, a second worker (this test's own process) on the same study."""
    import time

    from lab.search.tune import load_tune_spec, run_tune

    spec_path = tmp_path / "tune.json"
    spec_path.write_text(json.dumps(TUNE))
    folder = tmp_path / "tune"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "lab", "tune", str(spec_path), "--out", str(folder), "--trials", str(trials),
           *storage_args]
    worker = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (folder / "trials" / "trial_0000").exists():
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the worker process never started a trial"
            time.sleep(0.05)
        lines = []
        options = dict(zip(storage_args[::2], storage_args[1::2]))
        run_tune(load_tune_spec(spec_path), trials=trials, storage=options.get("--storage"),
                 study_name=options.get("--study"), folder=folder, log=lines.append)
        out, err = worker.communicate(timeout=300)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, out + err
    outputs = [(out, err), ("\n".join(lines), "")]
    ran = [int(re.search(r"this worker ran (\d+) trial", o).group(1)) for o, _ in outputs]
    assert sum(ran) == trials, outputs  # N in total, not N each
    assert min(ran) >= 1, outputs  # both workers took part
    return folder, outputs


def _check_study(url, study_name, trials):
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=study_name, storage=driver_url(url))
    numbers = sorted(t.number for t in study.trials)
    assert numbers == list(range(trials))  # exactly N trials, no duplicates, none lost
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)
    params = [json.dumps(t.params, sort_keys=True) for t in study.trials]
    assert len(set(params)) == trials  # no two workers ran the same configuration
    return study


def _check_exports(folder, study, outputs):
    best = study.best_trial
    assert "best parameters:" in outputs[0][0]  # the command prints them
    exported = json.loads((folder / "best_params.json").read_text())
    assert exported["trial"] == best.number and exported["value"] == pytest.approx(best.value)
    config = Config.load(folder / "best.yaml")  # what train --config reads
    assert config.training.actor_lr == pytest.approx(best.params["actor_lr"])
    assert config.training.batch_size == best.params["batch_size"]
    assert list(config.network.actor_hidden) == json.loads(best.params["actor_hidden"])
    assert config.run.total_steps == 300
    for name in ("history", "parallel_coordinates"):
        html = (folder / f"{name}.html").read_text()
        assert "plotly.min.js" in html and "Plotly.newPlot" in html
    assert (folder / "plotly.min.js").stat().st_size > 100_000
    results = json.loads((folder / f"trial_{best.number:04d}_results.json").read_text())
    assert results["final_eval_mean"] == pytest.approx(best.value)


def test_two_processes_on_one_sqlite_study_run_n_trials_in_total(tmp_path):
    folder, outputs = _two_workers_share_one_study(tmp_path, [])
    assert (folder / "optuna.db").exists()  # the default storage: SQLite in the results folder
    study = _check_study(f"sqlite:///{folder / 'optuna.db'}", "tt", 3)
    _check_exports(folder, study, outputs)


@pytest.mark.postgres
def test_two_processes_on_one_postgresql_study_run_n_trials_in_total(tmp_path):
    url = os.environ.get("LAB_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("LAB_TEST_POSTGRES_URL is not set: scripts/run_tests.sh starts PostgreSQL through "
                        "scripts/postgres.sh when Debian's postgresql package is installed (bootstrap.sh test)")
        pytest.skip("no PostgreSQL: run through scripts/run_tests.sh, or set LAB_TEST_POSTGRES_URL")
    study_name = f"tt-{uuid.uuid4().hex[:8]}"
    folder, outputs = _two_workers_share_one_study(tmp_path, ["--storage", url, "--study", study_name])
    assert not (folder / "optuna.db").exists()
    study = _check_study(url, study_name, 3)
    _check_exports(folder, study, outputs)


def test_tune_files_are_checked_before_anything_runs():
    def spec(**changes):
        return parse_spec({**TUNE, **changes}, kind="tune", extra_keys=TUNE_KEYS)

    check_tune_spec(spec())
    with pytest.raises(SpecError, match="pruner='best' is invalid"):
        check_tune_spec(spec(pruner="best"))
    with pytest.raises(SpecError, match="trials=0 is invalid"):
        check_tune_spec(spec(trials=0))
    with pytest.raises(SpecError, match="set run.eval_every > 0"):
        check_tune_spec(spec(overrides={**TUNE["overrides"], "run.eval_every": 0}))
    with pytest.raises(SpecError, match="unknown config field 'lr'"):
        spec(parameters={"lr": {"min": 1e-4, "max": 1e-3}})
    with pytest.raises(SpecError, match="type='grid' is invalid"):
        spec(type="grid")


def test_postgresql_urls_use_the_installed_driver():
    url = driver_url("postgresql://u@127.0.0.1:5432/db")
    assert url.endswith("://u@127.0.0.1:5432/db") and url.startswith("postgresql")
    import importlib.util

    if importlib.util.find_spec("psycopg") is None:
        assert url.startswith("postgresql+psycopg2://")
    assert driver_url("sqlite:///x.db") == "sqlite:///x.db"


def test_the_example_tune_file_is_valid():
    from lab.search.tune import load_tune_spec

    spec = load_tune_spec(ROOT / "examples" / "tune.yaml")
    assert spec.extra["trials"] <= 20 and spec.base.run.eval_every > 0


@pytest.mark.slow
def test_a_trial_whose_worker_is_killed_is_retried_once_and_the_study_still_gets_n_trials(tmp_path):
    """Two workers on one SQLite study; one is SIGKILLed mid-trial. Its trial fails as stale and its copy runs."""
    import signal
    import time

    import optuna
    from optuna.trial import TrialState

    from lab.search.storage import open_storage, study_lock

    spec_path = tmp_path / "tune.json"
    spec_path.write_text(json.dumps({**TUNE, "steps_per_run": 800, "pruner": "none"}))
    folder = tmp_path / "tune"
    url = f"sqlite:///{folder / 'optuna.db'}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "lab", "tune", str(spec_path), "--out", str(folder), "--trials", "3",
           "--heartbeat", "1", "--grace", "6"]

    def trials():
        with study_lock(url, "tt"):
            return optuna.load_study(study_name="tt", storage=open_storage(url, heartbeat=None)).get_trials()

    victim = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    other = None
    try:
        deadline = time.monotonic() + 180
        while True:  # the victim holds trial 0: start the second worker, then kill the victim mid-trial
            try:
                running = [t for t in trials() if t.state == TrialState.RUNNING]
            except Exception:  # noqa: BLE001 - no study yet
                running = []
            if running and other is None:
                other = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
                held = running[0].number
            if other is not None and (trial_dir := folder / "trials" / f"trial_{held:04d}").exists() and \
                    (trial_dir / "config.yaml").exists():
                break
            assert victim.poll() is None and time.monotonic() < deadline, "the first worker never started a trial"
            time.sleep(0.1)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        out, _ = other.communicate(timeout=400)
        assert other.returncode == 0, out
    finally:
        for proc in (victim, other):
            if proc is not None and proc.poll() is None:
                proc.kill()
    study = trials()
    dead = [t for t in study if t.state == TrialState.FAIL]
    assert [t.number for t in dead] == [held]  # failed as stale once its heartbeat stopped
    retry = [t for t in study if held in t.system_attrs.get("retry_history", ())]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == dead[0].params  # the same configuration, run again
    done = [t for t in study if t.state == TrialState.COMPLETE]
    assert len(done) == 3 and len(study) == 4  # --trials 3 in total: the copy took the dead trial's place


def test_a_requeued_trial_takes_over_the_dead_attempts_checkpoint(tmp_path):
    import optuna
    from optuna.trial import TrialState, create_trial

    from lab.search.storage import open_storage, pop_waiting
    from lab.search.tune import _take_over_checkpoint

    folder = tmp_path / "tune"
    study = optuna.create_study(study_name="x", storage=open_storage(f"sqlite:///{tmp_path / 'x.db'}"))
    study.add_trial(create_trial(state=TrialState.FAIL))  # trial 0 died with a checkpoint on this machine
    study.add_trial(create_trial(state=TrialState.WAITING, system_attrs={"requeued_from": 0}))
    study.add_trial(create_trial(state=TrialState.WAITING))  # a fresh trial has nothing to take over
    dead = folder / "trials" / "trial_0000"
    dead.mkdir(parents=True)
    (dead / "checkpoint.pt").write_bytes(b"state")
    copy, fresh = pop_waiting(study), pop_waiting(study)
    assert pop_waiting(study) is None  # the queue is empty; nothing new is created
    target = folder / "trials" / "trial_0001"
    assert _take_over_checkpoint(copy, folder, target) == target / "checkpoint.pt"
    assert (target / "checkpoint.pt").read_bytes() == b"state" and not dead.exists()
    assert _take_over_checkpoint(fresh, folder, folder / "trials" / "trial_0002") is None


# ---- one study, one search ------------------------------------------------------------------------
def _tune_cli(capsys, spec_path, folder, *extra):
    from lab.cli import main

    code = main(["tune", str(spec_path), "--out", str(folder), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_different_search_file_on_an_existing_study_is_refused_up_front(tmp_path, capsys):
    import optuna

    spec_path = tmp_path / "tune.json"
    folder = tmp_path / "tune"
    spec_path.write_text(json.dumps({**TUNE, "trials": 1}))
    code, _, err = _tune_cli(capsys, spec_path, folder)
    assert code == 0, err
    best = (folder / "best.yaml").read_bytes()
    url = f"sqlite:///{folder / 'optuna.db'}"
    for change, named in (
            ({"parameters": {"critic_lr": {"min": 1e-4, "max": 1e-2, "type": "log"}}},
             "parameters.actor_hidden: stored {"),
            ({"parameters": {**TUNE["parameters"], "actor_lr": {"min": 1e-4, "max": 3e-3, "type": "log"}}},
             "parameters.actor_lr.high: stored 0.01, file 0.003"),
            ({"overrides": {**TUNE["overrides"], "training.tau": 0.02}},
             "base_config.training.tau: stored 0.005, file 0.02"),
            ({"steps_per_run": 600}, "base_config.run.total_steps: stored 300, file 600"),
            ({"metric": "best_eval_mean"}, "metric: stored 'final_eval_mean', file 'best_eval_mean'")):
        spec_path.write_text(json.dumps({**TUNE, "trials": 2, **change}))
        code, _, err = _tune_cli(capsys, spec_path, folder)
        assert code == 2 and err.count("\n") == 1, err
        assert err.startswith(f"error: {spec_path} does not match the search stored in study 'tt' at ")
        assert named in err and "use another --study" in err, err
    study = optuna.load_study(study_name="tt", storage=url)
    assert len(study.trials) == 1  # no trial of another space joined the study
    assert (folder / "best.yaml").read_bytes() == best
    assert sorted(p.name for p in (folder / "trials").iterdir()) == ["trial_0000"]

    spec_path.write_text(json.dumps({**TUNE, "trials": 2, "pruner": "none"}))  # more trials, another pruner: go on
    code, out, err = _tune_cli(capsys, spec_path, folder)
    assert code == 0, err
    assert "this worker ran 1 trial(s); the study holds 2" in out


def test_a_study_made_before_the_space_was_recorded_is_checked_against_its_trials(tmp_path):
    import optuna

    from lab.search.storage import open_storage
    from lab.search.tune import SPACE_ATTR, load_tune_spec, open_study

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = optuna.create_study(study_name="tt", storage=open_storage(url), direction="maximize")
    old.add_trial(optuna.trial.create_trial(params={"lr": 0.1}, value=1.0,
                                            distributions={"lr": optuna.distributions.FloatDistribution(0, 1)}))
    spec_path = tmp_path / "tune.json"
    spec_path.write_text(json.dumps(TUNE))
    with pytest.raises(SpecError, match=r"its trials searched lr, the file has no 'lr'"):
        open_study(load_tune_spec(spec_path), url, "tt")
    fitting = optuna.create_study(study_name="fits", storage=open_storage(url), direction="maximize")
    fitting.add_trial(optuna.trial.create_trial(
        params={"actor_lr": 0.001}, value=1.0,
        distributions={"actor_lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}))
    study = open_study(load_tune_spec(spec_path), url, "fits")  # adopted, and recorded from now on
    assert study.user_attrs[SPACE_ATTR]["parameters"]["actor_lr"]["high"] == 0.01
