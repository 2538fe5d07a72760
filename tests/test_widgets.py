"""Headless tests of the notebook lab: the one training panel for every K, its controls and charts, the episode
viewer, the kernel hooks.

Outside a kernel nothing redraws on its own, so the tests call ``panel.tick()`` /
``charts.flush()`` where the kernel's event loop would. One test starts a real
ipykernel to check the parts that only exist there: the redraw timer, and stopping
training with a checkpoint on interrupt and on shutdown.
"""

from __future__ import annotations

import inspect
import json
import math
import queue
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import widgets.controls
from lab.config import Config, ConfigError, config_fields, field_info
from lab.events import (
    EpisodeEnded,
    Evaluated,
    HyperparametersChanged,
    HyperparametersRefused,
    RunStateChanged,
    UpdateMetrics,
)
from lab.train.engine import AgentEvent
from lab.train.trainer import Trainer
from widgets.charts import LiveCharts
from widgets.controls import SPECS, TABS, ControlSet, spec_named
from widgets.panel import TrainingPanel
from widgets.series import BoundedSeries

ROOT = Path(__file__).resolve().parent.parent


def _wait_for(predicate, timeout=60.0, tick=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if tick is not None:
            tick()
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def long_config(tiny_config):
    """Tiny networks and short episodes, with a budget the tests stop long before."""
    return tiny_config.with_overrides({"run.total_steps": 10_000_000, "training.learning_starts": 50})


@pytest.fixture
def panel_factory():
    panels = []

    def make(source, **kwargs):
        panels.append(TrainingPanel(source, **kwargs))
        return panels[-1]

    yield make
    for panel in panels:
        panel.close()


class _Outcome:
    def __init__(self, value):
        self.value = value


class _Report:
    def __init__(self, outcome):
        self.outcome = _Outcome(outcome)


def _episode(k, outcome="LANDED_SOFTLY", ret=None):
    ret = float(k) if ret is None else ret
    return EpisodeEnded(env_step=10 * k, episode=k, raw_return=ret, shaped_return=ret + 1.0, length=10,
                        success=ret >= 200, env_index=0, analysis=_Report(outcome))


def _metrics(step):
    return UpdateMetrics(step, 10, 1.0, -2.0, 3.0, 0.1, 0.2, 1e-3, 1e-3, 0.5, 0.4, 100.0)


# ---- the controls: generated from the config's field metadata -----------------------------------
def test_every_config_field_has_one_control_whose_liveness_is_the_fields_metadata():
    assert [s.key for s in SPECS if s.tab == "Learning"][:2] == ["training.actor_lr", "training.critic_lr"]
    assert sorted(s.key for s in SPECS) == sorted(f.key for f in config_fields())
    for spec in SPECS:
        assert spec.live == (field_info(spec.key).live is not None), spec.key
    for tab in TABS:  # live controls first, then the restart-only ones, each in the config's order
        keys = [s.key for s in SPECS if s.tab == tab]
        order = [f.key for f in config_fields() if f.key in keys]
        assert keys == [k for k in order if spec_named(k).live] + [k for k in order if not spec_named(k).live]
    source = inspect.getsource(widgets.controls)
    assert "live_fields" not in source and "LIVE" not in source  # no second list of which fields are live
    assert spec_named("sigma") is spec_named("noise.sigma") and spec_named("noise.sigma").kind == "float"
    assert spec_named("actor_lr").kind == "log" and spec_named("training.batch_size").kind == "powers"
    assert spec_named("network.actor_hidden").kind == "sizes" and spec_named("run.total_steps").kind == "number"
    with pytest.raises(ConfigError, match="unknown field 'nope'"):
        spec_named("noise.nope")


def test_no_control_can_hold_a_value_the_config_refuses():
    config = Config()
    controls = ControlSet.build(config)
    for spec in SPECS:
        widget = controls.widgets[spec.key]
        if spec.kind in ("log", "float", "int", "number", "float_box"):
            ends = [widget.min, widget.max]
            if spec.kind == "log":
                ends = [10 ** widget.min, 10 ** widget.max]
        elif spec.kind in ("powers", "toggle", "dropdown"):
            ends = list(widget.options)
        elif spec.kind == "bool":
            ends = [True, False]
        else:
            ends = [widget.value]
        for end in ends:
            value = widgets.controls.from_widget_value(spec, end)
            config.with_overrides({spec.key: value})  # raises ConfigError for a refused value
        assert widget.tooltip.startswith(f"{spec.key} (") and len(widget.tooltip) > len(spec.key) + 20


def test_slider_ranges_are_the_fields_typical_ranges_and_tabs_say_what_waits_for_a_restart(panel_factory):
    actor_lr = spec_named("training.actor_lr")
    assert (actor_lr.low, actor_lr.high) == field_info("training.actor_lr").bounds.typical
    policy_delay = spec_named("training.policy_delay")
    assert policy_delay.kind == "int" and (policy_delay.low, policy_delay.high) == (1, 8)
    dt = spec_named("noise.dt")  # (0, 1]: an open end is nudged inside the slider
    assert dt.low > 0.0 and dt.high == 1.0
    panel = panel_factory("tiny")
    titles = [panel.tabs.get_title(i) for i in range(len(TABS))]
    assert titles == ["Learning", "Exploration", "Replay", "Shaping", "Network (applies on restart)",
                      "Environment (applies on restart)", "Run (applies on restart)"]
    assert panel.controls.widgets["network.actor_hidden"].value == "32-32"  # the tiny preset's network
    assert type(panel.controls.widgets["training.actor_lr"]).__name__ == "FloatLogSlider"
    assert panel.controls.widgets["training.actor_lr"].value == pytest.approx(1e-3)


def test_batch_sizes_above_the_replay_capacity_are_not_offered(panel_factory, tiny_config):
    panel = panel_factory(tiny_config.with_overrides({"training.buffer_size": 300, "training.batch_size": 32}))
    assert max(panel.controls.widgets["training.batch_size"].options) <= 300


def test_any_list_of_layer_widths_can_be_typed_and_nonsense_is_refused(panel_factory, tiny_config):
    panel = panel_factory(tiny_config)
    widget = panel.controls.widgets["network.critic_hidden"]
    widget.value = "128-64-32"
    assert panel.config.network.critic_hidden == (128, 64, 32)
    widget.value = "big"
    assert panel.errors[-1] == "network.critic_hidden='big' is invalid: allowed layer widths such as 256-256"
    assert widget.value == "128-64-32" and panel.config.network.critic_hidden == (128, 64, 32)


# ---- one agent: a run through the panel ----------------------------------------------------------
def test_a_k1_run_through_the_panel_buttons_a_slider_reaching_the_learner_and_a_stop_with_a_checkpoint(
        panel_factory, long_config):
    panel = panel_factory(long_config)
    assert panel.trainer is None and "idle" in panel.status.value and panel.selector.layout.display == "none"
    panel.buttons["start"].click()
    trainer = panel.trainer
    assert isinstance(trainer, Trainer) and trainer.running and panel.buttons["start"].disabled
    states: list[RunStateChanged] = []
    rates: list[float] = []
    trainer.events.subscribe(states.append, RunStateChanged)
    trainer.events.subscribe(lambda e: rates.append(e.actor_lr), UpdateMetrics)
    assert _wait_for(lambda: trainer.env_step > 100)

    panel.controls.widgets["noise.sigma"].value = 0.45
    panel.controls.widgets["training.actor_lr"].value = 3e-4
    panel.controls.widgets["env.reward_shaping"].value = True
    assert _wait_for(lambda: trainer.hyperparameters()["noise.sigma"] == pytest.approx(0.45)
                     and trainer.hyperparameters()["training.actor_lr"] == pytest.approx(3e-4)
                     and trainer.hyperparameters()["env.reward_shaping"] is True)
    assert _wait_for(lambda: rates and rates[-1] == pytest.approx(3e-4), timeout=120)  # the learner's own report
    assert _wait_for(lambda: len(panel.charts.changes) >= 3, tick=panel.tick)
    step = panel.charts.changes[0][1]
    panel.tick(force=True)
    assert step in {s.x0 for s in panel.figure.layout.shapes if s.line.dash == "dot"}
    assert "data-name='noise.sigma' data-agent='0'>0.45<" in panel.readout.value
    assert f"step {step:,}: noise.sigma 0.3→0.45" in panel.readout.value

    panel.buttons["pause"].click()
    assert _wait_for(lambda: trainer.state == "paused")
    panel.tick(force=True)
    assert panel.buttons["pause"].description == "Resume" and "paused" in panel.status.value
    frozen = trainer.env_step
    panel.buttons["pause"].click()
    assert _wait_for(lambda: trainer.env_step > frozen)
    # the loop announces "running" again before its next step: no step was taken while paused
    paused, resumed = (next(e for e in reversed(states) if e.state == s) for s in ("paused", "running"))
    assert resumed.env_step == paused.env_step == frozen

    panel.buttons["save"].click()
    assert _wait_for(lambda: any("checkpoint saved to" in m for m in panel.messages), tick=panel.tick)
    panel.buttons["evaluate"].click()
    assert _wait_for(lambda: any(m.startswith("evaluation: mean return") for m in panel.messages), tick=panel.tick)
    assert _wait_for(lambda: panel.charts.point_counts()[("eval", 0)] >= 1, tick=panel.tick)

    panel.buttons["stop"].click()
    assert _wait_for(lambda: not trainer.running)
    panel.tick(force=True)
    assert trainer.state == "stopped" and trainer.checkpoint_path.exists()
    assert "stopped" in panel.status.value and not panel.buttons["start"].disabled
    assert f"checkpoint {trainer.checkpoint_path}" in panel.status.value
    assert panel.errors == []


def test_a_refused_value_shows_an_error_and_the_control_snaps_back(panel_factory, long_config):
    panel = panel_factory(long_config)
    trainer = panel.start()
    with pytest.raises(ConfigError, match=r"noise.sigma=9.0 is invalid"):
        panel.set("sigma", 9.0)
    widget = panel.controls.widgets["training.gamma"]
    before = widget.value
    widget.max = 1.0  # a widget pushed past what the field allows (gamma < 1)
    widget.value = 1.0
    assert any("training.gamma=1.0 is invalid" in e for e in panel.errors)
    assert "training.gamma=1.0 is invalid" in panel.error_box.value
    assert widget.value == pytest.approx(before) and trainer.config.training.gamma == pytest.approx(before)
    panel.stop(wait=True)


def test_a_change_refused_between_steps_snaps_the_slider_back(panel_factory, long_config):
    panel = panel_factory(long_config)
    trainer = panel.start()
    panel.pause()
    panel.controls.widgets["noise.sigma"].value = 0.45
    assert _wait_for(lambda: trainer.hyperparameters()["noise.sigma"] == pytest.approx(0.45))
    # the panel's state after a later move to 0.8 that the loop then refused between steps
    panel.model.settings.configs[0] = panel.config.with_overrides({"noise.sigma": 0.8})
    panel._set_widget(spec_named("noise.sigma"), 0.8)
    trainer.agent_events.publish(AgentEvent(0, 0, HyperparametersRefused(trainer.env_step, {"noise.sigma": 0.8},
                                                                         "refused for a test")))
    panel.tick(force=True)
    assert panel.controls.widgets["noise.sigma"].value == pytest.approx(0.45) and panel.config.noise.sigma == 0.45
    assert "noise.sigma=0.8: refused for a test" in panel.error_box.value
    panel.stop(wait=True)


def test_a_crash_in_the_training_thread_shows_in_the_panel(panel_factory, long_config, tmp_path):
    trainer = Trainer(long_config, run_dir=tmp_path / "run")

    def explode(*_, **__):
        raise RuntimeError("simulated learner crash")

    trainer.learning.pay = explode
    panel = panel_factory(trainer)
    assert panel.start() is trainer
    assert _wait_for(lambda: not trainer.running)
    panel.tick(force=True)
    assert trainer.state == "failed"
    assert "simulated learner crash" in panel.error_box.value and "failed" in panel.status.value
    assert trainer.checkpoint_path.exists()
    trainer.close()


def test_status_line_reports_progress_and_the_latest_clip_shows_beside_the_charts(panel_factory, tiny_config):
    config = tiny_config.with_overrides({"run.total_steps": 400, "run.eval_every": 200, "run.eval_episodes": 1})
    panel = panel_factory(config)
    assert panel.clip_image.layout.display == "none"
    panel.start()
    summary = panel.wait(timeout=120)
    assert summary["state"] == "finished"
    text = panel.status.value
    assert "finished" in text and f"step {summary['env_step']:,} / 400" in text
    assert f"episode {summary['episodes']}" in text and "steps/s" in text and "ETA" in text
    assert "most common outcome" in text and panel.run_status.most_common_outcome in text
    clips = sorted((panel.trainer.run_dir / "clips").glob("*.gif"))
    assert [p.name for p in clips] == ["step_000000200.gif", "step_000000400.gif"]
    latest = panel.model.latest_clips[0]
    assert latest.path == str(clips[-1]) and latest.caption.startswith("400 steps: ")
    assert panel.clip_image.value == clips[-1].read_bytes() and panel.clip_image.value[:4] == b"GIF8"
    assert panel.clip_image.layout.display == "block" and latest.caption in panel.clip_caption.value
    viewer = panel.viewer()
    assert len(viewer.episodes) == 1


def test_a_panel_without_clips_records_none(panel_factory, tiny_config):
    config = tiny_config.with_overrides({"run.total_steps": 300, "run.eval_every": 200, "run.eval_episodes": 1})
    panel = panel_factory(config, clips=False)
    panel.start()
    panel.wait(timeout=120)
    assert panel.trainer.last_evaluation is not None and not (panel.trainer.run_dir / "clips").exists()
    assert panel.model.latest_clips == [None] and panel.clip_image.layout.display == "none"


def test_reset_to_preset_and_export_config(panel_factory, tiny_config, tmp_path):
    panel = panel_factory(tiny_config)
    panel.controls.widgets["noise.sigma"].value = 0.7
    panel.controls.widgets["network.layer_norm"].value = True
    assert panel.config.noise.sigma == pytest.approx(0.7) and panel.config.network.layer_norm
    path = panel.export_config(tmp_path / "mine.yaml")
    assert Config.load(path) == panel.config and "sigma: 0.7" in panel.export_box.value
    panel.buttons["reset"].click()
    assert panel.config == tiny_config
    assert panel.controls.widgets["noise.sigma"].value == pytest.approx(tiny_config.noise.sigma)
    assert panel.controls.widgets["network.layer_norm"].value is False


def test_a_restart_setting_waits_for_the_next_run(panel_factory, long_config):
    panel = panel_factory(long_config)
    first = panel.start()
    assert _wait_for(lambda: first.env_step > 50)
    panel.controls.widgets["network.actor_hidden"].value = "64-64"
    panel.controls.widgets["training.buffer_size"].value = 4096
    assert "applies on restart" in panel.controls.badges["network.actor_hidden"].value
    assert "applies on restart: training.buffer_size, network.actor_hidden" in panel.readout.value
    assert first.config.network.actor_hidden == (32, 32)
    panel.stop(wait=True)
    second = panel.start()
    assert second is not first and second.config.network.actor_hidden == (64, 64)
    assert second.config.training.buffer_size == 4096
    assert panel.controls.badges["network.actor_hidden"].value == ""
    panel.stop(wait=True)


# ---- K agents -------------------------------------------------------------------------------------
def test_agents_gives_one_panel_with_a_selector_and_a_panel_on_an_engine_takes_its_agents(panel_factory,
                                                                                           long_config):
    panel = panel_factory(long_config, agents=3)
    assert type(panel) is TrainingPanel and panel.model.agents == 3 and panel.charts.agents == 3
    assert [label for label, _ in panel.selector.options] == ["All agents", "A (seed 0)", "B (seed 1)", "C (seed 2)"]
    assert panel.selector.layout.display == "flex" and len(panel.clip_images) == 3
    with pytest.raises(ConfigError, match=r"agents=0 is invalid"):
        TrainingPanel(long_config, agents=0)
    trainer = Trainer(long_config, log_to_disk=False)
    try:
        with pytest.raises(ConfigError, match=r"agents=2 is invalid for a panel on run, which trains 1 agent"):
            TrainingPanel(trainer, agents=2)
        assert panel_factory(trainer).model.agents == 1
    finally:
        trainer.close()


def test_a_k2_run_through_the_panel_a_slider_changes_only_the_selected_agent(panel_factory, long_config):
    panel = panel_factory(long_config, agents=2)
    population = panel.start()
    assert _wait_for(lambda: all(panel.charts.point_counts()[("raw_ma", k)] > 0 for k in (0, 1)), tick=panel.tick)
    base_sigma = long_config.noise.sigma
    panel.set("sigma", 0.55, agent=1)
    assert panel.selector.value == 1 and panel.controls.widgets["noise.sigma"].value == pytest.approx(0.55)
    assert _wait_for(lambda: population.hyperparameters(1)["noise.sigma"] == pytest.approx(0.55), tick=panel.tick)
    assert population.hyperparameters(0)["noise.sigma"] == base_sigma
    assert _wait_for(lambda: panel.charts.changes, tick=panel.tick)  # the change's event reached the charts
    panel.tick(force=True)
    assert "data-name='noise.sigma' data-agent='1'>0.55<" in panel.readout.value
    assert f"data-name='noise.sigma' data-agent='0'>{base_sigma:.4g}<" in panel.readout.value
    assert f"B step {panel.charts.changes[-1][1]:,}: noise.sigma 0.3→0.55" in panel.readout.value
    panel.selector.value = 0  # the controls show the selected agent's values
    assert panel.controls.widgets["noise.sigma"].value == pytest.approx(base_sigma)
    panel.controls.widgets["training.batch_size"].value = 64  # shared: it goes to every agent, and the panel says so
    assert _wait_for(lambda: all(population.hyperparameters(k)["training.batch_size"] == 64 for k in (0, 1)))
    assert "shared by every agent" in panel.messages[-1] and panel.errors == []
    assert panel.status.value.count("most common outcome") == 2 and "running" in panel.status.value
    panel.stop(wait=True)
    panel.tick(force=True)
    assert "stopped" in panel.status.value and population.checkpoint_path.exists()


def test_k_agents_each_show_their_latest_clip(panel_factory, tiny_config):
    config = tiny_config.with_overrides({"run.total_steps": 200, "run.eval_every": 200, "run.eval_episodes": 1,
                                         "env.num_envs": 1, "training.learning_starts": 100})
    panel = panel_factory(config, agents=2)
    panel.set("run.seed", 5)  # every agent: A gets 5, B 6, and the selector and the legend say so
    panel.start()
    assert [label for label, _ in panel.selector.options] == ["All agents", "A (seed 5)", "B (seed 6)"]
    assert [t.name for t in panel.figure.data if t.showlegend and t.type == "scatter"] == ["A (seed 5)",
                                                                                           "B (seed 6)"]
    panel.wait(timeout=120)
    for k, folder in enumerate(m.run_dir for m in panel.population.members):
        clip = folder / "clips" / "step_000000200.gif"
        assert panel.model.latest_clips[k].path == str(clip)
        assert panel.clip_images[k].value == clip.read_bytes()
        assert panel.clip_captions[k].value.startswith(f"<span class='lab-clip-caption'>{'AB'[k]}: 200 steps: ")
    assert panel.most_common_outcomes() == [s.most_common_outcome for s in panel.statuses]


# ---- charts ------------------------------------------------------------------------------------
def test_chart_traces_grow_as_events_arrive():
    charts = LiveCharts(min_interval=0.0)
    for k in range(5):
        charts(_episode(k))  # a plain event counts as agent 0's
    charts(_metrics(50))
    charts(Evaluated(env_step=50, mean_return=12.0, std_return=3.0, success_rate=0.5, returns=(9.0, 15.0),
                     lengths=(100, 120), outcomes={"LANDED_SOFTLY": 1}))
    assert charts.flush()
    counts = charts.point_counts()
    assert counts[("raw", 0)] == counts[("raw_ma", 0)] == counts[("shaped_ma", 0)] == 5
    assert counts[("critic_loss", 0)] == counts[("mean_q", 0)] == counts[("noise_scale", 0)] == 1
    assert counts[("eval", 0)] == counts[("eval_success", 0)] == 1
    assert counts["LANDED_SOFTLY"] == counts["CRASHED_TILTED"] == 5  # one stacked row per episode, over time
    traces = charts._traces
    outcomes = charts._outcome_traces
    assert list(outcomes["LANDED_SOFTLY"].y) == [100.0] * 5
    assert outcomes["LANDED_SOFTLY"].showlegend and not outcomes["CRASHED_TILTED"].showlegend
    assert not charts.flush()  # nothing new: nothing redrawn
    for k in range(5, 12):
        charts(AgentEvent(0, 0, _episode(k, outcome="CRASHED_TILTED")))
    assert charts.flush()
    assert charts.point_counts()[("raw", 0)] == 12
    assert outcomes["CRASHED_TILTED"].y[-1] == pytest.approx(100 * 7 / 12)  # of the last 20 episodes
    assert traces[("raw_ma", 0)].y[-1] == pytest.approx(np.mean(np.arange(12)))
    assert traces[("eval", 0)].y[0] == 12.0 and traces[("eval_success", 0)].y[0] == 50.0


def test_k_agents_draw_one_coloured_line_each_and_an_outcome_bar_each():
    charts = LiveCharts(2, labels=["A (seed 7)", "B (seed 8)"], window=2, outcome_window=2, min_interval=0.0)
    for k in range(1, 4):
        charts(AgentEvent(0, 7, _episode(k, "LANDED_SOFTLY", ret=250.0)))
        charts(AgentEvent(1, 8, _episode(k, "CRASHED_SPINNING", ret=-100.0)))
    charts(AgentEvent(1, 8, Evaluated(env_step=30, mean_return=-90.0, std_return=1.0, success_rate=0.0,
                                      returns=(-90.0,), lengths=(10,), outcomes={"CRASHED_SPINNING": 1})))
    charts(AgentEvent(1, 8, HyperparametersChanged(env_step=20, changes={"noise.sigma": (0.2, 0.5)})))
    charts(AgentEvent(5, 9, _metrics(10)))  # an agent the charts do not draw is ignored
    assert charts.flush(force=True)
    counts = charts.point_counts()
    assert counts[("raw_ma", 0)] == counts[("raw_ma", 1)] == 3
    assert counts[("eval", 0)] == 0 and counts[("eval", 1)] == 1
    assert list(charts._traces[("success", 0)].y) == [100.0, 100.0, 100.0]
    assert list(charts._traces[("raw_ma", 1)].y) == [-100.0, -100.0, -100.0]
    assert charts.outcome_shares() == {"LANDED_SOFTLY": [100.0, 0.0], "CRASHED_SPINNING": [0.0, 100.0]}
    assert list(charts._outcome_traces["CRASHED_SPINNING"].y) == [0.0, 100.0]  # one bar per agent
    assert [t.name for t in charts.figure.data if t.showlegend and t.type == "scatter"] == ["A (seed 7)",
                                                                                            "B (seed 8)"]
    assert charts._traces[("raw_ma", 0)].line.color != charts._traces[("raw_ma", 1)].line.color
    assert charts.changes == [(1, 20, "noise.sigma 0.2→0.5")]
    assert any("B (seed 8) step 20" in (a.hovertext or "") for a in charts.figure.layout.annotations)
    assert len([s for s in charts.figure.layout.shapes if s.x0 == 20]) == 7  # every chart but the bars


def test_flushes_are_throttled():
    charts = LiveCharts(min_interval=10.0)
    charts(_episode(0))
    assert charts.flush(force=True)
    charts(_episode(1))
    assert not charts.flush()  # within min_interval
    assert charts.flush(force=True)


def test_decimation_bounds_the_points_and_keeps_the_ends():
    charts = LiveCharts(max_points=60, min_interval=0.0)
    outcomes = ["LANDED_SOFTLY", "CRASHED_TILTED", "FLEW_OFF_LEFT"]
    for k in range(20_000):
        charts(_episode(k, outcome=outcomes[k % 3]))
        if k % 2_000 == 0:
            charts(_metrics(10 * k))
    charts.flush()
    counts = charts.point_counts()
    assert max(counts.values()) <= 60
    assert counts[("raw", 0)] >= 30
    x = charts._traces[("raw", 0)].x
    assert x[0] == 0 and x[-1] == 10 * 19_999 and np.all(np.diff(x) > 0)
    # the moving mean was computed on every episode, not on the thinned points
    assert charts._traces[("raw_ma", 0)].y[-1] == pytest.approx(np.mean(np.arange(20_000 - 50, 20_000)))


def test_bounded_series_thins_old_rows_and_keeps_recent_ones():
    series = BoundedSeries(1, max_points=16)
    for k in range(1_000):
        series.append((k,))
        assert series.size <= 16
    rows = series.snapshot()[:, 0]
    assert rows[-1] == 999 and np.all(np.diff(rows) > 0)
    assert np.all(np.diff(rows[-8:]) == 1)  # the recent half at full resolution
    assert series.appended == 1_000


def test_hyperparameter_changes_become_markers_and_a_reset_forgets_them():
    charts = LiveCharts(min_interval=0.0)
    charts(HyperparametersChanged(env_step=1234, changes={"noise.sigma": (0.1, 0.4)}))
    charts.flush()
    shapes = [s for s in charts.figure.layout.shapes if s.x0 == 1234]
    assert len(shapes) == 8  # one line in every chart
    assert any("noise.sigma 0.1→0.4" in (a.hovertext or "") for a in charts.figure.layout.annotations)
    charts(_episode(1))
    charts.reset()
    charts.flush(force=True)
    assert charts.changes == [] and not [s for s in charts.figure.layout.shapes if s.x0 == 1234]
    assert charts.point_counts()[("raw", 0)] == 0


def test_the_success_line_comes_from_the_lander_module():
    from lab.lander import SUCCESS_RETURN

    assert LiveCharts().success_threshold == LiveCharts(3).success_threshold == SUCCESS_RETURN


# ---- viewer ------------------------------------------------------------------------------------
def test_episode_viewer_replays_an_evaluation_exactly_and_exports_a_gif(tmp_path):
    from PIL import Image

    from lab.evaluation import evaluate
    from lab.policy import heuristic_policy
    from widgets.viewer import EpisodeViewer

    result = evaluate(heuristic_policy(), episodes=2, seed=10_000, keep_trajectories=True)
    viewer = EpisodeViewer.from_evaluation(result, every=4, hud=False)
    steps = len(result.trajectories[0].actions)
    frames = viewer.frames(0)
    assert len(frames) == math.ceil(steps / 4) + 1  # the first frame, every 4th step, and the last
    assert frames[0].shape == (200, 300, 3)  # kept at the viewer's scale, 0.5
    assert viewer.slider.max == len(frames) - 1 and viewer.play.max == viewer.slider.max
    assert viewer.image.value[:4] == b"\x89PNG"
    assert viewer.episodes[0].outcome in viewer.report_box.value and viewer.episodes[0].outcome.startswith("LANDED")
    assert "drifted" not in viewer.report_box.value  # the replay ended where the recording did
    first = viewer.image.value
    viewer.slider.value = viewer.slider.max
    assert viewer.image.value != first and f"step {steps} / {steps}" in viewer.step_label.value
    viewer.picker.value = 1
    assert viewer.index == 1 and viewer.slider.value == 0
    gif = viewer.export_gif(tmp_path / "episode.gif")
    with Image.open(gif) as image:  # identical frames (the lander at rest) are merged by the encoder
        assert image.format == "GIF" and 1 < image.n_frames <= len(viewer.frames(1))
        assert image.width == 300 and image.height > 200  # half size, plus the caption strip
        assert f"seed {viewer.episodes[1].seed}" in image.info["comment"].decode()


def test_the_viewer_analyzes_episodes_from_their_true_first_observation():
    from lab.analysis import BehaviorAnalyzer
    from lab.events import Trajectory
    from lab.policy import heuristic_policy
    from lab.render.episode import run_episode
    from widgets.viewer import EpisodeViewer, RecordedEpisode

    record = run_episode(heuristic_policy(), seed=10_000, render=False)
    true = Trajectory(record.observations, record.actions, record.rewards.astype(np.float32), record.terminated,
                      record.truncated)
    analyzer = BehaviorAnalyzer()
    broken_obs = true.observations.copy()
    broken_obs[0] = broken_obs[-1]  # how lab.evaluation's batch loop has been storing row 0
    broken = Trajectory(broken_obs, true.actions, true.rewards, true.terminated, true.truncated)
    viewer = EpisodeViewer([RecordedEpisode(10_000, broken, record.ret, analyzer.analyze_trajectory(broken)),
                            RecordedEpisode(10_000, true, record.ret, analyzer.analyze_trajectory(true))],
                           every=50, hud=False)
    for episode in viewer.episodes:
        assert np.array_equal(episode.trajectory.observations, true.observations)
        assert episode.report == analyzer.analyze_trajectory(true)


def test_open_in_window_without_a_display_shows_the_episode_inline(monkeypatch, tmp_path):
    import tempfile

    from lab.policy import heuristic_policy
    from widgets.viewer import EpisodeViewer

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # no display: the launcher falls back to an inline GIF
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the launcher writes that GIF
    viewer = EpisodeViewer.from_policy(heuristic_policy(), episodes=1, seed=10_003, every=8, hud=False)
    viewer.window_button.click()
    path = viewer.open_window()
    assert path.suffix == ".gif" and path.exists() and f"seed{10_003}" in path.name


def test_episode_viewer_opens_a_run_folder(tiny_config, tmp_path):
    from lab.train.trainer import Trainer
    from widgets.viewer import EpisodeViewer

    trainer = Trainer(tiny_config.with_overrides({"run.eval_every": 600, "run.eval_episodes": 1,
                                                  "env.max_episode_steps": 60}), run_dir=tmp_path / "run")
    trainer.fit()
    trainer.close()
    viewer = EpisodeViewer.from_run(tmp_path / "run", every=10, hud=False)
    assert len(viewer.episodes) == 1 and viewer.policy is not None
    assert viewer.episodes[0].outcome in viewer.report_box.value
    with pytest.raises(FileNotFoundError, match="has not finished an evaluation"):
        EpisodeViewer.from_run(tmp_path)


# ---- the command, the kernel, the cost ---------------------------------------------------------
def test_lab_command_runs_jupyterlab_from_the_repo_at_the_quickstart():
    import argparse

    from lab.commands import lab as command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    cmd = command.build_command(parser.parse_args(["--port", "9999", "--no-browser"]))
    assert cmd[:4] == [sys.executable, "-m", "jupyterlab", "notebooks/01_quickstart.ipynb"]
    assert "--ServerApp.port=9999" in cmd and "--no-browser" in cmd and "--ServerApp.ip=127.0.0.1" in cmd
    assert (command.ROOT / "notebooks" / "01_quickstart.ipynb").is_file()
    out = subprocess.run([sys.executable, "-m", "lab", "lab", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "--no-browser" in out.stdout


@pytest.mark.slow
def test_in_a_kernel_the_panel_redraws_on_its_own_and_interrupt_or_shutdown_stop_training(tmp_path):
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT))

    def collect(msg_id, until_text=None):
        """Read the cell's messages until it is idle (or, with until_text, until it prints that)."""
        out, error = [], None
        while True:
            msg = kc.get_iopub_msg(timeout=300)  # a hang guard, generous for a busy machine
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
                if until_text is not None and until_text in "".join(out):
                    return "".join(out), None
            if msg["msg_type"] == "error":
                error = msg["content"]["ename"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out), error

    def run(code):
        out, error = collect(kc.execute(code))
        assert error is None, f"{error} in {code!r}"
        return out

    def state():
        return json.loads(run("import json; trainer = panel.trainer; trainer.join(30); print(json.dumps("
                              "[trainer.state, trainer.checkpoint_path.exists(), panel.stop_reason]))"))

    def states(run_dir):
        """The run's state changes so far, as the training thread logged them."""
        path = run_dir / "states.jsonl"
        rows = []
        for line in path.read_text().splitlines() if path.exists() else []:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line being written
                break
        return [row for row in rows if "state" in row]

    def last_state(run_dir):
        rows = states(run_dir)
        return rows[-1]["state"] if rows else None

    try:
        run_dir = Path(run(f"""
import torch; torch.set_num_threads(1)
from lab.presets import preset
from widgets import TrainingPanel
config = preset("tiny").with_overrides({{"run.out_dir": {str(tmp_path)!r}, "run.total_steps": 10_000_000,
                                         "run.eval_every": 0, "env.max_episode_steps": 150}})
panel = TrainingPanel(config)
trainer = panel.start()
print(trainer.run_dir)
""").strip())
        # the kernel is idle now; the panel's timer keeps sending widget updates
        deadline, comm_msgs = time.monotonic() + 60, 0
        while comm_msgs <= 5 and time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=0.5)
            except queue.Empty:
                continue
            comm_msgs += msg["msg_type"] == "comm_msg"
        assert comm_msgs > 5
        ticks = "import json; print(json.dumps([panel._ticker.ticks, trainer.state]))"
        assert _wait_for(lambda: json.loads(run(ticks))[0] > 3)  # the timer ticks between cells
        assert json.loads(run(ticks))[1] == "running"

        # interrupting an idle kernel: ipykernel would ignore it; the panel stops training
        assert _wait_for(lambda: last_state(run_dir) == "running")
        km.interrupt_kernel()
        assert _wait_for(lambda: last_state(run_dir) == "stopped")
        assert state() == ["stopped", True, "the kernel was interrupted"]

        # interrupting a cell that waits for the run: wait() stops it before re-raising
        msg_id = kc.execute("panel.start(); print('waiting', flush=True); panel.wait()")
        collect(msg_id, until_text="waiting")
        km.interrupt_kernel()
        assert collect(msg_id)[1] == "KeyboardInterrupt"
        # the interrupt may land inside wait() or just before it; either way the run stops the same way
        assert state() == ["stopped", True, "the kernel was interrupted"]

        # interrupting any other cell while training runs in the background
        msg_id = kc.execute("panel.start(); print('sleeping', flush=True); import time; time.sleep(60)")
        collect(msg_id, until_text="sleeping")
        km.interrupt_kernel()
        assert collect(msg_id)[1] == "KeyboardInterrupt"
        assert state() == ["stopped", True, "the kernel was interrupted"]

        # shutting the kernel down (closing the notebook with "Shut Down Kernel", or a restart)
        runs_before = sum(row["state"] == "running" for row in states(run_dir))
        assert Path(run("panel.start(); print(panel.trainer.run_dir)").strip()) == run_dir
        assert _wait_for(lambda: sum(row["state"] == "running" for row in states(run_dir)) > runs_before)
        km.shutdown_kernel(now=False)
        last = states(run_dir)[-1]
        assert last["state"] == "stopped" and Path(last["checkpoint"]).exists()
    finally:
        kc.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


@pytest.mark.slow
@pytest.mark.parametrize("agents", [1, 2])
def test_panel_overhead_benchmark_runs_both_arms(agents):
    from widgets.bench import panel_overhead

    result = panel_overhead(steps=400, repeats=1, agents=agents)
    arms = {run["panel"]: run for run in result["runs"]}
    assert result["agents"] == agents
    assert result["ratio"] == pytest.approx(1.0 - arms[True]["panel_cpu_share"], abs=1e-4)  # a share, not a time
    assert 0.0 < result["ratio"] <= 1.0 and arms[False]["panel_cpu_share"] >= 0.0
    assert arms[True]["steps"] == arms[False]["steps"] >= 400 * agents
    assert arms[True]["flushes"] >= 1 and arms[True]["subscriber_calls"] > 0
