"""``python -m lab COMMAND``: each command lives in its own module under lab/commands/.

A command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported lazily so ``--help`` stays fast and a
command's heavy imports (pygame, optuna) load only when it runs.

Options are never abbreviated (``--seed`` is not ``--seeds``), and options and
KEY=VALUE overrides may come in any order.

A failure prints one line, ``error: ...``, and no traceback: exit code 2 for bad input
(a file, a value, a folder), 1 when the work itself failed. ``--debug`` anywhere on the
command line, or LAB_DEBUG=1 (true, yes, on), shows the traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Mapping

COMMANDS = ("train", "eval", "watch", "play", "gif", "report", "compare", "bench", "sweep", "tune", "evolve", "lab",
            "presets")
DEBUG_FLAG, DEBUG_ENV = "--debug", "LAB_DEBUG"
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
"""What LAB_DEBUG may say, in any case; unset or empty is off."""
MESSAGE_LIMIT = 1_000
"""Characters of an error line before it is shortened: every allowed-fields list of the config fits whole."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that never abbreviates options; subparsers made from it inherit the class, so
    ``--seed`` cannot silently become ``--seeds`` at any depth."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


class _HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default unless its help already says it, or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m lab", description="Lander Lab: TD3 for LunarLanderContinuous.")
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


def parse_args(parser: argparse.ArgumentParser, argv: list[str],
               namespace: argparse.Namespace | None = None) -> argparse.Namespace:
    """argparse, except that a command's options and positionals may be intermixed.

    ``train --no-progress run.seed=3 --seeds 0-3`` works: argparse alone takes the positionals once and
    calls a later one "unrecognized". A parser with subcommands hands the rest of the line to the chosen
    subcommand's parser, which parses it the same way.
    """
    subcommands = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if subcommands is None:
        try:
            return parser.parse_intermixed_args(argv, namespace)
        except TypeError:  # argparse cannot intermix this parser's positionals (REMAINDER): parse it plainly
            return parser.parse_args(argv, namespace)
    if not argv or argv[0] not in subcommands.choices:  # help, options before the command, or an unknown one
        return parser.parse_args(argv, namespace)
    namespace = argparse.Namespace() if namespace is None else namespace
    defaults = {a.dest: a.default for a in parser._actions if argparse.SUPPRESS not in (a.dest, a.default)}
    for dest, value in {**defaults, **parser._defaults}.items():  # as argparse itself fills them in
        if not hasattr(namespace, dest):
            setattr(namespace, dest, value)
    setattr(namespace, subcommands.dest, argv[0])
    return parse_args(subcommands.choices[argv[0]], argv[1:], namespace)


def debug_from_environment(environ: Mapping[str, str] = os.environ) -> bool:
    """LAB_DEBUG as a switch; a value that is neither on nor off is refused rather than guessed."""
    raw = environ.get(DEBUG_ENV, "")
    word = raw.strip().lower()
    if word in ("", *FALSE_WORDS):
        return False
    if word in TRUE_WORDS:
        return True
    raise ValueError(f"{DEBUG_ENV}={raw!r} is invalid: allowed {', '.join(TRUE_WORDS)} (show tracebacks) or "
                     f"{', '.join(FALSE_WORDS)} (one-line errors), in any case, or unset")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _never_fail_printing()
    try:
        debug = debug_from_environment()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    debug = debug or DEBUG_FLAG in argv
    argv = [a for a in argv if a != DEBUG_FLAG]
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in COMMANDS else None)
    args = parse_args(parser, argv)
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


def _never_fail_printing() -> None:
    """A file name with bytes that are not UTF-8 prints as \\xff instead of ending the command in a codec error."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a closed or unusual stream: leave it as it is
                pass


def is_bad_input(exc: BaseException) -> bool:
    """Errors the user can fix by changing a file, a value or a folder (exit code 2)."""
    return isinstance(exc, (ValueError, OSError, MemoryError)) or _out_of_memory(exc)


def describe_error(exc: BaseException) -> str:
    """One line naming the file or value and what went wrong."""
    from lab.io import quoted, shown

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" while writing {quoted(exc.filename)}" if exc.filename else ""
        return (f"no space left on device{where}; files written before are intact: free some space and run "
                "again (a run resumes from its checkpoint.pt)")
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{quoted(exc.filename)}: {exc.strerror[0].lower()}{exc.strerror[1:]}"
    if isinstance(exc, UnicodeEncodeError) and isinstance(exc.object, str) and "surrogate" in exc.reason:
        around = shown(exc.object[max(0, exc.start - 60):exc.end + 20])  # the name, from Python's lone surrogates
        return (f"a file or folder name that is not UTF-8 text could not be written out (...{around}...): rename "
                "it to UTF-8")
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
    return shorten(" ".join(line.strip() for line in str(exc).splitlines() if line.strip()))


def shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """text, or its first part when longer than limit: cut between list items (or words), never inside one,
    and followed by "..." and how much was left out."""
    if len(text) <= limit:
        return text
    head = text[:limit + 1]
    for separator, unit in ((", ", "more"), (" ", "more words")):
        cut = head.rfind(separator)
        if cut >= limit // 2:
            rest = text[cut + len(separator):]
            return f"{text[:cut]}{separator.rstrip()} ... ({len(rest.split(separator))} {unit})"
    return f"{text[:limit]}... ({len(text) - limit} more characters)"
