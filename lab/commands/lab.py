"""``python -m lab lab``: open JupyterLab at the quickstart notebook."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

HELP = "Open JupyterLab at the quickstart notebook."
ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = Path("notebooks") / "01_quickstart.ipynb"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=None, help="port to serve on (default: JupyterLab's, 8888 "
                                                               "or the next free one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on; keep it on loopback unless "
                                                          "you know why not")
    parser.add_argument("--notebook", default=str(QUICKSTART), help="notebook to open, relative to the repo root")


def build_command(args: argparse.Namespace) -> list[str]:
    """The JupyterLab command line, run from the repository root."""
    notebook = Path(args.notebook)
    if not (ROOT / notebook).is_file():
        raise FileNotFoundError(f"notebook {str(notebook)!r} does not exist under {ROOT}")
    # root_dir keeps the whole repo browsable; without it JupyterLab serves only the notebook's folder
    check_address(args.ip)
    command = [sys.executable, "-m", "jupyterlab", notebook.as_posix(), f"--ServerApp.root_dir={ROOT}",
               f"--ServerApp.ip={args.ip}"]
    if args.port is not None:
        if not 1 <= args.port <= 65535:
            raise ValueError(f"--port={args.port} is invalid: allowed an integer in [1, 65535]")
        command.append(f"--ServerApp.port={args.port}")
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI often run as root; JupyterLab refuses it by default
    return command


def check_address(ip: str) -> None:
    """Refuse an address JupyterLab could not listen on, before it starts: its own refusal is a traceback.

    The address must resolve and this machine must be able to bind it (a probe on a free port).
    """
    allowed = "allowed an address of this machine, e.g. 127.0.0.1 (loopback, the default) or 0.0.0.0 (every " \
              "interface: only on a trusted network)"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(ip or None, 0, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(f"--ip {ip!r} is invalid: not an address or a known host name ({reason}); {allowed}") from exc
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.bind(address)
    except OSError as exc:
        raise ValueError(f"--ip {ip!r} is invalid: this machine cannot listen on it ({exc.strerror or exc}); "
                         f"{allowed}") from exc


def run(args: argparse.Namespace) -> int:
    command = build_command(args)
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        print("error: JupyterLab is not installed; run: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    if os.name == "posix":
        os.execv(command[0], command)  # JupyterLab takes over this process: Ctrl-C stops it directly
    return subprocess.call(command)  # pragma: no cover - Windows has no real exec
