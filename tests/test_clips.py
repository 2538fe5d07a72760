"""Evaluation clips: recorded by a real trainer, labelled by the analyzer, small; the progression montage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lab.cli import main
from lab.policy import heuristic_policy, random_policy
from lab.render.clips import (
    CLIPS_DIR,
    INDEX,
    MONTAGE_MAX_BYTES,
    Clip,
    ClipRecorder,
    ClipSaved,
    attach_clip_recorders,
    clip_caption,
    load_clips,
    pick,
    steps_label,
    thin,
    write_progression,
)
from lab.render.gif import read_gif


def gif_frames(path: Path) -> int:
    return len(read_gif(path)[0])


def test_labels_thinning_and_picking() -> None:
    assert [steps_label(s) for s in (500, 1000, 1500, 35_000, 1_200_000)] == ["500", "1k", "1.5k", "35k", "1.2M"]
    assert clip_caption(5000, "CRASHED_HIGH_VELOCITY", -80) == "5k steps: crashed high velocity"
    assert clip_caption(5000, None, -80.4) == "5k steps: return -80"
    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(250)]
    kept = thin(frames, 80)
    assert len(kept) <= 80 and kept[0] is frames[0] and kept[-1] is frames[-1]
    assert [int(f[0, 0, 0]) for f in kept[:3]] == [0, 4, 8]  # evenly spaced
    assert thin(frames[:10], 80) == frames[:10]
    story = [Clip(1000 * (i + 1), "", "", outcome, 0.0, 0, 0, 0, 0)
             for i, outcome in enumerate(["CRASHED_TILTED"] * 7 + ["TIMED_OUT_HOVERING"] * 5 + ["LANDED_SOFTLY"] * 8)]
    steps = [c.env_step // 1000 for c in pick(story, 6)]
    assert steps == [1, 4, 8, 13, 16, 20]  # first, last, where the outcome changed (8, 13), then the widest gaps
    assert [c.env_step // 1000 for c in pick(story, 3)] == [1, 13, 20]  # too many turns: spread over them
    assert pick(story[:3], 9) == story[:3]
    with pytest.raises(ValueError, match="max_frames must be an integer >= 2, got 1"):
        ClipRecorder("x", heuristic_policy, max_frames=1)
    with pytest.raises(ValueError, match="scale must be between 0.1 and 1.0, got 3"):
        ClipRecorder("x", heuristic_policy, scale=3)


def episode_returns(run_dir: Path) -> list[float]:
    return [json.loads(line)["raw_return"] for line in (run_dir / "episodes.jsonl").read_text().splitlines()]


def test_a_real_trainer_records_one_labelled_clip_per_evaluation(tiny_config, tmp_path: Path) -> None:
    from lab.train.trainer import Trainer

    # one evaluation episode: the evaluation's policy call sees one observation, as the clip's does,
    # so the clip replays exactly the episode the evaluation scored
    config = tiny_config.with_overrides({"run.eval_every": 300, "run.eval_episodes": 1})
    plain = Trainer(config, run_dir=tmp_path / "plain")  # clips are off unless attached
    try:
        plain.fit()
    finally:
        plain.close()
    trainer = Trainer(config, run_dir=tmp_path / "run")
    [recorder] = attach_clip_recorders(trainer)
    saved: list[ClipSaved] = []
    trainer.events.subscribe(saved.append, ClipSaved)
    try:
        trainer.fit()
    finally:
        trainer.close()
    assert trainer.events.errors == []
    assert not (tmp_path / "plain" / CLIPS_DIR).exists()
    assert episode_returns(tmp_path / "plain") == episode_returns(tmp_path / "run") != []  # clips change nothing
    evaluations = [json.loads(line) for line in (tmp_path / "run" / "evaluations.jsonl").read_text().splitlines()]
    clips = load_clips(tmp_path / "run" / CLIPS_DIR)
    assert [c.env_step for c in clips] == [e["env_step"] for e in evaluations] == [e.env_step for e in saved]
    assert len(clips) == 2 and clips == recorder.clips
    for clip, evaluation, event in zip(clips, evaluations, saved):
        path = tmp_path / "run" / CLIPS_DIR / clip.file
        assert clip.file == f"step_{clip.env_step:09d}.gif" and event.path == str(path)
        assert clip.seed == config.run.eval_seed
        assert clip.episode_return == pytest.approx(evaluation["returns"][0], abs=1e-3)
        assert clip.length == evaluation["lengths"][0]
        assert evaluation["outcomes"] == {clip.outcome: 1}  # labelled with the analyzer's verdict on it
        assert clip.caption == clip_caption(clip.env_step, clip.outcome, clip.episode_return)
        assert gif_frames(path) == clip.frames == len(event.frames) <= 80
        with Image.open(path) as image:
            assert image.size == (200, event.frames.shape[1]) and image.info["loop"] == 0
            assert image.info["comment"].decode().startswith(clip.caption)
        assert clip.bytes == path.stat().st_size < 40_000
    assert recorder.total_bytes < 100_000
    assert sorted(p.name for p in (tmp_path / "run" / CLIPS_DIR).iterdir()) == sorted([c.file for c in clips] + [INDEX])


def record_progression(folder: Path, steps: list[int]) -> ClipRecorder:
    """Clips as a learning run would have them: a random pilot early, the heuristic later."""
    current = {"step": 0}

    def source():  # noqa: ANN202 - a policy
        return random_policy() if current["step"] < steps[len(steps) // 2] else heuristic_policy()

    recorder = ClipRecorder(folder / CLIPS_DIR, source, seed=3, every=8)
    for step in steps:
        current["step"] = step
        recorder.record(step)
    return recorder


@pytest.fixture(scope="module")
def progression_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("progression") / "run"
    record_progression(folder, [5000 * k for k in range(1, 11)])
    return folder


def test_progression_montage_is_captioned_tiled_and_under_3_mb(progression_run: Path, tmp_path: Path) -> None:
    clips = load_clips(progression_run / CLIPS_DIR)
    assert clips[0].outcome != clips[-1].outcome and clips[-1].outcome.startswith("LANDED")
    path = write_progression(progression_run, tmp_path / "learning.gif")
    chosen = pick(clips, 9)
    assert len(chosen) == 9 and {5000, 30000, 50000} <= {c.env_step for c in chosen}  # first landing included
    with Image.open(path) as image:
        comment = image.info["comment"].decode()
        width, height = image.size
    assert comment.startswith("5k steps: ") and comment.endswith("50k steps: " + chosen[-1].caption.split(": ")[1])
    assert comment.count(" ... ") == 8 and "landed" in comment
    assert width == 3 * 200 + 2 * 2 and height > 3 * 148  # a 3x3 grid of 200-px clips, a title strip below
    longest = max(gif_frames(progression_run / CLIPS_DIR / c.file) for c in chosen)
    assert gif_frames(path) == longest  # shorter clips hold their last frame
    assert path.stat().st_size < MONTAGE_MAX_BYTES


def test_montage_over_its_byte_budget_drops_frames_until_it_fits(progression_run: Path, tmp_path: Path) -> None:
    full = write_progression(progression_run, tmp_path / "full.gif")
    budget = full.stat().st_size // 2
    small = write_progression(progression_run, tmp_path / "small.gif", max_bytes=budget)
    assert small.stat().st_size <= budget < full.stat().st_size
    assert gif_frames(small) < gif_frames(full)
    with pytest.raises(ValueError, match="over the 100-byte limit even at 2 frames"):
        write_progression(progression_run, small, max_bytes=100)
    assert gif_frames(small) < gif_frames(full)  # the montage that fitted is still there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.gif", "small.gif"]  # no drafts left


def test_index_survives_a_crash_between_writes_and_a_resumed_recorder_extends_it(tmp_path: Path) -> None:
    recorder = record_progression(tmp_path / "run", [1000, 2000])
    folder = tmp_path / "run" / CLIPS_DIR
    (folder / INDEX).write_text("{ torn")
    rebuilt = load_clips(folder)
    assert [c.env_step for c in rebuilt] == [1000, 2000]
    assert [c.caption for c in rebuilt] == [c.caption for c in recorder.clips]  # from the GIF comments
    (folder / "step_notes.gif").write_bytes(b"not a clip")  # only step_<digits>.gif names are clips
    (folder / "step_000001000.gif").unlink()
    resumed = ClipRecorder(folder, heuristic_policy, seed=3)
    resumed.record(3000)
    assert [c.env_step for c in load_clips(folder)] == [2000, 3000]
    assert json.loads((folder / INDEX).read_text())["clips"][-1]["env_step"] == 3000


def test_gif_progression_command(progression_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "learning.gif"
    assert main(["gif", "--progression", str(progression_run), "--out", str(out), "--max-clips", "4"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with Image.open(out) as image:
        assert image.info["comment"].decode().count(" ... ") == 3 and image.size[0] == 2 * 200 + 2
    empty = tmp_path / "empty-run"
    empty.mkdir()
    assert main(["gif", "--progression", str(empty), "--out", str(tmp_path / "x.gif")]) == 2
    assert f"run folder {str(empty)!r} has no evaluation clips" in capsys.readouterr().err
    assert main(["gif", "--progression", str(tmp_path / "nope"), "--out", str(tmp_path / "x.gif")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["gif", "heuristic", "--progression", str(progression_run), "--out", str(tmp_path / "x.gif")]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["gif", "--progression", str(progression_run), "--out", str(tmp_path / "x.gif"),
                 "--max-clips", "0"]) == 2
    assert "--max-clips must be at least 1, got 0" in capsys.readouterr().err
    assert main(["gif", "--progression", str(progression_run), "--out", str(tmp_path / "x.mp4")]) == 2
    assert "must end with .gif" in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "x.mp4").exists()


def test_clip_paths_that_lead_out_of_clips_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """index.json and links may name only files inside the run's clips/ folder (gif --progression, report)."""
    run = tmp_path / "run"
    record_progression(run, [1000, 2000])
    folder = run / CLIPS_DIR
    secret = tmp_path / "secret.gif"
    secret.write_bytes((folder / "step_000001000.gif").read_bytes())  # a GIF the run must not read
    index = json.loads((folder / INDEX).read_text())
    good = index["clips"][0]
    hostile = [str(secret), "../../secret.gif", f"{CLIPS_DIR}/../../secret.gif", "..", "sub/step_000004000.gif"]
    index["clips"] += [{**good, "file": name, "env_step": 3000 + k} for k, name in enumerate(hostile)]
    (folder / INDEX).write_text(json.dumps(index))
    (folder / "step_000009000.gif").symlink_to(secret)  # a link that leaves the folder
    (folder / "step_000009500.gif").symlink_to(folder / "step_000009500.gif")  # a loop
    (folder / "step_000008000.gif").symlink_to("step_000002000.gif")  # a link that stays inside is fine
    refused: list[str] = []
    clips = load_clips(folder, on_refused=refused.append)
    assert [c.env_step for c in clips] == [1000, 2000, 8000]
    assert len(refused) == len(hostile) + 2 and all("refused" in why for why in refused)
    assert any(str(secret) in why and "outside clips/" in why for why in refused)

    out = tmp_path / "learning.gif"
    assert main(["gif", "--progression", str(run), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: ") == len(refused) and "Traceback" not in err
    with Image.open(out) as image:
        assert image.info["comment"].decode().count(" ... ") == 2  # the three clips inside, nothing else

    (run / "episodes.jsonl").write_text(json.dumps({"env_step": 100, "raw_return": 1.0, "length": 100}) + "\n")
    assert main(["report", str(run), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "../../secret.gif" in err and "refused" in err
    assert "clip path '../../secret.gif' refused" in (run / "report.md").read_text()  # noted in the report too
    with Image.open(run / "learning.gif") as image:
        assert image.info["comment"].decode().count(" ... ") == 2


def test_a_clips_folder_that_is_a_link_out_of_the_run_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    record_progression(elsewhere, [1000])
    run = tmp_path / "run"
    run.mkdir()
    (run / CLIPS_DIR).symlink_to(elsewhere / CLIPS_DIR)
    refused: list[str] = []
    with pytest.raises(ValueError, match="has no evaluation clips"):
        write_progression(run, tmp_path / "x.gif", on_refused=refused.append)
    assert len(refused) == 1 and "outside the run folder" in refused[0]
