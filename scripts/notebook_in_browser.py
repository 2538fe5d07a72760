"""Run any tutorial as a reader does: JupyterLab in headless Chromium, Run All Cells, top to bottom.

Prints the run time, every line where the notebook says what its agents did (landed, solved, hovering),
and any error output (tracebacks and other stderr text), then saves a screenshot. Minutes to an hour
long at full budget, so it is a check to run by hand, not a test (the tests run every notebook under
LAB_SMOKE=1 through nbval):

    PYTHONPATH=. python scripts/notebook_in_browser.py notebooks/04_td3_explained.ipynb
    PYTHONPATH=. python scripts/notebook_in_browser.py 01_quickstart --smoke          # budgets of seconds
    PYTHONPATH=. python scripts/notebook_in_browser.py 01_quickstart --screenshot docs/img/quickstart.png \\
        --cell-shot "EpisodeViewer.from_policy=docs/img/value_overlay.png"      # one cell's output alone

Exit 0 when every cell ran and no cell printed a traceback, 1 otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_browser import (  # noqa: E402
    STDERR,
    notebook_tracebacks,
    open_chromium,
    open_notebook,
    run_all_cells,
    running_jupyterlab,
)

OUTCOMES = re.compile(r"\b(landed|not landed|solved|not solved|hover\w*|lands?)\b", re.IGNORECASE)
"""Output lines that say what the reader's agents did."""
VIEWPORT = {"width": 1500, "height": 1700}


@dataclass
class NotebookRun:
    """What a notebook did in the browser."""

    notebook: str
    seconds: float
    outcomes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Tracebacks printed by a cell."""
    stderr: list[str] = field(default_factory=list)
    """Every other stderr output (warnings): shown, not failed on."""
    screenshots: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def report(self) -> str:
        lines = [f"{self.notebook}: {self.seconds:.0f} s in all ({self.seconds / 60:.1f} min) in JupyterLab in "
                 "headless Chromium"]
        lines += [f"  says: {line}" for line in self.outcomes] or ["  says nothing about landing"]
        lines += [f"  traceback: {text.strip().splitlines()[-1] if text.strip() else text}" for text in self.errors]
        lines += [f"  stderr: {' '.join(text.split())[:300]}" for text in self.stderr]
        lines += [f"  screenshot: {path}" for path in self.screenshots]
        lines.append(f"  {'no error output' if self.ok and not self.stderr else 'OK' if self.ok else 'FAILED'}")
        return "\n".join(lines)


def said_an_outcome(line: str) -> bool:
    """A line that says what an agent did: not a table's header or row (tab-separated), nor a long dump."""
    return bool(OUTCOMES.search(line)) and "\t" not in line and len(line) < 300


def notebook_path(name: str) -> str:
    """'01_quickstart', 'notebooks/01_quickstart.ipynb' or the .py source: the .ipynb, relative to the repo."""
    path = Path(name)
    if not path.suffix or path.suffix == ".py":
        path = path.with_suffix(".ipynb")
    if len(path.parts) == 1:
        path = Path("notebooks") / path
    if not (ROOT / path).is_file():
        raise SystemExit(f"error: notebook {str(path)!r} does not exist: allowed one of "
                         f"{', '.join(p.stem for p in sorted((ROOT / 'notebooks').glob('*.ipynb')))}")
    return str(path)


def cell_shots(specs: list[str]) -> list[tuple[str, Path]]:
    shots = []
    for spec in specs:
        text, sep, path = spec.rpartition("=")
        if not sep or not text or not path:
            raise SystemExit(f"error: --cell-shot {spec!r} is invalid: allowed TEXT=PATH (TEXT: a piece of the "
                             "cell's code)")
        shots.append((text, Path(path)))
    return shots


def run_notebook(notebook: str, smoke: bool = False, screenshot: Path | None = None,
                 cells: Sequence[tuple[str, Path]] = (), timeout: float = 7_200) -> NotebookRun:
    """Open the notebook in JupyterLab in Chromium, run all cells, and collect what it said."""
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, running_jupyterlab(Path(tmp), notebook, smoke=smoke) as (base, token):
        with sync_playwright() as p:
            browser = open_chromium(p)
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(int(timeout * 1000))
            try:
                open_notebook(page, base, token, notebook)
                run_all_cells(page, timeout=timeout)
                seconds = time.monotonic() - started
                outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
                errors = notebook_tracebacks(page)
                stderr = [t for t in page.locator(STDERR).all_inner_texts() if "Traceback" not in t and t.strip()]
                run = NotebookRun(notebook, seconds, errors=errors, stderr=stderr)
                run.outcomes = [line.strip() for text in outputs for line in text.splitlines()
                                if said_an_outcome(line)]
                page.wait_for_timeout(3_000)  # let the last charts draw
                for text, path in cells:
                    matching = page.locator(".jp-CodeCell", has=page.locator(".jp-InputArea", has_text=text))
                    if matching.count() == 0:
                        run.errors.append(f"--cell-shot: no code cell contains {text!r}")
                        continue
                    path.parent.mkdir(parents=True, exist_ok=True)
                    matching.first.locator(".jp-OutputArea").first.screenshot(path=str(path), timeout=60_000)
                    run.screenshots.append(path)
                if screenshot is not None:
                    screenshot.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(screenshot))
                    run.screenshots.append(screenshot)
            finally:
                browser.close()
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", help="a notebook: 01_quickstart, notebooks/01_quickstart.ipynb, or its .py")
    parser.add_argument("--smoke", action="store_true", help="LAB_SMOKE=1 budgets (seconds), as the tests run it")
    parser.add_argument("--screenshot", type=Path, default=None,
                        help="where to save the page's screenshot (default: test-artifacts/NOTEBOOK.png)")
    parser.add_argument("--cell-shot", action="append", default=[], metavar="TEXT=PATH",
                        help="also save the output of the first cell whose code contains TEXT (repeatable)")
    parser.add_argument("--timeout", type=float, default=7_200, help="seconds to wait for all cells (default 7200)")
    parser.add_argument("--save", action="store_true",
                        help="write the run as a record under benchmarks/results/ (the docs' tutorials page shows "
                             "the newest full-budget run of each notebook)")
    args = parser.parse_args(argv)
    notebook = notebook_path(args.notebook)
    shots = cell_shots(args.cell_shot)
    name = f"{Path(notebook).stem}{'-smoke' if args.smoke else ''}.png"
    screenshot = args.screenshot or ROOT / "test-artifacts" / name
    run = run_notebook(notebook, smoke=args.smoke, screenshot=screenshot, cells=shots, timeout=args.timeout)
    print(run.report())
    if args.save and not args.smoke:
        print(f"  saved: {save_record(run)}")
    return 0 if run.ok else 1


def save_record(run: NotebookRun) -> Path:
    """The run as a results record (kind 'notebook'), so the docs quote its time and outcomes from data."""
    from lab.bench.record import new_record, save

    shots = [str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)
             for path in run.screenshots]
    results = {"notebook": Path(run.notebook).stem, "seconds": round(run.seconds, 1), "outcomes": run.outcomes,
               "errors": len(run.errors), "stderr": run.stderr, "screenshots": shots}
    note = "alone on the machine, JupyterLab in headless Chromium, Run All Cells at the notebook's full budget"
    return save(new_record("notebook", results, note=note))


if __name__ == "__main__":
    sys.exit(main())
