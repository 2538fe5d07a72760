"""Results as data: records under benchmarks/results/, their tables, and `python -m lab presets`."""

import json
import sys

import pytest

from lab.bench import record as rec
from lab.bench.tables import expectation, performance_tables, presets_table, report_check
from lab.cli import main
from lab.presets import preset_names


def _tts(preset, solved_steps, date, seeds=range(10), overrides=(), population=False, cap=100_000):
    rows = [{"seed": s, "solved": steps is not None, "env_steps": steps or cap, "train_seconds": (steps or cap) / 400,
             "steps_per_second": 400.0, "best_eval": None} for s, steps in zip(seeds, solved_steps)]
    solved = [r for r in rows if r["solved"]]
    summary = {"seeds": len(rows), "solved": len(solved), "step_cap": cap, "seconds_cap": 1500,
               "env_steps": {"n": len(rows), "median": 40_000.0, "iqm": 40_000.0, "ci_low": 30_000.0,
                             "ci_high": 50_000.0},
               "train_seconds": {"n": len(rows), "median": 100.0, "iqm": 100.0, "ci_low": 80.0, "ci_high": 120.0},
               "median_steps_per_second": 400.0, "max_train_seconds": 250.0}
    machine = {"cpu": "test", "cores": 2, "gpu": "none", "python": "3.11", "torch": "2"}
    return rec.Record(kind="time-to-solve", preset=preset, date=date, commit="abcdef1", machine=machine,
                      command=f"python -m lab bench time-to-solve --preset {preset}",
                      results={"preset": preset, "overrides": list(overrides), "population": population,
                               "parallel": 1, "summary": summary, "seeds": rows})


def test_a_record_round_trips_and_never_overwrites_another(tmp_path):
    record = _tts("guided", [40_000] * 10, "2026-12-01T10:00:00+00:00")
    first, second = rec.save(record, tmp_path), rec.save(record, tmp_path)
    assert first != second and first.parent == tmp_path and first.name.endswith("_time-to-solve_guided.json")
    loaded = rec.load(first)
    assert loaded == record and loaded.path == first
    assert [r.path for r in rec.load_all(tmp_path)] == sorted([first, second])


@pytest.mark.parametrize(("change", "needle"), [
    ({"kind": "Time To Solve"}, "kind="),
    ({"date": "2026-12-01"}, "date="),  # no time zone
    ({"commit": "HEAD"}, "commit="),
    ({"machine": {"cpu": "x"}}, "machine="),
    ({"command": "lab bench"}, "command="),
    ({"colour": "red"}, "unknown field(s) colour"),
    ({"schema": 2}, "schema=2"),
])
def test_validate_names_the_bad_field(change, needle):
    data = {**_tts("fast", [1] * 10, "2026-12-01T10:00:00+00:00").to_dict(), **change}
    with pytest.raises(rec.RecordError, match="record: " + needle.replace("(", r"\(").replace(")", r"\)")):
        rec.validate(data)


def test_a_broken_results_file_is_one_clear_error(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(rec.RecordError, match="bad.json.*not JSON"):
        rec.load_all(tmp_path)


def test_the_newest_report_check_per_preset_is_chosen():
    old = _tts("fast", [None] * 10, "2026-11-01T10:00:00+00:00")
    new = _tts("fast", [40_000] * 8 + [None, None], "2026-12-01T10:00:00+00:00")
    newer_but_overridden = _tts("fast", [1] * 10, "2026-12-05T10:00:00+00:00", overrides=["training.gamma=0.995"])
    newer_but_tuning_seeds = _tts("fast", [1] * 10, "2026-12-06T10:00:00+00:00", seeds=range(20, 30))
    newer_population = _tts("fast", [1] * 10, "2026-12-07T10:00:00+00:00", population=True)
    records = [new, old, newer_but_overridden, newer_but_tuning_seeds, newer_population]
    assert report_check(records, "fast") is new
    assert report_check(records, "guided") is None
    assert expectation(new).startswith("lands 8 of 10 report seeds within 100,000 steps, median 40,000 env steps")
    table = presets_table(records)
    assert table.count("\n") == len(preset_names()) + 1  # header, rule, one row per preset
    assert "| `fast` |" in table and "| 8 of 10 | 40,000 | 100 | 2026-12-01, commit abcdef1 |" in table


def test_the_committed_records_are_valid_and_cover_what_the_docs_quote():
    records = rec.load_all()
    assert {r.kind for r in records} >= {"time-to-solve", "eval", "population"}
    for name in ("guided", "fast"):
        assert report_check(records, name) is not None, name
    tables = performance_tables(records)
    for r in records:  # every record shows up with its command and commit
        assert r.command in tables and r.short_commit in tables


def test_bench_save_keeps_the_json_result_as_a_record(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/x/lab/__main__.py", "bench", "analyzer", "--episodes", "1", "--save"])
    assert main(["bench", "analyzer", "--episodes", "1", "--save", "--save-dir", str(tmp_path),
                 "--note", "nothing else ran"]) == 0
    out, err = capsys.readouterr()
    [path] = tmp_path.glob("*_analyzer.json")
    saved = rec.load(path)
    assert saved.results == json.loads(out) and saved.note == "nothing else ran"
    assert saved.command == "python -m lab bench analyzer --episodes 1 --save"
    assert set(saved.machine) >= set(rec.MACHINE_KEYS) and f"saved {path}" in err


def test_bench_subcommands_with_json_take_save_and_the_others_do_not(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "updates", "--lever", "a", "--save"])
    assert "unrecognized arguments: --save" in capsys.readouterr().err
    for sub in ("time-to-solve", "throughput", "overlap", "screen", "population", "analyzer"):
        with pytest.raises(SystemExit):
            main(["bench", sub, "--help"])
        assert "--save-dir" in capsys.readouterr().out, sub


def test_presets_lists_every_preset_with_what_to_expect(tmp_path, capsys):
    rec.save(_tts("guided", [40_000] * 10, "2026-12-01T10:00:00+00:00"), tmp_path)
    assert main(["presets", "--results", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == preset_names()
    guided = next(line for line in lines if line.startswith("guided"))
    assert "hand-written pilot" in guided and "(start here)" in guided
    assert "lands 10 of 10 report seeds within 100,000 steps, median 40,000 env steps and 100 s" in guided
    assert "no report-seed measurement recorded yet" in next(line for line in lines if line.startswith("tiny"))


def test_the_population_table_shows_rates_update_bounds_and_memory_together():
    machine = {"cpu": "test", "cores": 2, "gpu": "none", "python": "3.11", "torch": "2"}
    rows = [{"agents": k, "threads": 1, "aggregate_steps_per_s": 300.0 * k ** 0.5, "vs_trainer": r,
             "vs_population_of_1": r, "update_ms_per_agent": 2.0 / b, "update_bound": b, "load_average": 0.5}
            for k, r, b in ((1, 0.9, 1.0), (8, 1.7, 1.75))]
    record = rec.Record(kind="population", preset="fast", date="2026-12-06T19:00:00+00:00", commit="abcdef1",
                        machine=machine, command="python -m lab bench population --memory 8",
                        results={"trainer_steps_per_s": 378.0, "update_ms_one_agent": 2.0, "rows": rows,
                                 "overlap": True, "rounds": 3,
                                 "memory": {"agents": 8, "main_mib": 439.0, "env_worker_mib": 50.0,
                                            "replay_mib": 178.0, "total_mib": 489.0}})
    text = performance_tables([record])
    assert "8: 1.70×, envs in an env worker (medians of 3 alternating rounds)" in text
    assert "update bound (what batching gives the update alone) 8: 1.75×" in text
    assert "489 MiB resident" in text
