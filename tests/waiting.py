"""Waiting in tests: for a condition, or for a value while watched processes stay alive."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0) -> bool:
    """Poll predicate until it is true or the timeout passes; whether it came true."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def wait_for_value(predicate: Callable[[], Any], what: str, procs: tuple[subprocess.Popen, ...] = (),
                   output: Callable[[subprocess.Popen], str] = lambda proc: "", timeout: float = 300.0,
                   poll: float = 0.05) -> Any:
    """predicate's first true value; fails if a watched process ends meanwhile (showing its output) or on timeout.

    An exception in predicate (a file or study not there yet) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # noqa: BLE001 - not there yet
            value = None
        if value:
            return value
        for proc in procs:
            assert proc.poll() is None, f"a process ended early:\n{output(proc)}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll)


def signal_once_logging(proc: subprocess.Popen, log: Any, signum: int, settle: float = 0.0) -> bytes:
    """Send signum to a training process once its log has a line (after settle more seconds); its stderr.

    Fails if the process ends before it logs; kills it if it does not end within two minutes of the signal."""
    try:
        assert wait_for(lambda: log.exists() and log.stat().st_size > 0 or proc.poll() is not None, 120)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(settle)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return stderr
