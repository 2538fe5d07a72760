"""The newcomer's path, for real: the quickstart in JupyterLab in headless Chromium, at its full budget.

The browser test runs notebooks with LAB_SMOKE=1 budgets (seconds); this runs the committed quickstart
as a reader does (Run All, its own 100,000-step budget), prints what its training cell printed, and
saves a screenshot. Minutes long, so it is a check to run by hand, not a test:

    PYTHONPATH=. python scripts/quickstart_in_browser.py [screenshot.png]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.test_browser import notebook_tracebacks, open_chromium, open_notebook, run_all_cells, running_jupyterlab

NOTEBOOK = "notebooks/01_quickstart.ipynb"
VERDICTS = ("your agent landed", "not landed yet")
"""How the quickstart's training cell begins its one-line verdict."""


def main(screenshot: Path) -> int:
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, running_jupyterlab(Path(tmp), NOTEBOOK, smoke=False) as (base, token):
        with sync_playwright() as p:
            browser = open_chromium(p)
            page = browser.new_page(viewport={"width": 1500, "height": 1700})
            page.set_default_timeout(1_800_000)
            open_notebook(page, base, token, NOTEBOOK)
            run_all_cells(page, timeout=1_800)
            outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
            errors = notebook_tracebacks(page)
            page.screenshot(path=str(screenshot))
            browser.close()
    verdicts = [line for text in outputs for line in text.splitlines() if line.startswith(VERDICTS)]
    print(*verdicts, sep="\n")
    print(f"tracebacks: {len(errors)}; {time.monotonic() - started:.0f} s in all; screenshot {screenshot}")
    return 0 if verdicts and verdicts[0].startswith(VERDICTS[0]) and not errors else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "quickstart_in_browser.png")))
