"""Regenerate the README's panel screenshots from real runs in JupyterLab in headless Chromium, with true captions.

    PYTHONPATH=. python scripts/make_assets.py                   # assets/panel.png, panel_ab.png, panels.json
    PYTHONPATH=. python scripts/make_assets.py --out /tmp/assets --preset tiny --single-steps 600 --ab-steps 600

It writes a notebook into test-artifacts/make_assets/ (never into notebooks/), opens it in JupyterLab in Debian's
Chromium and runs it as a reader would: a single-agent panel trains the preset until it lands (or its budget ends),
then an A/B panel trains agents A and B side by side, and at ``--change-at`` steps B's sigma (only B's) is raised.
Each panel's output is screenshotted (64 colours). The captions are not typed in: after the runs, the kernel reads
the run folders (config.yaml, evaluations.jsonl, hyperparameters.jsonl) and reports what the single run reached and
every way A and B differ, and the captions in panels.json say exactly that. Minutes long at the default budgets.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
WORK = ROOT / "test-artifacts" / "make_assets"
NOTEBOOK = "test-artifacts/make_assets/panels.ipynb"
MARK = "ASSETS-FACTS "
"""How the kernel's last cell prints what it read from the run folders."""

SOURCE = '''
import json
from pathlib import Path

import yaml

import lab
import widgets

CONFIG = lab.preset({preset!r}, **{{"run.seed": {seed}, "run.total_steps": {single_steps},
                                    "run.stop_when_solved": True, "run.eval_every": {eval_every}}})
# %%
panel = widgets.TrainingPanel(CONFIG, run_dir="runs/single", name="{preset}")
panel
# %%
panel.start()
panel.wait()
# %%
AB = lab.preset({preset!r}, **{{"run.total_steps": {ab_steps}, "run.eval_every": {eval_every}}})
ab = widgets.TrainingPanel(AB, agents=2, run_dir="runs/ab", name="ab")
ab
# %%
ab.start()
ab.wait(steps={change_at})
ab.set("sigma", {sigma}, agent=1)
ab.wait()
# %%
def flat(path):
    sections = yaml.safe_load(Path(path).read_text())
    return {{f"{{s}}.{{k}}": v for s, values in sections.items() for k, v in values.items()}}

def changes(folder):
    log = Path(folder) / "hyperparameters.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    return [[row["env_step"], name, old, new] for row in rows for name, (old, new) in row["changes"].items()]

single = Path("runs/single")
evaluations = [json.loads(line) for line in (single / "evaluations.jsonl").read_text().splitlines() if line.strip()]
a, b = sorted(Path("runs/ab").glob("agent*_seed*"))
config_a, config_b = flat(a / "config.yaml"), flat(b / "config.yaml")
facts = {{
    "single": {{"preset": {preset!r}, "seed": CONFIG.run.seed, "budget": CONFIG.run.total_steps,
               "evaluations": [[e["env_step"], e["mean_return"]] for e in evaluations],
               "summary": json.loads((single / "summary.json").read_text())}},
    "ab": {{"preset": {preset!r}, "budget": AB.run.total_steps,
           "config_differences": {{k: [config_a.get(k), config_b.get(k)] for k in sorted(set(config_a) | set(config_b))
                                  if config_a.get(k) != config_b.get(k)}},
           "changes": [changes(a), changes(b)]}},
}}
print("{mark}" + json.dumps(facts, default=str))
'''


def write_notebook(path: Path, **values: Any) -> None:
    """The notebook the browser runs: SOURCE's cells, filled in."""
    import nbformat

    cells = [nbformat.v4.new_code_cell(cell.strip()) for cell in SOURCE.format(mark=MARK, **values).split("# %%")]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def _steps(value: float) -> str:
    return f"{value:,.0f}"


def captions(facts: dict[str, Any], sigma: float) -> dict[str, dict[str, str]]:
    """What each screenshot shows, from what the kernel read in the run folders."""
    single, ab = facts["single"], facts["ab"]
    landed = [(step, mean) for step, mean in single["evaluations"] if mean >= 200]
    end = (f"landed at step {_steps(landed[0][0])} (evaluation mean {landed[0][1]:.0f} over 10 fixed episodes), "
           "where the run stopped") if landed else \
        f"did not land within its {_steps(single['budget'])}-step budget (best evaluation " \
        f"{max((m for _, m in single['evaluations']), default=float('nan')):.0f})"
    differences = [f"{key} ({'A ' + str(a)}, {'B ' + str(b)})" for key, (a, b) in ab["config_differences"].items()]
    shared = {tuple(c[1:]) for c in ab["changes"][0]} & {tuple(c[1:]) for c in ab["changes"][1]}
    live = [f"{name} {old}→{new} at {label}'s step {_steps(step)}"
            for label, rows in zip("AB", ab["changes"]) for step, name, old, new in rows
            if (name, old, new) not in shared]
    said = differences + [f"the live change {change}" for change in live]
    ab_text = (f"Agents A and B train the `{ab['preset']}` preset side by side in one population, "
               f"{_steps(ab['budget'])} env steps each. They differ in exactly: {'; '.join(said) or 'nothing'}. "
               "Everything else is the same.")
    return {
        "panel.png": {"alt": "the training panel in JupyterLab",
                      "caption": f"The single-agent panel after a real run: the `{single['preset']}` preset, seed "
                                 f"{single['seed']}, {end}.",
                      "source": "scripts/make_assets.py"},
        "panel_ab.png": {"alt": f"the A/B panel: two agents, B's sigma raised to {sigma} for B alone",
                         "caption": ab_text, "source": "scripts/make_assets.py"},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "assets", help="where the PNGs and panels.json go")
    parser.add_argument("--preset", default="guided", help="the preset both panels train")
    parser.add_argument("--seed", type=int, default=2, help="the single run's seed (A and B are seeds 0 and 1)")
    parser.add_argument("--single-steps", type=int, default=100_000, help="the single run's budget (it stops "
                                                                          "when it lands)")
    parser.add_argument("--ab-steps", type=int, default=40_000, help="env steps per agent of the A/B run")
    parser.add_argument("--change-at", type=int, default=10_000, help="B's sigma changes once both agents are here")
    parser.add_argument("--sigma", type=float, default=0.3, help="B's new sigma")
    parser.add_argument("--eval-every", type=int, default=5_000, help="env steps between evaluations")
    args = parser.parse_args()
    from lab.presets import preset

    if preset(args.preset).noise.sigma == args.sigma:
        parser.error(f"--sigma {args.sigma} is the {args.preset} preset's own sigma: B would not differ from A; "
                     "pick another value")
    from playwright.sync_api import sync_playwright

    from lab.io import atomic_write_json
    from tests.test_browser import (
        _save_small_png,
        notebook_tracebacks,
        open_chromium,
        open_notebook,
        run_all_cells,
        running_jupyterlab,
    )

    started = time.monotonic()
    shutil.rmtree(WORK / "runs", ignore_errors=True)  # the captions read the runs made now, nothing older
    write_notebook(ROOT / NOTEBOOK, preset=args.preset, seed=args.seed, single_steps=args.single_steps,
                   ab_steps=args.ab_steps, change_at=args.change_at, sigma=args.sigma, eval_every=args.eval_every)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, running_jupyterlab(Path(tmp), NOTEBOOK, smoke=False) as (base, token):
        with sync_playwright() as p:
            browser = open_chromium(p)
            page = browser.new_page(viewport={"width": 1500, "height": 1700})
            page.set_default_timeout(3_600_000)
            open_notebook(page, base, token, NOTEBOOK)
            run_all_cells(page, timeout=3_600)
            errors = notebook_tracebacks(page)
            if errors:
                print(f"error: the notebook failed: {errors[0][-2000:]}", file=sys.stderr)
                return 1
            cells = page.locator(".jp-CodeCell")
            for index, name in ((1, "panel.png"), (3, "panel_ab.png")):
                output = cells.nth(index).locator(".jp-OutputArea-output").first
                output.scroll_into_view_if_needed()
                tab = output.locator(".lm-TabBar-tab", has_text="Exploration")  # where sigma is, if the panel has it
                if tab.count():
                    tab.first.click()
                    page.wait_for_timeout(500)
                shot = Path(tmp) / name
                output.screenshot(path=str(shot))
                _save_small_png(shot, args.out / name)
            texts = cells.last.locator(".jp-OutputArea-output").all_inner_texts()
            browser.close()
    line = next(line for text in texts for line in text.splitlines() if line.startswith(MARK))
    panels = captions(json.loads(line[len(MARK):]), args.sigma)
    atomic_write_json(args.out / "panels.json", panels)
    for name, panel in panels.items():
        print(f"{args.out / name}: {panel['caption']}")
    print(f"{time.monotonic() - started:.0f} s in all; then: python scripts/update_readme.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
