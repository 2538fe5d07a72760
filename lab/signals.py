"""Termination signals as Ctrl-C: a scheduler's SIGTERM (or a closed terminal's SIGHUP) stops work cleanly.

Code that already handles KeyboardInterrupt (save, write a summary, exit) then handles
``kill``, ``timeout`` and cluster pre-emption the same way::

    with signals_as_interrupt():
        run_evolve(spec)          # SIGTERM raises Terminated, a KeyboardInterrupt, here

The exit code of a process stopped this way is 128 + the signal number by convention
(143 for SIGTERM, 129 for SIGHUP, 130 for Ctrl-C); ``exit_code`` computes it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """A KeyboardInterrupt raised for a termination signal; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


@contextmanager
def signals_as_interrupt(signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[None]:
    """Within the block, ``signals`` raise Terminated in the main thread; the old handlers come back after.

    Outside the main thread Python cannot install handlers, so the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> Any:
        raise Terminated(signum)

    previous = {s: signal.signal(s, interrupt) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)  # None: set outside Python


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + int(getattr(interrupt, "signum", signal.SIGINT))
