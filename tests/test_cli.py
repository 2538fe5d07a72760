import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lab(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = lab("train", "--preset", "tiny", "--out", str(out), "run.total_steps=500", "run.eval_every=250",
                 "env.max_episode_steps=150")
    assert result.returncode == 0, result.stderr[-2000:]
    return out, result


def test_train_smoke_run_writes_the_run_folder_and_shows_progress(trained_run):
    out, result = trained_run
    for name in ("config.yaml", "checkpoint.pt", "policy.pt", "episodes.jsonl", "evaluations.jsonl"):
        assert (out / name).exists(), name
    assert "step/s" in result.stderr  # the tqdm bar
    rows = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert rows and {"raw_return", "shaped_return", "length", "success", "outcome", "behaviors"} <= set(rows[0])
    assert json.loads(result.stdout[result.stdout.index("{"):])["state"] == "finished"


def test_train_keeps_a_clip_per_evaluation_by_default_and_gif_tiles_them(trained_run, tmp_path):
    out, _ = trained_run
    from lab.render.clips import load_clips

    assert (out / "clips" / "index.json").exists()
    steps = [json.loads(line)["env_step"] for line in (out / "evaluations.jsonl").read_text().splitlines()]
    assert len(steps) == 2 and [c.env_step for c in load_clips(out / "clips")] == steps
    assert sorted(p.name for p in (out / "clips").glob("*.gif")) == [f"step_{s:09d}.gif" for s in steps]
    result = lab("gif", "--progression", str(out), "--out", str(tmp_path / "learning.gif"))
    assert result.returncode == 0, result.stderr
    assert 0 < (tmp_path / "learning.gif").stat().st_size < 3_000_000


def test_train_no_clips_with_tensorboard_writes_hparams_and_no_clips(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from lab.cli import main

    out = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--out", str(out), "--no-clips", "--tensorboard", "--no-progress",
                 "run.total_steps=300", "run.eval_every=150", "run.eval_episodes=1",
                 "env.max_episode_steps=100"]) == 0
    assert not (out / "clips").exists()
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert "hparams/best_eval_return" in events.Tags()["scalars"]
    assert "eval/clip" not in events.Tags()["images"]


def test_eval_json_has_the_documented_keys(trained_run):
    out, _ = trained_run
    result = lab("eval", str(out / "checkpoint.pt"), "--episodes", "2", "--seed", "5", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"mean_return", "std_return", "success_rate", "returns"} <= set(data)
    assert len(data["returns"]) == 2


def test_eval_prints_a_human_summary_and_the_heuristic_lands():
    result = lab("eval", "heuristic", "--episodes", "3")
    assert result.returncode == 0, result.stderr
    assert "mean return" in result.stdout and "success rate: 100%" in result.stdout


def test_bad_override_is_a_clear_error_and_exit_code_2(tmp_path):
    result = lab("train", "--preset", "tiny", "--out", str(tmp_path / "r"), "training.actor_lr=-1")
    assert result.returncode == 2
    assert "training.actor_lr=-1" in result.stderr and "allowed" in result.stderr


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    result = lab("eval", str(tmp_path / "missing.pt"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_every_command_has_help():
    from lab.cli import COMMANDS, _module

    for name in COMMANDS:
        if _module(name) is None:
            continue
        result = lab(name, "--help", timeout=120)
        assert result.returncode == 0, (name, result.stderr)
        assert "usage: python -m lab " + name in result.stdout


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "lab", "train", "--preset", "tiny", "--out", str(out),
                             "run.total_steps=100000000", "--no-progress"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "episodes.jsonl").exists():
        time.sleep(0.2)
    assert (out / "episodes.jsonl").exists(), "training never produced an episode"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr[-2000:]
    assert (out / "checkpoint.pt").exists()
    assert json.loads((out / "summary.json").read_text())["state"] == "stopped"
    assert '"state": "stopped"' in stdout


@pytest.mark.parametrize(("argv", "needle"), [
    (["gif", "heuristic", "--out", "x.gif", "--seed", "-1"], "'-1' is invalid: allowed an integer in [0, 4294967295]"),
    (["gif", "heuristic", "--out", "x.gif", "--episodes", "0"], "'0' is invalid: allowed an integer in [1, 100000]"),
    (["gif", "heuristic", "--out", "x.gif", "--seed", "1e20"], "'1e20' is invalid"),
])
def test_gif_numbers_are_checked_like_every_command(argv, needle, capsys, tmp_path, monkeypatch):
    from lab.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err and not (tmp_path / "x.gif").exists()
