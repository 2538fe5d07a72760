"""The benchmarks' logic (not their speed: figures are printed, never asserted)."""

from lab import bench
from lab.presets import preset


def test_time_to_solve_stops_at_the_first_evaluation_over_the_threshold():
    config = preset("tiny").with_overrides({"run.analyze_episodes": False, "env.max_episode_steps": 100})
    result = bench.time_to_solve(config, seed=0, max_steps=2_000, max_seconds=60, eval_every=300, eval_episodes=2,
                                 threshold=-10_000)
    assert result.solved and result.env_steps == result.curve[0][0]
    assert 300 <= result.env_steps < 600  # stopped at the first evaluation, not at max_steps


def test_time_to_solve_reports_unsolved_at_the_step_cap():
    config = preset("tiny").with_overrides({"run.analyze_episodes": False, "env.max_episode_steps": 100})
    result = bench.time_to_solve(config, seed=1, max_steps=600, max_seconds=60, eval_every=300, eval_episodes=2,
                                 threshold=10_000)
    assert not result.solved and result.env_steps >= 600 and len(result.curve) >= 2
    summary = bench.summarize_solves([result])
    assert summary["solved"] == 0 and summary["seeds"] == 1


def test_update_split_and_per_figures_are_positive():
    split = bench.update_split([16, 16], 32, per=True, repeats=5, capacity=4096)
    assert set(split) == {"sample", "critic", "actor", "priorities"} and all(v > 0 for v in split.values())
    assert bench.per_sample_update_ms(capacity=4096, batch_size=64, repeats=5) > 0
    assert bench.bare_update_rate([16, 16], 32, seconds=0.2) > 0
