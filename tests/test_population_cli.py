"""`lab train --seeds`, and eval/gif of a population checkpoint with --agent (issue 14's CLI)."""

import json

import pytest

from lab.checkpoint import read_checkpoint_file
from lab.cli import main
from lab.render.clips import load_clips

TINY = ["--preset", "tiny", "--no-progress", "run.total_steps=300", "run.eval_every=150", "run.eval_episodes=1",
        "env.max_episode_steps=100", "run.analyze_episodes=false"]


def run_cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(err, *needles):
    errors = [line for line in err.splitlines() if line.strip()]
    assert len(errors) == 1 and "error" in errors[0] and "Traceback" not in err, err
    for needle in needles:
        assert needle in errors[0], (needle, err)


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    out = tmp_path_factory.mktemp("pop") / "seeds"
    code = main(["train", "--seeds", "0-1", "--out", str(out), *TINY])
    assert code == 0
    return out


def test_train_seeds_writes_one_run_folder_per_seed_and_a_population_checkpoint(population, capsys):
    data = read_checkpoint_file(population / "population.pt", kind="population")
    assert [c["run"]["seed"] for c in data["configs"]] == [0, 1]
    for k in (0, 1):
        folder = population / f"agent{k}_seed{k}"
        assert (folder / "policy.pt").exists() and (folder / "config.yaml").exists()
        episodes = (folder / "episodes.jsonl").read_text().splitlines()
        assert episodes and json.loads(episodes[0])["length"] >= 1
        steps = [json.loads(line)["env_step"] for line in (folder / "evaluations.jsonl").read_text().splitlines()]
        assert steps and [c.env_step for c in load_clips(folder / "clips")] == steps  # one clip per evaluation


def test_eval_of_a_population_asks_which_agent(population, capsys):
    code, _, err = run_cli(capsys, "eval", population / "population.pt", "--episodes", "1")
    assert code == 2
    one_line_error(err, "population of 2 agents", "seeds 0, 1", "--agent K", "0 to 1")
    code, _, err = run_cli(capsys, "eval", population, "--agent", "2", "--episodes", "1")  # the folder works too
    assert code == 2
    one_line_error(err, "has no agent 2", "0 to 1")


def test_eval_agent_k_flies_that_agents_policy(population, capsys):
    code, out, _ = run_cli(capsys, "eval", population / "population.pt", "--agent", "1", "--episodes", "2", "--json")
    assert code == 0
    from_population = json.loads(out)
    code, out, _ = run_cli(capsys, "eval", population / "agent1_seed1" / "policy.pt", "--episodes", "2", "--json")
    assert code == 0
    assert from_population["returns"] == json.loads(out)["returns"]  # the same weights, unstacked
    code, out, _ = run_cli(capsys, "eval", population / "population.pt", "--agent", "0", "--episodes", "2", "--json")
    assert json.loads(out)["returns"] != from_population["returns"]


def test_agent_on_a_single_run_or_a_builtin_pilot_is_refused(population, capsys):
    code, _, err = run_cli(capsys, "eval", population / "agent0_seed0" / "policy.pt", "--agent", "0")
    assert code == 2
    one_line_error(err, "--agent 0", "single agent", "drop --agent")
    code, _, err = run_cli(capsys, "eval", "heuristic", "--agent", "0")
    assert code == 2
    one_line_error(err, "--agent 0", "population checkpoint")


def test_gif_of_one_agent(population, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "gif", population / "population.pt", "--agent", "0", "--out", tmp_path / "a.gif",
                           "--scale", "0.2", "--every", "8")
    assert code == 0 and (tmp_path / "a.gif").stat().st_size > 0
    code, _, err = run_cli(capsys, "gif", population / "population.pt", "--out", tmp_path / "b.gif")
    assert code == 2 and not (tmp_path / "b.gif").exists()
    one_line_error(err, "population of 2 agents")


def test_resuming_a_population_needs_its_seeds(population, tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "--resume", population / "population.pt", "--out", tmp_path / "r",
                           "--no-progress")
    assert code == 2
    one_line_error(err, "population checkpoint of 2 agents", "--seeds 0 1")
    code, _, err = run_cli(capsys, "train", "--seeds", "0-1", "--resume", population / "agent0_seed0" / "policy.pt",
                           "--no-progress")
    assert code == 2
    one_line_error(err, "drop --seeds")


def test_resume_with_seeds_continues_every_agent(population, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(population, copy)
    code, _, _ = run_cli(capsys, "train", "--seeds", "0-1", "--resume", copy / "population.pt", "--out", copy,
                         "--no-progress", "run.total_steps=400")
    assert code == 0
    members = read_checkpoint_file(copy / "population.pt", kind="population")["agents"]
    assert [m["env_step"] for m in members] == [400, 400]


@pytest.mark.parametrize(("seeds", "needles"), [
    (["3-1"], ["'3-1' runs downward", "1-3"]),
    (["0", "0"], ["seed 0 is given twice"]),
    (["-2"], ["'-2' is negative"]),
    (["0-1", "x"], ["'x' is not a seed"]),
])
def test_bad_seeds_are_one_line(seeds, needles, tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "--preset", "tiny", "--out", tmp_path / "r", "--seeds", *seeds)
    assert code == 2
    one_line_error(err, "--seeds", "allowed", *needles)
    assert not (tmp_path / "r" / "population.pt").exists()


def test_tensorboard_with_seeds_is_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "--preset", "tiny", "--seeds", "0-1", "--tensorboard", "--out",
                           tmp_path / "r")
    assert code == 2
    one_line_error(err, "--tensorboard is not available with --seeds")


def test_no_clips_with_seeds_records_none(tmp_path, capsys):
    code, _, _ = run_cli(capsys, "train", "--seeds", "0", "--no-clips", "--out", tmp_path / "r", *TINY)
    assert code == 0
    assert (tmp_path / "r" / "agent0_seed0" / "evaluations.jsonl").exists()
    assert not (tmp_path / "r" / "agent0_seed0" / "clips").exists()


def test_watch_of_a_population_asks_which_agent_before_opening_a_window(population, capsys):
    code, _, err = run_cli(capsys, "watch", population / "population.pt", "--episodes", "1")
    assert code == 2
    one_line_error(err, "population of 2 agents", "--agent K")
