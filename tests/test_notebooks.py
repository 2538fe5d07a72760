"""Every tutorial notebook runs top to bottom in a fresh kernel, with budgets shrunk by LAB_SMOKE=1.

Each notebook runs under ``pytest --nbval-lax`` in its own process (so the plain
``pytest`` from the repo root, whose testpaths is tests/, still executes them), and
outputs are not compared: the notebooks train and plot, so their outputs vary.

Each notebook's source is a Jupytext percent-format ``.py`` beside it (ruff checks
it); the ``.ipynb`` is generated with ``jupytext --update --to ipynb notebooks/NAME.py``
(``--update`` keeps the cell ids, so diffs stay small), and a test keeps the two in step.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOURCES = sorted((ROOT / "notebooks").glob("*.py"))
SMOKE_SECONDS = 60
"""What a notebook should take under LAB_SMOKE=1 on a quiet machine."""
HARD_LIMIT = 300
"""Fail past this: a notebook that forgot to shrink its budget would train for an hour."""


def test_the_tutorials_are_all_there():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_quickstart.ipynb", "02_hyperparameter_playground.ipynb", "03_behavior_analysis.ipynb",
            "04_td3_explained.ipynb", "05_sweeps.ipynb"} <= names


def test_every_notebook_has_its_py_source_and_every_source_its_notebook():
    assert {p.stem for p in SOURCES} == {p.stem for p in NOTEBOOKS}


@pytest.mark.xdist_group("committed_notebooks")  # not beside the browser test, which may autosave outputs
@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_each_notebook_is_in_step_with_its_py_source(source):
    """The .py (Jupytext percent format) is the source; the .ipynb holds the same cells, a kernelspec, no outputs."""
    import jupytext
    import nbformat

    text = jupytext.read(source)
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    fix = f"edit {source.name}, then run: jupytext --update --to ipynb notebooks/{source.name}"
    assert [(c.cell_type, c.source) for c in notebook.cells] == [(c.cell_type, c.source) for c in text.cells], (
        f"{source.with_suffix('.ipynb').name} differs from its source in cells: {fix}")
    assert notebook.metadata.get("kernelspec") == text.metadata.get("kernelspec"), fix
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), (
        f"{source.stem}.ipynb is committed with outputs")


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_each_notebook_opens_with_what_it_teaches_how_long_it_runs_and_one_setup_line(source):
    """A learner reads the subject first, not the harness: no LAB_SMOKE, tempfile or video driver in the notebook."""
    import jupytext

    cells = jupytext.read(source).cells
    intro = cells[0]
    assert intro.cell_type == "markdown" and "**What you will learn:**" in intro.source, source.name
    assert "**How long it runs:**" in intro.source and "CPU cores" in intro.source, source.name
    setup = cells[1]
    assert setup.cell_type == "code" and "from lab.notebook import" in setup.source and "setup()" in setup.source
    assert len(setup.source.splitlines()) <= 3, f"{source.name}: the setup cell should be one short line"
    text = source.read_text()
    for harness in ("LAB_SMOKE", "SDL_VIDEODRIVER", "tempfile", "os.environ"):
        assert harness not in text, f"{source.name} still handles {harness} itself: lab.notebook.setup() does"
    assert "../docs/glossary.md" in text, f"{source.name} does not link the glossary"


def test_the_glossary_defines_every_term_the_notebooks_link_to():
    import re

    glossary = (ROOT / "docs" / "glossary.md").read_text()
    anchors = {_slug(h) for h in re.findall(r"^#{2,3} (.+)$", glossary, flags=re.MULTILINE)}
    for source in SOURCES:
        for anchor in re.findall(r"glossary\.md#([\w-]+)", source.read_text()):
            assert anchor in anchors, f"{source.name} links glossary.md#{anchor}, which the glossary does not define"


def _slug(heading: str) -> str:
    """MkDocs' (Python-Markdown toc) anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    import re

    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"[\s-]+", "-", text).strip("-")


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(notebook, tmp_path):
    env = {**os.environ, "LAB_SMOKE": "1", "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "MPLBACKEND": "Agg", "JUPYTER_PLATFORM_DIRS": "1",
           "TMPDIR": str(tmp_path)}  # the notebooks' smoke runs go to a temp folder: this one
    started = time.monotonic()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pytest", "--nbval-lax", str(notebook.relative_to(ROOT)), "-p", "no:cacheprovider",
             "-q", "--nbval-cell-timeout=240", "-W", "ignore::DeprecationWarning"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=HARD_LIMIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{notebook.name} ran past {HARD_LIMIT} s under LAB_SMOKE=1: does it shrink its budget?")
    seconds = time.monotonic() - started
    assert out.returncode == 0, (f"{notebook.name} failed after {seconds:.0f} s:\n"
                                 f"{out.stdout[-6000:]}\n{out.stderr[-2000:]}")
    print(f"{notebook.name}: {seconds:.1f} s (target under {SMOKE_SECONDS} s)")
