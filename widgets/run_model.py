"""What every panel model shares about the run it drives: ``RunModel``, the base of both models.

A panel model (``widgets.panel_model.PanelModel`` for one trainer,
``widgets.compare_model.CompareModel`` for a population) follows one run at a time: it
hands each new run to its watchers (the view's charts), subscribes to its events, asks
the kernel hooks to stop it on an interrupt, starts and closes it. That lifecycle lives
here once, with the errors and messages a person sees (``Notices``); a subclass says how
to make its run and what it subscribes to. Reading settings from a config is
``widgets.settings``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from widgets.kernel import watch_trainer


class RunWatcher(Protocol):
    """Something that follows each run the panel starts (the view's charts)."""

    def attach(self, trainer: Any) -> Callable[[], None]: ...

    def reset(self) -> None: ...


class Notices:
    """What a panel tells a person: the last few errors (in red) and messages."""

    def __init__(self) -> None:
        self._messages: deque[str] = deque(maxlen=2)
        self._errors: deque[str] = deque(maxlen=4)

    @property
    def errors(self) -> list[str]:
        """Errors to show: refused values, failed actions, a failed run."""
        return list(self._errors)

    @property
    def messages(self) -> list[str]:
        return list(self._messages)

    def error(self, text: str) -> None:
        self._errors.append(text)

    def say(self, text: str) -> None:
        self._messages.append(text)


class RunModel(Notices):
    """The run a panel drives (a trainer or a population): its watchers, subscriptions and lifecycle."""

    name: str

    def __init__(self, run_dir: str | Path | None, watchers: Iterable[RunWatcher]) -> None:
        Notices.__init__(self)
        self.watchers = list(watchers)
        self.stop_reason: str | None = None
        """Why the kernel stopped the run (an interrupt, a shutdown); the first reason wins."""
        self._run_dir = Path(run_dir) if run_dir else None
        self._unsubscribe: list[Callable[[], None]] = []
        self._bus_errors_seen = 0
        self._owns_run = False

    # ==== what a subclass fills in =================================================================
    @property
    def run(self) -> Any | None:
        """The trainer or population (None before the first Start)."""
        raise NotImplementedError

    def needs_new_run(self) -> bool:
        raise NotImplementedError

    def _make_run(self, run_dir: Path | None) -> Any:
        """A new trainer or population from the next-run settings, writing into ``run_dir``."""
        raise NotImplementedError

    def _subscriptions(self, run: Any) -> list[Callable[[], None]]:
        """Subscribe the model's own listeners to a new run; their unsubscribe functions."""
        raise NotImplementedError

    def _starting(self, run: Any) -> str:
        """Get ready for ``run`` to start; the message that says it trains."""
        raise NotImplementedError

    # ==== shared ===================================================================================
    @property
    def running(self) -> bool:
        return self.run is not None and self.run.running

    def add_watcher(self, watcher: RunWatcher) -> None:
        """Follow this run (if there is one) and every later one."""
        self.watchers.append(watcher)
        if self.run is not None:
            self._unsubscribe.append(watcher.attach(self.run))

    def start(self) -> Any:
        """Train in the background; a new run when there is none, it ended, or a restart setting changed."""
        if self.running:
            return self.run
        if self.needs_new_run():
            self._replace_run()
        run = self.run
        if run is None:  # pragma: no cover - needs_new_run is true without a run
            raise RuntimeError("nothing to start yet")
        self._errors.clear()
        self.stop_reason = None
        message = self._starting(run)
        run.start()
        self.say(message)
        return run

    def close(self) -> None:
        """Stop training (with a checkpoint) and let go of the run."""
        run = self.run
        if run is not None:
            if run.running:
                run.stop(wait=True)
            self._detach()
            if self._owns_run:
                run.close()

    def _replace_run(self) -> None:
        old = self.run
        if old is not None:
            self._detach()
            if self._owns_run:
                old.close()
        for watcher in self.watchers:
            watcher.reset()
        run_dir, self._run_dir = self._run_dir, None  # a second run gets its own folder
        run = self._make_run(run_dir)
        self._owns_run = True
        self._attach(run)

    def _attach(self, run: Any) -> None:
        self._bus_errors_seen = 0
        self._unsubscribe = [watcher.attach(run) for watcher in self.watchers]
        self._unsubscribe += self._subscriptions(run)
        watch_trainer(run, self._on_kernel_stop)

    def _detach(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _on_kernel_stop(self, reason: str, stopped: list[Any]) -> None:
        if any(r is self.run for r in stopped):
            # the first reason wins: an interrupted panel.wait() may have stopped the run a moment earlier
            self.stop_reason = self.stop_reason or reason
            self.say(f"training stopped because {reason}; a checkpoint is being written")

    def _take_bus_errors(self, run: Any) -> None:
        """Show what the run's event bus reported as text since the last look (refused live changes)."""
        new = run.events.errors[self._bus_errors_seen:]
        self._bus_errors_seen += len(new)
        for text in new:
            self.error(text)
