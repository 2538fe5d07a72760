"""Grid and random sweeps: a results folder that survives kills, and worker processes.

Layout of ``sweep_results/<timestamp>_<name>/``::

    sweep_config.json       the search file, the base config and every planned run
    runs/run_003/           an ordinary run folder per configuration
    run_003_results.json    written atomically when run 003 ends: it is done
    summary.csv             every finished run, ranked (see RANKING)
    all_results.json        the same, with evaluation curves and full configs

Resuming is by those result files: a run with one is skipped; a run without one
(never started, or killed midway) is started again from scratch in a clean folder.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import multiprocessing
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from lab.io import atomic_write_json, atomic_write_text
from lab.search.space import RunPlan, SearchSpec, SpecError, format_params

RESULTS_ROOT = Path("sweep_results")
RANKING = ("time-to-solve: solved runs first, by training seconds until the evaluation mean first reached "
           "env.success_threshold (ties by env steps); then by final evaluation mean, highest first")
SUMMARY_COLUMNS = ("rank", "run", "status", "solved", "time_to_solve_seconds", "time_to_solve_steps",
                   "final_eval_mean", "best_eval_mean", "final_success_rate")
TAIL_COLUMNS = ("env_step", "episodes", "train_seconds", "steps_per_second", "run_dir")

Log = Callable[[str], None]


# ---- the results folder -------------------------------------------------------------------------
def plan_record(spec: SearchSpec, plans: list[RunPlan]) -> dict[str, Any]:
    """What sweep_config.json holds; two sweeps are the same sweep when these match."""
    return {"name": spec.name, "type": spec.type, "source": spec.source, "spec": spec.raw,
            "base_config": spec.base.to_dict(),
            "runs": [{"run": p.index, "params": p.params} for p in plans], "ranking": RANKING}


def results_folder(spec: SearchSpec, out: str | Path | None = None, root: str | Path = RESULTS_ROOT,
                   fresh: bool = False) -> Path:
    """``out`` when given; else the latest folder of this same sweep under root (to resume); else a new one."""
    if out is not None:
        return Path(out)
    root = Path(root)
    if not fresh:
        record = _normalise(plan_record(spec, spec.plans()))
        for folder in sorted(root.glob(f"*_{spec.name}"), reverse=True):
            saved = folder / "sweep_config.json"
            if saved.is_file() and _same_sweep(json.loads(saved.read_text()), record):
                return folder
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder, k = root / f"{stamp}_{spec.name}", 1
    while folder.exists():
        k += 1
        folder = root / f"{stamp}-{k}_{spec.name}"
    return folder


def prepare_folder(spec: SearchSpec, folder: Path, plans: list[RunPlan]) -> None:
    """Write sweep_config.json, or check that the folder holds this very sweep."""
    record = _normalise(plan_record(spec, plans))
    saved_path = folder / "sweep_config.json"
    if saved_path.is_file():
        saved = json.loads(saved_path.read_text())
        if not _same_sweep(saved, record):
            raise SpecError(f"{folder} holds a different sweep ({saved.get('name')!r}, other runs or base config); "
                            "choose another --out, or delete that folder to start over")
        return
    atomic_write_json(saved_path, record)


def _same_sweep(saved: dict[str, Any], record: dict[str, Any]) -> bool:
    return saved.get("runs") == record["runs"] and saved.get("base_config") == record["base_config"]


def _normalise(data: Any) -> Any:
    """A JSON round trip, so tuples and lists compare equal to what was saved."""
    return json.loads(json.dumps(data))


def result_path(folder: Path, index: int) -> Path:
    return folder / f"run_{index:03d}_results.json"


def _finished(folder: Path) -> dict[int, dict[str, Any]]:
    results = {}
    for path in folder.glob("run_*_results.json"):
        data = json.loads(path.read_text())
        results[int(data["run"])] = data
    return results


# ---- running ------------------------------------------------------------------------------------
def run_sweep(spec: SearchSpec, folder: str | Path, workers: int = 1, log: Log = print) -> list[dict[str, Any]]:
    """Run every unfinished configuration, then write the summary; returns all results, ranked."""
    folder = Path(folder)
    plans = spec.plans()
    prepare_folder(spec, folder, plans)
    with _exclusive(folder):
        return _run_pending(spec, folder, plans, workers, log)


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """One sweep process per folder; the OS drops the lock when that process dies, however it dies."""
    with open(folder / ".sweep.lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpecError(f"{folder} is in use by another sweep process; wait for it, or choose another "
                            "--out") from None
        yield


def _run_pending(spec: SearchSpec, folder: Path, plans: list[RunPlan], workers: int, log: Log) -> list[dict[str, Any]]:
    done = _finished(folder)
    pending = [p for p in plans if p.index not in done]
    if done:
        log(f"resuming {folder}: {len(done)} of {len(plans)} runs already finished")
    parallel = workers > 1 and len(pending) > 1
    tasks = [_task(spec, folder, p, pinned=parallel) for p in pending]
    if not parallel:
        for task in tasks:
            _report(run_task(task), log)
            write_summary(folder, spec, plans)
    else:
        context = multiprocessing.get_context("spawn")
        with context.Pool(min(workers, len(tasks)), initializer=pin_threads) as pool:
            for result in pool.imap_unordered(run_task, tasks):
                _report(result, log)
                write_summary(folder, spec, plans)
    return write_summary(folder, spec, plans)


def _task(spec: SearchSpec, folder: Path, plan: RunPlan, pinned: bool) -> dict[str, Any]:
    """Everything a worker needs, as plain data; a worker process gets one torch thread (run.torch_threads=1)."""
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


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Run one planned configuration from a clean folder and write its results file atomically."""
    from lab.config import Config
    from lab.search.runner import run_configuration

    run_dir = Path(task["run_dir"])
    if run_dir.exists():  # a run killed midway: start it again from nothing
        shutil.rmtree(run_dir)
    result = run_configuration(Config.from_dict(task["config"]), run_dir, episodes=task["episodes"])
    record = {"run": task["run"], "params": task["params"], **result, "config": task["config"]}
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


def write_summary(folder: str | Path, spec: SearchSpec, plans: list[RunPlan] | None = None) -> list[dict[str, Any]]:
    """summary.csv and all_results.json from every results file in the folder; returns the ranked results."""
    folder = Path(folder)
    results = ranked(list(_finished(folder).values()))
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
