import threading
import time

import numpy as np
import pytest

from lab.config import ConfigError
from lab.events import EpisodeEnded, HyperparametersChanged, RunStateChanged, UpdateMetrics
from lab.trainer import Trainer


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
    jump = np.abs(buffer.next_obs[:n, 1] - buffer.obs[:n, 1])
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
    assert not trainer.buffer.terminated[:n].any()  # only truncations here: every transition bootstraps
    batch = trainer.buffer.sample(256, gamma=0.99)
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


def _wait_for(predicate, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_background_pause_resume_stop_leaves_a_checkpoint(tiny_config, tmp_path):
    config = _no_analysis(tiny_config, **{"run.total_steps": 10_000_000})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    states = []
    trainer.events.subscribe(lambda e: states.append(e.state), RunStateChanged)
    trainer.start()
    assert _wait_for(lambda: trainer.env_step > 150)
    trainer.pause()
    assert _wait_for(lambda: trainer.state == "paused")
    frozen = trainer.env_step
    time.sleep(0.3)
    assert trainer.env_step == frozen
    trainer.resume()
    assert _wait_for(lambda: trainer.env_step > frozen)
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
    assert _wait_for(lambda: trainer.agent.updates > 10)
    trainer.update_hyperparameters(actor_lr=3e-4, tau=0.02, sigma=0.05, batch_size=16, noise_scale=0.5)
    assert _wait_for(lambda: bool(changes))
    step = changes[0].env_step
    assert changes[0].changes["actor_lr"] == (1e-3, 3e-4)
    assert _wait_for(lambda: any(m.env_step > step for m in metrics))
    after = [m for m in metrics if m.env_step > step][0]
    assert after.actor_lr == pytest.approx(3e-4) and after.noise_scale == 0.5
    assert trainer.agent.tau == 0.02 and trainer.noise.sigma == 0.05
    assert trainer.agent.actor_opt.param_groups[0]["lr"] == pytest.approx(3e-4)
    assert trainer.hyperparameters()["batch_size"] == 16
    trainer.stop()
    trainer.close()


def test_bad_live_changes_raise_clear_errors(tiny_config, tmp_path):
    trainer = Trainer(_no_analysis(tiny_config), run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="cannot change 'hidden'"):
        trainer.update_hyperparameters(hidden=3)
    with pytest.raises(ConfigError, match="training.tau=2.0 is invalid"):
        trainer.update_hyperparameters(tau=2.0)
    with pytest.raises(ConfigError, match=r"noise_scale=-1 is invalid: allowed a number in \[0.0, 10.0\]"):
        trainer.update_hyperparameters(noise_scale=-1)
    trainer.close()


def test_evaluate_and_save_from_another_thread_while_running(tiny_config, tmp_path):
    config = _no_analysis(tiny_config, **{"run.total_steps": 10_000_000})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    trainer.start()
    assert _wait_for(lambda: trainer.env_step > 100)
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

    trainer.agent.update = explode  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="simulated"):
        trainer.fit()
    assert states[-1].state == "failed" and "simulated learner crash" in states[-1].error
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    assert (tmp_path / "run" / "episodes.jsonl").exists() or trainer.episodes == 0
    trainer.close()
