"""``python -m lab sweep``."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "Grid or random hyperparameter sweeps."
DESCRIPTION = ("Run every configuration of a grid or random sweep file (JSON or YAML; see examples/sweeps/). "
               "The planned runs are queued in an Optuna study (sweep_results/<timestamp>_<name>/optuna.db, or "
               "--storage postgresql://... to share it): run the same command on several machines and each takes "
               "runs from the queue, none twice. Results go to the same folder: sweep_config.json, "
               "run_XXX_results.json per run, summary.csv ranked by time-to-solve then final evaluation mean, and "
               "all_results.json, all read back from the study. Re-running the same command resumes; a run whose "
               "worker died is redone once, from its checkpoint where there is one (--fresh starts over). "
               "--population K trains up to K queued runs that share a network shape as one batched population.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lab.search.storage import DEFAULT_GRACE, DEFAULT_HEARTBEAT

    parser.add_argument("config", metavar="CONFIG", help="sweep file (.yaml, .yml or .json)")
    parser.add_argument("--dry-run", action="store_true", help="print every configuration that would run, then exit")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes on this machine, one torch thread each")
    parser.add_argument("--population", type=int, default=1, metavar="K",
                        help="train up to K queued runs that can share a batched update (same network, batch size, "
                             "buffer, envs; no prioritized replay) as one population in each worker; each run keeps "
                             "its own trial, run folder and results (default 1: every run alone)")
    parser.add_argument("--storage", default=None, metavar="URL",
                        help="Optuna storage URL shared by every worker, e.g. postgresql://user@host/db (default: "
                             "SQLite optuna.db in the results folder)")
    parser.add_argument("--study", default=None, metavar="NAME", help="study name (default: the file's name)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="results folder (default: the latest sweep_results/<timestamp>_<name> of this same "
                             "sweep, or a new one)")
    parser.add_argument("--fresh", action="store_true", help="start a new results folder, even if this sweep has one")
    parser.add_argument("--heartbeat", type=int, default=DEFAULT_HEARTBEAT, metavar="SECONDS",
                        help="how often a worker tells the storage it is alive")
    parser.add_argument("--grace", type=int, default=DEFAULT_GRACE, metavar="SECONDS",
                        help="silence after which a worker's run counts as dead and is queued again (once)")
    parser.add_argument("--dashboard", action="store_true",
                        help="serve optuna-dashboard for the study on 127.0.0.1 and print its address")


def check_heartbeat(args: argparse.Namespace) -> None:
    if args.heartbeat < 1:
        raise ValueError(f"--heartbeat={args.heartbeat} is invalid: allowed an integer >= 1 (seconds)")
    if args.grace <= args.heartbeat:
        raise ValueError(f"--grace={args.grace} is invalid: allowed an integer > --heartbeat ({args.heartbeat})")


def run(args: argparse.Namespace) -> int:
    from lab.search.population_runs import check_population_size
    from lab.search.space import load_spec
    from lab.search.sweep import RANKING, results_folder, run_sweep

    if args.workers < 1:
        raise ValueError(f"--workers={args.workers} is invalid: allowed an integer >= 1")
    check_population_size(args.population)
    check_heartbeat(args)
    if args.storage:
        from lab.search.storage import check_url

        check_url(args.storage)
    spec = load_spec(args.config, kind="sweep")
    if args.dry_run:  # streamed: a large plan is printed run by run, never held whole
        budget = (f"{spec.steps_per_run} steps" if spec.steps_per_run else f"{spec.episodes_per_run} episodes")
        print(f"sweep {spec.name!r}: {spec.type}, {spec.run_count} runs of {budget} each")
        for plan in spec.iter_plans():
            print(plan.label)
        if args.population > 1:
            _print_populations(spec.plans(), args.population)
        return 0
    plans = spec.plans()
    options = {"storage": args.storage, "study_name": args.study, "heartbeat_interval": args.heartbeat,
               "grace": args.grace, "population": args.population}
    folder = results_folder(spec, args.out, fresh=args.fresh)
    print(f"sweep {spec.name!r}: {len(plans)} runs, {args.workers} worker(s), results in {folder}")
    if args.population > 1:
        _print_populations(plans, args.population, each=False)
    if args.dashboard:
        from lab.search.dashboard import serve
        from lab.search.storage import storage_url

        print(f"dashboard: {serve(storage_url(args.storage, folder)).url}")
    results = run_sweep(spec, folder, workers=args.workers, **options)
    print(f"ranked by {RANKING}")
    for rank, r in enumerate(results[:5], start=1):
        final = "n/a" if r["final_eval_mean"] is None else f"{r['final_eval_mean']:.1f}"
        solve = f"{r['time_to_solve_seconds']}s" if r["solved"] else "not solved"
        print(f"  {rank}. run_{r['run']:03d}: {solve}, final eval {final}  {r['params']}")
    print(f"summary: {folder / 'summary.csv'} ({len(results)} of {len(plans)} runs done)")
    failed = [r for r in results if r["status"] == "failed"]
    if len(results) < len(plans):
        print(f"{len(plans) - len(results)} run(s) not done yet: run the same command again to finish them")
    return 1 if failed or len(results) < len(plans) else 0


def _print_populations(plans: list[Any], size: int, each: bool = True) -> None:
    """How --population groups the plan: a count, and with ``each`` every population's runs."""
    from lab.search.population_runs import plan_groups

    groups = sorted(set(plan_groups(plans, size).values()))
    together = [g for g in groups if len(g) > 1]
    print(f"--population {size}: {sum(map(len, together))} runs in {len(together)} population(s), "
          f"{len(groups) - len(together)} run(s) alone")
    if each:
        for group in together:
            print("  population: " + " ".join(f"run_{r:03d}" for r in group))
