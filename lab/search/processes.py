"""Worker processes that stop with their parent, and SIGTERM treated like Ctrl-C.

A local stand-in for the shared signal handling (lab/signals.py) until it lands:
inside ``terminate_as_interrupt`` SIGINT, SIGTERM and SIGHUP only set a flag
(``stop_requested``). The run checks it at every episode end and stops with a
checkpoint, and the search loops check it between runs and raise KeyboardInterrupt
there, so the run goes back to the queue. A flag rather than an exception raised
from the handler, because Python drops an exception raised while a weakref callback
or a finaliser runs ("Exception ignored in"), and a worker would then train on.
``die_with_parent`` asks Linux to send SIGTERM to a worker when the process that
started it dies, even by SIGKILL.
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
    """True once a stop signal arrived inside a terminate_as_interrupt block."""
    return _stop.is_set()


def sleep_unless_stopped(seconds: float) -> None:
    """Sleep, but wake at once when a stop signal arrives; then raise KeyboardInterrupt."""
    if _stop.wait(seconds):
        raise KeyboardInterrupt("stop requested")


def _request_stop(signum: int, frame: FrameType | None) -> None:
    _stop.set()


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within this block SIGINT/SIGTERM/SIGHUP set stop_requested (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _stop.clear()
    previous = {s: signal.signal(s, _request_stop) for s in STOP_SIGNALS}
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
