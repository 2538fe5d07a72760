"""``python -m lab report RUN_DIR``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab.commands.arguments import int_in

HELP = "Write an HTML and Markdown report of a run."
DESCRIPTION = ("Write RUN_DIR/report.html (self-contained, readable offline: learning curve, success rate, how "
               "episodes ended over training, top behaviors, losses and Q, evaluations, hyperparameter changes) "
               "and RUN_DIR/report.md (the text summary and tables), plus learning.gif when the run kept "
               "evaluation clips. Running it again replaces these; a file of the same name that an earlier report "
               "did not write is refused, never overwritten.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `python -m lab train`")
    parser.add_argument("--out", default=None, metavar="DIR", help="folder for report.html and report.md "
                                                                   "(default: RUN_DIR)")
    parser.add_argument("--window", type=int_in(1, 1_000_000), default=100,
                        help="episodes per window for moving averages and outcome shares")
    parser.add_argument("--quiet", action="store_true", help="print only the paths written")


def run(args: argparse.Namespace) -> int:
    from lab.analysis.report import check_report_folder, narrative, save_report
    from lab.analysis.run_data import load_run
    from lab.io import shown

    check_report_folder(Path(args.out if args.out is not None else args.run_dir))  # refuse before any work
    run_data = load_run(args.run_dir, window=args.window)
    html_path, md_path = save_report(run_data, args.out)
    for problem in run_data.problems:
        print(f"warning: {run_data.where}: {problem}", file=sys.stderr)
    if not args.quiet:
        for line in narrative(run_data):
            print(f"- {line}")
    print(f"wrote {shown(html_path)}")
    print(f"wrote {shown(md_path)}")
    return 0
