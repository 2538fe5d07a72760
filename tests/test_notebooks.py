"""Every tutorial notebook runs top to bottom in a fresh kernel, with budgets shrunk by LAB_SMOKE=1.

Each notebook runs under ``pytest --nbval-lax`` in its own process (so the plain
``pytest`` from the repo root, whose testpaths is tests/, still executes them), and
outputs are not compared: the notebooks train and plot, so their outputs vary.
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
SMOKE_SECONDS = 60
"""What a notebook should take under LAB_SMOKE=1 on a quiet machine."""
HARD_LIMIT = 300
"""Fail past this: a notebook that forgot to shrink its budget would train for an hour."""


def test_the_tutorials_are_all_there():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_quickstart.ipynb", "02_hyperparameter_playground.ipynb", "03_behavior_analysis.ipynb",
            "04_td3_explained.ipynb"} <= names


def test_the_notebooks_match_their_generator(tmp_path):
    """The committed notebooks are what notebooks/build_notebooks.py writes (edit the generator, not the JSON)."""
    sys.path.insert(0, str(ROOT / "notebooks"))
    try:
        import build_notebooks
    finally:
        sys.path.pop(0)
    for path in build_notebooks.build(tmp_path):
        assert path.read_text() == (ROOT / "notebooks" / path.name).read_text(), (
            f"{path.name} differs from its generator: run python notebooks/build_notebooks.py")


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
