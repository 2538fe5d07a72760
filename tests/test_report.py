"""Run folders back in: the loader, the HTML/Markdown report, run comparison and their commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from lab.analysis.compare import compare_runs, write_comparison
from lab.analysis.report import build_report, write_report
from lab.analysis.run_data import RunFolderError, load_run
from lab.cli import main

EARLY = ["CRASHED_HIGH_VELOCITY"] * 6 + ["TIMED_OUT_HOVERING"] * 3 + ["FLEW_OFF_LEFT"]
LATE = ["LANDED_SOFTLY"] * 5 + ["LANDED_PERFECTLY"] * 4 + ["CRASHED_TILTED"]


def make_run(folder: Path, episodes: int = 300, evaluations: int = 6, solve: bool = True, analysis: bool = True,
             seed: int = 0, torn: bool = True) -> Path:
    """A run folder in the trainer's layout: crashes early, landings late, one hyperparameter change."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"env": {"success_threshold": 200.0}, "run": {"seed": seed}}))
    step, lines = 0, []
    for i in range(episodes):
        late = i >= episodes // 2
        outcome = (LATE if late else EARLY)[i % 10]
        length = int(rng.integers(100, 400))
        step += length
        raw = float(rng.normal(230, 15) if outcome.startswith("LANDED") else rng.normal(-120, 40))
        row = {"env_step": step, "episode": i, "raw_return": raw, "shaped_return": raw + 3.0, "length": length,
               "success": raw >= 200, "env_index": 0, "wall_time": 0.1 * i}
        if analysis:
            row["outcome"] = outcome
            row["behaviors"] = ["CONTROLLED_DESCENT", "SMOOTH_THRUST"] if late else ["FREEFALL", "RAPID_DESCENT"]
        lines.append(json.dumps(row))
    text = "\n".join(lines) + "\n" + ('{"env_step": 9999, "raw_re' if torn else "")
    (folder / "episodes.jsonl").write_text(text)
    updates = [{"env_step": s, "updates": s, "critic_loss": 5.0 / (1 + s / 1e4), "actor_loss": -s / 1e3,
                "mean_q": s / 1e3, "critic_grad_norm": 1.0, "actor_grad_norm": 0.5, "actor_lr": 1e-3,
                "critic_lr": 1e-3, "noise_scale": 0.3, "per_beta": 0.4, "steps_per_second": 400.0, "wall_time": 1.0}
               for s in range(500, step, 1000)]
    (folder / "updates.jsonl").write_text("".join(json.dumps(u) + "\n" for u in updates))
    evals = []
    for k in range(1, evaluations + 1):
        s = step * k // evaluations
        mean = -150 + (400 if solve else 300) * k / evaluations
        evals.append({"env_step": s, "mean_return": mean, "std_return": 20.0, "success_rate": float(mean >= 200),
                      "returns": [mean] * 5, "lengths": [300] * 5, "seconds": 1.0, "train_seconds": s / 400,
                      "outcomes": {"LANDED_SOFTLY": 3, "CRASHED_TILTED": 2}})
    (folder / "evaluations.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))
    (folder / "hyperparameters.jsonl").write_text(
        json.dumps({"env_step": step // 2, "changes": {"actor_lr": [1e-3, 3e-4]}}) + "\n")
    (folder / "states.jsonl").write_text(json.dumps({"env_step": step, "state": "finished", "error": None}) + "\n")
    return folder


def test_load_run_reads_the_layout_and_notes_damage(tmp_path: Path) -> None:
    run = load_run(make_run(tmp_path / "a", episodes=120), window=20)
    assert run.tracker.episodes == 120 and run.tracker.window == 20
    assert len(run.evaluations) == 6 and len(run.tracker.update_columns()["env_step"]) > 0
    assert run.tracker.hyperparameter_changes[0]["changes"] == {"actor_lr": [1e-3, 3e-4]}
    assert run.final_state == "finished" and run.success_threshold == 200.0
    assert any("episodes.jsonl" in p and "not valid JSON" in p for p in run.problems)
    solved_step, solved_seconds = run.solved()
    first_solved = next(e for e in run.evaluations if e["mean_return"] >= 200)
    assert solved_step == first_solved["env_step"] and solved_seconds == pytest.approx(first_solved["train_seconds"])
    assert run.env_steps() == run.evaluations[-1]["env_step"]


def test_load_run_refuses_what_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="does not exist"):
        load_run(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RunFolderError, match="is not a folder"):
        load_run(tmp_path / "file.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunFolderError, match="not a run folder"):
        load_run(tmp_path / "empty")


def test_load_run_survives_corrupt_files(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "corrupt", episodes=50)
    (folder / "config.yaml").write_text("env: [unclosed")
    (folder / "updates.jsonl").write_bytes(b"\xff\xfe\x00garbage")
    with open(folder / "episodes.jsonl", "a") as fh:
        fh.write('\n{"env_step": "soon", "raw_return": null}\n[1, 2]\n')
    (folder / "summary.json").write_text("{not json")
    run = load_run(folder)
    assert run.tracker.episodes == 50
    text = " ".join(run.problems)
    for expected in ("config.yaml could not be read", "updates.jsonl", "summary.json could not be read",
                     "skipped 1 row(s) without a numeric env_step"):
        assert expected in text


def test_report_is_self_contained_and_says_what_went_wrong(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "run", episodes=300)
    html_path, md_path = write_report(folder, window=50)
    assert (html_path, md_path) == (folder / "report.html", folder / "report.md")
    page, markdown = html_path.read_text(), md_path.read_text()

    # offline: plotly.js is inlined once, nothing is fetched
    assert page.count("<script type=\"text/javascript\">") == 1 and "Plotly.newPlot" in page
    assert not re.search(r"<script[^>]+src=", page) and not re.search(r"<link[^>]+href=", page)
    for title in ("Learning curve", "Success rate", "How episodes ended, over training", "Top behaviors",
                  "Losses and Q", "Evaluations"):
        assert f"<h2>{title}</h2>" in page
    assert page.count('class="plotly-graph-div"') == 6
    assert '"stackgroup":"outcomes"' in page  # the outcome mix is a stacked area
    assert "actor_lr=0.0003" in page  # the hyperparameter change is marked on the time axis

    assert "What went wrong most often: CRASHED_HIGH_VELOCITY, in 90 of 300 analyzed episodes (30%)" in markdown
    assert "changed from CRASHED_HIGH_VELOCITY (60%) to LANDED_SOFTLY (50%)" in markdown
    assert re.search(r"Around episode 150 \(step [\d,]+\)", markdown)
    assert "FREEFALL: 100% of episodes in the first window, 0% in the last." in markdown
    assert "hyperparameters changed: actor_lr 0.001 -> 0.0003" in markdown
    assert "Solved (evaluation mean >= 200)" in markdown and "| LANDED_SOFTLY | 75 | 25% | - | 50% |" in markdown
    assert "not valid JSON" in markdown  # the torn line is reported, not hidden
    assert "What went wrong most often" in page
    assert "How it learned" not in page and not (folder / "learning.gif").exists()  # no clips, no montage


def test_report_embeds_the_progression_montage_of_a_run_with_clips(tmp_path: Path) -> None:
    import base64

    from lab.policy import heuristic_policy
    from lab.render.clips import CLIPS_DIR, ClipRecorder

    folder = make_run(tmp_path / "run", episodes=60)
    recorder = ClipRecorder(folder / CLIPS_DIR, heuristic_policy, seed=1, every=8)
    for step in (5000, 10000):
        recorder.record(step)
    html_path, md_path = write_report(folder, window=20)
    montage = folder / "learning.gif"
    assert montage.is_file() and montage.stat().st_size < 3_000_000
    page = html_path.read_text()
    embedded = re.search(r'id="learning-montage"[^>]*src="data:image/gif;base64,([^"]+)"', page)
    assert embedded and base64.b64decode(embedded.group(1)) == montage.read_bytes()  # self-contained
    assert "<h2>How it learned</h2>" in page
    assert "![evaluation clips over training](learning.gif)" in md_path.read_text()

    (folder / CLIPS_DIR / "step_000010000.gif").write_bytes(b"GIF89a torn")  # a damaged clip costs the montage only
    html_path, md_path = write_report(folder, window=20)
    assert "How it learned" not in html_path.read_text()
    assert "the evaluation clips could not be made into a montage" in md_path.read_text()


def test_report_without_analysis_or_evaluations(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "plain", episodes=40, evaluations=0, analysis=False, torn=False)
    (folder / "evaluations.jsonl").unlink()
    (folder / "updates.jsonl").unlink()
    page, markdown = build_report(load_run(folder))
    assert "No outcomes were recorded (episode analysis was off)" in markdown
    assert "no evaluations recorded" in page and "no learner metrics recorded" in page
    assert "Solved" not in markdown

    blind = make_run(tmp_path / "blind", episodes=40, analysis=False)  # evaluations still count outcomes
    row = compare_runs([blind]).rows[0]
    assert row["outcome mix (last window)"] == "eval: LANDED_SOFTLY 60%, CRASHED_TILTED 40%"


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_run(tmp_path / "run", episodes=60)
    out = tmp_path / "out"
    assert main(["report", str(folder), "--out", str(out), "--window", "20"]) == 0
    printed = capsys.readouterr().out
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    assert "What went wrong most often" in printed and str(out / "report.html") in printed
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_compare_table_handles_lengths_and_bad_folders(tmp_path: Path) -> None:
    long_run = make_run(tmp_path / "long", episodes=300, solve=True)
    short_run = make_run(tmp_path / "short", episodes=80, evaluations=3, solve=False, seed=1)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "episodes.jsonl").write_bytes(b"\x00\xff not json at all")
    comparison = compare_runs([long_run, short_run, tmp_path / "missing", garbage], metrics=["eval", "success"])
    assert [r.name for r in comparison.runs] == ["long", "short", "garbage"]
    rows = {row["run"]: row for row in comparison.rows}
    assert rows["missing"]["status"].startswith("error:") and "does not exist" in rows["missing"]["status"]
    assert str(tmp_path / "missing") in comparison.errors
    assert rows["garbage"]["episodes"] == 0 and "warning" in rows["garbage"]["status"]

    long_evals = load_run(long_run).evaluations
    assert rows["long"]["final eval"] == pytest.approx(long_evals[-1]["mean_return"])
    assert rows["long"]["best eval"] == pytest.approx(max(e["mean_return"] for e in long_evals))
    assert rows["long"]["solved at step"] == next(e["env_step"] for e in long_evals if e["mean_return"] >= 200)
    assert rows["long"]["time to solve"] is not None
    assert rows["short"]["solved at step"] is None and rows["short"]["final eval"] < 200
    assert rows["long"]["outcome mix (last window)"].startswith("LANDED_SOFTLY 50%")
    assert rows["long"]["env steps"] > rows["short"]["env steps"]

    html_path, md_path = write_comparison(comparison, tmp_path / "cmp.html", metrics=["eval", "success"])
    page = html_path.read_text()
    assert not re.search(r"<script[^>]+src=", page) and page.count('class="plotly-graph-div"') == 2
    assert '"name":"long"' in page and '"name":"short"' in page and "does not exist" in page
    assert "| long |" in md_path.read_text()


def test_compare_rejects_unknown_metrics_and_no_folders(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        compare_runs([tmp_path], metrics=["bogus"])
    with pytest.raises(ValueError, match="no run folders"):
        compare_runs([])


def test_compare_command(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    a, b = make_run(tmp_path / "a", episodes=100), make_run(tmp_path / "b", episodes=50, seed=2)
    assert main(["compare", str(a), str(b), "--metric", "return", "--metric", "critic_loss"]) == 0
    captured = capsys.readouterr()
    assert "| a |" in captured.out and "| b |" in captured.out and (tmp_path / "compare.html").is_file()
    assert main(["compare", str(a), str(tmp_path / "missing"), "--out", str(tmp_path / "two.html")]) == 1
    captured = capsys.readouterr()
    assert "warning: skipped" in captured.err and (tmp_path / "two.html").is_file()
    assert main(["compare", str(tmp_path / "missing")]) == 2
    assert "none of the run folders could be read" in capsys.readouterr().err


def test_report_of_a_real_training_run(tiny_config, tmp_path: Path) -> None:
    """The trainer's own run folder and events feed the loader and the tracker alike."""
    from lab.analysis import DiagnosticsTracker
    from lab.train.trainer import Trainer

    config = tiny_config.with_overrides({"run.eval_every": 300, "run.eval_episodes": 2})
    trainer = Trainer(config, run_dir=tmp_path / "real")
    live = DiagnosticsTracker(window=10)
    trainer.events.subscribe(live)
    try:
        trainer.fit()
    finally:
        trainer.close()
    run = load_run(tmp_path / "real", window=10)
    assert run.tracker.episodes == live.episodes > 0
    assert run.tracker.window_counts()["outcomes"].tolist() == live.window_counts()["outcomes"].tolist()
    assert run.tracker.window_counts()["analyzed"].sum() == live.episodes  # every episode was analyzed
    assert len(run.evaluations) == len(live.evaluations) >= 1 and run.problems == []
    html_path, md_path = write_report(tmp_path / "real")
    assert "What went wrong most often" in md_path.read_text() or "ended in a landing" in md_path.read_text()


# ---- outputs replace only their own kind ----------------------------------------------------------------------
def test_compare_out_never_replaces_a_file_it_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            ) -> None:
    a = make_run(tmp_path / "a", episodes=40)
    b = make_run(tmp_path / "b", episodes=40, seed=1)
    checkpoint = b / "checkpoint.pt"
    checkpoint.write_bytes(b"PK\x03\x04 weights")
    page = tmp_path / "mine.html"
    page.write_text("<!DOCTYPE html><html><head><title>my notes</title></head></html>")
    report_page = write_report(b, window=20)[0]
    for target, why in ((checkpoint, "allowed a file name ending in .html"), (b / "summary.json", ".html"),
                        (page, "was not written by the lab as a comparison"),
                        (report_page, "was not written by the lab as a comparison")):
        before = target.read_bytes() if target.exists() else None
        assert main(["compare", str(a), "--out", str(target)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and why in err and err.count("\n") == 1
        assert (target.read_bytes() if target.exists() else None) == before
    md_beside = tmp_path / "cmp.md"
    md_beside.write_text("# my own table\n")
    assert main(["compare", str(a), "--out", str(tmp_path / "cmp.html")]) == 2  # its .md would be replaced
    assert "cmp.md" in capsys.readouterr().err and md_beside.read_text() == "# my own table\n"
    assert not (tmp_path / "cmp.html").exists()


def test_compare_and_report_replace_their_own_earlier_output(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    a = make_run(tmp_path / "a", episodes=40)
    out = tmp_path / "pages"
    out.mkdir()
    for _ in range(2):
        assert main(["compare", str(a), "--out", str(out)]) == 0  # a folder gets compare.html and compare.md
        assert main(["report", str(a), "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["compare.html", "compare.md", "report.html", "report.md"]
    assert (out / "compare.md").read_text().startswith("<!-- lander-lab comparison:")
    assert '<meta name="generator" content="lander-lab report">' in (out / "report.html").read_text()[:500]
    # pages written before the markers existed are recognised by their titles
    (out / "report.md").write_text("# Lander Lab report: a\n\nHAND-KEPT\n")
    (out / "compare.html").write_text('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                                      "<title>Lander Lab: run comparison</title>")
    assert main(["report", str(a), "--out", str(out), "--quiet"]) == 0
    assert main(["compare", str(a), "--out", str(out / "compare.html")]) == 0
    assert "HAND-KEPT" not in (out / "report.md").read_text()
    capsys.readouterr()


def test_report_never_replaces_files_it_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    a = make_run(tmp_path / "a", episodes=40)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "report.md").write_text("# my report, by hand\n")
    assert main(["report", str(a), "--out", str(notes), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "report.md" in err and "refusing to replace it" in err and err.count("\n") == 1
    assert sorted(p.name for p in notes.iterdir()) == ["report.md"]  # nothing written, not even the HTML
    (notes / "report.md").unlink()
    Image.new("RGB", (4, 4)).save(notes / "learning.gif", comment=b"a holiday photo")
    assert main(["report", str(a), "--out", str(notes), "--quiet"]) == 2
    assert "learning.gif" in capsys.readouterr().err and not (notes / "report.html").exists()


def test_report_and_compare_name_a_folder_whose_name_is_not_utf8(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    folder = Path(os.fsdecode(bytes(tmp_path) + b"/run\xff"))
    make_run(folder, episodes=40)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for argv in (["report", folder, "--quiet"], ["compare", folder, "--out", tmp_path / "cmp.html"]):
        done = subprocess.run([sys.executable, "-m", "lab", *map(os.fsencode, argv)], capture_output=True, env=env,
                              timeout=300)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        assert b"codec" not in done.stderr and b"run\\xff" in done.stdout
    assert "run\\xff" in (folder / "report.md").read_text(encoding="utf-8")
    assert "run\\xff" in (tmp_path / "cmp.md").read_text(encoding="utf-8")
    assert "run\\xff" in (tmp_path / "cmp.html").read_text(encoding="utf-8")


def test_a_run_config_with_yaml_aliases_is_refused_not_expanded(tmp_path: Path) -> None:
    folder = make_run(tmp_path / "run", episodes=40)
    (folder / "config.yaml").write_text("a: &a [1, 1, 1]\nenv: {success_threshold: 200.0}\nb: [*a, *a]\n")
    run = load_run(folder)
    assert any("YAML alias *a (line 3)" in problem for problem in run.problems)
    assert run.config == {}
