"""A child process that serves commands over a pipe: the plumbing under the lab's env and collector workers.

The child is started with ``spawn`` (safe beside torch threads), ignores the terminal's Ctrl-C and hangup (the
parent decides when to stop and closes it) and dies with its parent, so no worker outlives a killed run.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections.abc import Callable
from typing import Any

from lab.signals import die_with_parent

NO_MAIN_GUARD = ("a lab worker process (lab.Population, or run.overlap_collection) starts by re-importing your "
                 "script, which then trains again: put the script's code under `if __name__ == \"__main__\":`")
NO_MAIN_GUARD_EXIT = 3
"""The exit code of a worker that found itself re-running an unguarded script."""


def refuse_while_a_worker_starts() -> None:
    """In a lab worker that is re-running the user's script as it starts (spawn imports __main__), stop at once.

    The script has no `if __name__ == "__main__":` guard; say so in one line, not in a hundred.
    """
    if getattr(mp.current_process(), "_inheriting", False):
        raise SystemExit(NO_MAIN_GUARD_EXIT)  # quietly: the parent says why, in one line


class WorkerDied(RuntimeError):
    """The child process ended while the parent waited for its answer."""


class RemoteError:
    """An exception raised in the child, carried back to be raised again in the parent."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def serve(conn: Any, parent_pid: int, make_handler: Callable[..., Callable[[str, Any], Any]], *args: Any) -> None:
    """The child's loop: build the handler, then answer each (command, payload) until "close"."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    die_with_parent(parent_pid)
    handle = make_handler(*args)
    try:
        while True:
            command, payload = conn.recv()
            if command == "close":
                break
            try:
                conn.send(handle(command, payload))
            except Exception as exc:  # noqa: BLE001 - the parent raises it again
                conn.send(RemoteError(exc))
    except EOFError:
        pass
    finally:
        handle("close", None)
        conn.close()


class Worker:
    """The parent's end: ``send`` a command, do other work, then ``receive`` its answer."""

    def __init__(self, name: str, make_handler: Callable[..., Callable[[str, Any], Any]], *args: Any) -> None:
        import os

        refuse_while_a_worker_starts()
        context = mp.get_context("spawn")
        self.name = name
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve, args=(child, os.getpid(), make_handler, *args), name=name,
                                        daemon=True)
        self._process.start()
        child.close()
        self.busy = False

    def call(self, command: str, payload: Any = None) -> Any:
        self.send(command, payload)
        return self.receive()

    def send(self, command: str, payload: Any = None) -> None:
        self._conn.send((command, payload))
        self.busy = True

    def receive(self) -> Any:
        try:
            answer = self._conn.recv()
        except (EOFError, ConnectionError) as exc:
            self._process.join(1)
            if self._process.exitcode == NO_MAIN_GUARD_EXIT:
                raise WorkerDied(NO_MAIN_GUARD) from None
            raise WorkerDied(f"the {self.name} process died (exit code {self._process.exitcode}); "
                             "its own error is printed above") from exc
        finally:
            self.busy = False
        if isinstance(answer, RemoteError):
            raise answer.error
        return answer

    def close(self) -> None:
        """Finish any command in flight, then ask the child to exit (and make sure it does)."""
        if self._process.is_alive():
            try:
                if self.busy:
                    self.receive()
            except Exception:  # noqa: BLE001 - closing: its answer no longer matters
                pass
            try:
                self._conn.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
            self._process.join(10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)
        self._conn.close()

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid
