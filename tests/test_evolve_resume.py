"""lab evolve loses nothing: a re-run resumes after the last committed generation, whatever stopped it and
wherever it stopped, ends exactly as one uninterrupted run, and refuses a different file or a foreign folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.search import evolve_folder
from lab.search.evolve import EVOLVE_KEYS, check_evolve_spec, run_evolve
from lab.search.evolve_folder import EvolveFolder, default_folder
from lab.search.evolve_population import EvolvingPopulation
from lab.search.space import SpecError, parse_spec

ROOT = Path(__file__).resolve().parent.parent
PBT = {"name": "pbt", "base": "tiny", "seed": 3, "population": 3, "generations": 3, "generation_steps": 240,
       "tournament_size": 2, "elite": 1,
       "overrides": {"run.eval_episodes": 1, "env.max_episode_steps": 60, "training.learning_starts": 40,
                     "training.batch_size": 16, "env.num_envs": 1, "run.analyze_episodes": False},
       "parameters": {"actor_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
                      "noise.sigma": {"min": 0.05, "max": 0.4, "type": "float"}}}


def pbt_spec(**changes):
    spec = parse_spec({**PBT, **changes}, kind="evolve", extra_keys=EVOLVE_KEYS)
    check_evolve_spec(spec)
    return spec


def lineage(folder: Path) -> dict:
    return json.loads((folder / "lineage.json").read_text())


def history(folder: Path) -> list:
    """What must not depend on how often the run was stopped: every generation's fitness and agents."""
    saved = lineage(folder)
    return [[(m["agent"], m["fitness"], m["hyperparameters"]) for m in g["members"]] for g in saved["generations"]]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """Three generations in one uninterrupted run: what every resumed run must equal."""
    folder = tmp_path_factory.mktemp("straight") / "pbt"
    run_evolve(pbt_spec(), folder, log=lambda _: None)
    return history(folder)


def stop_at_generation(monkeypatch, generation: int, exc: BaseException) -> None:
    """Make training raise ``exc`` when it starts that generation, as a kill or signal there would stop it."""
    train = EvolvingPopulation.train_generation

    def stopping(self, g):
        if g == generation:
            raise exc
        train(self, g)

    monkeypatch.setattr(EvolvingPopulation, "train_generation", stopping)


def test_a_rerun_after_a_stop_resumes_after_the_last_generation_and_equals_one_straight_run(tmp_path, monkeypatch,
                                                                                          straight):
    folder = tmp_path / "pbt"
    stop_at_generation(monkeypatch, 3, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run_evolve(pbt_spec(), folder, log=lambda _: None)
    before = lineage(folder)
    assert [g["generation"] for g in before["generations"]] == [1, 2] and before["resume"]["generation"] == 2
    monkeypatch.undo()
    logs: list[str] = []
    run_evolve(pbt_spec(), folder, log=logs.append)
    assert logs[0] == f"resuming {folder} after generation 2 of 3"
    assert not any(line.startswith(("generation 1:", "generation 2:")) for line in logs)  # not trained again
    after = lineage(folder)
    assert after["generations"][:2] == before["generations"]  # the finished generations are kept as they were
    assert history(folder) == straight  # the resumed run is the uninterrupted one
    assert after["elite"]["generation"] == 3


def test_more_generations_continue_a_finished_evolve_and_the_same_number_does_nothing(tmp_path, straight):
    folder = tmp_path / "pbt"
    run_evolve(pbt_spec(generations=2), folder, log=lambda _: None)
    logs: list[str] = []
    result = run_evolve(pbt_spec(generations=2), folder, log=logs.append)
    assert logs == [f"evolve 'pbt' already ran 2 generation(s) in {folder}: nothing to do (ask for more with "
                    "--generations)"]
    assert result["generations"] == 2
    run_evolve(pbt_spec(generations=3), folder, log=logs.append)
    assert f"resuming {folder} after generation 2 of 3" in logs
    assert history(folder) == straight


def test_a_kill_between_the_checkpoint_and_the_lineage_costs_only_that_generation(tmp_path, monkeypatch, straight):
    folder = tmp_path / "pbt"
    writes = []
    real = evolve_folder.atomic_write_json

    def dies_on_the_second_commit(path, data):
        writes.append(path)
        if len(writes) == 2:
            raise SystemExit("killed")  # the checkpoint of generation 2 is on disk, its lineage.json is not
        return real(path, data)

    monkeypatch.setattr(evolve_folder, "atomic_write_json", dies_on_the_second_commit)
    with pytest.raises(SystemExit):
        run_evolve(pbt_spec(), folder, log=lambda _: None)
    assert lineage(folder)["resume"]["generation"] == 1
    assert (folder / "checkpoints" / "generation_0002.pt").exists()  # written, never committed
    monkeypatch.undo()
    logs: list[str] = []
    run_evolve(pbt_spec(), folder, log=logs.append)
    assert logs[0] == f"resuming {folder} after generation 1 of 3"
    assert history(folder) == straight
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["generation_0003.pt"]


def test_an_elite_left_behind_by_a_kill_after_the_commit_is_brought_up_to_date(tmp_path, monkeypatch):
    from lab.checkpoint import read_checkpoint_file
    from lab.evaluation import evaluate
    from lab.policy import load_policy

    folder = tmp_path / "pbt"
    save = EvolveFolder.save_elite

    def dies_before_the_second_elite(self, pop, elite):
        if elite["generation"] == 2:
            raise SystemExit("killed")
        save(self, pop, elite)

    monkeypatch.setattr(EvolveFolder, "save_elite", dies_before_the_second_elite)
    with pytest.raises(SystemExit):
        run_evolve(pbt_spec(generations=2), folder, log=lambda _: None)
    assert lineage(folder)["elite"]["generation"] == 2
    assert read_checkpoint_file(folder / "elite" / "policy.pt")["generation"] == 1  # one behind
    monkeypatch.undo()
    run_evolve(pbt_spec(generations=2), folder, log=lambda _: None)  # finished: only the elite is written
    elite = lineage(folder)["elite"]
    assert read_checkpoint_file(folder / "elite" / "policy.pt")["generation"] == 2
    score = evaluate(load_policy(folder / "elite" / "policy.pt"), episodes=1, seed=10_000, max_episode_steps=60,
                     analyze=False).mean_return
    assert score == pytest.approx(elite["fitness"], abs=1e-3)
    assert "generation 2" in (folder / "elite" / "config.yaml").read_text().splitlines()[0]


# ---- refusals ---------------------------------------------------------------------------------
def cli(capsys, *argv) -> tuple[int, str]:
    from lab.cli import main

    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_a_different_evolve_file_into_the_same_out_is_refused_in_one_line(tmp_path, capsys):
    folder = tmp_path / "pbt"
    spec = tmp_path / "pbt.json"
    spec.write_text(json.dumps({**PBT, "generations": 1}))
    assert cli(capsys, "evolve", spec, "--out", folder)[0] == 0
    kept = (folder / "lineage.json").read_bytes()
    for change, named in (({"population": 4}, "settings.population: stored 3, file 4"),
                          ({"overrides": {**PBT["overrides"], "training.tau": 0.02}},
                           "base_config.training.tau: stored 0.005, file 0.02"),
                          ({"parameters": {"actor_lr": PBT["parameters"]["actor_lr"]}},
                           "parameters.noise.sigma: stored {")):
        spec.write_text(json.dumps({**PBT, "generations": 1, **change}))
        code, err = cli(capsys, "evolve", spec, "--out", folder)
        assert code == 2 and err.count("\n") == 1, err
        assert err.startswith(f"error: {folder} holds a different evolve ({named}") and "choose another --out" in err
        assert (folder / "lineage.json").read_bytes() == kept  # nothing was trained or written
    spec.write_text(json.dumps({**PBT, "generations": 1, "description": "a note changes nothing"}))
    assert cli(capsys, "evolve", spec, "--out", folder)[0] == 0


def test_a_folder_with_other_files_a_corrupt_lineage_or_another_evolve_in_it_is_refused(tmp_path, capsys):
    spec = tmp_path / "pbt.json"
    spec.write_text(json.dumps({**PBT, "generations": 1}))
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"a training run's")
    code, err = cli(capsys, "evolve", spec, "--out", run)
    assert code == 2 and err == f"error: --out {run} holds files that are not an evolve's ('checkpoint.pt'): " \
                                "choose a new or empty folder\n"
    assert sorted(p.name for p in run.iterdir()) == [".evolve.lock", "checkpoint.pt"]

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "lineage.json").write_text('{"generations": [')
    code, err = cli(capsys, "evolve", spec, "--out", broken)
    assert code == 2 and err.count("\n") == 1 and f"{broken / 'lineage.json'} is corrupt" in err

    busy = tmp_path / "busy"
    with EvolveFolder(busy, pbt_spec()).locked():  # another process would hold it just so
        code, err = cli(capsys, "evolve", spec, "--out", busy)
    assert code == 2 and err == f"error: {busy} is in use by another lab evolve (PID {os.getpid()}): wait for it " \
                                "to end, or choose another --out\n"
    assert not (busy / "lineage.json").exists()


def test_without_out_the_same_evolve_resumes_its_latest_folder(tmp_path):
    spec = pbt_spec()
    first = default_folder(spec, root=tmp_path)
    assert first.parent == tmp_path and first.name.endswith("_pbt") and not first.exists()
    first.mkdir()
    (first / "lineage.json").write_text(json.dumps({"record": evolve_folder.evolve_record(spec)}))
    assert default_folder(spec, root=tmp_path) == first
    assert default_folder(pbt_spec(generations=7), root=tmp_path) == first  # more generations: the same evolve
    assert default_folder(spec, root=tmp_path, fresh=True) != first
    assert default_folder(pbt_spec(population=4), root=tmp_path) != first


# ---- real kills -------------------------------------------------------------------------------
def start(spec: Path, out: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SDL_VIDEODRIVER="dummy")
    return subprocess.Popen([sys.executable, "-m", "lab", "evolve", str(spec), "--out", str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def committed(out: Path) -> int:
    try:
        return len(lineage(out)["generations"])
    except (OSError, ValueError):
        return 0


def stop_after_a_new_generation(proc: subprocess.Popen, out: Path, how: int) -> tuple[str, str]:
    had = committed(out)
    deadline = time.monotonic() + 300
    while committed(out) <= had:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no generation finished"
        time.sleep(0.02)
    if how == signal.SIGKILL:
        os.killpg(proc.pid, how)  # the process and its env worker, as the OOM killer or a power cut would
    else:
        proc.send_signal(how)  # the evolve process alone, as a scheduler would
    return proc.communicate(timeout=120)


@pytest.mark.slow
def test_a_sigkill_then_a_sigterm_then_a_rerun_keep_every_generation_and_equal_a_straight_run(tmp_path):
    data = {**PBT, "generations": 6, "generation_steps": 900}
    spec = tmp_path / "pbt.json"
    spec.write_text(json.dumps(data))
    out = tmp_path / "pbt"
    procs = []
    try:
        procs.append(start(spec, out))
        stop_after_a_new_generation(procs[-1], out, signal.SIGKILL)
        first = lineage(out)["generations"]
        procs.append(start(spec, out))
        _, err = stop_after_a_new_generation(procs[-1], out, signal.SIGTERM)
        assert procs[-1].returncode == 143, err
        assert err.strip().endswith(f"evolve stopped by SIGTERM: {out} holds the last finished generation "
                                    "(lineage.json, elite/); run the same command again to resume"), err
        second = lineage(out)["generations"]
        assert second[:len(first)] == first and len(second) > len(first)  # the second kill lost nothing
        assert len(second) < 6, "the run ended before it was stopped: nothing was tested"
        procs.append(start(spec, out))
        stdout, stderr = procs[-1].communicate(timeout=600)
        assert procs[-1].returncode == 0, stderr
        assert f"resuming {out} after generation {len(second)} of 6" in stdout
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    final = lineage(out)["generations"]
    assert [g["generation"] for g in final] == [1, 2, 3, 4, 5, 6] and final[:len(second)] == second
    straight = tmp_path / "straight"
    run_evolve(parse_spec(data, kind="evolve", extra_keys=EVOLVE_KEYS), straight, log=lambda _: None)
    assert history(out) == history(straight)


def test_a_run_stopped_before_its_first_generation_starts_clean(tmp_path, monkeypatch):
    folder = tmp_path / "pbt"
    stop_at_generation(monkeypatch, 1, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run_evolve(pbt_spec(), folder, log=lambda _: None)
    assert not (folder / "lineage.json").exists()
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "generation_0001.pt").write_bytes(b"an uncommitted checkpoint")
    monkeypatch.undo()
    logs: list[str] = []
    run_evolve(pbt_spec(generations=1), folder, log=logs.append)
    assert logs[0].startswith("generation 1:")
    assert lineage(folder)["resume"]["generation"] == 1


def test_a_missing_committed_checkpoint_is_named(tmp_path):
    folder = tmp_path / "pbt"
    run_evolve(pbt_spec(generations=1), folder, log=lambda _: None)
    (folder / "checkpoints" / "generation_0001.pt").unlink()
    with pytest.raises(SpecError, match=r"generation_0001.pt is missing, though .*lineage.json names it"):
        run_evolve(pbt_spec(generations=2), folder, log=lambda _: None)
