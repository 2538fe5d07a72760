"""The training panel's model for every K, driven with real tiny-preset engines and no frontend.

``widgets.panel_model.PanelModel`` holds what the panel knows (each agent's next-run config,
what waits for a restart, the engine's lifecycle, jobs, errors); ``widgets.settings`` decides
where a change goes from the config fields' metadata. These tests never build a widget.
Waits poll for the state they need.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from lab.config import AGENT, Config, ConfigError, field_info, live_fields
from lab.events import HyperparametersRefused, UpdateMetrics
from lab.train.engine import AgentEvent
from lab.train.population import Population
from lab.train.trainer import Trainer
from widgets.panel_model import READOUT, PanelModel


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


# ---- one agent --------------------------------------------------------------------------------------
def test_a_preset_model_starts_idle_with_the_presets_values(models):
    model = models("tiny")
    assert model.name == "tiny" and model.engine is None and not model.running and model.agents == 1
    assert model.config == model.base_config
    head, values = model.readout()
    assert head == "next run will use" and list(values[0]) == list(READOUT)
    assert values[0]["noise.sigma"] == model.config.noise.sigma
    assert set(READOUT) == {f.key for f in live_fields() if not f.name.startswith("shaping_")}
    assert model.restart_diff() == [] and model.needs_new_run()
    with pytest.raises(RuntimeError, match="press Start first"):
        model.save_checkpoint()


def test_a_k1_run_through_the_panel_model_a_live_change_reaches_the_learner_and_stop_keeps_a_checkpoint(
        models, long_config):
    model = models(long_config)
    model.apply("noise.sigma", 0.45)
    model.apply("network.actor_hidden", [64, 64])  # before Start, restart settings simply go into the next run
    trainer = model.start()
    assert isinstance(trainer, Trainer) and model.readout()[0] == "now uses"
    assert trainer.config.noise.sigma == 0.45 and trainer.config.network.actor_hidden == (64, 64)
    rates: list[float] = []
    trainer.events.subscribe(lambda e: rates.append(e.actor_lr), UpdateMetrics)
    model.apply("actor_lr", 3e-4)  # a bare name works too
    assert _wait_for(lambda: trainer.hyperparameters()["training.actor_lr"] == pytest.approx(3e-4))
    assert _wait_for(lambda: rates and rates[-1] == pytest.approx(3e-4), timeout=120)  # the learner took it
    model.apply("network.layer_norm", True)
    assert model.restart_diff() == ["network.layer_norm"] and model.needs_new_run()
    assert trainer.config.network.layer_norm is False
    path = model.stop(wait=True)
    assert trainer.state == "stopped" and path == trainer.checkpoint_path and path.exists()
    assert any(m.startswith("stopped; checkpoint") for m in model.messages)
    second = model.start()
    assert second is not trainer and second.run_dir != trainer.run_dir
    assert second.config.network.layer_norm is True and second.config.training.actor_lr == pytest.approx(3e-4)
    assert model.restart_diff() == []
    model.stop(wait=True)


def test_bad_values_are_refused_with_the_field_and_leave_the_config_alone(models, long_config):
    model = models(long_config)
    with pytest.raises(ConfigError, match=r"noise.sigma=9.0 is invalid: allowed"):
        model.apply("noise.sigma", 9.0)
    with pytest.raises(ConfigError, match="unknown field 'nope'"):
        model.apply("noise.nope", 1)
    with pytest.raises(ConfigError, match="noise_scale"):  # a retired schedule override is no setting at all
        model.apply("noise_scale", 0.5)
    assert model.config == long_config


def test_a_run_that_cannot_start_leaves_no_engine_and_the_next_start_takes_a_new_folder(models, tiny_config,
                                                                                         tmp_path):
    from lab.train.run_folder import RunFolderInUse

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "summary.json").write_text("{}")  # the folder holds another run
    model = models(tiny_config, run_dir=taken)
    with pytest.raises(RunFolderInUse, match="already holds a run"):
        model.start()
    assert model.engine is None and model.needs_new_run()
    trainer = model.start()
    assert trainer.run_dir != taken and trainer.run_dir.parent == tmp_path / "runs"
    model.stop(wait=True)


def test_pause_resume_and_stop_follow_the_engine(models, long_config):
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
    assert trainer.state == "stopped" and model.statuses[0].state == "stopped"
    assert model.start() is trainer  # a stopped run with unchanged settings carries on
    model.stop(wait=True)


def test_reset_to_base_undoes_live_changes_in_the_engine(models, long_config):
    model = models(long_config)
    trainer = model.start()
    model.apply("noise.sigma", 0.6)
    model.apply("training.batch_size", 64)
    model.reset_to_base()
    assert model.config == long_config
    assert _wait_for(lambda: trainer.hyperparameters()["noise.sigma"] == pytest.approx(long_config.noise.sigma)
                     and trainer.hyperparameters()["training.batch_size"] == long_config.training.batch_size)
    model.stop(wait=True)


def test_export_writes_a_config_that_loads_back(models, tiny_config, tmp_path):
    model = models(tiny_config)
    model.apply("noise.sigma", 0.7)
    path = model.export_config(tmp_path / "out" / "mine.yaml")
    assert Config.load(path) == model.config and model.config.noise.sigma == 0.7
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


def test_a_crash_in_the_training_thread_becomes_an_error(models, long_config, tmp_path):
    trainer = Trainer(long_config, run_dir=tmp_path / "run")

    def explode(*_, **__):
        raise RuntimeError("simulated learner crash")

    trainer.learning.pay = explode
    model = models(trainer)
    assert model.name == trainer.name and model.start() is trainer
    assert _wait_for(lambda: not trainer.running)
    model.poll()
    model.poll()  # reported once
    assert trainer.state == "failed" and model.needs_new_run()
    assert [e for e in model.errors if "training failed" in e] == [
        "training failed: RuntimeError: simulated learner crash"]
    trainer.close()


def test_a_change_the_training_loop_refuses_is_shown_once_and_the_model_follows_the_engine(models, long_config):
    model = models(long_config)
    trainer = model.start()
    model.pause()
    assert _wait_for(lambda: trainer.state == "paused")
    # what the panel believes after a slider move the loop then refused between steps
    model.settings.configs[0] = model.config.with_overrides({"noise.sigma": 0.9})
    reason = "noise.sigma=0.9 is invalid: allowed at most 0.5 during this run"
    trainer.agent_events.publish(AgentEvent(0, 0, HyperparametersRefused(trainer.env_step, {"noise.sigma": 0.9},
                                                                         reason)))
    assert model.poll() is True  # the config was corrected: the view re-syncs its controls
    assert model.errors == [f"refused at step {trainer.env_step:,}: noise.sigma=0.9: {reason}"]
    assert model.config.noise.sigma == pytest.approx(long_config.noise.sigma)
    assert model.poll() is False
    model.stop(wait=True)


def test_a_model_on_an_engine_takes_its_agents_and_refuses_another_count(models, long_config):
    population = Population(long_config, seeds=[3, 5], log_to_disk=False)
    try:
        model = models(population)
        assert model.agents == 2 and [c.run.seed for c in model.configs] == [3, 5] and model.engine is population
        with pytest.raises(ConfigError, match=r"agents=3 is invalid for a panel on .* which trains 2 agent"):
            PanelModel(population, agents=3)
    finally:
        population.close()


# ---- K agents ---------------------------------------------------------------------------------------
def test_agent_counts_and_selections_are_checked(models, long_config):
    for bad in (0, -1, 2.5, True, 10_000):
        with pytest.raises(ConfigError, match=rf"agents={bad!r} is invalid: allowed an integer from 1 to"):
            PanelModel(long_config, agents=bad)
    model = models(long_config, agents=2)
    assert [c.run.seed for c in model.configs] == [long_config.run.seed, long_config.run.seed + 1]
    with pytest.raises(ConfigError, match=r"agent=2 is invalid: allowed 0 to 1"):
        model.select(2)
    assert model.selected is None


def test_where_a_change_goes_is_read_from_the_fields_metadata(models, long_config):
    model = models(long_config, agents=3)
    model.select(1)
    model.apply("noise.sigma", 0.45)  # live per agent: B alone
    sigma = long_config.noise.sigma
    assert [c.noise.sigma for c in model.configs] == [sigma, 0.45, sigma]
    assert field_info("training.batch_size").live != AGENT
    model.apply("training.batch_size", 64)  # live, shared: every agent, and the panel says so
    assert [c.training.batch_size for c in model.configs] == [64, 64, 64]
    assert model.messages[-1] == "training.batch_size is shared by every agent: changed for all of them"
    model.apply("training.warmup_pilot", "heuristic")  # restart-only, not shared: B's next run alone
    assert [c.training.warmup_pilot for c in model.configs] == ["uniform", "heuristic", "uniform"]
    model.apply("network.layer_norm", True)  # restart-only, shared (it shapes tensors): every agent
    assert all(c.network.layer_norm for c in model.configs)
    model.apply("run.seed", long_config.run.seed)  # B on A's seed: the same start, so only the changes differ
    assert [c.run.seed for c in model.configs] == [0, 0, 2]
    model.select(None)
    model.apply("run.seed", 7)  # every agent: seed + k, so no two are the same agent
    assert [c.run.seed for c in model.configs] == [7, 8, 9]


def test_a_k2_run_through_the_panel_model_with_a_per_agent_change(models, long_config):
    model = models(long_config, agents=2)
    model.select(1)
    model.apply("noise.sigma", 0.45)  # before Start: B's next run
    population = model.start()
    assert isinstance(population, Population)
    assert population.hyperparameters(1)["noise.sigma"] == 0.45
    assert population.hyperparameters(0)["noise.sigma"] == long_config.noise.sigma
    assert _wait_for(lambda: min(model.env_steps()) > 100)
    model.apply("training.critic_lr", 5e-4)  # live, B alone
    assert _wait_for(lambda: population.hyperparameters(1)["training.critic_lr"] == pytest.approx(5e-4))
    assert population.hyperparameters(0)["training.critic_lr"] == long_config.training.critic_lr
    head, values = model.readout()
    assert head == "now uses" and values[1]["training.critic_lr"] == pytest.approx(5e-4)
    model.select(None)
    model.apply("noise.theta", 0.5)  # every agent
    assert _wait_for(lambda: all(population.hyperparameters(k)["noise.theta"] == 0.5 for k in (0, 1)))
    model.stop(wait=True)
    assert population.state == "stopped" and population.checkpoint_path.exists()
    model.select(1)
    model.apply("training.warmup_pilot", "heuristic")
    assert model.restart_diff() == ["training.warmup_pilot"] and model.needs_new_run()
    second = model.start()
    assert second is not population and second.run_dir != population.run_dir
    assert [m.config.training.warmup_pilot for m in second.members] == ["uniform", "heuristic"]
    assert second.hyperparameters(1)["training.critic_lr"] == pytest.approx(5e-4)
    model.stop(wait=True)


def test_reset_to_base_undoes_every_agents_live_changes(models, long_config):
    model = models(long_config, agents=2)
    population = model.start()
    model.select(1)
    model.apply("noise.sigma", 0.6)
    model.apply("training.batch_size", 64)
    model.reset_to_base()
    assert _wait_for(lambda: all(population.hyperparameters(k)["noise.sigma"] == long_config.noise.sigma
                                 and population.hyperparameters(k)["training.batch_size"] == 32 for k in (0, 1)))
    assert model.configs == [long_config, long_config.with_overrides({"run.seed": long_config.run.seed + 1})]
    model.stop(wait=True)


def test_one_agent_stops_or_fails_alone_and_the_panel_says_which(models, long_config, monkeypatch):
    import lab.rollout.collector

    def poisoned(next_obs, raw, terminated, cfg):  # only an agent that shapes its rewards sees NaN
        return np.full_like(raw, np.nan)

    monkeypatch.setattr(lab.rollout.collector, "shaping_bonus", poisoned)
    model = models(long_config.with_overrides({"run.analyze_episodes": False}), agents=3)
    population = model.start()
    model.select(2)
    model.apply("env.reward_shaping", True)  # agent C's rewards turn NaN: it diverges alone
    assert _wait_for(lambda: population.members[2].state == "failed", timeout=120)
    model.stop(agent=1)
    assert population.members[1].state == "stopped" and population.running
    steps = model.env_steps()
    assert _wait_for(lambda: model.env_steps()[0] > steps[0] + 50)
    assert model.env_steps()[1] == steps[1]
    model.poll()
    failed = [e for e in model.errors if "training failed" in e]
    assert len(failed) == 1 and failed[0].startswith("agent C: training failed: critic loss became NaN")
    model.stop(wait=True)


# ---- the kernel hooks -------------------------------------------------------------------------------
@pytest.mark.parametrize("agents", [1, 2])
def test_the_first_stop_reason_wins(models, long_config, agents):
    """An interrupted wait() records its reason; a kernel hook stopping the same run later must not replace it."""
    from widgets.kernel import INTERRUPTED, stop_all

    model = models(long_config, agents=agents)
    engine = model.start()
    assert model.running and model.stop_reason is None
    model.stop_reason = INTERRUPTED
    stopped = stop_all("the kernel is shutting down", wait=True)
    assert any(e is engine for e in stopped)
    assert model.stop_reason == INTERRUPTED
    assert any("the kernel is shutting down" in m for m in model.messages)
    assert model.start() is engine and model.stop_reason is None  # a new Start forgets the old reason
    model.stop(wait=True)


@pytest.mark.parametrize("where", ["error_in_exec", "error_before_exec"])
def test_a_cell_that_ends_on_ctrl_c_stops_training_wherever_the_interrupt_landed(models, long_config, where):
    """IPython records Ctrl-C inside a statement as error_in_exec and between two statements as
    error_before_exec (the full suite once caught the second in `panel.start(); print(...); panel.wait()`)."""
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

    from widgets.kernel import INTERRUPTED, _after_cell

    model = models(long_config)
    engine = model.start()
    result = ExecutionResult(ExecutionInfo("panel.wait()", False, False, True, None))
    _after_cell(result)  # a cell that ended without an error leaves training alone
    assert model.running
    setattr(result, where, KeyboardInterrupt())
    _after_cell(result)
    engine.join(60)
    assert not model.running and model.stop_reason == INTERRUPTED
