"""Every command turns an expected failure into one line, exit code 2, and no traceback (unless --debug)."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lab.agents.networks import Actor
from lab.checkpoint import read_checkpoint_file, save_policy, write_checkpoint_file
from lab.cli import COMMANDS, _module, build_parser, main
from lab.config import NetworkConfig

ROOT = Path(__file__).resolve().parent.parent
NET = NetworkConfig(actor_hidden=(16, 16), critic_hidden=(16, 16))
NOT_CHECKPOINTS = {
    "text": b"just some notes\n",
    "yaml": b"run:\n  total_steps: 100\n",
    "image": b"\x89PNG\r\n\x1a\n" + bytes(300),
    "random": bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)),
}
COMMAND_LINES = {
    "eval": ["eval", "{file}", "--episodes", "1"],
    "watch": ["watch", "{file}", "--episodes", "1"],
    "play": ["play", "--ghost", "{file}", "--episodes", "1"],
    "gif": ["gif", "{file}", "--out", "{tmp}/out.gif"],
    "train --resume": ["train", "--resume", "{file}", "--out", "{tmp}/resumed", "--no-progress"],
}


def run_cli(capsys, *argv):
    """main() in this process; returns (exit code, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    return code, capsys.readouterr().err


def assert_one_line_error(err, *needles):
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[-1].startswith(("error:", "python -m lab")), err
    assert "Traceback" not in err, err
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], (needle, err)


@pytest.fixture
def policy_file(tmp_path):
    torch.manual_seed(0)
    return save_policy(Actor(8, 2, NET), tmp_path / "policy.pt", NET)


@pytest.mark.parametrize("command", list(COMMAND_LINES))
@pytest.mark.parametrize("kind", list(NOT_CHECKPOINTS))
def test_a_file_that_is_not_a_checkpoint_is_one_line_for_every_command(capsys, tmp_path, command, kind):
    bad = tmp_path / f"{kind}.pt"
    bad.write_bytes(NOT_CHECKPOINTS[kind])
    argv = [a.format(file=bad, tmp=tmp_path) for a in COMMAND_LINES[command]]
    code, err = run_cli(capsys, *argv)
    assert code == 2
    assert_one_line_error(err, str(bad), "not a PyTorch checkpoint")


def test_debug_flag_and_environment_show_the_traceback(capsys, tmp_path, monkeypatch):
    bad = tmp_path / "bad.pt"
    bad.write_text("hello")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "lab", "eval", str(bad), "--debug"], capture_output=True,
                            text=True, env=env, cwd=ROOT, timeout=120)
    assert result.returncode != 0 and "Traceback" in result.stderr and "CheckpointError" in result.stderr
    monkeypatch.setenv("LAB_DEBUG", "1")
    from lab.checkpoint import CheckpointError

    with pytest.raises(CheckpointError):
        main(["eval", str(bad)])


def test_policy_files_that_do_not_fit_their_network(capsys, tmp_path, policy_file):
    data = read_checkpoint_file(policy_file)
    unknown = write_checkpoint_file(tmp_path / "unknown.pt", {**data, "network": {**data["network"], "fins": 3}})
    code, err = run_cli(capsys, "eval", unknown, "--episodes", "1")
    assert code == 2
    assert_one_line_error(err, str(unknown), "unknown network setting 'fins'")
    unfit = write_checkpoint_file(tmp_path / "unfit.pt", {**data, "network": {**data["network"], "actor_hidden": [8]}})
    code, err = run_cli(capsys, "watch", unfit, "--episodes", "1")
    assert code == 2
    assert_one_line_error(err, str(unfit), "does not fit its network")


def test_a_checkpoint_missing_a_section_is_refused_on_resume(capsys, tmp_path, policy_file):
    data = read_checkpoint_file(policy_file)
    partial = write_checkpoint_file(tmp_path / "partial.pt", {**data, "kind": "checkpoint", "config": {},
                                                              "agent": {}})
    code, err = run_cli(capsys, "train", "--resume", partial, "--out", tmp_path / "r", "--no-progress")
    assert code == 2
    assert_one_line_error(err, str(partial), "it has no 'configs' section")


@pytest.mark.parametrize("argv, needle", [
    (["eval", "heuristic", "--seed", "-1"], "argument --seed: '-1' is invalid: allowed an integer in [0, "),
    (["eval", "heuristic", "--episodes", "1e20"], "argument --episodes: '1e20' is invalid: allowed an integer"),
    (["eval", "heuristic", "--episodes", "0"], "argument --episodes: '0' is invalid"),
    (["watch", "--seed", "-1"], "argument --seed: '-1' is invalid"),
    (["play", "--episodes", "100000000000000000000"], "argument --episodes"),
    (["report", ".", "--window", "0"], "argument --window: '0' is invalid"),
    (["train", "--preset", "tiny", "--config", "examples/tune.yaml"], "give one of them"),
])
def test_bad_numbers_and_clashing_options_are_refused(capsys, argv, needle):
    code, err = run_cli(capsys, *argv)
    assert code == 2
    assert_one_line_error(err, needle)


def test_train_refuses_a_folder_that_holds_a_run_and_a_file_as_its_folder(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "episodes.jsonl").write_text('{"env_step": 1}\n')
    code, err = run_cli(capsys, "train", "--preset", "tiny", "--out", run, "--no-progress")
    assert code == 2
    assert_one_line_error(err, "already holds a run", f"--resume {run / 'checkpoint.pt'} --out {run}")
    assert (run / "episodes.jsonl").read_text() == '{"env_step": 1}\n' and not (run / "config.yaml").exists()
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    code, err = run_cli(capsys, "train", "--preset", "tiny", "--out", a_file, "--no-progress")
    assert code == 2
    assert_one_line_error(err, str(a_file), "is a file")
    code, err = run_cli(capsys, "train", "--preset", "tiny", "--out", a_file / "run", "--no-progress")
    assert code == 2
    assert_one_line_error(err, f"{str(a_file)!r} is a file")
    assert a_file.read_text() == "keep me"


def _fake_run(folder):
    folder.mkdir()
    rows = [{"env_step": 100 * k, "episode": k, "raw_return": float(k), "shaped_return": 0.0, "length": 100,
             "success": False} for k in range(1, 6)]
    (folder / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_report_to_a_file_where_a_folder_is_needed(capsys, tmp_path):
    run = _fake_run(tmp_path / "run")
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    code, err = run_cli(capsys, "report", run, "--out", a_file, "--quiet")
    assert code == 2
    assert_one_line_error(err, str(a_file), "is a file, not a folder")


def test_disk_full_is_one_line_naming_the_file(capsys, tmp_path, monkeypatch):
    run = _fake_run(tmp_path / "run")

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("lab.io.os.replace", full)
    code, err = run_cli(capsys, "report", run, "--quiet")
    assert code == 2
    assert_one_line_error(err, "no space left on device while writing", str(run / "report"))
    assert not list(run.glob(".*.tmp"))
    code, err = run_cli(capsys, "train", "--preset", "tiny", "--out", tmp_path / "new", "--no-progress",
                        "run.total_steps=200")
    assert code != 0
    assert_one_line_error(err, "no space left on device")


def test_out_of_memory_while_building_networks_is_one_line(capsys, tmp_path, monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("lab.agents.td3.TD3.__init__", no_memory)
    code, err = run_cli(capsys, "train", "--preset", "tiny", "--out", tmp_path / "r", "--no-progress")
    assert code == 2
    assert_one_line_error(err, "out of memory", "smaller network sizes")


def test_a_failed_run_exits_non_zero_with_its_reason_in_one_line(capsys, tmp_path, monkeypatch):
    reason = "critic loss became NaN at update 12; last good checkpoint kept at r/checkpoint.pt"

    def diverged(self):
        self.state = "failed"
        return {**self.summary(), "error": reason}

    monkeypatch.setattr("lab.train.trainer.Trainer.fit", diverged)
    code, err = run_cli(capsys, "train", "--preset", "tiny", "--out", tmp_path / "r", "--no-progress")
    assert code == 1
    assert_one_line_error(err, "run failed", reason)


def test_an_unexpected_exception_is_one_line_with_a_hint(capsys, tmp_path, monkeypatch):
    def broken(self):
        raise RuntimeError("critic loss became NaN\nat update 3")

    monkeypatch.setattr("lab.train.trainer.Trainer.fit", broken)
    code, err = run_cli(capsys, "train", "--preset", "tiny", "--out", tmp_path / "r", "--no-progress")
    assert code == 1
    assert_one_line_error(err, "RuntimeError: critic loss became NaN at update 3", "--debug")


def test_each_command_help_line_is_written_once_in_its_module(monkeypatch):
    source = (ROOT / "lab" / "cli.py").read_text()
    parser = build_parser()
    choices = next(a for a in parser._subparsers._group_actions).choices  # noqa: SLF001
    for name in COMMANDS:
        module = _module(name)
        assert module.HELP not in source, f"{name}'s help text is repeated in lab/cli.py"
        assert choices[name].description == getattr(module, "DESCRIPTION", module.HELP)
    monkeypatch.setattr(_module("eval"), "HELP", "a changed line")
    assert "a changed line" in build_parser().format_help()


EVOLVE_SPEC = """
name: sigterm
base: tiny
seed: 1
population: 2
generations: 1000
generation_steps: 120
tournament_size: 1
elite: 1
overrides: {run.eval_episodes: 1, env.max_episode_steps: 60, training.learning_starts: 50, env.num_envs: 1,
            training.batch_size: 16}
parameters:
  actor_lr: {min: 1.0e-4, max: 3.0e-3, type: log}
"""


def test_evolve_stops_on_sigterm_with_the_last_generation_saved(tmp_path):
    spec = tmp_path / "evolve.yaml"
    spec.write_text(EVOLVE_SPEC)
    out = tmp_path / "pbt"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "lab", "evolve", str(spec), "--out", str(out)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not (out / "lineage.json").exists():
            time.sleep(0.1)
        assert (out / "lineage.json").exists(), proc.stderr.read() if proc.poll() is not None else "no generation"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "stopped by SIGTERM" in stderr and "Traceback" not in stderr
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["trained_as"] == "population"
    assert lineage["generations"] and (out / "elite" / "policy.pt").exists()
    assert lineage["elite"]["generation"] == len(lineage["generations"])  # the files hold the last finished one


def test_report_warns_about_one_bad_line_and_reports_the_rest(capsys, tmp_path):
    run = _fake_run(tmp_path / "run")
    lines = (run / "episodes.jsonl").read_bytes().split(b"\n")
    lines[1] = lines[1][:3] + b"\xff" + lines[1][3:]
    (run / "episodes.jsonl").write_bytes(b"\n".join(lines))
    code, err = run_cli(capsys, "report", run, "--quiet")
    assert code == 0
    assert "warning:" in err and "line 2: not UTF-8" in err and "Traceback" not in err
    assert "4 episodes" in (run / "report.md").read_text()
