"""Search workers stop on a flag: SIGINT, SIGTERM and SIGHUP only record a stop request.

A run checks ``stop_requested()`` at every episode end and stops with a checkpoint; the search
loops check it between runs and raise KeyboardInterrupt there, so the run goes back to the queue.
(The handlers come from lab.signals, which says why a flag is safer than raising.)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from lab.signals import STOP_SIGNALS, die_with_parent, on_stop_signals

__all__ = ["die_with_parent", "sleep_unless_stopped", "stop_requested", "terminate_as_interrupt"]
_stop = threading.Event()


def stop_requested() -> bool:
    """True once a stop signal arrived inside a terminate_as_interrupt block."""
    return _stop.is_set()


def sleep_unless_stopped(seconds: float) -> None:
    """Sleep, but wake at once when a stop signal arrives; then raise KeyboardInterrupt."""
    if _stop.wait(seconds):
        raise KeyboardInterrupt("stop requested")


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within this block SIGINT/SIGTERM/SIGHUP set stop_requested (main thread only; elsewhere a no-op)."""
    _stop.clear()
    with on_stop_signals(lambda signum: _stop.set(), (signal.SIGINT, *STOP_SIGNALS)):
        yield
