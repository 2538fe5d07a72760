"""Worker processes that stop with their parent, and SIGTERM treated like Ctrl-C.

A local stand-in for the shared signal handling (lab/signals.py) until it lands:
``terminate_as_interrupt`` makes SIGTERM and SIGHUP raise KeyboardInterrupt in the
main thread, so a search stops the way Ctrl-C stops it (the run checkpoints, its
trial goes back to the queue). ``die_with_parent`` asks Linux to send SIGTERM to
a worker when the process that started it dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                     if s)
_stop = threading.Event()


def stop_requested() -> bool:
    """True once a stop signal arrived in a terminate_as_interrupt block, even if its KeyboardInterrupt was lost.

    Python drops an exception raised while a weakref callback or a finaliser runs ("Exception ignored in"),
    so loops and runs check this flag as well.
    """
    return _stop.is_set()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    _stop.set()
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within this block SIGINT/SIGTERM/SIGHUP raise KeyboardInterrupt and set stop_requested (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _stop.clear()
    previous = {s: signal.signal(s, _interrupt) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask the kernel for SIGTERM when our parent dies (Linux); exit at once if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:  # it died before prctl took effect
        os._exit(143)
