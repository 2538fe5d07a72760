"""GIF/MP4 export: frame count, loop, per-frame duration, size, caption, atomic writes, clear errors."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from lab import cli
from lab.policy import heuristic_policy
from lab.render import gif
from lab.render.episode import Flight
from lab.render.gif import HOLD_MS, export_gif, write_gif


def episode_length(seed: int) -> int:
    """How long the heuristic flies this seed, found without rendering."""
    flight, pilot = Flight(seed, render=False), heuristic_policy()
    while not flight.done:
        flight.step(pilot(flight.obs))
    flight.close()
    return flight.steps


def expected_frames(length: int, every: int) -> int:
    return len(range(0, length + 1, every)) + (1 if length % every else 0)


def test_gif_reads_back_with_frames_loop_duration_size_and_caption(tmp_path):
    [path] = export_gif("heuristic", tmp_path / "landing.gif", fps=25, seed=0)  # every=2, scale=0.5, hud
    assert path == tmp_path / "landing.gif"
    frames = iio.imread(path, index=None)
    assert len(frames) == expected_frames(episode_length(0), every=2)
    meta = iio.immeta(path)
    assert meta["loop"] == 0  # forever
    height, width = frames.shape[1:3]
    assert width == 300 and 200 < height <= 240  # half of 600x400, plus the caption strip
    with Image.open(path) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
        comment = im.info.get("comment", b"").decode()
    assert durations[:-1] == [1000 / 25] * (len(durations) - 1)
    assert durations[-1] == HOLD_MS  # the landing stays up before the loop restarts
    assert "return +" in comment and "heuristic" in comment and "landed" in comment
    assert path.stat().st_size < 3_000_000
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert list(tmp_path.iterdir()) == [path]  # no temp files left behind


def durations_and_comment(path):
    with Image.open(path) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
        return durations, im.info.get("comment", b"").decode()


def test_a_file_holds_every_episode_in_turn_a_folder_one_file_each_or_one_grid(tmp_path):
    # with the HUD every frame differs (its step counter), so no frames merge and the counts are exact
    small = dict(every=6, scale=0.25, hud=True, fps=10)
    [path] = export_gif("heuristic", tmp_path / "run.gif", episodes=2, seed=5, **small)
    assert path == tmp_path / "run.gif" and list(tmp_path.iterdir()) == [path]  # what --out names, nothing else
    first, second = (expected_frames(episode_length(s), 6) for s in (5, 6))
    durations, comment = durations_and_comment(path)
    assert len(durations) == first + second
    assert durations[first - 1] == durations[-1] == HOLD_MS and durations.count(HOLD_MS) == 2  # each ends held
    assert "seed 5" in comment and "seed 6" in comment
    paths = export_gif("heuristic", tmp_path / "gifs", episodes=2, seed=5, **{**small, "hud": False})
    assert paths == [tmp_path / "gifs" / "lander-seed5.gif", tmp_path / "gifs" / "lander-seed6.gif"]
    for path, seed in zip(paths, (5, 6)):
        with Image.open(path) as im:
            assert im.size[0] == 150 and f"seed {seed}" in im.info["comment"].decode()
    [grid] = export_gif("heuristic", tmp_path / "grid.gif", episodes=2, seed=5, grid=True, **small)
    frames = iio.imread(grid, index=None)
    assert frames.shape[2] == 2 * 150 + 2  # two tiles side by side, 2 px apart
    assert len(frames) == max(expected_frames(episode_length(s), 6) for s in (5, 6))  # the shorter one holds


def test_output_paths_for_files_folders_and_grids(tmp_path):
    from lab.render.gif import output_paths

    assert output_paths(tmp_path / "a.gif", [0], "gif", False) == [tmp_path / "a.gif"]
    assert output_paths(tmp_path / "a.gif", [3, 4], "gif", False) == [tmp_path / "a.gif"]
    assert output_paths(tmp_path / "gifs", [3, 4], "gif", False) == [tmp_path / "gifs" / f"lander-seed{s}.gif"
                                                                     for s in (3, 4)]
    assert output_paths(tmp_path / "a.gif", [3, 4], "gif", True) == [tmp_path / "a.gif"]
    assert output_paths(f"{tmp_path}/new/", [3], "mp4", False) == [tmp_path / "new" / "lander-seed3.mp4"]
    assert output_paths(tmp_path / "gifs", [3, 4], "gif", True) == [tmp_path / "gifs" / "lander-seed3-2ep.gif"]
    with pytest.raises(ValueError, match="ends with '.gif' but the format is 'mp4'"):
        output_paths(tmp_path / "a.gif", [0], "mp4", False)


def test_mp4_when_imageio_ffmpeg_is_installed(tmp_path):
    [path] = export_gif("heuristic", tmp_path / "landing.mp4", every=4, scale=0.25, fps=25)
    props = iio.improps(path, plugin="FFMPEG")
    assert path.stat().st_size > 1000 and props.shape[-1] == 3
    assert list(tmp_path.iterdir()) == [path]


def test_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "landing.gif"
    frames = [np.full((20, 30, 3), i * 10, np.uint8) for i in range(5)]
    write_gif(frames, target, fps=10)
    before = target.read_bytes()

    def interrupted(self, fh, *args, **kwargs):
        fh.write(b"GIF89a half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_gif(frames[::-1], target, fps=10)
    assert target.read_bytes() == before
    assert list(tmp_path.iterdir()) == [target]


def test_bad_arguments_fail_fast_with_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"'png'.*allowed: gif, mp4"):
        export_gif("heuristic", tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"fps must be in \(0, 50\] for gif"):
        export_gif("heuristic", tmp_path / "x.gif", fps=60)
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        export_gif("heuristic", tmp_path / "x.gif", every=0)
    with pytest.raises(ValueError, match="scale must be between"):
        export_gif("heuristic", tmp_path / "x.gif", scale=5)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        export_gif("heuristic", blocker / "x.gif")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        export_gif(tmp_path / "missing.pt", tmp_path / "x.gif")
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(gif.os, "access", lambda p, mode: False if str(p) == str(locked) else real_access(p, mode))
    with pytest.raises(PermissionError, match="locked"):
        export_gif("heuristic", locked / "x.gif")
    assert not list(locked.iterdir())


def test_cli_gif_writes_and_reports_errors(tmp_path, capsys):
    out = tmp_path / "sub" / "cli.gif"
    code = cli.main(["gif", "heuristic", "--out", str(out), "--every", "8", "--scale", "0.25", "--no-hud"])
    assert code == 0 and out.exists()
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert "flying Gymnasium's heuristic pilot (hand-written, no learning), seed 10000 (the evaluation seeds)" \
        in printed
    assert cli.main(["gif", str(tmp_path / "missing.pt"), "--out", str(out)]) == 2
    assert "missing.pt" in capsys.readouterr().err


def test_cli_gif_episodes_2_out_a_gif_writes_a_gif_holding_both(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["gif", "heuristic", "--episodes", "2", "--out", "a.gif", "--every", "8", "--scale", "0.25"])
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]
    assert capsys.readouterr().out.splitlines()[-1].startswith("wrote a.gif (")
    durations, comment = durations_and_comment(tmp_path / "a.gif")
    assert durations.count(HOLD_MS) == 2 and "seed 10000" in comment and "seed 10001" in comment


def test_mp4_holds_the_end_of_each_episode(tmp_path):
    from lab.render.gif import write_mp4

    frames = [np.full((32, 48, 3), 40 * i, np.uint8) for i in range(5)]
    path = write_mp4(frames, tmp_path / "two.mp4", fps=10, holds=[1])
    repeat = round(HOLD_MS / 1000 * 10)
    assert len(iio.imread(path, plugin="FFMPEG")) == len(frames) + 2 * (repeat - 1)
