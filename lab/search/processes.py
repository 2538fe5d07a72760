"""Search workers stop on a flag: SIGINT, SIGTERM and SIGHUP only record a stop request.

A run checks ``stop_requested()`` at every episode end and stops with a checkpoint; the search
loops check it between runs and raise KeyboardInterrupt there, so the run goes back to the queue.
(The handlers come from lab.signals, which says why a flag is safer than raising.)

Which signal it was sets the exit code (lab.signals.exit_code: 143 for SIGTERM, 129 for SIGHUP,
130 for Ctrl-C): a KeyboardInterrupt leaving a ``terminate_as_interrupt`` block becomes a
``Terminated`` carrying the signal. A run's Trainer installs handlers of its own while it trains
and keeps the signal to itself, so the block also listens on Python's signal wakeup fd, where
the number of every signal Python handles lands, whichever handler then runs.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from lab.signals import STOP_SIGNALS, Terminated, die_with_parent, on_stop_signals

__all__ = ["die_with_parent", "signalled", "signals_held", "sleep_unless_stopped", "stop_requested", "stop_signal",
           "terminate_as_interrupt"]
STOPS = (signal.SIGINT, *STOP_SIGNALS)
_stop = threading.Event()
_received: list[int] = []
_wakeup: socket.socket | None = None


def stop_requested() -> bool:
    """True once a stop signal arrived inside a terminate_as_interrupt block (whoever's handler took it)."""
    return _stop.is_set() or stop_signal() is not None


def stop_signal() -> int | None:
    """The first stop signal that arrived inside the current terminate_as_interrupt block, or None."""
    _drain()
    return next((s for s in _received if s in STOPS), None)


def sleep_unless_stopped(seconds: float) -> None:
    """Sleep, but wake at once when a stop signal arrives; then raise KeyboardInterrupt."""
    if stop_requested() or _stop.wait(seconds):
        raise KeyboardInterrupt("stop requested")


def signalled(interrupt: KeyboardInterrupt) -> KeyboardInterrupt:
    """The interrupt as ``Terminated`` when SIGTERM or SIGHUP caused it, so the exit code says which."""
    signum = getattr(interrupt, "signum", None) or stop_signal()
    if signum is None or signum == signal.SIGINT or isinstance(interrupt, Terminated):
        return interrupt
    terminated = Terminated(signum)
    if str(interrupt):
        terminated.args = (f"{interrupt}: {terminated}",)
    return terminated


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within this block SIGINT/SIGTERM/SIGHUP set stop_requested (main thread only; elsewhere a no-op).

    A KeyboardInterrupt leaving the block is raised as ``signalled(it)``.
    """
    _stop.clear()
    _received.clear()
    with ExitStack() as stack:
        if threading.current_thread() is threading.main_thread():
            stack.enter_context(_signal_numbers())
        stack.enter_context(on_stop_signals(_record, STOPS))
        try:
            yield
        except KeyboardInterrupt as exc:
            raise signalled(exc) from None


@contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP wait until the block (a commit of several files) is over, then interrupt.

    Main thread only; elsewhere the block runs unchanged.
    """
    held: list[int] = []
    with on_stop_signals(held.append, STOPS):
        yield
    if held:
        raise Terminated(held[0]) if held[0] != signal.SIGINT else KeyboardInterrupt()


def _record(signum: int) -> None:
    _received.append(signum)
    _stop.set()


@contextmanager
def _signal_numbers() -> Iterator[None]:
    """Python's wakeup fd on a socket pair we read: every handled signal's number, under any handler."""
    global _wakeup
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    outer, _wakeup = _wakeup, reader
    try:
        yield
    finally:
        _drain()
        signal.set_wakeup_fd(previous)
        _wakeup = outer
        reader.close()
        writer.close()


def _drain() -> None:
    if _wakeup is None:
        return
    try:
        while data := _wakeup.recv(256):
            _received.extend(data)
    except (BlockingIOError, OSError):
        pass
