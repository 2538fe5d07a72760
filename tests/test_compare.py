"""``lab compare`` over seeds: runs that differ only in seed form a group with a mean curve, a 95% bootstrap
band and IQM [95% CI] statistics (the ones ``bench time-to-solve`` prints)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from lab.analysis.compare import compare_runs, write_comparison
from lab.analysis.run_data import load_run
from lab.analysis.seed_groups import group_by_seed, group_statistics, mean_curve
from lab.cli import main
from lab.config import Config
from lab.stats import iqm

BASE = {"run.total_steps": 100_000, "run.eval_every": 20_000}


def write_run(folder: Path, seed: int, evals: list[float], seconds_per_step: float = 0.003,
              overrides: dict | None = None, eval_every: int = 20_000) -> Path:
    """A finished run folder as the trainer leaves it: config, episodes, evaluations, states, summary."""
    folder.mkdir(parents=True)
    config = Config().with_overrides({**BASE, "run.seed": seed, "run.out_dir": str(folder.parent),
                                      **(overrides or {})})
    config.save(folder / "config.yaml")
    rows = [{"env_step": eval_every * (k + 1), "mean_return": m, "std_return": 10.0, "success_rate": float(m >= 200),
             "returns": [m] * 3, "lengths": [300] * 3, "seconds": 1.0,
             "train_seconds": eval_every * (k + 1) * seconds_per_step} for k, m in enumerate(evals)]
    (folder / "evaluations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    episodes = [{"env_step": 500 * (i + 1), "episode": i, "raw_return": float(-100 + i * seed), "shaped_return": 0.0,
                 "length": 500, "success": False, "env_index": 0, "wall_time": float(i)} for i in range(40)]
    (folder / "episodes.jsonl").write_text("".join(json.dumps(e) + "\n" for e in episodes))
    solved = next((r for r in rows if r["mean_return"] >= 200), None)
    last = rows[-1]
    (folder / "states.jsonl").write_text(json.dumps({"env_step": last["env_step"], "state": "finished"}) + "\n")
    (folder / "summary.json").write_text(json.dumps({
        "env_step": last["env_step"], "train_seconds": last["train_seconds"], "state": "finished",
        "solved_at_step": solved and solved["env_step"], "solved_at_seconds": solved and solved["train_seconds"]}))
    return folder


@pytest.fixture
def seed_runs(tmp_path: Path) -> list[Path]:
    """Four seeds of one config (solved at 20k, 40k, 60k, never) and two seeds of a larger critic lr."""
    curves = {0: [210, 250, 260, 270, 280], 1: [100, 220, 240, 250, 260], 2: [50, 150, 230, 240, 250],
              3: [0, 50, 100, 120, 150]}
    paths = [write_run(tmp_path / f"fast-seed{s}", s, c) for s, c in curves.items()]
    paths += [write_run(tmp_path / f"lr-seed{s}", s, [0, 100, 205], overrides={"training.critic_lr": 0.005},
                        seconds_per_step=0.002) for s in (0, 1)]
    return paths


def test_runs_that_differ_only_in_seed_form_one_group(seed_runs: list[Path], tmp_path: Path) -> None:
    lone = write_run(tmp_path / "no-config", 7, [0, 10])
    (lone / "config.yaml").unlink()
    groups = group_by_seed([load_run(p) for p in [*seed_runs, lone]])
    assert [len(g.runs) for g in groups] == [4, 2, 1]
    assert [g.seeds for g in groups[:2]] == [[0, 1, 2, 3], [0, 1]]
    assert groups[0].label == "training.critic_lr=0.001" and groups[1].label == "training.critic_lr=0.005"
    assert groups[2].label == "no-config"  # an unreadable config cannot be matched, so it stays alone
    same = group_by_seed([load_run(p) for p in seed_runs[:4]])
    assert len(same) == 1 and same[0].label == "fast"  # nothing sets it apart: named after its runs
    bench_out = [write_run(tmp_path / "tts" / f"seed{s}", s, [0, 10]) for s in (0, 1)]  # bench --out tts
    assert group_by_seed([load_run(p) for p in bench_out])[0].label == "tts"


def test_group_statistics_count_unsolved_seeds_at_the_budget(seed_runs: list[Path]) -> None:
    group = group_by_seed([load_run(p) for p in seed_runs[:4]])[0]
    figures = group_statistics(group)
    assert figures.solved == 3 and figures.step_cap == 100_000
    steps = figures.solve_steps  # 20k, 40k, 60k and the unsolved seed at the 100k budget
    assert (steps.n, steps.median, steps.iqm) == (4, 50_000, pytest.approx(50_000))
    assert 20_000 <= steps.ci_low <= steps.iqm <= steps.ci_high <= 100_000
    seconds = figures.solve_seconds  # 60, 120, 180 s, and 300 s (the longest training) for the unsolved seed
    assert seconds.iqm == pytest.approx(150.0) and seconds.median == pytest.approx(150.0)
    finals = [280, 260, 250, 150]
    assert figures.final_eval.iqm == pytest.approx(float(iqm(finals))) and figures.final_eval.median == 255


def test_mean_curve_has_a_band_around_the_mean_and_drops_finished_seeds() -> None:
    x = np.array([1_000, 2_000, 3_000])
    series = [(x, np.array([0.0, 10.0, 20.0])), (x, np.array([2.0, 14.0, 30.0])),
              (np.array([1_000, 2_000]), np.array([1.0, 12.0]))]
    grid, mean, low, high = mean_curve(series, exact_steps=True)
    np.testing.assert_array_equal(grid, x)
    np.testing.assert_allclose(mean, [1.0, 12.0, 25.0])
    assert np.all(low <= mean) and np.all(mean <= high) and np.all(high - low > 0)
    assert low[2] >= 20.0 and high[2] <= 30.0  # only the two seeds that got there
    grid, mean, low, high = mean_curve(series, exact_steps=False, points=5)
    assert len(grid) == 5 and grid[0] == 1_000 and grid[-1] == 3_000 and mean[1] == pytest.approx(6.5)


def test_comparison_page_draws_group_bands_and_tables_the_statistics(seed_runs: list[Path], tmp_path: Path) -> None:
    comparison = compare_runs(seed_runs, metrics=["eval", "return"])
    rows = {row["group"]: row for row in comparison.group_rows}
    fast = rows["training.critic_lr=0.001"]
    assert (fast["runs"], fast["seeds"], fast["solved"]) == (4, "0, 1, 2, 3", "3/4")
    assert fast["steps to solve (median)"] == "50,000"
    assert fast["steps to solve: IQM [95% CI]"].startswith("50,000 [")
    assert re.fullmatch(r"150 \[\d+, \d+\]", fast["seconds to solve: IQM [95% CI]"])
    assert rows["training.critic_lr=0.005"]["solved"] == "2/2"

    html_path, md_path = write_comparison(comparison, tmp_path / "cmp.html", metrics=["eval", "return"])
    page, markdown = html_path.read_text(), md_path.read_text()
    assert "<h2>Seed groups</h2>" in page and page.count('class="plotly-graph-div"') == 2
    assert page.count('"fill":"tonexty"') == 4  # one band per group per chart
    assert '"name":"training.critic_lr=0.001 (mean of 4 seeds, 95% CI band)"' in page
    assert '"name":"fast-seed3"' in page  # each seed still drawn, faintly
    assert "| training.critic_lr=0.001 | 4 | 0, 1, 2, 3 | 3/4 | 50,000 |" in markdown
    assert "interquartile mean (IQM)" in markdown


def test_no_group_table_when_every_run_stands_alone(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", 0, [0, 220])
    b = write_run(tmp_path / "b", 1, [0, 100], overrides={"training.batch_size": 64})
    comparison = compare_runs([a, b])
    assert [len(g.runs) for g in comparison.groups] == [1, 1] and comparison.group_table() is None
    assert "Seed groups" not in comparison.markdown()
    page = write_comparison(comparison, tmp_path / "cmp.html")[0].read_text()
    assert '"fill":"tonexty"' not in page and '"name":"a"' in page and '"name":"b"' in page


def test_compare_command_prints_the_group_table(seed_runs: list[Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "page.html"
    assert main(["compare", *map(str, seed_runs), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Seed groups." in printed and "| training.critic_lr=0.005 | 2 | 0, 1 | 2/2 |" in printed
    assert out.is_file() and out.with_suffix(".md").is_file()
