"""The one line at the top of every tutorial: ``from lab.notebook import setup; runs, budget = setup()``.

It hides what a learner need not read: the test suite's ``LAB_SMOKE=1`` (every budget shrinks to
seconds, runs go to a throwaway folder), where runs go otherwise (``runs/`` beside ``notebooks/``),
and pygame's video driver, which is set to SDL's dummy driver only where the machine has no display,
so "Open in window" opens a real window from a notebook on a desktop.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

SMOKE_ENV = "LAB_SMOKE"
"""Set to 1 by the tests: every notebook budget shrinks to seconds."""
REPO_ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")


class Budget:
    """``budget(full, smoke)``: the full value for a reader, the smoke value under LAB_SMOKE=1."""

    def __init__(self, smoke: bool) -> None:
        self.smoke = smoke

    def __call__(self, full: T, smoke: T) -> T:
        return smoke if self.smoke else full

    def __repr__(self) -> str:
        return f"Budget({'smoke' if self.smoke else 'full'})"


class NotebookSetup:
    """Where this notebook's runs go and which budget it trains at; unpacks as ``runs, budget``."""

    def __init__(self, runs: Path, budget: Budget, video_driver: str) -> None:
        self.runs, self.budget, self.video_driver = runs, budget, video_driver

    @property
    def smoke(self) -> bool:
        return self.budget.smoke

    def __iter__(self) -> Iterator[Any]:
        return iter((self.runs, self.budget))

    def __repr__(self) -> str:
        budgets = "smoke (LAB_SMOKE=1): budgets of seconds" if self.smoke else "full budgets"
        return f"runs go to {self.runs} · {budgets} · pygame: {self.video_driver}"


def choose_video_driver(environ: MutableMapping[str, str] | None = None) -> str:
    """Leave SDL its own driver where there is a display; else set SDL_VIDEODRIVER=dummy (draw off screen).

    Returns what pygame will use, in words, for the setup line to print.
    """
    from lab.render.launcher import has_display

    environ = os.environ if environ is None else environ
    if has_display(environ):
        return "a real window (a display is available)"
    environ.setdefault("SDL_VIDEODRIVER", "dummy")
    return "off screen (no display here: windows show inline as GIFs)"


def setup(environ: MutableMapping[str, str] | None = None, cwd: Path | None = None) -> NotebookSetup:
    """Pick the runs folder, the budget and pygame's video driver; print one line saying which."""
    environ = os.environ if environ is None else environ
    smoke = environ.get(SMOKE_ENV) == "1"
    driver = choose_video_driver(environ)
    if smoke:
        runs = Path(tempfile.mkdtemp(prefix="lab-smoke-"))
    else:
        cwd = Path.cwd() if cwd is None else cwd
        root = cwd.parent if cwd.name == "notebooks" else cwd
        runs = root / "runs"
    result = NotebookSetup(runs, Budget(smoke), driver)
    print(result)
    return result


def progress_bar(source: Any) -> Any:
    """A progress bar with an ETA for a Trainer's or a Population's run, subscribed to its events.

    The bar counts env steps (a population's summed over its agents) against the budget and closes
    when the run ends; returns it (a ``lab.train.progress.ProgressBar``).
    """
    if hasattr(source, "members"):  # a lab.Population: its events come tagged with the agent
        from lab.train.progress import PopulationProgress

        total = sum(config.run.total_steps for config in source.configs)
        done = sum(member.env_step for member in source.members)
        bar: Any = PopulationProgress(total, agents=len(source.configs), initial=done)
    else:
        from lab.train.progress import ProgressBar

        bar = ProgressBar(source.config.run.total_steps, initial=source.env_step)
    source.events.subscribe(bar)
    return bar


_FINISHED = re.compile(r"^(run \d+|trial \d+) (finished|pruned|failed|stopped)\b")
"""How lab.search's log says a sweep's run or a study's trial is over (``sweep._report``, ``tune``)."""


class SearchProgress:
    """A sweep's or a study's log function that also counts finished runs on a bar with an ETA.

    ``run_sweep(spec, folder, log=SearchProgress(runs))``: each line is printed as before, and
    every run or trial that ends moves the bar by one. Runs in this process only (workers=1):
    worker processes print to their own output.
    """

    def __init__(self, total: int, unit: str = "run") -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit=unit, dynamic_ncols=True)

    def __call__(self, line: str) -> None:
        print(line, flush=True)
        if _FINISHED.match(line):
            self.bar.update(1)
            if self.bar.n >= (self.bar.total or 0):
                self.bar.close()
