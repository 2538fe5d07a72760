"""What the one engine gives every K: divergence per agent, PER, pause, stop-when-solved, signals, resume rules,
folder locks, and one training loop at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from toy_env import MODULE_ENV_ID
from waiting import signal_once_logging, wait_for

from lab.checkpoint import CheckpointError, read_checkpoint_file
from lab.events import RunStateChanged
from lab.io import read_jsonl
from lab.policy import load_policy
from lab.train.engine import AgentEvent
from lab.train.population import Population
from lab.train.run_folder import RunFolderInUse
from lab.train.trainer import Trainer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def pop_config(tiny_config):
    return tiny_config.with_overrides({"run.total_steps": 300, "env.num_envs": 1, "training.batch_size": 16,
                                       "run.analyze_episodes": False, "env.max_episode_steps": 60})


def _finite(value) -> bool:
    if isinstance(value, torch.Tensor):
        return not value.is_floating_point() or bool(torch.isfinite(value).all())
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


# ---- divergence ------------------------------------------------------------------------------------------
def test_one_agent_of_three_with_a_poisoned_reward_fails_alone_and_nothing_non_finite_is_written(
        pop_config, tmp_path, monkeypatch):
    import lab.rollout.collector

    def poisoned(next_obs, raw, terminated, cfg):  # only agent 2 shapes its rewards: only its rewards turn NaN
        return np.full_like(raw, np.nan)

    monkeypatch.setattr(lab.rollout.collector, "shaping_bonus", poisoned)
    config = pop_config.with_overrides({"run.checkpoint_every": 150, "run.eval_every": 150})
    configs = [config.with_overrides({"run.seed": k, "env.reward_shaping": k == 2}) for k in range(3)]
    with Population(configs=configs, run_dir=tmp_path / "pop") as population:
        failures: list[AgentEvent] = []
        population.events.subscribe(lambda e: failures.append(e) if isinstance(e.event, RunStateChanged)
                                    and e.event.state == "failed" else None)
        summary = population.fit()
    assert summary["state"] == "finished" and summary["failed"] == 1
    states = [m["state"] for m in summary["members"]]
    assert states == ["finished", "finished", "failed"]
    assert [m["env_step"] for m in summary["members"][:2]] == [300, 300]
    error = summary["members"][2]["error"]
    assert error.startswith("critic loss became NaN at update 1 (env step") and "\n" not in error
    assert [e.agent for e in failures] == [2]
    saved = read_checkpoint_file(tmp_path / "pop" / "population.pt", kind="population")
    assert _finite(saved["learner"]) and _finite(saved["actor"])
    assert saved["agents"][2]["state"] == "failed"
    for k in range(2):
        assert load_policy(tmp_path / "pop" / f"agent{k}_seed{k}" / "policy.pt") is not None
    agent2 = tmp_path / "pop" / "agent2_seed2"
    assert json.loads((agent2 / "summary.json").read_text())["state"] == "failed"
    if (agent2 / "policy.pt").exists():  # written only while its weights were good
        assert _finite(read_checkpoint_file(agent2 / "policy.pt")["actor"])


def test_a_run_whose_losses_blow_up_finishes_with_a_warning(tiny_config, tmp_path, monkeypatch):
    import lab.train.learning

    monkeypatch.setattr(lab.train.learning, "LOSS_BLOWUP", 1e-9)  # any loss counts as blown up
    monkeypatch.setattr(lab.train.learning, "METRICS_EVERY", 10)
    config = tiny_config.with_overrides({"run.analyze_episodes": False})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    summary = trainer.fit()
    trainer.close()
    assert summary["state"] == "finished"
    assert len(summary["warnings"]) == 1 and summary["warnings"][0].startswith("critic loss reached ")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["warnings"] == summary["warnings"]


# ---- what populations gained ------------------------------------------------------------------------------
def test_a_population_with_prioritized_replay_trains_each_agent_on_its_own_priorities(pop_config):
    config = pop_config.with_overrides({"training.use_per": True, "training.learning_starts": 100})
    with Population(config, seeds=[0, 1], log_to_disk=False) as population:
        population.fit()
        buffer = population.buffer
        assert buffer.prioritized and all(m.updates > 100 for m in population.members)
        for k in range(2):
            leaves = buffer.trees[k].leaves(np.arange(int(buffer.size[k])))
            assert leaves.std() > 0 and buffer.max_priority[k] > 1.0  # TD errors wrote priorities back
        assert not np.allclose(buffer.trees[0].leaves(np.arange(50)), buffer.trees[1].leaves(np.arange(50)))


def test_a_population_pauses_and_resumes(pop_config, tmp_path):
    config = pop_config.with_overrides({"run.total_steps": 10_000_000})
    population = Population(config, seeds=[0, 1], run_dir=tmp_path / "pop")
    states: list[str] = []
    population.members[0].events.subscribe(lambda e: states.append(e.state), RunStateChanged)
    population.start()
    assert wait_for(lambda: population.members[1].env_step > 100)
    population.pause()
    assert wait_for(lambda: population.state == "paused")
    frozen = [m.env_step for m in population.members]
    time.sleep(0.3)
    assert [m.env_step for m in population.members] == frozen
    population.resume()
    assert wait_for(lambda: all(m.env_step > f for m, f in zip(population.members, frozen)))
    population.stop()
    population.close()
    assert states[:2] == ["running", "paused"] and states[-1] == "stopped"
    assert (tmp_path / "pop" / "population.pt").exists()


@pytest.mark.parametrize("loop", ["start", "fit"])
def test_an_agent_stopped_from_another_thread_mid_step_takes_no_step_after_the_stop_returns(pop_config, tmp_path,
                                                                                           loop):
    """The panel (start()) or a script's helper thread (beside a foreground fit()) stops agent B while a step with B
    acting is under way: that step must not count for B afterwards."""
    population = Population(pop_config.with_overrides({"run.total_steps": 10_000_000}), seeds=[0, 1],
                            run_dir=tmp_path / "pop")
    assert population.collector is not None
    step, inside, calls = population.collector.step, threading.Event(), [0]

    def slow_step(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 50:  # hold one step open long enough for the other thread's stop to land inside it
            inside.set()
            time.sleep(0.5)
        return step(*args, **kwargs)

    seen: dict[str, int] = {}

    def steer() -> None:
        assert inside.wait(60)
        population.stop(agent=1)
        seen["stopped_at"] = population.members[1].env_step
        wait_for(lambda: population.members[0].env_step > seen["stopped_at"] + 100)
        seen["later"] = population.members[1].env_step
        population.stop(wait=False)

    population.collector.step = slow_step
    try:
        if loop == "start":
            population.start()
            steer()
            population.join(60)
        else:
            helper = threading.Thread(target=steer)
            helper.start()
            population.fit()
            helper.join(60)
        assert population.members[0].env_step > seen["stopped_at"] + 100
        assert seen["later"] == population.members[1].env_step == seen["stopped_at"]
        assert population.members[1].state == "stopped"
    finally:
        population.close()


def test_fit_or_raise_raises_the_signal_that_stopped_the_run(tiny_config):
    """Ctrl-C or SIGTERM in `bench population --rounds 5` or an evolve generation must end the whole job, not one
    run of it: fit_or_raise raises where fit returns."""
    from lab.signals import Terminated

    trainer = Trainer(tiny_config.with_overrides({"run.total_steps": 100_000}), log_to_disk=False)
    trainer.events.subscribe(lambda event: os.kill(os.getpid(), signal.SIGTERM))
    try:
        with pytest.raises(Terminated):
            trainer.fit_or_raise()
        assert trainer.env_step < 100_000
    finally:
        trainer.close()


def test_stop_when_solved_ends_each_agent_at_its_own_solving_evaluation(tiny_config, tmp_path):
    base = tiny_config.with_overrides({
        "env.env_id": MODULE_ENV_ID, "env.success_threshold": 18.0, "run.analyze_episodes": False,
        "run.total_steps": 3_000, "training.learning_starts": 200, "run.eval_every": 100, "run.checkpoint_every": 0,
        "training.gamma": 0.5, "noise.kind": "gaussian", "noise.sigma": 0.2})
    configs = [base.with_overrides({"run.seed": 0, "run.stop_when_solved": True}), base.with_overrides({"run.seed": 2})]
    with Population(configs=configs, run_dir=tmp_path / "pop") as population:
        summary = population.fit()
    solver, other = summary["members"]
    assert solver["state"] == "finished" and solver["solved_at_step"] == solver["env_step"] < 3_000
    assert other["env_step"] == 3_000  # the other agent trains to its budget


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_run_device_cuda_runs_the_batched_learner_on_the_gpu(pop_config):
    config = pop_config.with_overrides({"run.device": "cuda"})
    with Population(config, seeds=[0, 1], log_to_disk=False) as population:
        population.fit()
        assert next(population.learner.actor.parameters()).device.type == "cuda"
        assert all(m.updates > 0 for m in population.members)


def test_asking_for_cuda_without_a_gpu_is_one_line(pop_config):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from lab.config import ConfigError

    with pytest.raises(ConfigError, match=r"run.device='cuda' is invalid: no CUDA device is available"):
        Population(pop_config.with_overrides({"run.device": "cuda"}), seeds=[0], log_to_disk=False)


# ---- one loop at a time, one run per folder ---------------------------------------------------------------
def test_a_second_fit_from_another_thread_is_refused_in_one_line(tiny_config, tmp_path):
    trainer = Trainer(tiny_config.with_overrides({"run.total_steps": 10_000_000, "run.analyze_episodes": False}),
                      run_dir=tmp_path / "run")
    trainer.start()
    assert wait_for(lambda: trainer.env_step > 50)
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _catch(trainer.fit, errors))
    thread.start()
    thread.join(30)
    trainer.stop()
    trainer.close()
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert str(errors[0]).startswith("this trainer is already training") and "\n" not in str(errors[0])
    states = [r["state"] for r in read_jsonl(tmp_path / "run" / "states.jsonl") if "state" in r]
    assert "failed" not in states


def _catch(call, errors):
    try:
        call()
    except BaseException as exc:  # noqa: BLE001
        errors.append(exc)


def test_a_run_folder_in_use_refuses_a_second_trainer_naming_the_holder(tiny_config, tmp_path):
    config = tiny_config.with_overrides({"run.analyze_episodes": False})
    first = Trainer(config, run_dir=tmp_path / "run")
    first.fit()
    try:
        with pytest.raises(RunFolderInUse, match=rf"is in use: process {os.getpid()} is training in it"):
            Trainer(config.with_overrides({"run.total_steps": 900}), run_dir=tmp_path / "run",
                    resume=tmp_path / "run" / "checkpoint.pt")
    finally:
        first.close()
    again = Trainer(config.with_overrides({"run.total_steps": 900}), resume=tmp_path / "run" / "checkpoint.pt")
    assert again.run_dir == tmp_path / "run"  # closed, the folder is free; a resume stays in its own folder
    again.close()


def test_resuming_into_another_runs_folder_is_refused_and_a_new_folder_records_the_origin(tiny_config, tmp_path):
    config = tiny_config.with_overrides({"run.analyze_episodes": False})
    for name in ("a", "b"):
        trainer = Trainer(config, run_dir=tmp_path / name)
        trainer.fit()
        trainer.close()
    b_episodes = (tmp_path / "b" / "episodes.jsonl").read_bytes()
    longer = config.with_overrides({"run.total_steps": 800})
    with pytest.raises(RunFolderInUse, match=r"holds another run .* continues in its checkpoint's own folder"):
        Trainer(longer, run_dir=tmp_path / "b", resume=tmp_path / "a" / "checkpoint.pt")
    assert (tmp_path / "b" / "episodes.jsonl").read_bytes() == b_episodes
    moved = Trainer(longer, run_dir=tmp_path / "c", resume=tmp_path / "a" / "checkpoint.pt")
    summary = moved.fit()
    moved.close()
    assert summary["resumed_from"] == str(tmp_path / "a" / "checkpoint.pt")
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["resumed_from"] == summary["resumed_from"]


def test_a_resume_records_what_its_config_changes_and_refuses_what_it_cannot(tiny_config, tmp_path):
    config = tiny_config.with_overrides({"run.analyze_episodes": False, "run.seed": 1})
    first = Trainer(config, run_dir=tmp_path / "run")
    first.fit()
    first.close()
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    with pytest.raises(CheckpointError, match=r"run.seed=0 differs from checkpoint .* which has 1: a resumed agent "
                                              "keeps its run.seed"):
        Trainer(config.with_overrides({"run.seed": 0}), resume=checkpoint)
    changed = config.with_overrides({"run.total_steps": 800, "training.actor_lr": 3e-4})
    resumed = Trainer(changed, resume=checkpoint)
    assert resumed.resume_changes == [{"training.actor_lr": (1e-3, 3e-4), "run.total_steps": (600, 800)}]
    resumed.fit()
    resumed.close()
    rows = read_jsonl(tmp_path / "run" / "hyperparameters.jsonl")
    assert rows[0]["env_step"] == first.env_step and rows[0]["changes"]["training.actor_lr"] == [1e-3, 3e-4]


# ---- signals on the command line ------------------------------------------------------------------------
def _train_seeds(out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "lab", "train", "--preset", "tiny", "--no-progress", "--no-clips",
                             "--seeds", "0-1", "--out", str(out), *extra],
                            cwd=out.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_to_train_seeds_leaves_a_population_that_resumes_with_default_settings(tmp_path, signum):
    out = tmp_path / "pop"
    proc = _train_seeds(out, "run.total_steps=100000", "run.analyze_episodes=false", "env.max_episode_steps=100")
    # a second past the first episode: past the warm-up's first updates, so the buffers matter to a resume
    stderr = signal_once_logging(proc, out / "agent1_seed1" / "episodes.jsonl", signum, settle=1.0)
    assert proc.returncode == 0, stderr.decode()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["state"] == "stopped" and all(m["state"] == "stopped" for m in summary["members"])
    saved = read_checkpoint_file(out / "population.pt", kind="population")
    steps = [a["env_step"] for a in saved["agents"]]
    assert steps == [m["env_step"] for m in summary["members"]] and min(steps) > 0 and "replay" not in saved
    target = max(steps) + 300
    resumed = subprocess.run([sys.executable, "-m", "lab", "train", "--no-progress", "--no-clips", "--resume",
                              str(out / "population.pt"), "--seeds", "0-1", "--out", str(out),
                              f"run.total_steps={target}"], cwd=tmp_path, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    after = json.loads((out / "summary.json").read_text())
    assert after["state"] == "finished" and all(target <= m["env_step"] <= target + 1 for m in after["members"])
    assert "resume: agent 0: run.total_steps" in resumed.stdout


@pytest.mark.slow
def test_a_population_in_a_script_without_a_main_guard_fails_in_one_line(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text("import lab\n"
                      "config = lab.preset('tiny').with_overrides({'run.overlap_collection': True})\n"
                      f"lab.Population(config, seeds=[0, 1], run_dir={str(tmp_path / 'pop')!r}).fit()\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode != 0
    assert 'under `if __name__ == "__main__":`' in done.stderr
    assert "bootstrapping phase" not in done.stderr and done.stderr.count("Traceback") <= 1


def test_a_population_folder_refuses_a_new_run_naming_its_population_checkpoint(pop_config, tmp_path, capsys):
    from lab.cli import main

    with Population(pop_config.with_overrides({"run.total_steps": 100}), seeds=[0, 1], run_dir=tmp_path / "pop") as p:
        p.fit()
    code = main(["train", "--preset", "tiny", "--seeds", "0-1", "--out", str(tmp_path / "pop"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert f"continue it with --resume {tmp_path / 'pop' / 'population.pt'} --seeds" in err


def test_a_numpy_number_in_a_population_change_never_reaches_population_pt(pop_config, tmp_path):
    """The population path of the numpy-scalar fault: a live change per agent, then save, reload and resume."""
    with Population(pop_config.with_overrides({"run.total_steps": 100}), seeds=[0, 1], run_dir=tmp_path / "pop") as p:
        p.update_hyperparameters(agent=0, actor_lr=np.float64(5e-4))
        p.update_hyperparameters(critic_lr=np.logspace(-4, -3, 3)[1])
        p.fit()
    data = read_checkpoint_file(tmp_path / "pop" / "population.pt")
    assert [c["training"]["actor_lr"] for c in data["configs"]][0] == pytest.approx(5e-4)
    assert all(type(c["training"]["critic_lr"]) is float for c in data["configs"])
    with Population(pop_config.with_overrides({"run.total_steps": 200}), seeds=[0, 1], run_dir=tmp_path / "pop",
                    resume=tmp_path / "pop" / "population.pt") as resumed:
        assert [m["env_step"] for m in resumed.fit()["members"]] == [200, 200]


def test_resuming_a_population_into_another_runs_folder_is_refused(pop_config, tmp_path):
    short = pop_config.with_overrides({"run.total_steps": 100})
    for name in ("a", "b"):
        with Population(short, seeds=[0, 1], run_dir=tmp_path / name) as p:
            p.fit()
    b_files = {path.name: path.read_bytes() for path in (tmp_path / "b").rglob("*.jsonl")}
    with pytest.raises(RunFolderInUse, match=r"holds another run .* continues in its checkpoint's own folder"):
        Population(pop_config, seeds=[0, 1], run_dir=tmp_path / "b", resume=tmp_path / "a" / "population.pt")
    assert {path.name: path.read_bytes() for path in (tmp_path / "b").rglob("*.jsonl")} == b_files


def test_resuming_a_population_with_other_seeds_is_refused_before_any_folder_is_made(pop_config, tmp_path):
    with Population(pop_config.with_overrides({"run.total_steps": 100}), seeds=[0, 1], run_dir=tmp_path / "pop") as p:
        p.fit()
    before = sorted(path.name for path in (tmp_path / "pop").iterdir())
    with pytest.raises(CheckpointError, match=r"holds 2 agents \(seeds \[0, 1\]\), this run has 4: resume with the "
                                              "checkpoint's seeds"):
        Population(pop_config, seeds=[5, 6, 7, 8], run_dir=tmp_path / "pop", resume=tmp_path / "pop" / "population.pt")
    assert sorted(path.name for path in (tmp_path / "pop").iterdir()) == before
