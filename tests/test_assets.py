"""scripts/make_assets.py: the panel screenshots come from real runs, and their captions say what the runs did."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_assets", ROOT / "scripts" / "make_assets.py")
make_assets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_assets)


def _facts(evaluations, config_differences, changes_a, changes_b):
    return {"single": {"preset": "guided", "seed": 2, "budget": 100_000, "evaluations": evaluations, "summary": {}},
            "ab": {"preset": "guided", "budget": 40_000, "config_differences": config_differences,
                   "changes": [changes_a, changes_b]}}


def test_captions_say_exactly_how_a_and_b_differ():
    shared = [5_000, "actor_lr", 0.001, 0.0005]  # sent to all agents: not a difference
    facts = _facts([[5_000, -120.0], [10_000, 215.4]], {"run.seed": [0, 1]},
                   [shared], [shared, [10_250, "sigma", 0.1, 0.3]])
    captions = make_assets.captions(facts, sigma=0.3)
    ab = captions["panel_ab.png"]["caption"]
    assert "differ in exactly: run.seed (A 0, B 1); the live change sigma 0.1→0.3 at B's step 10,250." in ab
    assert "actor_lr" not in ab
    single = captions["panel.png"]["caption"]
    assert "seed 2, landed at step 10,000 (evaluation mean 215" in single


def test_a_single_run_that_did_not_land_says_so():
    captions = make_assets.captions(_facts([[5_000, -120.0], [10_000, 15.0]], {}, [], []), sigma=0.3)
    assert "did not land within its 100,000-step budget (best evaluation 15)" in captions["panel.png"]["caption"]
    assert "differ in exactly: nothing" in captions["panel_ab.png"]["caption"]


def test_the_committed_captions_are_what_the_readme_shows():
    panels = json.loads((ROOT / "assets" / "panels.json").read_text())
    assert set(panels) == {"panel.png", "panel_ab.png"}
    readme = (ROOT / "README.md").read_text()
    for name, panel in panels.items():
        assert (ROOT / "assets" / name).exists() and f"*{panel['caption']}*" in readme


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.xdist_group("committed_notebooks")  # one JupyterLab at a time: the browser test uses the same helpers
def test_make_assets_screenshots_real_runs_in_jupyterlab(tmp_path):
    out = tmp_path / "assets"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_assets.py"), "--out", str(out),
                             "--preset", "tiny", "--single-steps", "600", "--ab-steps", "900", "--change-at", "300",
                             "--eval-every", "300", "--sigma", "0.45"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("panel.png", "panel_ab.png"):
        assert (out / name).stat().st_size > 10_000, name
    panels = json.loads((out / "panels.json").read_text())
    ab = panels["panel_ab.png"]["caption"]
    assert "run.seed (A 0, B 1)" in ab and "→0.45 at B's step" in ab, ab
    assert "the `tiny` preset, seed 2" in panels["panel.png"]["caption"]
