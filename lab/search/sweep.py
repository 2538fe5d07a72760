"""Grid and random sweeps on an Optuna study: any number of workers, on one machine or many.

The planned runs are queued in an Optuna study (one enqueued trial per run, its
parameters fixed), in SQLite inside the results folder by default or in a shared
database with ``--storage``. Each worker takes queued runs one at a time, so no run
is taken twice; a worker that dies mid-run stops beating and its run is queued
again once (from its checkpoint when this machine has one). Results live in the
study, so any worker on any machine writes the same summary.

Layout of ``sweep_results/<timestamp>_<name>/``::

    sweep_config.json       the search file, the base config and every planned run
    optuna.db               the study (unless --storage names a database)
    runs/run_003/           an ordinary run folder per configuration
    run_003_results.json    written atomically by the worker that ran run 003
    summary.csv             every finished run, ranked (see RANKING), read back from the study
    all_results.json        the same, with evaluation curves and full configs

Re-running the same command resumes: the study knows which runs are done. A run's
trial is held by a lab.search.lease.TrialLease while it trains: a worker paused past
the grace period whose run another worker took ends at once, writing nothing more.

With ``population`` > 1 a worker trains up to that many queued runs that can share a
batched update as one lab.Population (see lab.search.population_runs for the layout);
each still reports to its own trial and writes its own run_NNN_results.json.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import multiprocessing
import multiprocessing.connection
import os
import shutil
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lab.io import atomic_write_json, atomic_write_text
from lab.search.lease import TAKEN_EXIT_CODE, TrialLease
from lab.search.population_runs import (
    check_population_size,
    claim_partners,
    plan_groups,
    takeable_runs,
    train_population,
)
from lab.search.processes import die_with_parent, sleep_unless_stopped, stop_requested, terminate_as_interrupt
from lab.search.records import ABSENT, first_difference, normalise
from lab.search.records import results_folder as latest_or_new_folder
from lab.search.space import Grid, RunPlan, SearchSpec, SpecError, format_params
from lab.search.storage import (
    DEFAULT_GRACE,
    DEFAULT_HEARTBEAT,
    fail_stale,
    open_storage,
    pop_waiting,
    requeue,
    running,
    shown,
    storage_errors,
    storage_url,
    study_lock,
)

RESULTS_ROOT = Path("sweep_results")
RANKING = ("time-to-solve: solved runs first, by training seconds until the evaluation mean first reached "
           "env.success_threshold (ties by env steps); then by final evaluation mean, highest first")
SUMMARY_COLUMNS = ("rank", "run", "status", "solved", "time_to_solve_seconds", "time_to_solve_steps",
                   "final_eval_mean", "best_eval_mean", "final_success_rate")
TAIL_COLUMNS = ("env_step", "episodes", "train_seconds", "steps_per_second", "run_dir")
PLAN_ATTR = "lander_lab_plan"

Log = Callable[[str], None]


# ---- the results folder -------------------------------------------------------------------------
def plan_record(spec: SearchSpec, plans: Sequence[RunPlan]) -> dict[str, Any]:
    """What sweep_config.json holds; two sweeps are the same sweep when these match."""
    return {"name": spec.name, "type": spec.type, "source": spec.source, "spec": spec.raw,
            "base_config": spec.base.to_dict(), "episodes_per_run": spec.episodes_per_run,
            "runs": [{"run": p.index, "params": p.params} for p in plans], "ranking": RANKING}


def read_record(path: Path) -> dict[str, Any]:
    """A sweep results file (sweep_config.json, run_XXX_results.json); a torn or foreign one is named."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"sweep results file {path} is corrupt or incomplete ({exc}): delete it, or the "
                        "folder, to start that sweep over") from None
    if not isinstance(data, dict) or ("runs" not in data and "run" not in data):
        raise SpecError(f"sweep results file {path} is incomplete: it lacks 'runs'; delete it, or the folder, to "
                        "start that sweep over")
    return data


def results_folder(spec: SearchSpec, out: str | Path | None = None, root: str | Path = RESULTS_ROOT,
                   fresh: bool = False) -> Path:
    """``out`` when given; else the latest folder of this same sweep under root (to resume); else a new one."""
    if out is not None:
        return Path(out)
    record = None if fresh else normalise(plan_record(spec, spec.plans()))

    def same(folder: Path) -> bool:
        saved = folder / "sweep_config.json"
        return saved.is_file() and not plan_difference(read_record(saved), record or {})

    return latest_or_new_folder(Path(root), spec.name, same, fresh)


def prepare_folder(spec: SearchSpec, folder: Path, plans: Sequence[RunPlan]) -> None:
    """Write sweep_config.json, or check that the folder holds this very sweep."""
    record = normalise(plan_record(spec, plans))
    saved_path = folder / "sweep_config.json"
    if saved_path.is_file():
        difference = plan_difference(read_record(saved_path), record)
        if difference:
            raise SpecError(f"{folder} holds a different sweep ({difference}); choose another --out, or delete "
                            "that folder to start over")
        return
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(saved_path, record)


def plan_difference(saved: dict[str, Any], record: dict[str, Any]) -> str | None:
    """The first difference between a stored plan and this one, in words; None when they are the same sweep."""
    runs, mine = saved.get("runs", []), record["runs"]
    if len(runs) != len(mine):
        return f"the stored plan has {len(runs)} runs, the search file {len(mine)}"
    for old, new in zip(runs, mine):
        if old != new:
            keys = sorted(set(old["params"]) | set(new["params"]))
            changed = [k for k in keys if old["params"].get(k, ABSENT) != new["params"].get(k, ABSENT)]
            what = ", ".join(f"{k}: stored {old['params'].get(k, ABSENT)!r}, file "
                             f"{new['params'].get(k, ABSENT)!r}" for k in changed[:3])
            return f"run {new['run']:03d} differs ({what})"
    difference = first_difference(saved.get("base_config", {}), record["base_config"])
    if difference:
        return f"base config {difference}"
    if saved.get("episodes_per_run") != record.get("episodes_per_run") and "episodes_per_run" in saved:
        return f"episodes_per_run: stored {saved['episodes_per_run']!r}, file {record['episodes_per_run']!r}"
    return None


def result_path(folder: Path, index: int) -> Path:
    return folder / f"run_{index:03d}_results.json"


# ---- the study ----------------------------------------------------------------------------------
def open_sweep_study(spec: SearchSpec, plans: Sequence[RunPlan], url: str, study_name: str,
                     heartbeat_interval: int | None = DEFAULT_HEARTBEAT, grace: int | None = DEFAULT_GRACE) -> Any:
    """Create the study and queue every planned run, once; or check that the stored plan is this file's."""
    import optuna

    record = normalise({k: v for k, v in plan_record(spec, plans).items() if k not in ("source", "spec")})
    with study_lock(url, study_name):  # creating the schema, the study and its queue races between workers otherwise
        storage = open_storage(url, heartbeat_interval, grace)
        study = optuna.create_study(study_name=study_name, storage=storage, direction="maximize",
                                    load_if_exists=True)
        stored = study.user_attrs.get(PLAN_ATTR)
        if stored is not None:
            difference = plan_difference(stored, record)
            if difference:
                raise SpecError(f"{spec.source} does not match the plan stored in study {study_name!r} at "
                                f"{shown(url)}: {difference}. Restore the file, or use another --study "
                                "(or --fresh with the default storage)")
            return study
        queued = {t.user_attrs.get("run") for t in study.get_trials(deepcopy=False)}  # an earlier opener died
        for plan in plans:
            if plan.index not in queued:
                study.enqueue_trial({p.name: _encode(plan.params[p.name]) for p in spec.parameters},
                                    user_attrs={"run": plan.index})
        study.set_user_attr(PLAN_ATTR, record)  # last: the queue is complete
    return study


def record_params(trial: Any, spec: SearchSpec) -> None:
    """Suggest every parameter over its whole domain; the queued trial's fixed values are what comes back."""
    from lab.search.tune import suggest

    grid = tuple(p for p in spec.parameters if isinstance(p.domain, Grid))
    for p in grid:
        trial.suggest_categorical(p.name, [_encode(v) for v in p.domain.values])  # type: ignore[union-attr]
    suggest(trial, tuple(p for p in spec.parameters if p not in grid))


def _encode(value: Any) -> Any:
    """Optuna's categoricals hold None, bool, int, float or str; lists (layer widths) go as JSON."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


def study_results(study: Any) -> dict[int, dict[str, Any]]:
    """Each run's result as its worker stored it; a run redone after a dead worker appears once."""
    results: dict[int, dict[str, Any]] = {}
    for trial in study.get_trials(deepcopy=False):
        result = trial.user_attrs.get("result")
        if result is not None:
            results[int(result["run"])] = result
    return results


# ---- running ------------------------------------------------------------------------------------
def run_sweep(spec: SearchSpec, folder: str | Path, workers: int = 1, log: Log = print, storage: str | None = None,
              study_name: str | None = None, heartbeat_interval: int | None = DEFAULT_HEARTBEAT,
              grace: int | None = DEFAULT_GRACE, pinned: bool = False, summary: bool = True, population: int = 1
              ) -> list[dict[str, Any]]:
    """Run queued configurations until none is left (N local worker processes when workers > 1); then summarise.

    ``population`` > 1 trains up to that many compatible queued runs at once as one lab.Population.
    """
    check_population_size(population)
    folder = Path(folder)
    plans = spec.plans()
    prepare_folder(spec, folder, plans)
    url = storage_url(storage, folder)
    study_name = study_name or spec.name
    with storage_errors(url):
        study = open_sweep_study(spec, plans, url, study_name, heartbeat_interval, grace)
        done = study_results(study)
        if done:
            log(f"resuming {folder}: {len(done)} of {len(plans)} runs already finished")
        if workers > 1 and len(plans) - len(done) > 1:
            options = {"storage": url, "study_name": study_name, "heartbeat_interval": heartbeat_interval,
                       "grace": grace, "population": population}
            run_workers(spec, folder, workers, options, log)
        else:
            with terminate_as_interrupt():
                work(study, spec, plans, folder, log, pinned=pinned, poll=heartbeat_interval or 5,
                     population=population, lock=lambda: study_lock(url, study_name))
        return write_summary(folder, spec, plans, study) if summary else ranked(list(study_results(study).values()))


def run_workers(spec: SearchSpec, folder: Path, workers: int, options: dict[str, Any], log: Log) -> None:
    """N worker processes on this machine; they get SIGTERM if we die, and we stop them on Ctrl-C/SIGTERM."""
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_worker_main, args=(spec, folder, options, os.getpid()), name=f"sweep-worker-{k}")
             for k in range(1, workers + 1)]
    with terminate_as_interrupt():
        try:
            for proc in procs:
                proc.start()
            while any(proc.is_alive() for proc in procs):
                multiprocessing.connection.wait([p.sentinel for p in procs if p.is_alive()], timeout=0.5)
                if stop_requested():
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            log(f"stopping {len(procs)} worker(s): each checkpoints its run and puts it back in the queue")
            for proc in procs:
                if proc.is_alive():
                    proc.terminate()  # SIGTERM: the worker treats it like Ctrl-C
            for proc in procs:
                proc.join()
            raise
    for proc in procs:
        if proc.exitcode not in (0, None):  # its run comes back to the queue after --grace; the others take it
            log(worker_ended(proc.pid, proc.exitcode))


def worker_ended(pid: int | None, code: int) -> str:
    """What the parent says of a worker process that ended with a non-zero exit code."""
    if code == TAKEN_EXIT_CODE:
        return (f"worker process {pid} stopped at once (exit code {code}): it was silent past --grace, another "
                "worker took over its run, and it wrote nothing more")
    return f"worker process {pid} ended with exit code {code}"


def _worker_main(spec: SearchSpec, folder: Path, options: dict[str, Any], parent_pid: int) -> None:
    from lab.signals import exit_code

    die_with_parent(parent_pid)
    pin_threads()
    try:
        run_sweep(spec, folder, pinned=True, summary=False, **options)
    except KeyboardInterrupt as exc:
        sys.exit(exit_code(exc))


def work(study: Any, spec: SearchSpec, plans: Sequence[RunPlan], folder: Path, log: Log, pinned: bool = False,
         poll: float = 5.0, population: int = 1,
         lock: Callable[[], contextlib.AbstractContextManager[Any]] | None = None) -> int:
    """Take queued runs until none is left and none runs elsewhere (a dead worker's run comes back after grace).

    With population > 1 each take also claims the queued runs planned to train with it (plan_groups),
    under ``lock`` (the study's lock), so two workers never split one population between them.
    """
    by_index = {p.index: p for p in plans}
    groups = plan_groups(plans, population) if population > 1 else {}
    taking = lock if groups and lock is not None else contextlib.nullcontext
    ran, waiting_said = 0, False
    while True:
        if stop_requested():
            raise KeyboardInterrupt
        fail_stale(study)
        with taking():
            trial = pop_waiting(study, runs=takeable_runs(study, folder) if groups else None)
            trials = [] if trial is None else claim_partners(study, trial, folder, groups) if groups else [trial]
        if not trials:
            others = running(study)
            if not others:
                return ran
            if not waiting_said:
                log(f"waiting for {others} run(s) in progress on other workers")
                waiting_said = True
            sleep_unless_stopped(poll)
            continue
        waiting_said = False
        run_trials(study, trials, spec, [by_index[int(t.user_attrs["run"])] for t in trials], folder, log, pinned)
        ran += len(trials)
        if stop_requested():
            raise KeyboardInterrupt


def run_trial(study: Any, trial: Any, spec: SearchSpec, plan: RunPlan, folder: Path, log: Log,
              pinned: bool = False) -> dict[str, Any]:
    """Run one queued configuration and tell the study; Ctrl-C or SIGTERM puts it back in the queue."""
    return run_trials(study, [trial], spec, [plan], folder, log, pinned)[0]


def run_trials(study: Any, trials: Sequence[Any], spec: SearchSpec, plans: Sequence[RunPlan], folder: Path,
               log: Log, pinned: bool = False) -> list[dict[str, Any]]:
    """Run queued configurations (one alone, several as one population) and tell each its own trial.

    Every trial beats while they train; Ctrl-C or SIGTERM puts all of them back in the queue.
    """
    import optuna
    from optuna.trial import TrialState

    tasks = [_task(spec, folder, plan, pinned) for plan in plans]
    try:
        with TrialLease(study, trials, [f"run {plan.index:03d}" for plan in plans]) as lease:
            for trial in trials:
                record_params(trial, spec)  # the run's values (fixed when queued), so the dashboard shows them
                trial.set_user_attr("host", socket.gethostname())
                trial.set_user_attr("pid", os.getpid())
            records = ([run_task(tasks[0], before_write=lease.check)] if len(tasks) == 1
                       else train_population(tasks, log, before_write=lease.check))
    except KeyboardInterrupt:
        for trial, plan in zip(trials, plans):
            requeue(study, trial)
            log(f"run {plan.index:03d} interrupted: back in the queue")
        raise
    for trial, plan, record in zip(trials, plans, records):
        state = TrialState.FAIL if record["status"] == "failed" else TrialState.COMPLETE
        final = record["final_eval_mean"]
        try:
            trial.set_user_attr("result", record)
            study.tell(trial, None if state == TrialState.FAIL else (final if final is not None else float("-inf")),
                       state=state)
        except optuna.exceptions.UpdateFinishedTrialError:  # our heartbeat was late: another worker redoes the run
            log(f"run {plan.index:03d}: its trial was failed as stale meanwhile; raise --grace")
        _report(record, log)
    return records


def _task(spec: SearchSpec, folder: Path, plan: RunPlan, pinned: bool) -> dict[str, Any]:
    """Everything a run needs, as plain data; a worker process gets one torch thread (run.torch_threads=1)."""
    config = plan.config.with_overrides({"run.torch_threads": 1}) if pinned else plan.config
    return {"run": plan.index, "params": plan.params, "config": config.to_dict(),
            "run_dir": str(folder / "runs" / plan.name), "episodes": spec.episodes_per_run,
            "results": str(result_path(folder, plan.index))}


def pin_threads() -> None:
    """One torch thread per worker process: N workers on N cores, not N x cores threads fighting."""
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass


def run_task(task: dict[str, Any], before_write: Callable[[], None] | None = None) -> dict[str, Any]:
    """Run one planned configuration, from its checkpoint when an earlier attempt left one, and save its results.

    before_write: called just before the results file is written (a TrialLease's check: a worker whose run was
    taken from it ends there instead).
    """
    from lab.config import Config
    from lab.search.runner import run_configuration

    run_dir = Path(task["run_dir"])
    if run_dir.is_symlink():  # it trained in a population before (--population): alone it starts over
        run_dir.unlink()
    checkpoint = run_dir / "checkpoint.pt"
    resume = checkpoint if checkpoint.is_file() else None
    if run_dir.exists() and resume is None:  # killed before its first checkpoint: start again from nothing
        shutil.rmtree(run_dir)
    config = Config.from_dict(task["config"])
    result = run_configuration(config, run_dir, episodes=task["episodes"], resume=resume)
    if resume is not None and result["status"] == "failed" and "Checkpoint" in (result["error"] or ""):
        shutil.rmtree(run_dir)  # an unreadable checkpoint: the run starts over instead
        result = run_configuration(config, run_dir, episodes=task["episodes"])
    record = {"run": task["run"], "params": task["params"], **result, "resumed_from": str(resume) if resume else None,
              "config": task["config"]}
    if before_write is not None:
        before_write()
    atomic_write_json(task["results"], record)
    return record


def _report(result: dict[str, Any], log: Log) -> None:
    solved = (f"solved in {result['time_to_solve_seconds']}s ({result['time_to_solve_steps']} steps)"
              if result["solved"] else "not solved")
    final = result["final_eval_mean"]
    final_text = "no evaluation" if final is None else f"final eval {final:.1f}"
    log(f"run {result['run']:03d} {result['status']}: {format_params(result['params'])} | {final_text}, {solved}, "
        f"{result['train_seconds']:.1f}s")


# ---- ranking and the summary ------------------------------------------------------------------
def rank_key(result: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key for RANKING: solved first, faster first, then higher final evaluation."""
    final = result.get("final_eval_mean")
    if result.get("solved"):
        return (0, result["time_to_solve_seconds"], result["time_to_solve_steps"], -(final or 0.0))
    return (1, 0.0, 0, -final if final is not None else float("inf"))


def ranked(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(results, key=lambda r: (rank_key(r), r["run"]))


def write_summary(folder: str | Path, spec: SearchSpec, plans: Sequence[RunPlan] | None, study: Any
                  ) -> list[dict[str, Any]]:
    """summary.csv and all_results.json from every result in the study; returns the ranked results."""
    folder = Path(folder)
    results = ranked(list(study_results(study).values()))
    names = [p.name for p in spec.parameters]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*SUMMARY_COLUMNS, *names, *TAIL_COLUMNS])
    for rank, r in enumerate(results, start=1):
        row = {**r, "rank": rank, "run": f"run_{r['run']:03d}"}
        params = [_cell(r["params"].get(n)) for n in names]
        writer.writerow([*(_cell(row.get(c)) for c in SUMMARY_COLUMNS), *params,
                         *(_cell(row.get(c)) for c in TAIL_COLUMNS)])
    atomic_write_text(folder / "summary.csv", buffer.getvalue())
    total = len(plans) if plans is not None else None
    atomic_write_json(folder / "all_results.json", {"name": spec.name, "ranking": RANKING,
                                                   "planned_runs": total, "finished_runs": len(results),
                                                   "runs": results})
    return results


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value
