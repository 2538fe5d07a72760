"""``python -m lab compare RUN_DIR...``."""

from __future__ import annotations

import argparse
import sys

HELP = "Compare several runs side by side."
DESCRIPTION = ("Print a table of each run's final and best evaluation, steps and time to solve, and outcome mix, "
               "and write an HTML page of overlaid curves (plus a Markdown table beside it). Runs whose config.yaml "
               "differ only in run.seed (and run.out_dir) form a group: the page draws its mean curve with a 95% "
               "bootstrap band, and a second table gives its median and IQM [95% CI] over seeds of steps and "
               "seconds to solve (unsolved seeds counted at the budget) and of the final evaluation mean. A "
               "missing or unreadable run folder is reported and skipped.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lab.analysis.compare import METRICS

    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders to compare")
    parser.add_argument("--metric", action="append", choices=list(METRICS), default=argparse.SUPPRESS,
                        help="curve to overlay; repeat for several (default: eval and return)")
    parser.add_argument("--out", default="compare.html",
                        help="the HTML page to write, or a folder for compare.html (a .md table goes beside it); "
                             "only an earlier comparison is replaced, any other file is refused")
    parser.add_argument("--window", type=int, default=100, help="episodes per moving average")


def run(args: argparse.Namespace) -> int:
    from lab.analysis.compare import compare_runs, comparison_paths, write_comparison
    from lab.io import shown

    if args.window < 1:
        raise ValueError(f"--window={args.window} is invalid: allowed an integer >= 1")
    comparison_paths(args.out)  # refuse a file it may not replace before reading any run
    metrics = getattr(args, "metric", None) or ["eval", "return"]
    comparison = compare_runs(args.run_dirs, metrics=metrics, window=args.window)
    for folder, message in comparison.errors.items():
        print(f"warning: skipped {folder}: {message}", file=sys.stderr)
    for loaded in comparison.runs:
        for problem in loaded.problems:
            print(f"warning: {loaded.where}: {problem}", file=sys.stderr)
    print(comparison.markdown())
    if not comparison.runs:
        print("error: none of the run folders could be read", file=sys.stderr)
        return 2
    html_path, md_path = write_comparison(comparison, args.out, metrics=metrics)
    print(f"wrote {shown(html_path)}")
    print(f"wrote {shown(md_path)}")
    return 1 if comparison.errors else 0
