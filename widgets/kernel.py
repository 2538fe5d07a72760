"""Living inside an IPython kernel: a redraw timer on the kernel's loop, and clean stops.

Widgets must be changed from the thread that owns them. Under ipykernel 7 that is
the main thread, which runs the kernel's event loop between cells; a ``Ticker``
schedules the panel's redraw there with ``call_later``, so the training thread never
touches a widget. Outside a kernel (tests, scripts) nothing is scheduled and callers
flush explicitly.

Training should never outlive the person's intent. ``watch_trainer`` makes three
things stop it with a checkpoint:

* the kernel shutting down (closing the notebook with "Shut Down Kernel", restarting
  it, stopping the server): an ``atexit`` hook stops every watched trainer and waits
  for its checkpoint;
* interrupting the kernel while a cell runs: IPython's ``post_run_cell`` event sees the
  ``KeyboardInterrupt`` (raised in a statement, or between two) and stops training;
* interrupting the kernel while it is idle: ipykernel ignores SIGINT between messages
  (it restores ``kernel.saved_sigint_handler`` after each one), so we put our handler
  there; it asks the trainers to stop from the event loop.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# one reason for every way an interrupt reaches a run: a waiting cell, a cell that just ended, an idle kernel
INTERRUPTED = "the kernel was interrupted"


def current_kernel() -> Any | None:
    """The running ipykernel Kernel, or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return None
    shell = get_ipython()
    return getattr(shell, "kernel", None) if shell is not None else None


class Ticker:
    """Calls ``fn`` every ``interval`` seconds on the kernel's event loop while started.

    Holds ``fn`` weakly when it is a bound method, so a forgotten panel can still be
    collected. Exceptions from ``fn`` are logged and the ticker keeps going.
    """

    def __init__(self, fn: Callable[[], Any], interval: float) -> None:
        self._fn: Callable[[], Callable[[], Any] | None]
        if hasattr(fn, "__self__"):
            self._fn = weakref.WeakMethod(fn)
        else:
            self._fn = lambda: fn
        self.interval = interval
        self.active = False
        self.ticks = 0
        self._loop: Any = None
        self._handle: Any = None

    @property
    def in_kernel(self) -> bool:
        return self._loop is not None

    def start(self) -> bool:
        """Begin ticking; False (and nothing scheduled) outside a kernel's main thread."""
        if self.active:
            return True
        kernel = current_kernel()
        loop = getattr(kernel, "io_loop", None)
        if loop is None or threading.current_thread() is not threading.main_thread():
            return False
        self._loop = loop
        self.active = True
        self._handle = loop.call_later(self.interval, self._tick)
        return True

    def stop(self) -> None:
        self.active = False
        if self._loop is not None and self._handle is not None:
            try:
                self._loop.remove_timeout(self._handle)
            except Exception:  # noqa: BLE001 - the loop may already be closed at shutdown
                pass
        self._handle = None

    def _tick(self) -> None:
        if not self.active:
            return
        fn = self._fn()
        if fn is None:
            self.active = False
            return
        try:
            fn()
            self.ticks += 1
        except Exception:  # noqa: BLE001 - a redraw error must not end the redraws
            log.exception("widget refresh failed")
        finally:
            if self.active:
                self._handle = self._loop.call_later(self.interval, self._tick)


# ---- stopping training when the kernel is interrupted or shut down ----------------------------
_trainers: weakref.WeakSet[Any] = weakref.WeakSet()
_installed = False
_stop_listeners: list[weakref.WeakMethod[Callable[[str, list[Any]], None]]] = []


def watch_trainer(trainer: Any, on_stop: Callable[[str, list[Any]], None] | None = None) -> None:
    """Stop ``trainer`` (with a checkpoint) on kernel interrupt or shutdown.

    ``on_stop(reason, stopped_trainers)`` is told when that happens; it must be a bound method
    (it is held weakly).
    """
    _trainers.add(trainer)
    if on_stop is not None and all(ref() != on_stop for ref in _stop_listeners):
        _stop_listeners.append(weakref.WeakMethod(on_stop))
    _install()


def stop_all(reason: str, wait: bool = False, timeout: float = 60.0) -> list[Any]:
    """Ask every watched, running trainer to stop; returns those it stopped."""
    stopped = [t for t in list(_trainers) if t.running]
    for trainer in stopped:
        trainer.stop(wait=False)
    if wait:
        deadline = time.monotonic() + timeout
        for trainer in stopped:
            trainer.join(max(0.0, deadline - time.monotonic()))
    if stopped:
        for ref in list(_stop_listeners):
            listener = ref()
            if listener is None:
                _stop_listeners.remove(ref)
                continue
            try:
                listener(reason, stopped)
            except Exception:  # noqa: BLE001 - a display problem must not block stopping
                log.exception("stop listener failed")
    return stopped


def _install() -> None:
    global _installed
    kernel = current_kernel()
    if kernel is not None:
        _install_idle_sigint(kernel)
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    if kernel is not None:
        kernel.shell.events.register("post_run_cell", _after_cell)


def _at_exit() -> None:
    stop_all("the kernel is shutting down", wait=True)


def _after_cell(result: Any) -> None:
    """A cell that ended on Ctrl-C stops training. IPython records an interrupt that lands between two of the
    cell's statements (while it compiles the next one) as error_before_exec, not error_in_exec."""
    errors = (getattr(result, "error_in_exec", None), getattr(result, "error_before_exec", None))
    if any(isinstance(error, KeyboardInterrupt) for error in errors):
        stop_all(INTERRUPTED)


def _install_idle_sigint(kernel: Any) -> None:
    """Make SIGINT between messages stop training (ipykernel otherwise ignores it)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if getattr(kernel, "saved_sigint_handler", None) is _on_idle_sigint:
        return
    if hasattr(kernel, "saved_sigint_handler"):
        kernel.saved_sigint_handler = _on_idle_sigint  # restored by post_handler_hook
    elif signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL):
        signal.signal(signal.SIGINT, _on_idle_sigint)


def _on_idle_sigint(signum: int, frame: Any) -> None:
    kernel = current_kernel()
    loop = getattr(getattr(kernel, "io_loop", None), "asyncio_loop", None)
    if loop is not None:
        loop.call_soon_threadsafe(stop_all, INTERRUPTED)
    else:  # pragma: no cover - no loop to defer to
        threading.Thread(target=stop_all, args=(INTERRUPTED,), daemon=True).start()
