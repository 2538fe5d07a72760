"""``python -m lab COMMAND``: each command lives in its own module under lab/commands/.

A command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported lazily so ``--help`` stays fast and a
command's heavy imports (pygame, optuna) load only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from lab.config import ConfigError

COMMANDS: dict[str, str] = {
    "train": "Train a TD3 agent and write a run folder.",
    "eval": "Evaluate a checkpoint or policy deterministically on fixed seeds.",
    "watch": "Watch an agent land in a pygame window with a telemetry HUD.",
    "play": "Fly the lander yourself with the keyboard.",
    "gif": "Export evaluation episodes as looping GIFs (or MP4).",
    "report": "Write an HTML and Markdown report of a run.",
    "compare": "Compare several runs side by side.",
    "bench": "Benchmarks: time-to-solve and throughput.",
    "sweep": "Grid or random hyperparameter sweeps.",
    "tune": "Optuna hyperparameter search (SQLite or a shared database).",
    "evolve": "Population-based training.",
    "lab": "Open JupyterLab at the quickstart notebook.",
}


class _HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default unless its help already says it, or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description="Lander Lab: TD3 for LunarLanderContinuous.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        module = _module(name)
        if module is None:
            continue
        p = sub.add_parser(name, help=help_text, description=getattr(module, "DESCRIPTION", help_text),
                           formatter_class=_HelpFormatter)
        if only is None or only == name:
            module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def _module(name: str):  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module(f"lab.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"lab.commands.{name}":
            return None
        raise


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except (ConfigError, FileNotFoundError, PermissionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
