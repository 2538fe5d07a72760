"""Steering a training loop from other threads: pause, resume, stop, live changes and one-off requests.

Callers only record what they want under a lock; the loop takes it between
vector steps, so the learner never sees a half-applied change. The lock guards
these lists and flags only: nothing is published or written while it is held,
so an event subscriber may call any control method.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from lab.signals import STOP_SIGNALS, on_stop_signals

Serve = Callable[[str, Any], Any]


class _Request:
    """A call the loop runs for another thread; the caller waits on ``done``."""

    def __init__(self, kind: str, arg: Any) -> None:
        self.kind, self.arg = kind, arg
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class RunControl:
    """The loop's inbox, and the background thread it may run in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._changes: list[Any] = []
        self._requests: list[_Request] = []
        self.pause_requested = False
        self.stop_requested = False
        self.thread: threading.Thread | None = None
        self._looping = False
        self._loop_thread: threading.Thread | None = None
        """The thread the loop runs on: fit()'s caller, or start()'s background thread."""

    # ---- callers ---------------------------------------------------------------------------
    def start(self, target: Callable[[], None]) -> None:
        self.pause_requested = self.stop_requested = False
        self.thread = self._loop_thread = threading.Thread(target=target, name="lab-trainer", daemon=True)
        self.thread.start()

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def on_loop_thread(self) -> bool:
        return threading.current_thread() is self._loop_thread

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def pause(self) -> None:
        self._set(pause=True)

    def resume(self) -> None:
        self._set(pause=False)

    def stop(self) -> None:
        self._set(pause=False, stop=True)

    def stop_from_signal(self) -> None:
        """Safe inside a signal handler: no lock (the handler may interrupt a holder); the loop polls."""
        self.stop_requested = True

    def submit_changes(self, changes: Any) -> None:
        with self._wake:
            self._changes.append(changes)
            self._wake.notify_all()

    def enter_loop(self) -> None:
        """Claim the loop for this thread: one training loop at a time (a second fit() is refused in one line)."""
        with self._lock:
            if self._looping:
                raise RuntimeError("this trainer is already training (fit() or start() from another thread): "
                                   "wait for it, or stop() it first")
            self._looping, self._loop_thread = True, threading.current_thread()

    def leave_loop(self) -> None:
        with self._lock:
            self._looping, self._loop_thread = False, None

    @property
    def looping(self) -> bool:
        return self._looping

    def call(self, kind: str, arg: Any, serve: Serve) -> Any:
        """Run serve(kind, arg) on the loop's thread between steps (fit() in the foreground or start()'s thread), or
        here when no loop is running."""
        if not self._looping or self.on_loop_thread():
            return serve(kind, arg)
        request = _Request(kind, arg)
        with self._wake:
            self._requests.append(request)
            self._wake.notify_all()
        while not request.done.wait(0.2):
            if not self._looping:  # the loop ended before serving it: take it back and serve it here
                with self._lock:
                    taken = request in self._requests
                    self._requests = [r for r in self._requests if r is not request]
                if taken:
                    return serve(kind, arg)
        if request.error is not None:
            raise request.error
        return request.result

    # ---- the loop ----------------------------------------------------------------------------
    def take_changes(self) -> list[Any]:
        with self._lock:
            changes, self._changes = self._changes, []
        return changes

    def serve_requests(self, serve: Serve) -> None:
        with self._lock:
            requests, self._requests = self._requests, []
        for request in requests:
            try:
                request.result = serve(request.kind, request.arg)
            except Exception as exc:  # noqa: BLE001 - handed back to the caller's thread
                request.error = exc
            finally:
                request.done.set()

    def wait_while_paused(self) -> None:
        """Block until resume, stop, a change or a request arrives."""
        with self._wake:
            while self.pause_requested and not self.stop_requested and not self._requests and not self._changes:
                self._wake.wait(0.1)

    def _set(self, pause: bool, stop: bool | None = None) -> None:
        with self._wake:
            self.pause_requested = pause
            if stop is not None:
                self.stop_requested = stop
            self._wake.notify_all()


def stop_on_signals(control: RunControl) -> AbstractContextManager[None]:
    """In the main thread, Ctrl-C, SIGTERM and SIGHUP ask the loop to stop after its step, like the stop button.

    A scheduler's TERM (or a closed terminal's HUP, or Ctrl-C) then leaves a checkpoint and
    a summary saying ``stopped``; the previous handlers come back afterwards. Ctrl-C sets the
    flag too rather than raising KeyboardInterrupt, which Python drops when it lands in a
    weakref callback or finaliser (the run would then train on).
    """
    return on_stop_signals(lambda signum: control.stop_from_signal(), (signal.SIGINT, *STOP_SIGNALS))
