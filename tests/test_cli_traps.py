"""The command line without traps: no abbreviations, options anywhere, --seed, --print-config, the default
preset, the evaluation seeds and the agent's name, whole lists in errors, LAB_DEBUG, no window without a
display, JupyterLab's address, and a run folder made read-only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lab import cli
from lab.cli import build_parser, describe_error, main, parse_args, shorten
from lab.config import Config, ConfigError, RunConfig
from lab.presets import FIRST_RUN_PRESET, preset

ROOT = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv):
    """main() in this process: (exit code, stdout, stderr); argparse refusals included."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def printed_config(out: str) -> dict:
    return yaml.safe_load(out)


# ---- options: never abbreviated, in any order ----------------------------------------------------------------
def test_train_seed_2_print_config_shows_run_seed_2_and_makes_no_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "train", "--seed", "2", "--print-config")
    assert code == 0, err
    assert "run.seed: 2" in out and printed_config(out)["run"]["seed"] == 2
    assert list(tmp_path.iterdir()) == []  # nothing made: not runs/, not a run folder


@pytest.mark.parametrize("argv, unknown", [
    (["train", "--see", "2", "--print-config"], "--see"),
    (["train", "--no-prog", "--print-config"], "--no-prog"),
    (["eval", "heuristic", "--epi", "1"], "--epi"),
    (["gif", "heuristic", "--out", "x.gif", "--epi", "2"], "--epi"),
    (["--deb", "eval", "heuristic"], "--deb"),
])
def test_options_are_never_abbreviated(capsys, tmp_path, monkeypatch, argv, unknown):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "unrecognized arguments" in one_error_line(err) and unknown in err
    assert list(tmp_path.iterdir()) == []


def test_a_nested_subcommand_never_abbreviates_either():
    parser = build_parser(only="bench")
    with pytest.raises(SystemExit) as exc:
        parse_args(parser, ["bench", "time-to-solve", "--seed", "3"])  # bench has --seeds, not --seed
    assert exc.value.code == 2
    args = parse_args(parser, ["bench", "time-to-solve", "training.actor_lr=1e-4", "--json", "run.total_steps=9"])
    assert args.bench == "time-to-solve" and args.json and args.overrides == ["training.actor_lr=1e-4",
                                                                              "run.total_steps=9"]
    assert args.command == "bench" and args._module.__name__ == "lab.commands.bench" and args.preset == "fast"


def test_options_and_overrides_may_come_in_any_order(capsys):
    code, out, err = run_cli(capsys, "train", "--preset", "tiny", "run.total_steps=700", "--no-progress",
                             "run.seed=3", "--print-config", "training.actor_lr=2e-4")
    assert code == 0, err
    config = printed_config(out)
    assert (config["run"]["seed"], config["run"]["total_steps"], config["training"]["actor_lr"]) == (3, 700, 2e-4)
    code, out, err = run_cli(capsys, "train", "--preset", "tiny", "--seeds", "0-2", "run.total_steps=700",
                             "--print-config", "run.eval_every=350")
    assert code == 0, err
    assert printed_config(out)["run"]["eval_every"] == 350 and "3 agents" in out


@pytest.mark.parametrize("argv, needle", [
    (["--seed", "2", "--seeds", "0-3"], "--seed 2 and --seeds both choose seeds"),
    (["--seed", "2", "run.seed=3"], "--seed 2 and the override 'run.seed=3' both set run.seed"),
    (["seed=3", "--seed", "2"], "--seed 2 and the override 'seed=3' both set run.seed"),
    (["--seed", "-1"], "run.seed"),
])
def test_seed_is_refused_beside_another_way_of_setting_it(capsys, tmp_path, argv, needle):
    code, _, err = run_cli(capsys, "train", "--preset", "tiny", "--out", tmp_path / "run", *argv)
    assert code == 2 and needle in one_error_line(err)
    assert not (tmp_path / "run").exists()


def test_print_config_reads_back_with_config_and_leaves_an_existing_run_alone(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "episodes.jsonl").write_text('{"env_step": 1}\n')
    code, out, err = run_cli(capsys, "train", "--preset", "tiny", "--out", run, "--print-config", "noise.sigma=0.3")
    assert code == 0, err
    saved = tmp_path / "printed.yaml"
    saved.write_text(out)
    assert Config.load(saved) == preset("tiny").with_overrides(["noise.sigma=0.3"])
    assert sorted(p.name for p in run.iterdir()) == ["episodes.jsonl"]


def test_train_defaults_to_the_first_run_preset_and_help_says_why(capsys, monkeypatch):
    code, out, err = run_cli(capsys, "train", "--print-config")
    assert code == 0, err
    assert Config.from_dict(printed_config(out)) == preset(FIRST_RUN_PRESET)
    assert f"preset {FIRST_RUN_PRESET}" in out.splitlines()[0]
    text = " ".join(build_parser(only="train")._subparsers._group_actions[0].choices["train"]  # noqa: SLF001
                    .format_help().split())
    assert f"default: {FIRST_RUN_PRESET}, the preset the README and the notebooks start from, since a first " \
           "run lands soonest with it" in text
    assert "Gymnasium's hand-written pilot" in text and "'fast' learns from scratch" in text
    monkeypatch.setattr("lab.presets.FIRST_RUN_PRESET", "tiny")  # one place: the help follows it
    code, out, _ = run_cli(capsys, "train", "--print-config")
    assert code == 0 and Config.from_dict(printed_config(out)) == preset("tiny")


# ---- the evaluation seeds and the agent's name ---------------------------------------------------------------
def test_eval_watch_play_and_gif_default_to_the_evaluation_seeds():
    first = RunConfig().eval_seed
    for command, argv in (("eval", []), ("watch", []), ("play", []), ("gif", ["--out", "x.gif"])):
        args = parse_args(build_parser(only=command), [command, *argv])
        assert args.seed == first, command
    assert parse_args(build_parser(only="eval"), ["eval"]).episodes == RunConfig().eval_episodes


def test_eval_names_the_agent_it_flies(capsys, tmp_path, monkeypatch):
    code, out, err = run_cli(capsys, "eval", "heuristic", "--episodes", "1", "--no-analysis")
    assert code == 0, err
    assert out.splitlines()[0] == "agent:        Gymnasium's heuristic pilot (hand-written, no learning)"
    assert f"seed {RunConfig().eval_seed} (the evaluation seeds)" in out
    from lab.commands.watch import describe_pilot

    monkeypatch.chdir(ROOT)
    assert describe_pilot(None, None) == "the pretrained agent, assets/pretrained_policy.pt"
    assert describe_pilot("runs/x/checkpoint.pt", None) == "runs/x/checkpoint.pt"
    assert describe_pilot("pop/population.pt", 2) == "agent 2 of pop/population.pt"


def test_eval_json_names_the_agent_too_and_a_file_says_how_long_it_trained(capsys):
    import json
    from types import SimpleNamespace

    from lab.commands.watch import describe_pilot

    code, out, err = run_cli(capsys, "eval", "heuristic", "--episodes", "1", "--json", "--no-analysis")
    assert code == 0, err
    assert json.loads(out)["agent"] == "Gymnasium's heuristic pilot (hand-written, no learning)"
    trained = SimpleNamespace(metadata={"env_step": 35_000})
    assert describe_pilot("runs/a/policy.pt", None, trained) == "runs/a/policy.pt, after 35,000 env steps of training"


# ---- errors: whole lists, LAB_DEBUG ---------------------------------------------------------------------------
def test_a_list_of_allowed_fields_is_never_cut():
    from dataclasses import fields

    from lab.config import SECTIONS

    for section in SECTIONS:
        with pytest.raises(ConfigError) as info:
            Config().with_overrides({f"{section}.no_such_field": 1})
        line = describe_error(info.value)
        assert line == " ".join(str(info.value).split("\n")) and "..." not in line
        assert all(f.name in line for f in fields(SECTIONS[section]))


@pytest.mark.parametrize("override, suggestion", [("training.actor_lrr=1e-3", "'actor_lr'"),
                                                    ("trainin.actor_lr=1e-3", "'training'"),
                                                    ("actor_lrr=1e-3", "'actor_lr'")])
def test_a_misspelt_field_gets_did_you_mean_in_one_line(capsys, tmp_path, override, suggestion):
    code = main(["train", "--print-config", "--out", str(tmp_path / "run"), override])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and f"(did you mean {suggestion}?)" in err
    assert not (tmp_path / "run").exists()


def test_a_list_too_long_for_one_line_is_cut_between_items_with_a_count():
    names = [f"field_number_{k}" for k in range(200)]
    line = shorten(f"unknown field 'x': allowed {', '.join(names)}")
    assert len(line) < 1100
    kept = line.split("allowed ")[1].split(", ... ")[0].split(", ")
    assert kept == names[:len(kept)]  # whole names only, in order
    more = int(line.rsplit("(", 1)[1].split()[0])
    assert line.endswith(f", ... ({more} more)") and len(kept) + more == len(names)
    words = shorten("word " * 400)
    assert words.endswith(" more words)") and "wor ..." not in words


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "no", "No", "off", " OFF ", ""])
def test_lab_debug_off_words_keep_errors_to_one_line(capsys, monkeypatch, value):
    monkeypatch.setenv("LAB_DEBUG", value)
    code, _, err = run_cli(capsys, "eval", "/no/such/checkpoint.pt")
    assert code == 2 and "does not exist" in one_error_line(err)


@pytest.mark.parametrize("value", ["1", "true", "True", "yes", "YES", "on"])
def test_lab_debug_on_words_show_the_traceback(monkeypatch, value):
    monkeypatch.setenv("LAB_DEBUG", value)
    with pytest.raises(FileNotFoundError):
        main(["eval", "/no/such/checkpoint.pt"])


@pytest.mark.parametrize("value", ["00", "maybe", "2", "tru"])
def test_lab_debug_anything_else_is_one_line_naming_the_value(capsys, monkeypatch, value):
    monkeypatch.setenv("LAB_DEBUG", value)
    code, _, err = run_cli(capsys, "eval", "heuristic", "--episodes", "1")
    line = one_error_line(err)
    assert code == 2 and f"LAB_DEBUG={value!r} is invalid" in line and "false, no, off" in line


# ---- no window without a display -----------------------------------------------------------------------------
def no_display(monkeypatch, driver: str | None = None) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    if driver:
        monkeypatch.setenv("SDL_VIDEODRIVER", driver)


@pytest.mark.parametrize("argv", [["watch"], ["watch", "heuristic", "--episodes", "1"], ["play"],
                                  ["play", "--ghost", "heuristic", "--episodes", "2"]])
def test_watch_and_play_without_a_display_say_so_in_one_line(capsys, monkeypatch, argv):
    no_display(monkeypatch)
    code, out, err = run_cli(capsys, *argv)
    line = one_error_line(err)
    assert code == 2 and line.startswith("error: no window can open: there is no display here")
    assert "xvfb-run" in line and "desktop session" in line and out == ""
    assert ("python -m lab gif" in line) == (argv[0] == "watch")


def test_a_headless_driver_flies_only_a_set_number_of_episodes(capsys, monkeypatch):
    no_display(monkeypatch, driver="dummy")
    code, _, err = run_cli(capsys, "watch", "heuristic")
    assert code == 2 and "SDL_VIDEODRIVER=dummy draws no window" in one_error_line(err) and "--episodes N" in err
    code, out, err = run_cli(capsys, "watch", "heuristic", "--episodes", "1", "--speed", "16")
    assert code == 0, err
    assert "episode 1 (seed 10000)" in out


def test_with_a_display_the_window_flies(capsys, monkeypatch):
    """has_display() is the one decision: when it says yes, no check stands in the way."""
    monkeypatch.setattr("lab.render.launcher.has_display", lambda: True)
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # the window itself still draws off screen in tests
    code, out, err = run_cli(capsys, "play", "--ghost", "heuristic", "--episodes", "1", "--speed", "16")
    assert code == 0, err
    assert "you fly against Gymnasium's heuristic pilot" in out and "episode 1 (seed 10000)" in out


def _env_without_display() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    return {**env, "PYTHONPATH": str(ROOT)}


def test_watch_without_a_display_exits_2_at_once_in_a_real_process():
    done = subprocess.run([sys.executable, "-m", "lab", "watch"], cwd=ROOT, env=_env_without_display(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.strip()] and "XDG_RUNTIME_DIR" not in done.stderr
    assert done.stderr.startswith("error: no window can open")


@pytest.mark.slow
def test_watch_under_a_virtual_display_opens_its_window():
    xvfb = shutil.which("xvfb-run")
    assert xvfb, "xvfb-run is missing: apt-get install -y xvfb (bootstrap.sh installs it)"
    done = subprocess.run([xvfb, "-a", sys.executable, "-m", "lab", "watch", "heuristic", "--episodes", "1",
                           "--speed", "16"], cwd=ROOT, env=_env_without_display(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "episode 1 (seed 10000): return" in done.stdout


# ---- JupyterLab's address ------------------------------------------------------------------------------------
@pytest.mark.parametrize("ip, why", [("999.1.1.1", "not an address or a known host name"),
                                     ("192.0.2.1", "this machine cannot listen on it")])
def test_lab_with_an_address_it_cannot_listen_on_is_one_line(capsys, monkeypatch, ip, why):
    monkeypatch.setattr(os, "execv", lambda *a: pytest.fail("JupyterLab was started"))
    code, _, err = run_cli(capsys, "lab", "--ip", ip, "--no-browser")
    line = one_error_line(err)
    assert code == 2 and f"--ip {ip!r} is invalid: {why}" in line and "127.0.0.1" in line


def test_lab_accepts_loopback_and_every_interface():
    from lab.commands.lab import check_address

    for ip in ("127.0.0.1", "localhost", "0.0.0.0", ""):
        check_address(ip)


# ---- a run folder made read-only while it trains -------------------------------------------------------------
@pytest.mark.slow
def test_a_run_folder_made_read_only_mid_run_ends_in_one_line_and_exit_2(tmp_path):
    """As root, permission bits bind only without CAP_DAC_OVERRIDE: setpriv drops it for the run."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "lab", "train", "--preset", "tiny", "--out", str(out), "--no-progress",
               "run.total_steps=100000000", "run.checkpoint_every=300", "run.eval_every=300",
               "run.eval_episodes=1", "env.max_episode_steps=100"]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to drop root's permission override"
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy"}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not (out / "episodes.jsonl").exists():
            time.sleep(0.1)
        assert (out / "episodes.jsonl").exists(), proc.communicate()[1] if proc.poll() is not None else "no episode"
        subprocess.run(["chmod", "-R", "a-w", str(out)], check=True)
        _, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run(["chmod", "-R", "u+w", str(out)], check=False)
    assert proc.returncode == 2, stderr[-2000:]
    line = one_error_line(stderr)
    assert str(out) in line and ("not writable" in line or "permission denied" in line)


def test_a_permission_error_naming_a_file_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch):
    """The CLI's side of a read-only folder, in process: whatever file the engine is refused, one line names it."""
    import errno

    def refused(self):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "run" / "checkpoint.pt"))

    monkeypatch.setattr("lab.train.trainer.Trainer.fit", refused)
    code, _, err = run_cli(capsys, "train", "--preset", "tiny", "--out", tmp_path / "run", "--no-progress")
    assert code == 2
    assert one_error_line(err) == f"error: {str(tmp_path / 'run' / 'checkpoint.pt')!r}: permission denied"


def test_printing_a_name_that_is_not_utf8_never_fails(capsys):
    cli._never_fail_printing()
    print("run\udcff")  # how Python holds the byte 0xff of a file name
    assert "run" in capsys.readouterr().out


def test_a_codec_error_from_a_name_that_is_not_utf8_names_it():
    name = os.fsdecode(b"/runs/r\xff/report.md")
    try:
        f"Run folder: {name}".encode()
    except UnicodeEncodeError as exc:
        line = describe_error(exc)
    assert line == ("a file or folder name that is not UTF-8 text could not be written out (...Run folder: "
                    "/runs/r\\xff/report.md...): rename it to UTF-8")
