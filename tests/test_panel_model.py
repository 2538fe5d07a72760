"""The training panel's model, driven with a real tiny-preset trainer and no frontend.

``widgets.panel_model.PanelModel`` holds what the panel knows (next run's config, what
waits for a restart, the trainer's lifecycle, jobs, errors); these tests never build a
widget. Waits poll for the state they need.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

import lab.events
import widgets.panel_model as panel_model
from lab.config import Config, ConfigError
from widgets.compare_model import CompareModel
from widgets.panel_model import READOUT_NAMES, PanelModel


def _wait_for(predicate, timeout=60.0, poll=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if poll is not None:
            poll()
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def long_config(tiny_config):
    """Tiny networks and short episodes, with a budget the tests stop long before."""
    return tiny_config.with_overrides({"run.total_steps": 10_000_000, "training.learning_starts": 50})


@pytest.fixture
def models():
    made: list[PanelModel] = []

    def make(source, **kwargs):
        made.append(PanelModel(source, **kwargs))
        return made[-1]

    yield make
    for model in made:
        model.close()


@dataclass(frozen=True)
class _RefusedStandIn:
    """The engine's ``HyperparametersRefused`` interface, for worktrees where it has not landed yet."""

    env_step: int
    changes: dict[str, Any]
    reason: str


def test_a_preset_model_starts_idle_with_the_presets_values(models):
    model = models("tiny")
    assert model.name == "tiny" and model.trainer is None and not model.running
    assert model.config == model.base_config
    head, values = model.readout()
    assert head == "next run will use" and set(values) == set(READOUT_NAMES)
    assert values["sigma"] == model.config.noise.sigma and values["noise_scale"] == model.config.noise.scale_start
    assert model.restart_diff() == [] and model.needs_new_run()
    with pytest.raises(RuntimeError, match="press Start first"):
        model.save_checkpoint()


def test_settings_before_start_reach_the_new_trainer(models, long_config):
    model = models(long_config)
    model.apply("noise.sigma", 0.45)
    model.apply("network.actor_hidden", [64, 64])
    model.apply("noise_scale", 0.25)
    assert model.readout()[1]["noise_scale"] == 0.25 and model.readout()[1]["sigma"] == 0.45
    trainer = model.start()
    assert trainer.config.noise.sigma == 0.45 and trainer.config.network.actor_hidden == (64, 64)
    assert trainer.hyperparameters()["noise_scale"] == pytest.approx(0.25)
    assert model.readout()[0] == "trainer now uses"
    model.stop(wait=True)
    assert trainer.state == "stopped" and trainer.checkpoint_path.exists()


def test_bad_values_are_refused_with_the_field_and_leave_the_config_alone(models, long_config):
    model = models(long_config)
    with pytest.raises(ConfigError, match=r"noise.sigma=9.0 is invalid: allowed"):
        model.apply("noise.sigma", 9.0)
    with pytest.raises(ConfigError, match=r"noise_scale=20.0 is invalid: allowed a number in \[0.0, 10.0\]"):
        model.apply("noise_scale", 20.0)
    with pytest.raises(ConfigError, match="unknown field 'nope'"):
        model.apply("noise.nope", 1)
    assert model.config == long_config and model.schedule_overrides == {}


def test_live_changes_reach_the_running_trainer_and_restart_settings_wait(models, long_config):
    model = models(long_config)
    first = model.start()
    assert _wait_for(lambda: first.agent.updates > 5)
    model.apply("noise.sigma", 0.4)
    model.apply("training.actor_lr", 3e-4)
    model.apply("network.layer_norm", True)
    assert _wait_for(lambda: first.hyperparameters()["sigma"] == pytest.approx(0.4)
                     and first.hyperparameters()["actor_lr"] == pytest.approx(3e-4))
    assert model.restart_diff() == ["network.layer_norm"] and model.needs_new_run()
    assert first.config.network.layer_norm is False
    model.stop(wait=True)
    second = model.start()
    assert second is not first and second.run_dir != first.run_dir
    assert second.config.network.layer_norm is True and second.config.noise.sigma == pytest.approx(0.4)
    assert model.restart_diff() == []
    model.stop(wait=True)


def test_pause_resume_and_stop_follow_the_trainer(models, long_config):
    model = models(long_config)
    trainer = model.start()
    assert model.start() is trainer  # already running: no second run
    model.toggle_pause()
    assert model.paused and _wait_for(lambda: trainer.state == "paused")
    model.toggle_pause()
    assert not model.paused and _wait_for(lambda: trainer.state == "running")
    model.stop()
    assert _wait_for(lambda: not trainer.running)
    model.poll()
    assert trainer.state == "stopped" and model.status.state == "stopped"
    assert model.start() is trainer  # a stopped run with unchanged settings carries on
    model.stop(wait=True)


def test_reset_to_base_undoes_live_changes_in_the_trainer(models, long_config):
    model = models(long_config)
    trainer = model.start()
    model.apply("noise.sigma", 0.6)
    model.apply("per_beta", 0.9)
    assert _wait_for(lambda: trainer.hyperparameters()["sigma"] == pytest.approx(0.6))
    model.reset_to_base()
    assert model.config == long_config and model.schedule_overrides == {}
    assert _wait_for(lambda: trainer.hyperparameters()["sigma"] == pytest.approx(long_config.noise.sigma)
                     and trainer.hyperparameters()["per_beta"] == pytest.approx(long_config.training.per_beta_start))
    model.stop(wait=True)


def test_export_writes_a_config_that_loads_back(models, tiny_config, tmp_path):
    model = models(tiny_config)
    model.apply("noise.sigma", 0.7)
    model.apply("noise_scale", 0.5)
    path = model.export_config(tmp_path / "out" / "mine.yaml")
    assert Config.load(path) == model.config and model.config.noise.sigma == 0.7
    assert path.read_text().startswith("# pinned in the panel (not config fields): noise_scale=0.5")
    assert list(path.parent.iterdir()) == [path]  # written through a temp file, nothing left over
    default = model.export_config()
    assert default.parent == tmp_path / "runs" and default.name.startswith("panel-config-")


def test_save_and_evaluate_jobs_report_through_poll(models, long_config):
    model = models(long_config)
    trainer = model.start()
    model.save_checkpoint()
    model.evaluate_now(episodes=1)
    assert {"save", "evaluate"} <= model.busy
    assert _wait_for(lambda: not model.busy, poll=model.poll)
    assert any(m.startswith("checkpoint saved to") for m in model.messages)
    assert any(m.startswith("evaluation: mean return") for m in model.messages)
    assert trainer.checkpoint_path.exists() and model.errors == []

    def fail():
        raise OSError("disk full")

    model.run_job("save", fail)
    assert _wait_for(lambda: not model.busy, poll=model.poll)
    assert model.errors == ["save failed: OSError: disk full"]
    model.stop(wait=True)


def test_a_failed_run_becomes_an_error(models, long_config, tmp_path):
    from lab.train.trainer import Trainer

    trainer = Trainer(long_config, run_dir=tmp_path / "run")

    def explode(*_, **__):
        raise RuntimeError("simulated learner crash")

    trainer.agent.update = explode
    model = models(trainer)
    assert model.name == trainer.name and model.start() is trainer
    assert _wait_for(lambda: not trainer.running)
    model.poll()
    assert trainer.state == "failed" and model.needs_new_run()
    assert any("training failed" in e and "simulated learner crash" in e for e in model.errors)


def test_a_change_the_training_loop_refuses_is_shown_and_the_model_follows_the_trainer(models, long_config,
                                                                                       monkeypatch):
    refused = getattr(lab.events, "HyperparametersRefused", None) or _RefusedStandIn
    monkeypatch.setattr(panel_model, "REFUSED_EVENT", refused)
    model = models(long_config)
    trainer = model.start()
    model.pause()
    assert _wait_for(lambda: trainer.state == "paused")
    # what the panel believes after a slider move the engine then refused between steps
    model.config = model.config.with_overrides({"noise.sigma": 0.9})
    model.schedule_overrides["noise_scale"] = 2.0
    reason = "noise.sigma=0.9 is invalid: allowed at most 0.5 during this run"
    trainer.events.publish(refused(env_step=trainer.env_step, changes={"sigma": 0.9, "noise_scale": 2.0},
                                   reason=reason))
    assert model.poll() is True  # the config was corrected: the view re-syncs its controls
    assert model.errors == [f"refused at step {trainer.env_step:,}: sigma=0.9, noise_scale=2.0: {reason}"]
    assert model.config.noise.sigma == pytest.approx(long_config.noise.sigma)
    assert model.schedule_overrides["noise_scale"] == pytest.approx(trainer.hyperparameters()["noise_scale"])
    assert model.poll() is False
    model.stop(wait=True)


def test_without_the_refusal_event_the_model_shows_the_buses_error_text(models, long_config, monkeypatch):
    monkeypatch.setattr(panel_model, "REFUSED_EVENT", None)  # an engine that reports refusals only as text
    model = models(long_config)
    trainer = model.start()
    trainer.events.errors.append("training.tau=2.0 is invalid: allowed a number in (0.0, 1.0]")
    model.poll()
    model.poll()
    assert model.errors == ["training.tau=2.0 is invalid: allowed a number in (0.0, 1.0]"]
    model.stop(wait=True)


# ---- the A/B model: several agents in one lab.Population ----------------------------------------
@pytest.fixture
def compare_models():
    made: list[CompareModel] = []

    def make(source, **kwargs):
        made.append(CompareModel(source, **kwargs))
        return made[-1]

    yield make
    for model in made:
        model.close()


def test_a_compare_model_refuses_bad_agent_counts_and_selections(compare_models, long_config):
    for bad in (0, -1, 2.5, True, 10_000):
        with pytest.raises(ConfigError, match=rf"agents={bad!r} is invalid: allowed an integer from 1 to"):
            CompareModel(long_config, agents=bad)
    model = compare_models(long_config, agents=2)
    assert [c.run.seed for c in model.configs] == [long_config.run.seed, long_config.run.seed + 1]
    with pytest.raises(ConfigError, match=r"agent=2 is invalid: allowed 0 to 1"):
        model.select(2)
    assert model.selected is None


def test_a_config_with_prioritized_replay_is_switched_to_what_a_population_trains(compare_models, long_config):
    model = compare_models(long_config.with_overrides({"training.use_per": True}), agents=2)
    assert not model.base_config.training.use_per
    assert any("training.use_per=False" in m for m in model.messages)
    with pytest.raises(ConfigError, match="training.use_per=True is not supported in a population"):
        model.apply("training.use_per", True)
    assert all(not c.training.use_per for c in model.configs)


def test_changes_before_start_reach_only_the_selected_agent(compare_models, long_config):
    model = compare_models(long_config, agents=2)
    model.select(1)
    model.apply("noise.sigma", 0.45)
    model.apply("noise_scale", 0.25)
    assert model.readout()[1][1]["sigma"] == 0.45 and model.readout()[1][0]["sigma"] == long_config.noise.sigma
    population = model.start()
    assert population.hyperparameters(1)["sigma"] == 0.45 and population.hyperparameters(1)["noise_scale"] == 0.25
    assert population.hyperparameters(0)["sigma"] == long_config.noise.sigma
    assert population.hyperparameters(0)["noise_scale"] != 0.25
    assert _wait_for(lambda: all(s.episodes > 0 for s in model.statuses))
    model.stop(wait=True)
    assert population.state == "stopped"


def test_live_changes_go_to_one_agent_or_all_and_restart_settings_wait(compare_models, long_config):
    model = compare_models(long_config, agents=2)
    population = model.start()
    assert _wait_for(lambda: min(model.env_steps()) > 100)
    model.select(1)
    model.apply("noise.sigma", 0.6)
    assert _wait_for(lambda: population.hyperparameters(1)["sigma"] == pytest.approx(0.6))
    assert population.hyperparameters(0)["sigma"] == long_config.noise.sigma
    model.select(None)
    model.apply("training.critic_lr", 5e-4)
    assert _wait_for(lambda: all(population.hyperparameters(k)["critic_lr"] == pytest.approx(5e-4) for k in (0, 1)))
    model.select(0)
    with pytest.raises(ConfigError, match="batch_size is shared by every agent"):
        model.apply("training.batch_size", 64)
    assert all(c.training.batch_size == long_config.training.batch_size for c in model.configs)
    model.apply("network.layer_norm", True)  # a restart setting goes to every agent
    assert model.restart_diff() == ["network.layer_norm"] and model.needs_new_run()
    assert any("applies to every agent" in m for m in model.messages)
    model.stop(wait=True)
    second = model.start()
    assert second is not population and second.run_dir != population.run_dir
    assert all(m.config.network.layer_norm for m in second.members)
    assert second.hyperparameters(1)["sigma"] == pytest.approx(0.6)
    assert second.hyperparameters(0)["sigma"] == long_config.noise.sigma
    model.stop(wait=True)


def test_reset_to_base_undoes_every_agents_live_changes(compare_models, long_config):
    model = compare_models(long_config, agents=2)
    population = model.start()
    model.select(1)
    model.apply("noise.sigma", 0.6)
    assert _wait_for(lambda: population.hyperparameters(1)["sigma"] == pytest.approx(0.6))
    model.reset_to_base()
    assert _wait_for(lambda: population.hyperparameters(1)["sigma"] == pytest.approx(long_config.noise.sigma))
    assert model.configs[1].noise.sigma == long_config.noise.sigma and model.schedule_overrides == [{}, {}]
    model.stop(wait=True)


# ---- what both models share (widgets.run_model.RunModel) ------------------------------------------
@pytest.mark.parametrize("kind", ["panel", "compare"])
def test_the_first_stop_reason_wins_in_both_models(models, compare_models, long_config, kind):
    """An interrupted wait() records its reason; a kernel hook stopping the same run later must not replace it."""
    from widgets.kernel import INTERRUPTED, stop_all

    model = models(long_config) if kind == "panel" else compare_models(long_config, agents=2)
    run = model.start()
    assert model.running and model.stop_reason is None
    model.stop_reason = INTERRUPTED
    stopped = stop_all("the kernel is shutting down", wait=True)
    assert any(r is run for r in stopped)
    assert model.stop_reason == INTERRUPTED
    assert any("the kernel is shutting down" in m for m in model.messages)
    second = model.start()  # a new Start forgets the old reason
    assert second is run and model.stop_reason is None
    model.stop(wait=True)


@pytest.mark.parametrize("where", ["error_in_exec", "error_before_exec"])
def test_a_cell_that_ends_on_ctrl_c_stops_training_wherever_the_interrupt_landed(models, long_config, where):
    """IPython records Ctrl-C inside a statement as error_in_exec and between two statements as
    error_before_exec (the full suite once caught the second in `panel.start(); print(...); panel.wait()`)."""
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

    from widgets.kernel import INTERRUPTED, _after_cell

    model = models(long_config)
    run = model.start()
    result = ExecutionResult(ExecutionInfo("panel.wait()", False, False, True, None))
    _after_cell(result)  # a cell that ended without an error leaves training alone
    assert model.running
    setattr(result, where, KeyboardInterrupt())
    _after_cell(result)
    run.join(60)
    assert not model.running and model.stop_reason == INTERRUPTED
