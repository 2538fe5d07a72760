"""``python -m lab evolve``."""

from __future__ import annotations

import argparse
import sys

from lab.commands.arguments import int_in

HELP = "Population-based training."
DESCRIPTION = ("Population-based training (see examples/evolve.yaml): N TD3 agents share one replay buffer; every "
               "generation_steps env steps all are evaluated, tournament selection with elitism copies winners "
               "into losers and mutates their learning rates, batch size, noise and policy delay within bounds. "
               "Writes lineage.json and the elite agent as elite/policy.pt (watch, gif and eval accept it), "
               "elite/agent.pt and elite/config.yaml. Ctrl-C, SIGTERM or SIGHUP stop it between steps; the files "
               "then hold the last finished generation (exit code 128 + the signal number). With --population "
               "the agents train at once as one batched population (both cores, one stacked update), each with "
               "its own replay buffer unless the file says shared_replay: true; batch_size cannot evolve there "
               "(the agents share one batch), and a config a population refuses (use_per, crossq, ...) trains "
               "one agent after another as without the flag, saying so.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", help="PBT file (.yaml, .yml or .json)")
    parser.add_argument("--out", default=None, metavar="DIR", help="results folder "
                        "(default: sweep_results/<timestamp>_<name>)")
    parser.add_argument("--generations", type=int_in(1, 1_000_000), default=None,
                        help="override the file's generations")
    parser.add_argument("--population", action="store_true",
                        help="train the agents at once as one batched population (default: one after another, "
                             "sharing one replay buffer)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from lab.search.evolve import check_evolve_spec, default_folder, load_evolve_spec, run_evolve
    from lab.signals import exit_code, signals_as_interrupt

    spec = load_evolve_spec(args.config)
    if args.generations is not None:
        spec = replace(spec, extra={**spec.extra, "generations": args.generations})
        check_evolve_spec(spec)
    folder = args.out or default_folder(spec)
    try:
        with signals_as_interrupt():
            result = run_evolve(spec, folder, population=args.population)
    except KeyboardInterrupt as exc:
        print(f"evolve {str(exc) or 'interrupted'}: {folder} holds the last finished generation "
              "(lineage.json, elite/)", file=sys.stderr)
        return exit_code(exc)
    print(f"results: {result['folder']}")
    return 0
