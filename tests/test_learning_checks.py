"""A short learning check for every learning option: each one learns a task TD3 solves in a few hundred updates.

The task (tests/toy_env.py) pays 1 - |a - a*|^2 per step for 20 steps: the best return is 20, zero actions
earn about 11.5. An option that broke learning (an actor that never moves, a critic that never fits, a
collector acting with stale or wrong weights) stays near or below 11.5; every option must reach 18.
"""

from __future__ import annotations

import pytest
from toy_env import BEST_RETURN, MODULE_ENV_ID, ZERO_ACTION_RETURN

from lab.presets import preset
from lab.train.trainer import Trainer

OPTIONS = {
    "td3": {},
    "layer-norm critics": {"network.layer_norm": True},
    "prioritized replay": {"training.use_per": True},
    "huber loss, grad clip": {"training.critic_loss": "huber", "training.grad_clip": 1.0},
    "3-step returns": {"training.n_step": 3},
    "overlapped collection": {"run.overlap_collection": True},
    "ou noise": {"noise.kind": "ou", "noise.sigma": 0.5, "noise.theta": 0.15, "noise.dt": 0.1},
}


@pytest.mark.parametrize("option", OPTIONS)
def test_each_learning_option_learns_the_reach_task(option, tmp_path) -> None:
    config = preset("tiny", **{
        "env.env_id": MODULE_ENV_ID, "env.success_threshold": 18.0, "run.analyze_episodes": False,
        "run.total_steps": 600, "training.learning_starts": 200, "run.eval_every": 0, "run.checkpoint_every": 0,
        "training.gamma": 0.5, "noise.kind": "gaussian", "noise.sigma": 0.2, **OPTIONS[option]})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    untrained = trainer.evaluate_now(10).mean_return
    trainer.fit()
    learned = trainer.evaluate_now(10).mean_return
    trainer.close()
    assert untrained < ZERO_ACTION_RETURN + 2.0
    assert 18.0 <= learned <= BEST_RETURN


def test_a_run_told_to_stop_when_solved_ends_at_the_evaluation_that_solved_it(tmp_path) -> None:
    config = preset("tiny", **{
        "env.env_id": MODULE_ENV_ID, "env.success_threshold": 18.0, "run.analyze_episodes": False,
        "run.total_steps": 5_000, "training.learning_starts": 200, "run.eval_every": 100, "run.checkpoint_every": 0,
        "training.gamma": 0.5, "noise.kind": "gaussian", "noise.sigma": 0.2, "run.stop_when_solved": True})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    summary = trainer.fit()
    trainer.close()
    assert summary["state"] == "finished" and trainer.env_step < 5_000
    assert summary["solved_at_step"] == trainer.env_step
    assert trainer.last_evaluation is not None and trainer.last_evaluation.mean_return >= 18.0


def test_each_agent_of_a_population_learns_the_reach_task_with_its_own_settings(tmp_path) -> None:
    from lab.train.population import Population

    base = preset("tiny", **{
        "env.env_id": MODULE_ENV_ID, "env.success_threshold": 18.0, "run.analyze_episodes": False,
        "run.total_steps": 600, "training.learning_starts": 200, "run.eval_every": 0, "run.checkpoint_every": 0,
        "training.gamma": 0.5, "noise.kind": "gaussian", "noise.sigma": 0.2})
    configs = [base.with_overrides({"run.seed": 0}),
               base.with_overrides({"run.seed": 2, "training.critic_lr": 2e-3, "noise.sigma": 0.3})]
    population = Population(configs=configs, run_dir=tmp_path / "pop")
    population.fit()
    learned = [population.evaluate_now(k, 10).mean_return for k in range(2)]
    population.close()
    assert all(18.0 <= r <= BEST_RETURN for r in learned)
