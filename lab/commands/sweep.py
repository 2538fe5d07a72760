"""``python -m lab sweep``."""

from __future__ import annotations

import argparse

HELP = "Grid or random hyperparameter sweeps."
DESCRIPTION = ("Run every configuration of a grid or random sweep file (JSON or YAML; see examples/sweeps/). "
               "Results go to sweep_results/<timestamp>_<name>/: sweep_config.json, run_XXX_results.json per run, "
               "summary.csv ranked by time-to-solve then final evaluation mean, and all_results.json. Re-running "
               "the same command resumes the latest folder of that same sweep: finished runs are skipped, a "
               "run killed midway is redone (--fresh starts over in a new folder).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", help="sweep file (.yaml, .yml or .json)")
    parser.add_argument("--dry-run", action="store_true", help="print every configuration that would run, then exit")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes (one torch thread each)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="results folder (default: the latest sweep_results/<timestamp>_<name> of this same "
                             "sweep, or a new one)")
    parser.add_argument("--fresh", action="store_true", help="start a new results folder, even if this sweep has one")


def run(args: argparse.Namespace) -> int:
    from lab.search.space import load_spec
    from lab.search.sweep import RANKING, results_folder, run_sweep

    if args.workers < 1:
        raise ValueError(f"--workers={args.workers} is invalid: allowed an integer >= 1")
    spec = load_spec(args.config, kind="sweep")
    plans = spec.plans()
    if args.dry_run:
        budget = (f"{spec.steps_per_run} steps" if spec.steps_per_run else f"{spec.episodes_per_run} episodes")
        print(f"sweep {spec.name!r}: {spec.type}, {len(plans)} runs of {budget} each")
        for plan in plans:
            print(plan.label)
        return 0
    folder = results_folder(spec, args.out, fresh=args.fresh)
    print(f"sweep {spec.name!r}: {len(plans)} runs, {args.workers} worker(s), results in {folder}")
    results = run_sweep(spec, folder, workers=args.workers)
    print(f"ranked by {RANKING}")
    for rank, r in enumerate(results[:5], start=1):
        final = "n/a" if r["final_eval_mean"] is None else f"{r['final_eval_mean']:.1f}"
        solve = f"{r['time_to_solve_seconds']}s" if r["solved"] else "not solved"
        print(f"  {rank}. run_{r['run']:03d}: {solve}, final eval {final}  {r['params']}")
    print(f"summary: {folder / 'summary.csv'}")
    failed = [r for r in results if r["status"] == "failed"]
    return 1 if failed else 0
