"""run.overlap_collection: the Collector in a second process, one step behind the learner, yet deterministic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lab.collector import Collector
from lab.collector_process import CollectorProcess
from lab.events import EpisodeEnded
from lab.presets import preset
from lab.trainer import Trainer
from lab.worker_process import Worker, WorkerDied

ROOT = Path(__file__).resolve().parents[1]


def _tiny(tmp_path: Path, name: str = "run", **overrides: object) -> Trainer:
    config = preset("tiny", **{"run.total_steps": 600, "training.learning_starts": 150, "run.eval_every": 0,
                               "run.checkpoint_every": 0, "run.analyze_episodes": False,
                               "env.max_episode_steps": 120, "run.overlap_collection": True, **overrides})
    return Trainer(config, run_dir=tmp_path / name)


def _fingerprint(trainer: Trainer) -> tuple[list[float], list[torch.Tensor]]:
    returns: list[float] = []
    trainer.events.subscribe(lambda e: returns.append(e.raw_return), EpisodeEnded)
    trainer.fit()
    weights = [p.detach().clone() for p in trainer.agent.actor.parameters()]
    trainer.close()
    return returns, weights


def test_the_collector_runs_in_a_child_process_that_leaves_with_the_trainer(tmp_path) -> None:
    trainer = _tiny(tmp_path)
    collector = trainer.collector
    assert isinstance(collector, CollectorProcess) and collector._worker.alive
    trainer.fit()
    trainer.close()
    assert not collector._worker.alive


def test_acting_lags_learning_by_one_step(tmp_path) -> None:
    """The updates the last step owes are still due when the run ends: they are paid during the next step."""
    trainer = _tiny(tmp_path, **{"env.num_envs": 2})
    trainer.fit()
    n = trainer.config.env.num_envs
    learned = trainer.env_step - 150  # learning starts inside the vector step that crosses learning_starts
    assert trainer.learner.update_debt >= 1.0
    assert trainer.agent.updates + trainer.learner.update_debt == pytest.approx(learned, abs=n)
    trainer.close()

    synchronous = _tiny(tmp_path, "sync", **{"env.num_envs": 2, "run.overlap_collection": False})
    assert isinstance(synchronous.collector, Collector)
    synchronous.fit()
    assert synchronous.learner.update_debt < 1.0
    synchronous.close()


def test_the_child_acts_with_the_actor_it_was_sent(tmp_path) -> None:
    """Zero actor weights and no noise: the child's actions are exactly tanh(0) = 0 on every env."""
    config = preset("tiny", **{"noise.sigma": 0.0, "env.num_envs": 2, "run.overlap_collection": True})
    trainer = Trainer(config, run_dir=tmp_path / "run", log_to_disk=False)
    actor = trainer.agent.actor
    with torch.no_grad():
        for p in actor.parameters():
            p.zero_()
    step = trainer.collector.step(actor, noise_scale=1.0)
    assert step.transitions is not None
    assert np.array_equal(step.transitions[1], np.zeros((2, 2), np.float32))
    trainer.close()


def test_an_overlapped_run_resumes_exactly(tmp_path) -> None:
    """Same seed, same run: the whole run and the half run resumed from its checkpoint end in the same place."""
    overrides = {"run.checkpoint_every": 300, "run.save_replay": True}
    whole = _tiny(tmp_path, "whole", **overrides)
    whole_returns, whole_weights = _fingerprint(whole)
    half = _tiny(tmp_path, "half", **{**overrides, "run.total_steps": 300})
    half.fit()
    half.close()
    resumed = Trainer(whole.config, run_dir=tmp_path / "half", resume=half.checkpoint_path)
    resumed_returns, resumed_weights = _fingerprint(resumed)
    assert resumed_returns and whole_returns[-len(resumed_returns):] == resumed_returns
    assert all(torch.equal(x, y) for x, y in zip(whole_weights, resumed_weights))


def _fails(command: str, payload: object) -> object:
    if command == "boom":
        raise ValueError("the child's own error")
    return payload


def _echo_handler() -> object:
    return _fails


def test_a_childs_error_is_raised_in_the_parent_and_a_dead_child_is_named() -> None:
    worker = Worker("lab-test-worker", _echo_handler)
    try:
        assert worker.call("echo", 7) == 7
        with pytest.raises(ValueError, match="the child's own error"):
            worker.call("boom")
        assert worker.call("echo", "still serving") == "still serving"
        worker._process.kill()
        with pytest.raises(WorkerDied, match="lab-test-worker process died"):
            worker.call("echo", 1)
    finally:
        worker.close()


def test_ctrl_c_to_the_process_group_stops_an_overlapped_run_with_a_checkpoint(tmp_path) -> None:
    """The terminal sends SIGINT to every process of the group: the child ignores it, the trainer stops cleanly."""
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "lab", "train", "--preset", "tiny", "--out", str(out),
                             "run.total_steps=100000000", "run.overlap_collection=true", "--no-progress"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "episodes.jsonl").exists():
        time.sleep(0.2)
    assert (out / "episodes.jsonl").exists(), "training never produced an episode"
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr[-2000:]
    assert (out / "checkpoint.pt").exists()
    assert json.loads((out / "summary.json").read_text())["state"] == "stopped"
