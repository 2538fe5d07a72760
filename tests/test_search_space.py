"""Search files: grid expansion, seeded sampling, log-uniform ranges, and every refusal before a run."""

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lab.config import ConfigError
from lab.search.space import Choice, Parameter, Range, SpecError, load_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent


def spec_data(**changes):
    data = {"name": "t", "type": "grid", "base": "tiny", "steps_per_run": 300,
            "parameters": {"actor_lr": [1e-3, 3e-3], "training.tau": [0.005, 0.01], "batch_size": [32, 64]}}
    data.update(changes)
    return data


def test_grid_is_the_product_in_file_order_with_every_value_in_the_config():
    spec = parse_spec(spec_data())
    plans = spec.plans()
    assert len(plans) == 8
    assert [p.index for p in plans] == list(range(1, 9))
    assert plans[0].params == {"actor_lr": 1e-3, "training.tau": 0.005, "batch_size": 32}
    assert plans[-1].params == {"actor_lr": 3e-3, "training.tau": 0.01, "batch_size": 64}
    assert plans[2].label == "run 003: actor_lr=0.001 training.tau=0.01 batch_size=32"
    for plan in plans:
        t = plan.config.training
        assert (t.actor_lr, t.tau, t.batch_size) == tuple(plan.params.values())
        assert plan.config.run.total_steps == 300 and plan.config.run.seed == 0
    assert len({tuple(p.params.values()) for p in plans}) == 8


def test_random_sampling_is_reproducible_under_a_seed_and_changes_with_it():
    data = spec_data(type="random", num_samples=12, seed=3, parameters={
        "actor_lr": {"min": 1e-4, "max": 1e-2, "type": "log"},
        "tau": {"min": 0.001, "max": 0.02, "type": "float"},
        "policy_delay": {"min": 1, "max": 3, "type": "int"},
        "noise.kind": {"choices": ["ou", "gaussian"]},
    })
    first = [p.params for p in parse_spec(data).plans()]
    again = [p.params for p in parse_spec(data).plans()]
    other = [p.params for p in parse_spec({**data, "seed": 4}).plans()]
    assert first == again
    assert first != other
    assert all(1e-4 <= p["actor_lr"] <= 1e-2 and 0.001 <= p["tau"] <= 0.02 for p in first)
    assert all(isinstance(p["policy_delay"], int) and 1 <= p["policy_delay"] <= 3 for p in first)
    assert parse_spec({**data, "seed": 4}).plans()[0].config.run.seed == 4  # the seed also seeds each run


def test_log_range_is_uniform_in_log_space_not_in_value():
    rng = np.random.default_rng(0)
    log_range, linear = Range(1e-5, 1e-1, "log"), Range(1e-5, 1e-1, "float")
    values = np.array([log_range.sample(rng) for _ in range(4000)])
    decades = np.histogram(np.log10(values), bins=[-5, -4, -3, -2, -1])[0] / len(values)
    assert np.all(np.abs(decades - 0.25) < 0.03), decades  # a quarter in each decade
    assert abs(np.mean(np.log10(values)) + 3.0) < 0.05
    linear_values = np.array([linear.sample(rng) for _ in range(4000)])
    assert np.mean(linear_values > 1e-2) > 0.85  # uniform would put ~90% in the top decade


def test_log_sampling_through_a_sweep_file_is_log_uniform_too():
    data = spec_data(type="random", num_samples=600, seed=1,
                     parameters={"actor_lr": {"min": 1e-5, "max": 1e-1, "type": "log"}})
    values = np.array([p.params["actor_lr"] for p in parse_spec(data).plans()])
    decades = np.histogram(np.log10(values), bins=[-5, -4, -3, -2, -1])[0] / len(values)
    assert np.all(np.abs(decades - 0.25) < 0.06), decades


def test_int_ranges_include_both_ends_and_choices_are_all_reached():
    rng = np.random.default_rng(1)
    ints = {Range(1, 3, "int").sample(rng) for _ in range(300)}
    assert ints == {1, 2, 3}
    picks = [Parameter("kind", "noise.kind", Choice(("ou", "gaussian"))).sample(rng) for _ in range(300)]
    assert 100 < picks.count("ou") < 200


def test_yaml_numbers_without_a_dot_are_read_as_numbers(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: y\ntype: random\nbase: tiny\nsteps_per_run: 100\nnum_samples: 3\n"
                    "parameters:\n  actor_lr: {min: 1e-4, max: 1e-2, type: log}\n"
                    "  critic_lr: {choices: [1e-4, 3e-4]}\n")
    plans = load_spec(path).plans()
    assert all(isinstance(p.params["actor_lr"], float) for p in plans)
    assert {p.config.training.critic_lr for p in plans} <= {1e-4, 3e-4}


@pytest.mark.parametrize("changes, message", [
    ({"parameters": {"actr_lr": [1e-3]}}, "unknown config field 'actr_lr'"),
    ({"parameters": {"training.nope": [1]}}, "unknown field 'nope' in section training"),
    ({"parameters": {"actor_lr": [1e-3], "training.actor_lr": [3e-3]}}, "both name training.actor_lr"),
    ({"parameters": {"actor_lr": [1e-3, 2.0]}}, "training.actor_lr=2.0 is invalid"),
    ({"parameters": {"actor_lr": []}}, "empty list"),
    ({"parameters": {"actor_lr": {"min": 1e-4, "max": 1e-2}}}, "a grid sweep needs a list"),
    ({"type": "random", "num_samples": 2, "parameters": {"actor_lr": {"min": 1e-2, "max": 1e-4, "type": "log"}}},
     "min=0.01 must be less than max=0.0001"),
    ({"type": "random", "num_samples": 2, "parameters": {"tau": {"min": 0.0, "max": 0.1, "type": "log"}}},
     "a log range needs min > 0"),
    ({"type": "random", "num_samples": 2, "parameters": {"tau": {"min": 0.01, "max": 0.1, "type": "exp"}}},
     "range type='exp' is invalid"),
    ({"type": "random", "num_samples": 2, "parameters": {"actor_lr": {"min": 1e-4, "max": 5.0, "type": "log"}}},
     "training.actor_lr=5.0 is invalid"),
    ({"type": "random", "num_samples": 2, "parameters": {"batch_size": {"min": 16, "max": 64.5, "type": "int"}}},
     "max=64.5 is invalid: allowed an integer"),
    ({"type": "random", "num_samples": 2, "parameters": {"tau": {"low": 0.01, "max": 0.1}}}, "a range is"),
    ({"type": "random", "num_samples": 2, "parameters": {"tau": {"choices": []}}}, "a choice is"),
    ({"type": "random", "parameters": {"tau": [0.01]}}, "needs num_samples"),
    ({"type": "bayes"}, "type='bayes' is invalid"),
    ({"episodes_per_run": 5}, "exactly one of steps_per_run or episodes_per_run"),
    ({"steps_per_run": None}, "exactly one of steps_per_run or episodes_per_run"),
    ({"steps_per_run": 0}, "steps_per_run=0 is invalid"),
    ({"name": "a/b"}, "name='a/b' is invalid"),
    ({"epochs": 3}, "unknown key(s) ['epochs']"),
    ({"base": "nonexistent"}, "neither a preset"),
    ({"overrides": {"run.nope": 1}}, "unknown field 'nope' in section run"),
    ({"parameters": {"batch_size": [32, 8192]}}, "batch_size=8192 is invalid"),  # buffer_size is 5000 in tiny
    ({"parameters": {}}, "parameters must be a non-empty mapping"),
])
def test_invalid_search_files_are_refused_with_a_clear_message(changes, message):
    with pytest.raises(SpecError) as info:
        parse_spec(spec_data(**changes), source="bad.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith("bad.yaml")
    assert isinstance(info.value, ConfigError)  # the CLI prints it as "error: ..." with exit code 2


def test_an_ambiguous_bare_name_is_refused(monkeypatch):
    import lab.config

    monkeypatch.setattr(lab.config, "field_index", lambda: {"sigma": ["noise", "training"]})
    with pytest.raises(SpecError, match="ambiguous: say one of noise.sigma, training.sigma"):
        parse_spec(spec_data(parameters={"sigma": [0.1]}))


def test_a_combination_that_breaks_the_config_is_refused_before_anything_runs():
    data = spec_data(parameters={"batch_size": [64, 256], "buffer_size": [128, 1000]})
    with pytest.raises(SpecError, match=r"run 003 \(batch_size=256 buffer_size=128\) is invalid"):
        parse_spec(data)


def _lab(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120)


def test_cli_dry_run_prints_one_line_per_run_and_bad_files_exit_2_before_running(tmp_path):
    good = tmp_path / "grid.json"
    good.write_text(json.dumps(spec_data()))
    result = _lab("sweep", str(good), "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("run ")]
    assert len(lines) == 8
    assert lines[2] == "run 003: actor_lr=0.001 training.tau=0.01 batch_size=32"
    assert not (tmp_path / "sweep_results").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\ntype: random\nbase: tiny\nsteps_per_run: 100\nnum_samples: 2\n"
                   "parameters:\n  actor_lr: {min: 0.01, max: 0.001, type: log}\n")
    result = _lab("sweep", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert "error:" in result.stderr and "must be less than max" in result.stderr
    assert not (tmp_path / "sweep_results").exists()


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "sweeps").glob("*")))
def test_example_sweep_files_are_valid(path):
    spec = load_spec(path)
    plans = spec.plans()
    assert 1 <= len(plans) <= 12  # small by default
    assert all(p.config.run.eval_every > 0 for p in plans)  # time-to-solve needs evaluations


# ---- limits and streaming ----------------------------------------------------------------------------
def test_a_grid_over_the_limit_is_refused_with_its_size_before_it_is_expanded(monkeypatch):
    import itertools

    import lab.search.space as space

    def no_expansion(*args, **kwargs):
        raise AssertionError("the grid was expanded")

    monkeypatch.setattr(space.itertools, "product", no_expansion)
    # 10^16 runs: expanding even the list of combinations would never finish
    data = spec_data(parameters={name: [1e-4 * (i + 1) for i in range(100)] for name in
                                 ("actor_lr", "critic_lr", "tau", "per_alpha", "sigma", "theta", "mu", "gamma")})
    with pytest.raises(SpecError) as info:
        parse_spec(data, source="huge.yaml")
    assert str(info.value).startswith("huge.yaml: the sweep has 10,000,000,000,000,000 runs, more than the 10,000")
    monkeypatch.setattr(space.itertools, "product", itertools.product)
    with pytest.raises(SpecError, match=r"num_samples=10001 is invalid: allowed an integer in \[1, 10000\]"):
        parse_spec(spec_data(type="random", num_samples=10_001, parameters={"tau": {"min": 0.001, "max": 0.1}}))


def test_iter_plans_streams_the_same_runs_as_plans():
    spec = parse_spec(spec_data())
    stream = spec.iter_plans()
    assert not isinstance(stream, list) and iter(stream) is stream  # a generator, not a list
    first = next(stream)
    assert first.params == {"actor_lr": 1e-3, "training.tau": 0.005, "batch_size": 32}
    streamed = [first, *stream]
    assert [(p.index, p.params, p.config) for p in streamed] == [(p.index, p.params, p.config) for p in spec.plans()]
    assert spec.run_count == len(streamed) == 8
    random = parse_spec(spec_data(type="random", num_samples=5, seed=2, parameters={"tau": {"min": 0.001,
                                                                                             "max": 0.1}}))
    assert [p.params for p in random.iter_plans()] == [p.params for p in random.plans()]


def test_a_grid_at_the_limit_is_accepted_and_streams(monkeypatch):
    import lab.search.space as space

    monkeypatch.setattr(space, "MAX_RUNS", 60)  # the boundary, without building 10,000 configs in a unit test
    spec = parse_spec(spec_data(parameters={"actor_lr": [1e-4 * (i + 1) for i in range(6)], "seed": list(range(10))}))
    assert spec.run_count == 60
    (last,) = collections.deque(spec.iter_plans(), maxlen=1)  # holds one run at a time
    assert last.index == 60 and last.config.run.seed == 9
    with pytest.raises(SpecError, match="the sweep has 66 runs, more than the 60 allowed"):
        parse_spec(spec_data(parameters={"actor_lr": [1e-4 * (i + 1) for i in range(6)], "seed": list(range(11))}))


@pytest.mark.parametrize("parameters, message", [
    ({"policy_delay": {"min": 1, "max": 4}}, "training.policy_delay takes integers: give the range type: int"),
    ({"lr_schedule": {"min": 0, "max": 1}}, "training.lr_schedule is not a number"),
    ({"tau": {"min": 0.01, "max": 2.0}}, "training.tau=2.0 is invalid: allowed a number in (0.0, 1.0]"),
])
def test_ranges_are_checked_against_the_fields_bounds(parameters, message):
    with pytest.raises(SpecError) as info:
        parse_spec(spec_data(type="random", num_samples=2, parameters=parameters))
    assert message in str(info.value)


# ---- search files, read strictly -------------------------------------------------------------------
def test_search_files_refuse_duplicate_keys_bad_bytes_folders_and_empty_files(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: a\nbase: tiny\nsteps_per_run: 100\nparameters:\n  tau: [0.01]\n  tau: [0.02]\n")
    with pytest.raises(SpecError, match=r"search file '.*dup.yaml' gives key 'tau' twice \(line 6\)"):
        load_spec(dup)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\nbase: tiny\n")
    with pytest.raises(SpecError, match=r"search file '.*latin.yaml' is not UTF-8"):
        load_spec(latin)
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(SpecError, match="is a folder"):
        load_spec(tmp_path / "folder.yaml")
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    with pytest.raises(SpecError, match="is empty"):
        load_spec(tmp_path / "empty.yaml")
    (tmp_path / "base_dir").mkdir()
    base = tmp_path / "base.yaml"
    base.write_text("name: b\nbase: base_dir\nsteps_per_run: 100\nparameters:\n  tau: [0.01]\n")
    with pytest.raises(SpecError, match=r"base: config file '.*base_dir' is a folder"):
        load_spec(base)
