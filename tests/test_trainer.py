import hashlib
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
from rollout_helpers import collector_for, step_one
from waiting import signal_once_logging, wait_for

from lab.checkpoint import read_checkpoint_file
from lab.config import ConfigError
from lab.events import (
    CheckpointSaved,
    EpisodeEnded,
    HyperparametersChanged,
    HyperparametersRefused,
    RunStateChanged,
    UpdateMetrics,
)
from lab.train.engine import DivergenceError
from lab.train.trainer import Trainer

REPO = Path(__file__).resolve().parent.parent


def _no_analysis(config, **overrides):
    return config.with_overrides({"run.analyze_episodes": False, **overrides})


def test_no_stored_transition_crosses_an_autoreset(tiny_config, tmp_path):
    config = _no_analysis(tiny_config, **{"env.num_envs": 3, "env.max_episode_steps": 40,
                                          "training.learning_starts": 10_000, "run.total_steps": 400})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    lengths = []
    trainer.events.subscribe(lambda e: lengths.append(e.length), EpisodeEnded)
    trainer.fit()
    buffer = trainer.buffer
    n = len(buffer)
    assert n == trainer.env_step  # every real transition stored, no autoreset step stored
    in_flight = sum(len(ep.actions) for ep in trainer.collector.episodes)
    assert sum(lengths) + in_flight >= n - 3 * 40  # episodes cut by the final checkpoint are not reported
    # A reset teleports the lander to y ~ 1.4; consecutive real steps move it by far less.
    jump = np.abs(buffer.next_obs[0, :n, 1] - buffer.obs[0, :n, 1])
    assert jump.max() < 0.1
    trainer.close()


def test_truncation_bootstraps_and_termination_does_not(tiny_config, tmp_path):
    config = _no_analysis(tiny_config, **{"env.num_envs": 2, "env.max_episode_steps": 25,
                                          "training.learning_starts": 10_000, "run.total_steps": 300})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    ends = []
    trainer.events.subscribe(lambda e: ends.append(e), EpisodeEnded)
    trainer.fit()
    truncated = [e for e in ends if e.trajectory.truncated]
    assert truncated, "random flight should hit the 25-step limit"
    n = len(trainer.buffer)
    assert not trainer.buffer.terminated[0, :n].any()  # only truncations here: every transition bootstraps
    batch = trainer.buffer.sample(256, [0.99])
    assert np.allclose(batch.discounts.numpy(), 0.99)
    trainer.close()


def test_episode_events_carry_raw_and_shaped_returns_and_the_trajectory(tiny_config, tmp_path):
    config = _no_analysis(tiny_config, **{"env.reward_shaping": True})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    ends = []
    trainer.events.subscribe(ends.append, EpisodeEnded)
    trainer.fit()
    assert ends
    e = ends[0]
    assert e.raw_return == pytest.approx(float(e.trajectory.rewards.sum()), rel=1e-5)
    assert e.raw_return != pytest.approx(e.shaped_return)
    assert e.trajectory.observations.shape == (e.length + 1, 8)
    assert e.trajectory.actions.shape == (e.length, 2)
    trainer.close()


def test_run_folder_keeps_config_checkpoint_policy_and_metrics(tiny_config, tmp_path):
    trainer = Trainer(_no_analysis(tiny_config, **{"run.eval_every": 300}), run_dir=tmp_path / "run")
    summary = trainer.fit()
    trainer.close()
    run = tmp_path / "run"
    for name in ("config.yaml", "checkpoint.pt", "policy.pt", "episodes.jsonl", "evaluations.jsonl",
                 "summary.json", "updates.jsonl"):
        assert (run / name).exists(), name
    assert summary["state"] == "finished" and summary["env_step"] >= 600


def test_same_seed_same_result(tiny_config, tmp_path):
    returns = []
    for k in range(2):
        trainer = Trainer(_no_analysis(tiny_config), run_dir=tmp_path / f"run{k}")
        got = []
        trainer.events.subscribe(got.append, EpisodeEnded)
        trainer.fit()
        returns.append(([e.raw_return for e in got], trainer.policy(np.ones(8, np.float32)).tolist()))
        trainer.close()
    assert returns[0] == returns[1]


def test_background_pause_resume_stop_leaves_a_checkpoint(tiny_config, tmp_path):
    config = _no_analysis(tiny_config, **{"run.total_steps": 10_000_000})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    states = []
    trainer.events.subscribe(lambda e: states.append(e.state), RunStateChanged)
    trainer.start()
    assert wait_for(lambda: trainer.env_step > 150)
    trainer.pause()
    assert wait_for(lambda: trainer.state == "paused")
    frozen = trainer.env_step
    time.sleep(0.3)
    assert trainer.env_step == frozen
    trainer.resume()
    assert wait_for(lambda: trainer.env_step > frozen)
    path = trainer.stop()
    assert not trainer.running
    assert path is not None and path.exists()
    assert states[:2] == ["running", "paused"] and states[-1] == "stopped"
    trainer.close()


def test_live_hyperparameter_change_reaches_the_next_update(tiny_config, tmp_path):
    config = _no_analysis(tiny_config, **{"run.total_steps": 10_000_000, "training.learning_starts": 50})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    metrics, changes = [], []
    trainer.events.subscribe(metrics.append, UpdateMetrics)
    trainer.events.subscribe(changes.append, HyperparametersChanged)
    trainer.start()
    assert wait_for(lambda: trainer.slots[0].updates > 10)
    trainer.update_hyperparameters(actor_lr=3e-4, tau=0.02, sigma=0.05, **{"training.batch_size": 16})
    assert wait_for(lambda: bool(changes))
    step = changes[0].env_step
    assert changes[0].changes["training.actor_lr"] == (1e-3, 3e-4)
    assert wait_for(lambda: any(m.env_step > step for m in metrics))
    after = [m for m in metrics if m.env_step > step][0]
    assert after.actor_lr == pytest.approx(3e-4)
    explorer = trainer.collector.explorers[0]
    assert trainer.learner.setting("tau", 0) == 0.02 and explorer.noise.sigma == 0.05
    # a live change is a config swap: the learner's settings, the explorer and the slot read the one current Config
    assert explorer.config is trainer.config and explorer.noise.config is trainer.config.noise
    assert trainer.config.training.batch_size == 16 and trainer.hyperparameters()["training.batch_size"] == 16
    trainer.stop()
    trainer.close()


def test_bad_live_changes_raise_clear_errors(tiny_config, tmp_path):
    trainer = Trainer(_no_analysis(tiny_config), run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="unknown config field 'hidden'"):
        trainer.update_hyperparameters(hidden=3)
    with pytest.raises(ConfigError, match="training.tau=2.0 is invalid"):
        trainer.update_hyperparameters(tau=2.0)
    with pytest.raises(ConfigError, match="training.learning_starts cannot change while training .* live fields are"):
        trainer.update_hyperparameters(learning_starts=5)
    with pytest.raises(ConfigError, match="training.target_pessimism is no longer supported.*levers-2026-12"):
        trainer.update_hyperparameters(target_pessimism=0.5)
    trainer.close()


def test_evaluate_and_save_from_another_thread_while_running(tiny_config, tmp_path):
    config = _no_analysis(tiny_config, **{"run.total_steps": 10_000_000})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    trainer.start()
    assert wait_for(lambda: trainer.env_step > 100)
    result = trainer.evaluate_now(episodes=2)
    assert len(result.returns) == 2
    path = trainer.save_checkpoint(tmp_path / "manual.pt")
    assert path.exists() and threading.current_thread() is threading.main_thread()
    trainer.stop()
    trainer.close()


def test_a_crash_in_training_keeps_a_checkpoint_and_reports_failed(tiny_config, tmp_path):
    trainer = Trainer(_no_analysis(tiny_config), run_dir=tmp_path / "run")
    states = []
    trainer.events.subscribe(states.append, RunStateChanged)

    def explode(*_, **__):
        raise RuntimeError("simulated learner crash")

    trainer.learner.update = explode  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="simulated"):
        trainer.fit()
    assert states[-1].state == "failed" and "simulated learner crash" in states[-1].error
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    assert (tmp_path / "run" / "episodes.jsonl").exists() or trainer.episodes == 0
    trainer.close()


# ---- control from events, refused changes, misuse ------------------------------------------------------
def test_a_subscriber_may_pause_the_trainer_from_inside_an_event(tiny_config, tmp_path):
    trainer = Trainer(_no_analysis(tiny_config, **{"run.total_steps": 10_000_000}), run_dir=tmp_path / "run")
    trainer.events.subscribe(lambda e: trainer.pause() if e.state == "running" else None, RunStateChanged)
    trainer.events.subscribe(lambda e: trainer.hyperparameters(), EpisodeEnded)
    trainer.start()
    assert wait_for(lambda: trainer.state == "paused"), "pause() from a subscriber deadlocked the loop"
    trainer.stop(timeout=60)
    assert not trainer.running and trainer.state == "stopped"
    trainer.close()


def test_a_change_the_loop_refuses_is_published_as_an_event(tiny_config, tmp_path):
    trainer = Trainer(_no_analysis(tiny_config, **{"run.total_steps": 200}), run_dir=tmp_path / "run")
    refused = []
    trainer.events.subscribe(refused.append, HyperparametersRefused)
    trainer.control.submit_changes((None, {"tau": 2.0}))  # as if it raced past the caller's check
    trainer.fit()
    assert len(refused) == 1 and refused[0].changes == {"tau": 2.0}
    assert "training.tau=2.0 is invalid" in refused[0].reason
    assert trainer.config.training.tau == tiny_config.training.tau
    trainer.close()


def test_evaluate_now_with_no_episodes_and_start_after_close_are_refused(tiny_config, tmp_path):
    trainer = Trainer(_no_analysis(tiny_config), run_dir=tmp_path / "run")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=rf"episodes={bad!r} is invalid: allowed an integer >= 1"):
            trainer.evaluate_now(episodes=bad)
    trainer.close()
    for call in (trainer.start, trainer.fit):
        with pytest.raises(RuntimeError, match="this trainer is closed"):
            call()


# ---- signals -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_termination_signal_during_fit_stops_cleanly_and_restores_the_old_handler(tiny_config, tmp_path, signum):
    trainer = Trainer(_no_analysis(tiny_config, **{"run.total_steps": 10_000_000}), run_dir=tmp_path / "run")
    before = signal.getsignal(signum)
    trainer.events.subscribe(lambda e: os.kill(os.getpid(), signum) if e.episode == 2 else None, EpisodeEnded)
    summary = trainer.fit()
    assert summary["state"] == "stopped" and summary["checkpoint_step"] == summary["env_step"] > 0
    assert signal.getsignal(signum) is before
    trainer.close()


def test_sigterm_on_a_cli_run_leaves_a_checkpoint_and_a_stopped_summary(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "lab", "train", "--preset", "tiny", "--no-progress", "--out",
                             str(out), "run.total_steps=100000", "run.analyze_episodes=false",
                             "env.max_episode_steps=100"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr = signal_once_logging(proc, out / "episodes.jsonl", signal.SIGTERM)
    assert proc.returncode == 0, stderr.decode()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["state"] == "stopped"
    data = read_checkpoint_file(out / "checkpoint.pt", kind="checkpoint")
    assert data["agents"][0]["env_step"] == summary["env_step"] == summary["checkpoint_step"] > 0
    resumed = Trainer(Path(out / "config.yaml"), run_dir=tmp_path / "resumed", resume=out / "checkpoint.pt")
    assert resumed.env_step == summary["env_step"]
    resumed.close()


# ---- divergence and failed writes ---------------------------------------------------------------------
def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_nan_in_the_critic_fails_the_run_and_keeps_the_last_good_checkpoint(tiny_config, tmp_path):
    run = tmp_path / "run"
    config = _no_analysis(tiny_config, **{"run.total_steps": 5000, "run.checkpoint_every": 300,
                                          "training.learning_starts": 100})
    trainer = Trainer(config, run_dir=run)
    saved, states = {}, []
    trainer.events.subscribe(states.append, RunStateChanged)

    def poison(event):  # after the first good checkpoint, a critic weight becomes NaN
        if not saved:
            saved.update(step=event.env_step, checkpoint=_digest(run / "checkpoint.pt"),
                         policy=_digest(run / "policy.pt"))
            with torch.no_grad():
                next(trainer.learner.critic.parameters()).view(-1)[0] = float("nan")

    trainer.events.subscribe(poison, CheckpointSaved)
    with pytest.raises(DivergenceError, match=r"critic loss became NaN at update \d+ .*last good checkpoint kept at "
                                              + str(run / "checkpoint.pt")):
        trainer.fit()
    assert states[-1].state == "failed" and states[-1].checkpoint == str(run / "checkpoint.pt")
    assert _digest(run / "checkpoint.pt") == saved["checkpoint"] and _digest(run / "policy.pt") == saved["policy"]
    data = read_checkpoint_file(run / "checkpoint.pt", kind="checkpoint")
    assert data["agents"][0]["env_step"] == saved["step"]
    assert all(torch.isfinite(v).all() for v in data["learner"]["critic"].values())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["state"] == "failed" and summary["checkpoint_step"] == saved["step"]
    rows = [json.loads(line) for line in (run / "updates.jsonl").read_text().splitlines()]  # strict JSON
    assert rows[-1]["critic_loss"] is None and "critic_loss" in rows[-1]["nonfinite"]
    trainer.close()


def test_a_failed_checkpoint_write_is_never_claimed(tiny_config, tmp_path, monkeypatch):
    import lab.train.engine

    run = tmp_path / "run"
    trainer = Trainer(_no_analysis(tiny_config, **{"run.checkpoint_every": 300}), run_dir=run)
    saved, states = [], []
    trainer.events.subscribe(lambda e: saved.append(e.env_step), CheckpointSaved)
    trainer.events.subscribe(states.append, RunStateChanged)
    real_write = lab.train.engine.write_checkpoint_file

    def disk_full_after_the_first(path, data):
        if saved:
            raise OSError(28, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(lab.train.engine, "write_checkpoint_file", disk_full_after_the_first)
    with pytest.raises(OSError, match="No space left"):
        trainer.fit()
    assert len(saved) == 1
    assert states[-1].state == "failed" and states[-1].checkpoint is None
    assert read_checkpoint_file(run / "checkpoint.pt")["agents"][0]["env_step"] == saved[0]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["checkpoint_step"] == saved[0] < summary["env_step"]
    lines = [json.loads(line) for line in (run / "states.jsonl").read_text().splitlines()]
    assert [r["env_step"] for r in lines if "path" in r] == saved
    trainer.close()


def test_an_episode_recorded_after_a_reset_starts_from_the_reset_observation(tiny_config):
    collector = collector_for([tiny_config])
    try:
        first = collector.obs.copy()
        for _ in range(3):
            step_one(collector, None)
        for row, recorder in enumerate(collector.episodes):
            assert np.array_equal(recorder.observations[0], first[row])
            assert np.array_equal(recorder.observations[-1], collector.obs[row])
    finally:
        collector.close()


def test_a_step_with_no_acting_agent_steps_nothing_and_stores_nothing(tiny_config):
    # A command between steps can stop the last acting agent just before the engine's next step.
    collector = collector_for([tiny_config.with_overrides({"training.n_step": 3})])
    try:
        before = collector.obs.copy()
        collected = collector.step([], [], [], lambda agents, obs: obs)
        assert collected.steps == [] and len(collected.transitions.rows) == 0 and len(collected.agents) == 0
        assert np.array_equal(collector.obs, before) and collector.envs.steps_taken().tolist() == [0]
    finally:
        collector.close()
