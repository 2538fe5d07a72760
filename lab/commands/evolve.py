"""``python -m lab evolve``."""

from __future__ import annotations

import argparse
import sys

from lab.commands.arguments import int_in

HELP = "Population-based training."
DESCRIPTION = ("Population-based training (see examples/evolve.yaml): N TD3 agents train at once as one batched "
               "population (both cores, one stacked update), each with its own replay buffer unless the file says "
               "shared_replay: true. Every generation_steps env steps (all agents together) all are evaluated; "
               "tournament selection with elitism copies winners into losers (weights, targets, optimizer state, "
               "noise) and mutates their learning rates, noise and policy delay within bounds. Writes "
               "lineage.json, the population after each generation as checkpoints/generation_NNNN.pt (lab eval "
               "... --agent K) and the elite agent as elite/policy.pt (watch, gif and eval accept it) and "
               "elite/config.yaml. Ctrl-C, SIGTERM or SIGHUP stop it (exit code 128 + the signal number); the "
               "folder then holds the last finished generation, and running the same command again resumes "
               "from it (a different evolve file into that folder is refused). On a finished evolve, more "
               "--generations continue it.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", help="PBT file (.yaml, .yml or .json)")
    parser.add_argument("--out", default=None, metavar="DIR", help="results folder (default: the latest "
                        "sweep_results/<timestamp>_<name> of this same evolve, to resume it, or a new one)")
    parser.add_argument("--fresh", action="store_true", help="start a new results folder, even if this evolve has one")
    parser.add_argument("--generations", type=int_in(1, 1_000_000), default=None,
                        help="override the file's generations (more than a finished evolve ran continue it)")
    parser.add_argument("--population", action="store_true",
                        help="accepted for older scripts; changes nothing (the agents always train as one "
                             "population)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from lab.search.evolve import check_evolve_spec, load_evolve_spec, run_evolve
    from lab.search.evolve_folder import default_folder
    from lab.signals import exit_code, signals_as_interrupt

    spec = load_evolve_spec(args.config)
    if args.generations is not None:
        spec = replace(spec, extra={**spec.extra, "generations": args.generations})
        check_evolve_spec(spec)
    if args.out is not None and args.fresh:
        raise ValueError("--fresh starts a new default folder: drop it, or drop --out")
    folder = args.out or default_folder(spec, fresh=args.fresh)
    try:
        with signals_as_interrupt():
            result = run_evolve(spec, folder)
    except KeyboardInterrupt as exc:
        print(f"evolve {str(exc) or 'interrupted'}: {folder} holds the last finished generation (lineage.json, "
              "elite/); run the same command again to resume", file=sys.stderr)
        return exit_code(exc)
    print(f"results: {result['folder']}")
    return 0
