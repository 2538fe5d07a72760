"""``python -m lab COMMAND``: each command lives in its own module under lab/commands/.

A command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported lazily so ``--help`` stays fast and a
command's heavy imports (pygame, optuna) load only when it runs.

A failure prints one line, ``error: ...``, and no traceback: exit code 2 for bad input
(a file, a value, a folder), 1 when the work itself failed. ``--debug`` anywhere on the
command line, or LAB_DEBUG=1, shows the traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

COMMANDS = ("train", "eval", "watch", "play", "gif", "report", "compare", "bench", "sweep", "tune", "evolve", "lab",
            "presets")
DEBUG_FLAG, DEBUG_ENV = "--debug", "LAB_DEBUG"


class _HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default unless its help already says it, or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description="Lander Lab: TD3 for LunarLanderContinuous.")
    parser.add_argument(DEBUG_FLAG, action="store_true",
                        help=f"show the full traceback of an error (anywhere on the line; or set {DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _module(name)
        if module is None:
            continue
        p = sub.add_parser(name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
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
    debug = DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")
    argv = [a for a in argv if a != DEBUG_FLAG]
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt as exc:
        from lab.signals import exit_code

        print(f"interrupted{': ' + str(exc) if str(exc) else ''}", file=sys.stderr)
        return exit_code(exc)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line unless debugging
        if debug:
            raise
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return 2 if is_bad_input(exc) else 1


def is_bad_input(exc: BaseException) -> bool:
    """Errors the user can fix by changing a file, a value or a folder (exit code 2)."""
    return isinstance(exc, (ValueError, OSError, MemoryError)) or _out_of_memory(exc)


def describe_error(exc: BaseException) -> str:
    """One line naming the file or value and what went wrong."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" while writing {exc.filename!r}" if exc.filename else ""
        return (f"no space left on device{where}; files written before are intact: free some space and run "
                "again (a run resumes from its checkpoint.pt)")
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename!r}: {exc.strerror[0].lower()}{exc.strerror[1:]}"
    if isinstance(exc, MemoryError) or _out_of_memory(exc):
        return (f"out of memory{': ' + _one_line(exc) if str(exc) else ''}; choose smaller network sizes, "
                "batch size or replay buffer")
    text = _one_line(exc)
    if isinstance(exc, (ValueError, OSError)) or type(exc).__module__.startswith("lab."):
        return text or type(exc).__name__  # a failure the lab itself describes (divergence, say)
    hint = f"{DEBUG_FLAG} or {DEBUG_ENV}=1 shows the traceback"
    return f"{type(exc).__name__}: {text} ({hint})" if text else f"{type(exc).__name__} ({hint})"


def _out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " ".join(lines)
    return text if len(text) <= 400 else text[:397] + "..."
