"""``python -m lab tune``."""

from __future__ import annotations

import argparse

HELP = "Optuna hyperparameter search (SQLite or a shared database)."
DESCRIPTION = ("TPE search over a search file's ranges and choices (see examples/tune.yaml), pruning trials that "
               "trail at an evaluation. The study lives in sweep_results/tune_<study>/optuna.db unless --storage "
               "names a database: run the same command on several machines with --storage postgresql://... and "
               "they share one study and run --trials trials in total. Afterwards the best parameters are printed "
               "and exported as best.yaml (python -m lab train --config best.yaml), with HTML plots. A trial "
               "whose worker died (no heartbeat for --grace seconds) is run again once with the same parameters.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lab.search.storage import DEFAULT_GRACE, DEFAULT_HEARTBEAT

    parser.add_argument("config", metavar="CONFIG", help="search file (.yaml, .yml or .json)")
    parser.add_argument("--trials", type=int, default=None,
                        help="total trials in the study, over all workers (default: the file's trials, or 20)")
    parser.add_argument("--storage", default=None, metavar="URL",
                        help="Optuna RDB storage URL, e.g. postgresql://user@host/db (default: SQLite in the "
                             "results folder)")
    parser.add_argument("--study", default=None, metavar="NAME", help="study name (default: the file's name)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="results folder (default: sweep_results/tune_<study>)")
    parser.add_argument("--heartbeat", type=int, default=DEFAULT_HEARTBEAT, metavar="SECONDS",
                        help="how often a worker tells the storage it is alive")
    parser.add_argument("--grace", type=int, default=DEFAULT_GRACE, metavar="SECONDS",
                        help="silence after which a worker's trial counts as dead and is queued again (once)")
    parser.add_argument("--dashboard", action="store_true",
                        help="serve optuna-dashboard for the study on 127.0.0.1 and print its address")


def run(args: argparse.Namespace) -> int:
    from lab.commands.sweep import check_heartbeat
    from lab.search.tune import default_folder, load_tune_spec, run_tune

    if args.trials is not None and args.trials < 1:
        raise ValueError(f"--trials={args.trials} is invalid: allowed an integer >= 1")
    check_heartbeat(args)
    spec = load_tune_spec(args.config)
    if args.dashboard:
        from pathlib import Path

        from lab.search.dashboard import serve
        from lab.search.storage import storage_url

        folder = Path(args.out) if args.out else default_folder(args.study or spec.name)
        print(f"dashboard: {serve(storage_url(args.storage, folder)).url}")
    summary = run_tune(spec, trials=args.trials, storage=args.storage, study_name=args.study, folder=args.out,
                       heartbeat_interval=args.heartbeat, grace=args.grace)
    if "best_params" in summary:
        print("best parameters:")
        for name, value in summary["best_params"].items():
            print(f"  {name}: {value}")
        for path in summary["plots"]:
            print(f"plot: {path}")
    return 0
