"""The newcomer's path, for real: the quickstart in JupyterLab in headless Chromium, at its full budget.

A thin front to ``scripts/notebook_in_browser.py`` (which runs any notebook): it runs the committed
quickstart as a reader does (Run All, its own budget), prints what its training cell said, and saves
a screenshot; it exits 0 only when the reader's agent landed and no cell printed a traceback:

    PYTHONPATH=. python scripts/quickstart_in_browser.py [screenshot.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from notebook_in_browser import run_notebook  # noqa: E402

NOTEBOOK = "notebooks/01_quickstart.ipynb"
VERDICTS = ("your agent landed", "not landed yet")
"""How the quickstart's training cell begins its one-line verdict."""


def main(screenshot: Path) -> int:
    run = run_notebook(NOTEBOOK, screenshot=screenshot, timeout=1_800)
    print(run.report())
    verdicts = [line for line in run.outcomes if line.startswith(VERDICTS)]
    return 0 if verdicts and verdicts[0].startswith(VERDICTS[0]) and run.ok else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "quickstart_in_browser.png")))
