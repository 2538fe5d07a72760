"""Optuna search: TPE over the search file's ranges and choices, pruning on the evaluations.

Any number of processes (on one machine with the default SQLite file, or on many
with ``--storage postgresql://...``) run the same command and share one study.
Each asks for a trial only while the study holds fewer than ``trials`` trials, and
it counts and asks under a lock (a file lock for SQLite, an advisory lock for
PostgreSQL and MySQL), so together they run exactly ``trials`` trials. A worker
records a heartbeat while its trial runs; a trial whose worker died (SIGKILL, a lost
machine) is failed after the grace period and queued again once, with the same
parameters, and its copy takes its place in the budget.

Trial k samples with seed ``seed + k``: a study is reproducible, and no two
workers draw the same start-up configurations. A study remembers the search that made
it (space_record): a file with another space, base config, budget or metric is refused
before any trial runs, so trials of two searches never mix. A trial stopped by a signal
keeps its checkpoint and is queued again; its copy resumes from that checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.config import ConfigError
from lab.io import atomic_write_json, atomic_write_text
from lab.search.lease import TrialLease
from lab.search.processes import sleep_unless_stopped, stop_requested, terminate_as_interrupt
from lab.search.records import first_difference, normalise, parameter_records
from lab.search.space import Choice, Parameter, Range, SearchSpec, SpecError, format_params, load_spec
from lab.search.storage import (
    DEFAULT_GRACE,
    DEFAULT_HEARTBEAT,
    beat_now,
    driver_url,
    fail_stale,
    open_storage,
    pop_waiting,
    requeue,
    retried_numbers,
    running,
    shown,
    storage_errors,
    storage_url,
    study_lock,
)

__all__ = ["driver_url", "load_tune_spec", "run_tune", "storage_url"]

TUNE_KEYS = ("trials", "pruner", "startup_trials", "metric")
PRUNERS = ("median", "halving", "none")
METRICS = ("final_eval_mean", "best_eval_mean")
RESULTS_ROOT = Path("sweep_results")
SPACE_ATTR = "lander_lab_space"
"""The study's user attribute holding what defines the search (space_record): a changed file is refused."""
PLOTS = {"history": "plot_optimization_history", "importances": "plot_param_importances",
         "parallel_coordinates": "plot_parallel_coordinate"}

Log = Callable[[str], None]


def load_tune_spec(path: str | Path) -> SearchSpec:
    """A search file for tune: ranges and choices (lists count as choices), plus TUNE_KEYS."""
    spec = load_spec(path, kind="tune", extra_keys=TUNE_KEYS)
    check_tune_spec(spec)
    return spec


def check_tune_spec(spec: SearchSpec) -> None:
    extra = spec.extra
    trials = extra.get("trials", 20)
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise SpecError(f"{spec.source}: trials={trials!r} is invalid: allowed an integer >= 1")
    if extra.get("pruner", "median") not in PRUNERS:
        raise SpecError(f"{spec.source}: pruner={extra['pruner']!r} is invalid: allowed {', '.join(PRUNERS)}")
    startup = extra.get("startup_trials", 5)
    if not isinstance(startup, int) or isinstance(startup, bool) or startup < 0:
        raise SpecError(f"{spec.source}: startup_trials={startup!r} is invalid: allowed an integer >= 0")
    if extra.get("metric", "final_eval_mean") not in METRICS:
        raise SpecError(f"{spec.source}: metric={extra['metric']!r} is invalid: allowed {', '.join(METRICS)}")
    if spec.base.run.eval_every <= 0:
        raise SpecError(f"{spec.source}: tune needs evaluations to score and prune trials: set run.eval_every > 0 "
                        "in overrides")


def default_folder(study_name: str) -> Path:
    """Stable (no timestamp), so running the same command again continues the same study."""
    return RESULTS_ROOT / f"tune_{study_name}"


# ---- the study ------------------------------------------------------------------------------------
def open_study(spec: SearchSpec, url: str, study_name: str, heartbeat_interval: int | None = DEFAULT_HEARTBEAT,
               grace: int | None = DEFAULT_GRACE) -> Any:
    """Create the study, or load it when another worker (or an earlier run) already did."""
    import optuna

    storage = open_storage(url, heartbeat_interval, grace)
    startup = spec.extra.get("startup_trials", 5)
    kind = spec.extra.get("pruner", "median")
    if kind == "median":
        pruner: Any = optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=0)
    elif kind == "halving":
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource="auto", reduction_factor=3)
    else:
        pruner = optuna.pruners.NopPruner()
    study = optuna.create_study(study_name=study_name, storage=storage, direction="maximize", pruner=pruner,
                                sampler=_sampler(spec, 0), load_if_exists=True)
    check_same_space(study, spec, url)
    return study


def space_record(spec: SearchSpec) -> dict[str, Any]:
    """What makes two tune files one study: the space, the base config (seed included), the budget, the metric.

    ``trials`` is left out (the budget may grow; --trials overrides it), and so are the pruner and the number
    of start-up trials, which steer the trials to come without changing what earlier ones measured.
    """
    return normalise({"parameters": parameter_records(spec.parameters), "base_config": spec.base.to_dict(),
                      "steps_per_run": spec.steps_per_run, "episodes_per_run": spec.episodes_per_run,
                      "metric": spec.extra.get("metric", "final_eval_mean")})


def check_same_space(study: Any, spec: SearchSpec, url: str) -> None:
    """Refuse a search file that differs from the one the study was made with; record it in a new study.

    A study made before the record existed is accepted when its trials' parameters are among this file's.
    """
    record = space_record(spec)
    stored = study.user_attrs.get(SPACE_ATTR)
    where = f"{spec.source} does not match the search stored in study {study.study_name!r} at {shown(url)}"
    advice = "Restore the file, or use another --study (or --out)"
    if stored is None:
        used = sorted({name for t in study.get_trials(deepcopy=False) for name in t.distributions})
        unknown = [name for name in used if name not in record["parameters"]]
        if unknown:
            raise SpecError(f"{where}: its trials searched {', '.join(used)}, the file has no {unknown[0]!r}. "
                            f"{advice}")
        study.set_user_attr(SPACE_ATTR, record)
        return
    difference = first_difference(stored, record)
    if difference:
        raise SpecError(f"{where}: {difference}. {advice}")


def _sampler(spec: SearchSpec, trial_number: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=spec.seed + trial_number,
                                      n_startup_trials=spec.extra.get("startup_trials", 5))


def ask_within_budget(study: Any, spec: SearchSpec, url: str, trials: int) -> Any | None:
    """The next trial: a queued retry first; else a new one while the study holds fewer than ``trials``.

    Trials in any state count, except those that died and were queued again (their copy counts instead).
    """
    with study_lock(url, study.study_name):
        fail_stale(study)
        trial = pop_waiting(study)
        if trial is not None:
            return trial
        number = len(study.get_trials(deepcopy=False))
        if number - len(retried_numbers(study)) >= trials:
            return None
        study.sampler = _sampler(spec, number)
        with warnings.catch_warnings():  # ask/tell with heartbeats is what we do on purpose (lab.search.lease)
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
            trial = study.ask()
        beat_now(study, trial._trial_id)  # as pop_waiting does: a kill before the thread's first beat stays stale-able
        return trial


def suggest(trial: Any, parameters: tuple[Parameter, ...]) -> dict[str, Any]:
    """Parameter values for this trial, by name as written in the search file."""
    values = {}
    for p in parameters:
        d = p.domain
        if isinstance(d, Range) and d.scale == "int":
            values[p.name] = trial.suggest_int(p.name, int(d.low), int(d.high))
        elif isinstance(d, Range):
            values[p.name] = trial.suggest_float(p.name, d.low, d.high, log=d.scale == "log")
        else:
            assert isinstance(d, Choice)  # tune reads grid lists as choices (parse_spec, kind="tune")
            values[p.name] = _decode(trial.suggest_categorical(p.name, [_encode(c) for c in d.choices]))
    return values


def _encode(value: Any) -> Any:
    """Optuna's categoricals hold None, bool, int, float or str; lists (layer widths) go as JSON."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


# ---- running ------------------------------------------------------------------------------------
def run_tune(spec: SearchSpec, trials: int | None = None, storage: str | None = None, study_name: str | None = None,
             folder: str | Path | None = None, log: Log = print, heartbeat_interval: int | None = DEFAULT_HEARTBEAT,
             grace: int | None = DEFAULT_GRACE) -> dict[str, Any]:
    """Run trials until the shared study holds ``trials``; then write best.yaml, best_params.json and plots.

    A worker with nothing left to start waits while trials run elsewhere, so a dead worker's trial is redone.
    """
    study_name = study_name or spec.name
    folder = Path(folder) if folder is not None else default_folder(study_name)
    folder.mkdir(parents=True, exist_ok=True)
    url = storage_url(storage, folder)
    total = trials if trials is not None else spec.extra.get("trials", 20)
    with storage_errors(url), terminate_as_interrupt():
        with study_lock(url, study_name):  # creating the schema and the study concurrently races inside Optuna
            study = open_study(spec, url, study_name, heartbeat_interval, grace)
        ran, waiting_said = 0, False
        while True:
            trial = ask_within_budget(study, spec, url, total)
            if trial is None:
                if not running(study):
                    break
                if not waiting_said:
                    log(f"waiting for {running(study)} trial(s) in progress on other workers")
                    waiting_said = True
                sleep_unless_stopped(heartbeat_interval or 5)
                continue
            ran, waiting_said = ran + 1, False
            _run_and_tell(study, trial, spec, folder, log)
            if stop_requested():  # SIGTERM or Ctrl-C between trials
                raise KeyboardInterrupt
        log(f"this worker ran {ran} trial(s); the study holds {len(study.trials)}")
        return finish(study, spec, folder, log)


def _run_and_tell(study: Any, trial: Any, spec: SearchSpec, folder: Path, log: Log) -> None:
    """Suggest, train, and tell the study how it went: complete, pruned or failed (never left running)."""
    import optuna
    from optuna.trial import TrialState

    metric = spec.extra.get("metric", "final_eval_mean")
    try:
        with TrialLease(study, [trial], [f"trial {trial.number:04d}"]) as lease:
            params = suggest(trial, spec.parameters)
            trial.set_user_attr("host", socket.gethostname())
            trial.set_user_attr("pid", os.getpid())
            config = spec.config_for(params)
            result = _run_trial(trial, config, spec, folder, before_write=lease.check)
    except ConfigError as exc:  # a combination the config refuses, e.g. batch_size > buffer_size
        study.tell(trial, state=TrialState.FAIL)
        log(f"trial {trial.number:04d} invalid: {exc}")
        return
    except KeyboardInterrupt:
        requeue(study, trial)  # a trial left RUNNING would hold its budget slot; its copy runs next time
        log(f"trial {trial.number:04d} interrupted: queued again with the same parameters")
        raise
    state, value = _outcome(result, metric)
    try:
        for key in ("status", "solved", "time_to_solve_seconds", "final_eval_mean", "best_eval_mean",
                    "train_seconds", "run_dir", "evaluations"):
            trial.set_user_attr(key, result[key])
        study.tell(trial, value, state=state)
    except optuna.exceptions.UpdateFinishedTrialError:  # our heartbeat was late: another worker redoes the trial
        log(f"trial {trial.number:04d} was failed as stale meanwhile; raise --grace")
        return
    last = result["final_eval_mean"]
    shown = f"{metric} {value:.1f}" if value is not None else f"last eval {'n/a' if last is None else last}"
    log(f"trial {trial.number:04d} {result['status']}: {format_params(params)} | {shown}")


def _run_trial(trial: Any, config: Any, spec: SearchSpec, folder: Path,
               before_write: Callable[[], None] | None = None) -> dict[str, Any]:
    """Train the trial (from a dead or interrupted attempt's checkpoint when there is one); save its results file.

    before_write: called just before the results file is written (a TrialLease's check).
    """
    from lab.search.runner import run_configuration

    def report(event: Any) -> bool:
        trial.report(event.mean_return, step=event.env_step)
        return trial.should_prune()

    run_dir = folder / "trials" / f"trial_{trial.number:04d}"
    if run_dir.exists():  # left by an earlier study of the same name in this folder
        shutil.rmtree(run_dir)
    resume = _take_over_checkpoint(trial, folder, run_dir)
    result = run_configuration(config, run_dir, episodes=spec.episodes_per_run, on_evaluation=report, resume=resume)
    if before_write is not None:
        before_write()
    atomic_write_json(folder / f"trial_{trial.number:04d}_results.json",
                      {"trial": trial.number, "params": trial.params, **result, "config": config.to_dict(),
                       "resumed_from": str(resume) if resume else None})
    return result


def _take_over_checkpoint(trial: Any, folder: Path, run_dir: Path) -> Path | None:
    """A retried or requeued trial continues from the dead attempt's checkpoint when this machine has it."""
    attrs = trial.study._storage.get_trial(trial._trial_id).system_attrs
    origin = attrs.get("requeued_from", (attrs.get("retry_history") or [None])[-1])
    if origin is None:
        return None
    old = folder / "trials" / f"trial_{origin:04d}"
    if not (old / "checkpoint.pt").is_file():
        return None
    old.rename(run_dir)
    return run_dir / "checkpoint.pt"


def _outcome(result: dict[str, Any], metric: str) -> tuple[Any, float | None]:
    from optuna.trial import TrialState

    if result["status"] == "pruned":
        return TrialState.PRUNED, None
    value = result.get(metric)
    if result["status"] == "failed" or value is None:
        return TrialState.FAIL, None
    return TrialState.COMPLETE, float(value)


# ---- after the search -----------------------------------------------------------------------------
def finish(study: Any, spec: SearchSpec, folder: Path, log: Log = print) -> dict[str, Any]:
    """Print and export the best trial, and write the plots; safe to call from every worker."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    summary: dict[str, Any] = {"study": study.study_name, "trials": len(study.trials), "complete": len(complete),
                               "folder": str(folder)}
    if not complete:
        log("no trial completed: nothing to export")
        return summary
    best = study.best_trial
    params = {name: _decode(value) for name, value in best.params.items()}
    config = spec.config_for(params)
    header = (f"# Best of Optuna study {study.study_name!r}: trial {best.number}, value {best.value:.2f}\n"
              f"# {format_params(params)}\n# Train it: python -m lab train --config {folder / 'best.yaml'}\n")
    atomic_write_text(folder / "best.yaml", header + config.to_yaml())
    atomic_write_json(folder / "best_params.json", {"trial": best.number, "value": best.value, "params": params,
                                                    "user_attrs": best.user_attrs})
    summary.update(best_trial=best.number, best_value=best.value, best_params=params,
                   best_config=str(folder / "best.yaml"), plots=write_plots(study, folder, log))
    log(f"best trial {best.number}: value {best.value:.2f} with {format_params(params)}")
    log(f"best config: {folder / 'best.yaml'} (python -m lab train --config {folder / 'best.yaml'})")
    return summary


def write_plots(study: Any, folder: Path, log: Log = print) -> list[str]:
    """Optuna's history, importances and parallel-coordinates plots as HTML sharing one plotly.min.js."""
    import optuna.visualization as vis
    from plotly.offline import get_plotlyjs

    written = []
    for name, function in PLOTS.items():
        try:
            figure = getattr(vis, function)(study)
        except (ValueError, RuntimeError) as exc:  # e.g. importances need two finished trials
            log(f"plot {name} skipped: {exc}")
            continue
        path = folder / f"{name}.html"
        atomic_write_text(path, figure.to_html(include_plotlyjs="plotly.min.js", full_html=True))
        written.append(str(path))
    if written and not (folder / "plotly.min.js").exists():
        atomic_write_text(folder / "plotly.min.js", get_plotlyjs())
    return written
