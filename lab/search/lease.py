"""A worker's hold on the trials it runs: their heartbeat, and an end the moment another worker has taken one.

Optuna fails a RUNNING trial whose heartbeat is older than ``--grace`` and queues a copy,
which another worker runs in the same run folder, from its checkpoint. A worker that was
only paused (SIGSTOP, a suspended machine, heavy swapping) and wakes up after that must not
write into that folder again: the checkpoint, ``summary.json`` and the results file are the
new owner's now. So the lease checks, at every beat and at once when the process is
continued (SIGCONT, handled in the main thread before it runs another line of the run), that
each of its trials is still RUNNING; if one is not, it prints one line on stderr and ends the
process with ``os._exit(TAKEN_EXIT_CODE)``, before any further write and without the
clean-up that would write (a parent process names that exit code).

The check and the beat run in the lease's own thread, on their own database session, so a
check asked for from a signal handler never re-enters a session the interrupted code holds.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from lab.signals import on_stop_signals

TAKEN_EXIT_CODE = 75
"""Exit code of a worker that stopped because its trial was taken (EX_TEMPFAIL: the run goes on elsewhere)."""
CONTINUE_WAIT = 30.0
"""Seconds the main thread waits for the check after SIGCONT before it goes on (the storage may be unreachable)."""


def _taken(labels: list[str]) -> None:
    sys.stderr.write(f"error: {', '.join(labels)} was failed as stale (no heartbeat for longer than --grace) and "
                     "handed to another worker: this worker stops at once and writes nothing more (raise --grace "
                     "if workers pause this long)\n")
    sys.stderr.flush()
    os._exit(TAKEN_EXIT_CODE)


class TrialLease:
    """Heartbeats for ``trials`` while the block runs; ``on_taken(labels)`` (default: exit) if one is taken."""

    def __init__(self, study: Any, trials: Sequence[Any], labels: Sequence[str],
                 on_taken: Callable[[list[str]], None] = _taken) -> None:
        from lab.search.storage import backend

        self.storage = backend(study)
        self.interval = getattr(self.storage, "heartbeat_interval", None)
        self.ids = [t._trial_id for t in trials]
        self.labels = list(labels)
        self.on_taken = on_taken
        self._cond = threading.Condition()
        self._asked = self._served = 0
        self._closing = False
        self._thread: threading.Thread | None = None
        self._continued: Any = None

    def __enter__(self) -> TrialLease:
        if self.interval:
            self._thread = threading.Thread(target=self._run, name="trial-lease", daemon=True)
            self._thread.start()
            self._continued = on_stop_signals(lambda signum: self.check(CONTINUE_WAIT), (signal.SIGCONT,))
            self._continued.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._continued is not None:
            self._continued.__exit__(None, None, None)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def check(self, timeout: float | None = None) -> None:
        """Have the lease's thread check its trials now, and wait for that check (or ``timeout`` seconds)."""
        if self._thread is None:
            return
        with self._cond:
            self._asked += 1
            wanted = self._asked
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._served >= wanted or self._closing, timeout)

    # ---- the lease's thread --------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                serving = self._asked
            self._check_then_beat()
            with self._cond:
                self._served = max(self._served, serving)
                self._cond.notify_all()
                self._cond.wait_for(lambda: self._asked > self._served or self._closing, self.interval)
                if self._closing:
                    return

    def _check_then_beat(self) -> None:
        """Exit (on_taken) if a trial is no longer RUNNING; else record their heartbeats. A storage error waits."""
        from optuna.trial import TrialState

        try:
            states = [self.storage.get_trial(trial_id).state for trial_id in self.ids]
            taken = [label for label, state in zip(self.labels, states) if state != TrialState.RUNNING]
            if taken:
                with self._cond:
                    closing = self._closing
                if not closing:  # a trial we just finished ourselves is no news
                    self.on_taken(taken)
                return
            for trial_id in self.ids:
                self.storage.record_heartbeat(trial_id)
        except Exception:  # noqa: BLE001 - an unreachable storage: the next beat tries again
            return
