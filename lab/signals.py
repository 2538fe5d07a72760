"""Termination signals as a stop request: a scheduler's SIGTERM (or a closed terminal's SIGHUP) stops work cleanly.

Every place that stops on a signal installs its handler here, for the length of a block:

    with on_stop_signals(lambda signum: control.stop_from_signal()):   # the trainer: stop after this step
        trainer_loop()
    with signals_as_interrupt():                                        # evolve: like Ctrl-C
        run_evolve(spec)

A handler that only records the request is the safer choice: Python drops an exception raised
while a weakref callback or finaliser runs ("Exception ignored in"), so a raising handler can be
lost. The exit code of a process stopped this way is 128 + the signal number by convention (143
for SIGTERM, 129 for SIGHUP, 130 for Ctrl-C); ``exit_code`` computes it. ``die_with_parent``
makes a worker process stop with the process that started it, even when that one is SIGKILLed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
PR_SET_PDEATHSIG = 1
"""prctl option: the signal Linux sends a process when its parent dies."""


class Terminated(KeyboardInterrupt):
    """A KeyboardInterrupt raised for a termination signal; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


@contextmanager
def on_stop_signals(callback: Callable[[int], object],
                    signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[None]:
    """Within the block, ``signals`` call ``callback(signum)``; the old handlers come back after.

    Outside the main thread Python cannot install handlers, so the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, lambda signum, frame: callback(signum)) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)  # None: set outside Python


def signals_as_interrupt(signals: tuple[int, ...] = STOP_SIGNALS) -> AbstractContextManager[None]:
    """Within the block, ``signals`` raise Terminated (a KeyboardInterrupt) in the main thread."""

    def interrupt(signum: int) -> None:
        raise Terminated(signum)

    return on_stop_signals(interrupt, signals)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + int(getattr(interrupt, "signum", signal.SIGINT))


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask the kernel for SIGTERM when our parent dies (Linux); exit at once if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:  # it died before prctl took effect
        os._exit(143)
