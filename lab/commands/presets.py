"""``python -m lab presets``: which preset to start from, and what to expect of it."""

from __future__ import annotations

import argparse

HELP = "List the presets: what each is for and what to expect (from the newest recorded measurement)."
DESCRIPTION = ("One line per preset: what it is for (its docstring's first line) and, from the newest "
               "time-to-solve record of it on the report seeds 0-9 under benchmarks/results/, how many seeds land "
               "within the step cap, with the median env steps and training seconds to a 200-point evaluation. "
               "Train one with `python -m lab train --preset NAME`.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default=None, metavar="DIR",
                        help="folder of results records (default: this checkout's benchmarks/results)")


def run(args: argparse.Namespace) -> int:
    from lab.bench.record import RESULTS_DIR, load_all
    from lab.bench.tables import expectation, provenance, purpose, report_check
    from lab.presets import FIRST_RUN_PRESET, preset_names

    records = load_all(args.results or RESULTS_DIR)
    width = max(len(name) for name in preset_names())
    for name in preset_names():
        record = report_check(records, name)
        start = " (start here)" if name == FIRST_RUN_PRESET else ""
        measured = f" ({provenance(record)})" if record else ""
        text = purpose(name).replace("``", "").replace("`", "")
        print(f"{name:<{width}}  {text}{start} Expect: {expectation(record)}{measured}.")
    return 0
