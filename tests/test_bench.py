"""The benchmarks' logic (not their speed: figures are printed, never asserted)."""

import json
import subprocess

import pytest

from lab.bench import solve, throughput
from lab.cli import main
from lab.presets import preset

TINY = {"run.analyze_episodes": False, "env.max_episode_steps": 100}


def test_time_to_solve_stops_at_the_first_evaluation_over_the_threshold():
    config = preset("tiny").with_overrides({"run.analyze_episodes": False, "env.max_episode_steps": 100})
    result = solve.time_to_solve(config, seed=0, max_steps=2_000, max_seconds=60, eval_every=300, eval_episodes=2,
                                 threshold=-10_000)
    assert result.solved and result.env_steps == result.curve[0][0]
    assert 300 <= result.env_steps < 600  # stopped at the first evaluation, not at max_steps


def test_time_to_solve_reports_unsolved_at_the_step_cap():
    config = preset("tiny").with_overrides({"run.analyze_episodes": False, "env.max_episode_steps": 100})
    result = solve.time_to_solve(config, seed=1, max_steps=600, max_seconds=60, eval_every=300, eval_episodes=2,
                                 threshold=10_000)
    assert not result.solved and result.env_steps >= 600 and len(result.curve) >= 2
    summary = solve.summarize_solves([result], max_steps=600, max_seconds=60)
    assert summary["solved"] == 0 and summary["seeds"] == 1
    assert summary["env_steps"]["iqm"] == 600 and summary["train_seconds"]["median"] == 60  # counted at the caps


def test_summary_counts_unsolved_seeds_at_the_caps():
    def result(seed, solved, steps, seconds):
        return solve.SolveResult(seed, solved, steps, seconds, 100.0, 0.0)

    results = [result(0, True, 30_000, 100.0), result(1, True, 50_000, 150.0), result(2, False, 80_000, 400.0),
               result(3, True, 40_000, 120.0)]
    summary = solve.summarize_solves(results, max_steps=100_000, max_seconds=500)
    assert (summary["seeds"], summary["solved"]) == (4, 3)
    assert summary["env_steps"]["median"] == 45_000 and summary["env_steps"]["iqm"] == 45_000  # 40k and 50k
    assert summary["train_seconds"]["iqm"] == 135.0 and summary["max_train_seconds"] == 400.0
    assert summary["env_steps"]["ci_low"] <= 45_000 <= summary["env_steps"]["ci_high"] <= 100_000
    with pytest.raises(ValueError, match="at least one seed"):
        solve.summarize_solves([], 1, 1)


def test_parallel_seeds_match_sequential_runs(capsys):
    argv = ["bench", "time-to-solve", "--preset", "tiny", "--max-steps", "600", "--eval-every", "300",
            "--eval-episodes", "2", "--seeds", "0-1", "--parallel", "2", "--json",
            *(f"{k}={v}" for k, v in TINY.items())]  # overrides after --seeds are still overrides
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["parallel"] == 2 and [s["seed"] for s in report["seeds"]] == [0, 1]
    summary = report["summary"]
    assert summary["seeds"] == 2 and set(summary["env_steps"]) == {"n", "median", "iqm", "ci_low", "ci_high"}
    assert summary["step_cap"] == 600 and summary["env_steps"]["iqm"] <= 600

    config = preset("tiny").with_overrides(TINY)
    alone = solve.time_to_solve(config, seed=0, max_steps=600, max_seconds=600, eval_every=300, eval_episodes=2)
    in_worker = report["seeds"][0]
    assert [(c[0], c[2]) for c in in_worker["curve"]] == [(c[0], c[2]) for c in alone.curve]
    assert in_worker["curve"] != report["seeds"][1]["curve"]  # seeds differ, so the match above means something
    assert in_worker["env_steps"] == alone.env_steps and in_worker["solved"] == alone.solved


def test_parallel_seeds_refuse_more_torch_threads():
    config = preset("tiny").with_overrides({**TINY, "run.torch_threads": 2})
    with pytest.raises(ValueError, match="run.torch_threads=2"):
        solve.time_to_solve_seeds(config, [0, 1], 300, 60, parallel=2)


def test_time_to_solve_command_prints_the_statistics(capsys):
    assert main(["bench", "time-to-solve", "--preset", "tiny", "--max-steps", "300", "--eval-every", "300",
                 "--eval-episodes", "1", "--seeds", "3", "run.analyze_episodes=false",
                 "env.max_episode_steps=50"]) == 0
    text = capsys.readouterr().out
    assert "seeds 3, 1 at a time" in text and "IQM [95% stratified-bootstrap CI]" in text
    assert "/1 (an unsolved seed counts at the cap: 300 steps, 600 s)" in text
    assert "env steps" in text and "train seconds" in text


@pytest.mark.parametrize(("argv", "named"), [
    (["throughput", "--steps", "0"], "--steps 0"),
    (["throughput", "--batch-size", "0"], "--batch-size 0"),
    (["throughput", "--updates-per-step", "0"], "--updates-per-step 0"),
    (["time-to-solve", "--seeds", "3-1"], "'3-1'"),
    (["time-to-solve", "--seeds", "0", "0"], "seed 0"),
    (["time-to-solve", "--parallel", "0"], "--parallel 0"),
    (["time-to-solve", "--max-steps", "0"], "--max-steps 0"),
    (["time-to-solve", "--eval-every", "900", "--max-steps", "500"], "--eval-every 900"),
    (["analyzer", "--episodes", "0"], "--episodes 0"),
    (["updates", "--lever", "td3", "--rounds", "0"], "--rounds 0"),
    (["updates", "--lever", "sac", "training.algorithm=ppo"], "training.algorithm='ppo'"),
    (["updates", "--lever", "a", "--lever", "a", "training.tau=0.01"], "lever name 'a' is given twice"),
])
def test_bad_bench_arguments_get_one_line(argv, named, capsys):
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and named in err and "allowed" in err and "\n" not in err


def test_update_split_and_per_figures_are_positive():
    split = throughput.update_split([16, 16], 32, per=True, repeats=5, capacity=4096)
    assert set(split) == {"sample", "critic", "actor", "priorities"} and all(v > 0 for v in split.values())
    assert throughput.per_sample_update_ms(capacity=4096, batch_size=64, repeats=5) > 0
    assert throughput.bare_update_rate([16, 16], 32, seconds=0.2) > 0


def test_a_failed_worker_stops_its_siblings(tmp_path, monkeypatch):
    started = []

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(solve.subprocess, "Popen", Recorded)
    config = preset("tiny").with_overrides(TINY).to_dict()
    long_job = {"config": config, "seed": 0, "kwargs": {"max_steps": 10_000_000, "max_seconds": 3_600,
                                                        "eval_every": 5_000, "eval_episodes": 1}}
    broken = {"config": {**config, "training": {**config["training"], "batch_size": -1}}, "seed": 1,
              "kwargs": long_job["kwargs"]}
    workers = solve._run_workers([long_job, broken], parallel=2, folder=tmp_path)
    with pytest.raises(RuntimeError, match=r"seed 1 failed in its worker process \(exit 1\): .*batch_size"):
        next(workers)
    assert len(started) == 2 and all(p.poll() is not None for p in started)  # the long seed was ended
    assert not list(tmp_path.glob("*.result.json"))


def test_population_time_to_solve_freezes_solved_agents():
    config = preset("tiny").with_overrides(TINY)
    frozen = []
    results = solve.time_to_solve_population(config, [0, 1], max_steps=3_000, max_seconds=600, eval_every=300,
                                             eval_episodes=1, threshold=-10_000, on_frozen=frozen.append)
    assert [r.seed for r in results] == [0, 1] and sorted(r.seed for r in frozen) == [0, 1]
    for r in results:
        assert r.solved and r.env_steps == r.curve[0][0] and len(r.curve) == 1  # frozen at its first evaluation
        assert 300 <= r.env_steps < 600  # the population ended when both froze, long before max_steps


def test_population_time_to_solve_matches_the_sequential_statistics():
    config = preset("tiny").with_overrides(TINY)
    kwargs = {"max_steps": 600, "max_seconds": 600, "eval_every": 300, "eval_episodes": 1, "threshold": 10_000}
    together = solve.time_to_solve_population(config, [0, 1], **kwargs)
    alone = solve.time_to_solve_seeds(config, [0, 1], **kwargs)
    assert [(r.solved, r.env_steps, [c[0] for c in r.curve]) for r in together] == \
        [(r.solved, r.env_steps, [c[0] for c in r.curve]) for r in alone]
    assert solve.summarize_solves(together, 600, 600).keys() == solve.summarize_solves(alone, 600, 600).keys()


def test_time_to_solve_population_command(capsys):
    assert main(["bench", "time-to-solve", "--population", "--preset", "tiny", "--max-steps", "300", "--eval-every",
                 "300", "--eval-episodes", "1", "--seeds", "0-1", "run.analyze_episodes=false",
                 "env.max_episode_steps=50"]) == 0
    text = capsys.readouterr().out
    assert "seeds 0 1, all at once (population)" in text and "IQM [95% stratified-bootstrap CI]" in text
    # two seeds share the population's clock, so each gets the default 600 s per seed: 1,200 s
    assert "/2 (an unsolved seed counts at the cap: 300 steps, 1200 s)" in text


def test_population_and_parallel_clash_in_one_line(capsys):
    assert main(["bench", "time-to-solve", "--population", "--parallel", "2", "--seeds", "0-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--parallel 2 and --population" in err and "\n" not in err


def test_lander_facts_come_from_lab_lander():
    import inspect

    from lab import evaluation, lander

    assert inspect.signature(solve.time_to_solve).parameters["threshold"].default == lander.SUCCESS_RETURN
    assert inspect.signature(solve.time_to_solve_population).parameters["threshold"].default == lander.SUCCESS_RETURN
    assert inspect.signature(evaluation.evaluate).parameters["success_threshold"].default == lander.SUCCESS_RETURN
    assert inspect.signature(evaluation.evaluate).parameters["env_id"].default == lander.ENV_ID
    buffer = throughput._filled_buffer(64, 64, per=False)
    assert buffer.sample(8, [0.99]).obs.shape == (1, 8, lander.OBS_DIM)


def test_updates_times_each_levers_own_learner_and_gives_ratios_to_the_first(capsys):
    assert main(["bench", "updates", "--preset", "tiny", "--updates", "3", "--rounds", "2", "--lever", "small",
                 "--lever", "wide", "network.actor_hidden=[64,64]", "network.critic_hidden=[64,64]"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert [row[0] for row in rows] == ["small", "wide"] and rows[0][2] == "1.00x"
    assert all(float(row[1]) > 0 for row in rows)


def test_learner_update_ms_times_a_batched_update_of_as_many_agents_as_asked():
    config = preset("tiny")
    assert throughput.learner_update_ms(config, updates=2) > 0
    assert throughput.learner_update_ms(config, updates=2, agents=3) > 0
    learner, batch = throughput._warmed_learner(config, agents=3)
    assert learner.agents == 3 and batch.obs.shape[0] == 3

