"""Headless tests of the notebook lab: the panel, its charts, the episode viewer, the kernel hooks.

Outside a kernel nothing redraws on its own, so the tests call ``panel.tick()`` /
``charts.flush()`` where the kernel's event loop would. One test starts a real
ipykernel to check the parts that only exist there: the redraw timer, and stopping
training with a checkpoint on interrupt and on shutdown.
"""

from __future__ import annotations

import json
import math
import queue
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lab.config import Config, ConfigError, bounds_of
from lab.events import EpisodeEnded, Evaluated, HyperparametersChanged, RunStateChanged, UpdateMetrics
from lab.train.live import LIVE_NAMES, validate_changes
from lab.train.population import AgentEvent
from lab.train.trainer import Trainer
from widgets.charts import BoundedSeries, LiveCharts
from widgets.compare_charts import CompareCharts
from widgets.compare_panel import ComparePanel
from widgets.controls import SPECS, TABS, ControlSet, engine_bounds
from widgets.panel import TrainingPanel

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


# ---- building -----------------------------------------------------------------------------------
def test_panel_builds_from_a_preset_with_every_tab_and_control(panel_factory):
    panel = panel_factory("tiny")
    titles = [panel.tabs.get_title(i) for i in range(len(TABS))]
    assert titles[:4] == ["Learning", "Exploration", "Replay", "Shaping"]
    assert titles[4:] == ["Network (applies on restart)", "Run (applies on restart)"]
    assert set(panel.controls.widgets) == {s.name for s in SPECS}
    assert type(panel.controls.widgets["actor_lr"]).__name__ == "FloatLogSlider"
    assert panel.controls.widgets["actor_lr"].value == pytest.approx(1e-3)
    assert panel.controls.widgets["actor_hidden"].value == "32-32"  # the tiny preset's network
    assert set(panel.buttons) == {"start", "pause", "stop", "save", "evaluate", "reset", "export"}
    assert panel.trainer is None and "idle" in panel.status.value
    for name in ("actor_lr", "tau", "sigma", "per_alpha", "per_beta", "noise_scale", "reward_shaping"):
        assert next(s for s in SPECS if s.name == name).live
    for name in ("actor_hidden", "layer_norm", "num_envs", "seed", "total_steps", "use_per", "kind"):
        assert not next(s for s in SPECS if s.name == name).live


def test_no_control_can_hold_a_value_the_engine_refuses():
    config = Config()
    panel_widgets = ControlSet.build(config).widgets
    for spec in SPECS:
        widget = panel_widgets[spec.name]
        if hasattr(widget, "min") and hasattr(widget, "max"):
            ends = [widget.min, widget.max]
            if type(widget).__name__ == "FloatLogSlider":
                ends = [10 ** widget.min, 10 ** widget.max]
        elif hasattr(widget, "options"):
            ends = list(widget.options)
        else:
            ends = [True, False]
        for end in ends:
            value = [int(v) for v in end.split("-")] if spec.kind == "sizes" else end
            if spec.field is None:
                validate_changes(config, {spec.name: value})
            else:
                config.with_overrides({spec.field: value})
        rng = engine_bounds(spec.key)
        if rng.kind in ("number", "integer") and hasattr(widget, "max"):
            low, high = (10 ** widget.min, 10 ** widget.max) if spec.kind == "log" else (widget.min, widget.max)
            assert low in rng and high in rng, spec.name


def test_the_live_controls_are_the_live_hyperparameters_and_their_ranges_are_the_config_bounds():
    assert {s.name for s in SPECS if s.live} == set(LIVE_NAMES)
    for tab in TABS:  # within a tab, live controls keep lab.train.live' order
        live = [s.name for s in SPECS if s.tab == tab and s.live]
        assert live == [n for n in LIVE_NAMES if n in live]
    actor_lr = next(s for s in SPECS if s.name == "actor_lr")
    assert actor_lr.kind == "log" and (actor_lr.low, actor_lr.high) == bounds_of("training.actor_lr").typical
    policy_delay = next(s for s in SPECS if s.name == "policy_delay")
    assert policy_delay.kind == "int" and policy_delay.bounds == bounds_of("policy_delay")
    import widgets.controls

    assert not hasattr(widgets.controls, "re"), "slider ranges must not be parsed out of error messages"


def test_batch_sizes_above_the_replay_capacity_are_not_offered(panel_factory, tiny_config):
    panel = panel_factory(tiny_config.with_overrides({"training.buffer_size": 300, "training.batch_size": 32}))
    assert max(panel.controls.widgets["batch_size"].options) <= 300


# ---- live changes ------------------------------------------------------------------------------
def test_moving_a_slider_changes_the_running_trainer_and_marks_the_charts(panel_factory, long_config):
    panel = panel_factory(long_config)
    trainer = panel.start()
    assert _wait_for(lambda: trainer.agent.updates > 5)
    panel.controls.widgets["sigma"].value = 0.45
    panel.controls.widgets["actor_lr"].value = 3e-4
    panel.controls.widgets["reward_shaping"].value = True
    assert _wait_for(lambda: trainer.hyperparameters()["sigma"] == pytest.approx(0.45)
                     and trainer.hyperparameters()["actor_lr"] == pytest.approx(3e-4)
                     and trainer.hyperparameters()["reward_shaping"] is True)
    assert trainer.noise.sigma == pytest.approx(0.45)
    # the optimizer takes the new rate at the trainer's next update, which a busy machine may not have reached yet
    assert _wait_for(lambda: trainer.agent.actor_opt.param_groups[0]["lr"] == pytest.approx(3e-4))
    assert _wait_for(lambda: len(panel.charts.changes) >= 3, tick=panel.tick)
    step = panel.charts.changes[0][0]
    panel.tick(force=True)
    marker_steps = {s.x0 for s in panel.figure.layout.shapes if s.line.dash == "dot"}
    assert step in marker_steps
    assert "sigma" in panel.readout.value and ">0.45<" in panel.readout.value
    assert panel.errors == []
    panel.stop(wait=True)


def test_schedule_overrides_set_before_start_reach_the_new_trainer(panel_factory, long_config):
    panel = panel_factory(long_config)
    panel.controls.widgets["noise_scale"].value = 0.25
    trainer = panel.start()
    assert trainer.hyperparameters()["noise_scale"] == pytest.approx(0.25)
    panel.stop(wait=True)


def test_a_refused_value_shows_an_error_and_the_control_snaps_back(panel_factory, long_config, monkeypatch):
    panel = panel_factory(long_config)
    trainer = panel.start()
    with pytest.raises(ConfigError, match=r"noise.sigma=9.0 is invalid"):
        panel.set("sigma", 9.0)
    assert panel.controls.widgets["sigma"].value == pytest.approx(long_config.noise.sigma)

    def refuse(**changes):  # the engine refusing a value the slider allows (e.g. after a config race)
        validate_changes(trainer.config, {"tau": 2.0})

    monkeypatch.setattr(trainer, "update_hyperparameters", refuse)
    before = panel.controls.widgets["tau"].value
    panel.controls.widgets["tau"].value = 0.05
    assert any("training.tau=2.0 is invalid" in e for e in panel.errors)
    assert "training.tau=2.0 is invalid" in panel.error_box.value
    assert panel.controls.widgets["tau"].value == pytest.approx(before)
    assert trainer.config.training.tau == pytest.approx(long_config.training.tau)
    panel.stop(wait=True)


def test_a_change_refused_between_steps_snaps_the_slider_back(panel_factory, long_config, monkeypatch):
    import lab.events
    import widgets.panel_model as panel_model

    @dataclass(frozen=True)
    class RefusedStandIn:  # the engine's HyperparametersRefused interface, until it lands in lab.events
        env_step: int
        changes: dict
        reason: str

    refused = getattr(lab.events, "HyperparametersRefused", None) or RefusedStandIn
    monkeypatch.setattr(panel_model, "REFUSED_EVENT", refused)
    panel = panel_factory(long_config)
    trainer = panel.start()
    panel.pause()
    panel.controls.widgets["sigma"].value = 0.45
    assert _wait_for(lambda: trainer.hyperparameters()["sigma"] == pytest.approx(0.45))
    # the panel's state after a later move to 0.8 that the engine then refused between steps
    panel.model.config = panel.config.with_overrides({"noise.sigma": 0.8})
    panel._set_widget(next(s for s in SPECS if s.name == "sigma"), 0.8)
    trainer.events.publish(refused(env_step=trainer.env_step, changes={"sigma": 0.8}, reason="refused for a test"))
    panel.tick(force=True)
    assert panel.controls.widgets["sigma"].value == pytest.approx(0.45) and panel.config.noise.sigma == 0.45
    assert "sigma=0.8: refused for a test" in panel.error_box.value
    panel.stop(wait=True)


def test_a_crash_in_the_training_thread_shows_in_the_panel(panel_factory, long_config, tmp_path):
    from lab.train.trainer import Trainer

    trainer = Trainer(long_config, run_dir=tmp_path / "run")

    def explode(*_, **__):
        raise RuntimeError("simulated learner crash")

    trainer.agent.update = explode
    panel = panel_factory(trainer)
    assert panel.start() is trainer
    assert _wait_for(lambda: not trainer.running)
    panel.tick(force=True)
    assert trainer.state == "failed"
    assert "simulated learner crash" in panel.error_box.value
    assert "failed" in panel.status.value
    assert trainer.checkpoint_path.exists()


# ---- buttons -----------------------------------------------------------------------------------
def test_start_pause_resume_save_evaluate_and_stop_buttons(panel_factory, long_config):
    panel = panel_factory(long_config)
    panel.buttons["start"].click()
    trainer = panel.trainer
    assert trainer is not None and trainer.running and panel.buttons["start"].disabled
    states: list[RunStateChanged] = []
    trainer.events.subscribe(states.append, RunStateChanged)
    assert _wait_for(lambda: trainer.env_step > 100)

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
    assert trainer.checkpoint_path.exists()

    panel.buttons["evaluate"].click()
    assert _wait_for(lambda: any(m.startswith("evaluation: mean return") for m in panel.messages), tick=panel.tick)
    assert _wait_for(lambda: panel.charts.point_counts()["eval"] >= 1, tick=panel.tick)

    panel.buttons["stop"].click()
    assert _wait_for(lambda: not trainer.running)
    panel.tick(force=True)
    assert trainer.state == "stopped" and trainer.checkpoint_path.exists()
    assert "stopped" in panel.status.value and not panel.buttons["start"].disabled
    assert f"checkpoint {trainer.checkpoint_path}" in panel.status.value
    assert panel.errors == []


def test_status_line_reports_progress(panel_factory, tiny_config):
    panel = panel_factory(tiny_config)
    panel.start()
    summary = panel.wait(timeout=120)
    assert summary["state"] == "finished"
    text = panel.status.value
    assert "finished" in text and f"step {summary['env_step']:,} / 600" in text
    assert f"episode {summary['episodes']}" in text and "steps/s" in text and "ETA" in text
    assert "most common outcome" in text and panel.run_status.most_common_outcome in text


def test_reset_to_preset_and_export_config(panel_factory, tiny_config, tmp_path):
    panel = panel_factory(tiny_config)
    panel.controls.widgets["sigma"].value = 0.7
    panel.controls.widgets["layer_norm"].value = True
    assert panel.config.noise.sigma == pytest.approx(0.7) and panel.config.network.layer_norm
    path = panel.export_config(tmp_path / "mine.yaml")
    assert Config.load(path) == panel.config
    assert "sigma: 0.7" in panel.export_box.value
    panel.buttons["reset"].click()
    assert panel.config == tiny_config
    assert panel.controls.widgets["sigma"].value == pytest.approx(tiny_config.noise.sigma)
    assert panel.controls.widgets["layer_norm"].value is False


def test_a_restart_setting_waits_for_the_next_run(panel_factory, long_config):
    panel = panel_factory(long_config)
    first = panel.start()
    assert _wait_for(lambda: first.env_step > 50)
    panel.controls.widgets["actor_hidden"].value = "64-64"
    assert "applies on restart" in panel.controls.badges["actor_hidden"].value
    assert first.config.network.actor_hidden == (32, 32)
    panel.stop(wait=True)
    second = panel.start()
    assert second is not first and second.config.network.actor_hidden == (64, 64)
    assert panel.controls.badges["actor_hidden"].value == ""
    panel.stop(wait=True)


# ---- charts ------------------------------------------------------------------------------------
def test_chart_traces_grow_as_events_arrive():
    charts = LiveCharts(min_interval=0.0)
    for k in range(5):
        charts(_episode(k))
    charts(UpdateMetrics(50, 10, 1.0, -2.0, 3.0, 0.1, 0.2, 1e-3, 1e-3, 0.5, 0.4, 100.0))
    charts(Evaluated(env_step=50, mean_return=12.0, std_return=3.0, success_rate=0.5, returns=(9.0, 15.0),
                     lengths=(100, 120), outcomes={"LANDED_SOFTLY": 1}))
    assert charts.flush()
    counts = charts.point_counts()
    assert counts["raw"] == 5 and counts["raw_ma"] == 5 and counts["shaped_ma"] == 5
    assert counts["critic_loss"] == counts["mean_q"] == counts["noise_scale"] == 1
    assert counts["eval"] == counts["eval_success"] == 1
    assert counts["LANDED_SOFTLY"] == counts["CRASHED_TILTED"] == 5  # one stacked row per episode
    assert list(charts._traces["LANDED_SOFTLY"].y) == [100.0] * 5
    assert charts._traces["LANDED_SOFTLY"].showlegend and not charts._traces["CRASHED_TILTED"].showlegend
    assert not charts.flush()  # nothing new: nothing redrawn
    for k in range(5, 12):
        charts(_episode(k, outcome="CRASHED_TILTED"))
    assert charts.flush()
    assert charts.point_counts()["raw"] == 12
    assert charts._traces["CRASHED_TILTED"].y[-1] == pytest.approx(100 * 7 / 12)  # of the last 20 episodes
    raw_ma = charts._traces["raw_ma"].y
    assert raw_ma[-1] == pytest.approx(np.mean(np.arange(12)))
    assert charts._traces["eval"].y[0] == 12.0 and charts._traces["eval_success"].y[0] == 50.0


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
            charts(UpdateMetrics(10 * k, k, 1.0, -2.0, 3.0, 0.1, 0.2, 1e-3, 1e-3, 0.5, 0.4, 100.0))
    charts.flush()
    counts = charts.point_counts()
    assert max(counts.values()) <= 60
    assert counts["raw"] >= 30
    x = charts._traces["raw"].x
    assert x[0] == 0 and x[-1] == 10 * 19_999 and np.all(np.diff(x) > 0)
    # the moving mean was computed on every episode, not on the thinned points
    assert charts._traces["raw_ma"].y[-1] == pytest.approx(np.mean(np.arange(20_000 - 50, 20_000)))


def test_bounded_series_thins_old_rows_and_keeps_recent_ones():
    series = BoundedSeries(1, max_points=16)
    for k in range(1_000):
        series.append((k,))
        assert series.size <= 16
    rows = series.snapshot()[:, 0]
    assert rows[-1] == 999 and np.all(np.diff(rows) > 0)
    assert np.all(np.diff(rows[-8:]) == 1)  # the recent half at full resolution
    assert series.appended == 1_000


def test_hyperparameter_changes_become_markers():
    charts = LiveCharts(min_interval=0.0)
    charts(HyperparametersChanged(env_step=1234, changes={"sigma": (0.1, 0.4)}))
    charts.flush()
    shapes = [s for s in charts.figure.layout.shapes if s.x0 == 1234]
    assert len(shapes) == 8  # one line in every chart
    assert any("sigma 0.1→0.4" in (a.hovertext or "") for a in charts.figure.layout.annotations)


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
def test_panel_overhead_benchmark_runs_both_arms():
    from widgets.bench import panel_overhead

    result = panel_overhead(steps=400, repeats=1)
    arms = {run["panel"]: run for run in result["runs"]}
    assert result["ratio"] == pytest.approx(1.0 - arms[True]["panel_cpu_share"], abs=1e-4)  # a share, not a time
    assert 0.0 < result["ratio"] <= 1.0 and arms[False]["panel_cpu_share"] >= 0.0
    assert arms[True]["steps"] == arms[False]["steps"] >= 400
    assert arms[True]["flushes"] >= 1 and arms[True]["subscriber_calls"] > 0


# ---- the A/B panel and the latest clip ------------------------------------------------------------
def test_the_success_line_comes_from_the_lander_module():
    from lab.lander import SUCCESS_RETURN

    assert LiveCharts().success_threshold == SUCCESS_RETURN
    assert CompareCharts(2).success_threshold == SUCCESS_RETURN


def test_agents_picks_the_ab_panel_and_one_agent_keeps_the_single_panel(panel_factory, long_config):
    single = panel_factory(long_config, agents=1)
    assert type(single) is TrainingPanel and single.model.trainer is None
    ab = panel_factory(long_config, agents=3)
    assert isinstance(ab, ComparePanel) and ab.model.agents == 3
    assert [label for label, _ in ab.selector.options] == ["All agents", "A (seed 0)", "B (seed 1)", "C (seed 2)"]
    with pytest.raises(ConfigError, match=r"agents=0 is invalid"):
        TrainingPanel(long_config, agents=0)
    trainer = Trainer(long_config, log_to_disk=False)
    try:
        with pytest.raises(ConfigError, match=r"agents=2 trains a new population: give a preset name"):
            TrainingPanel(trainer, agents=2)
    finally:
        trainer.close()


def test_compare_charts_draw_one_line_and_one_outcome_bar_per_agent():
    charts = CompareCharts(2, seeds=[7, 8], window=2, outcome_window=2)
    for k in range(1, 4):
        charts(AgentEvent(0, 7, _episode(k, "LANDED_SOFTLY", ret=250.0)))
        charts(AgentEvent(1, 8, _episode(k, "CRASHED_SPINNING", ret=-100.0)))
    charts(AgentEvent(1, 8, Evaluated(env_step=30, mean_return=-90.0, std_return=1.0, success_rate=0.0,
                                      returns=(-90.0,), lengths=(10,), outcomes=("CRASHED_SPINNING",))))
    charts(AgentEvent(1, 8, HyperparametersChanged(env_step=20, changes={"sigma": (0.2, 0.5)})))
    assert charts.flush(force=True)
    counts = charts.point_counts()
    assert counts[("return", 0)] == 3 and counts[("return", 1)] == 3
    assert counts[("eval", 0)] == 0 and counts[("eval", 1)] == 1
    assert list(charts._traces[("success", 0)].y) == [100.0, 100.0, 100.0]
    assert list(charts._traces[("return", 1)].y) == [-100.0, -100.0, -100.0]
    assert charts.outcome_shares() == {"LANDED_SOFTLY": [100.0, 0.0], "CRASHED_SPINNING": [0.0, 100.0]}
    assert [t.name for t in charts.figure.data if t.showlegend and t.type == "scatter"] == ["A (seed 7)",
                                                                                            "B (seed 8)"]
    assert charts._traces[("return", 0)].line.color != charts._traces[("return", 1)].line.color
    assert charts.changes == [(1, 20, "sigma 0.2→0.5")]
    assert any("B step 20" in (a.hovertext or "") for a in charts.figure.layout.annotations)


def test_the_ab_panel_trains_agents_side_by_side_and_a_slider_changes_only_the_selected_one(panel_factory,
                                                                                            long_config):
    panel = panel_factory(long_config, agents=2)
    panel.start()
    assert _wait_for(lambda: all(panel.charts.point_counts()[("return", k)] > 0 for k in (0, 1)), tick=panel.tick)
    base_sigma = long_config.noise.sigma
    panel.set("sigma", 0.55, agent=1)
    assert panel.selector.value == 1 and panel.controls.widgets["sigma"].value == pytest.approx(0.55)
    population = panel.population
    assert _wait_for(lambda: population.hyperparameters(1)["sigma"] == pytest.approx(0.55), tick=panel.tick)
    assert population.hyperparameters(0)["sigma"] == base_sigma
    panel.tick(force=True)
    assert "data-name='sigma' data-agent='1'>0.55<" in panel.readout.value
    assert f"data-name='sigma' data-agent='0'>{base_sigma:.4g}<" in panel.readout.value
    panel.selector.value = 0  # the controls show the selected agent's values
    assert panel.controls.widgets["sigma"].value == pytest.approx(base_sigma)
    batch = panel.controls.widgets["batch_size"]
    batch.value = 64  # one agent cannot change what the population shares: an error, and the control snaps back
    assert panel.errors and "batch_size is shared by every agent" in panel.errors[-1]
    assert batch.value == long_config.training.batch_size
    assert panel.status.value.count("most common outcome") == 2 and "running" in panel.status.value
    panel.stop(wait=True)
    panel.tick(force=True)
    assert "stopped" in panel.status.value


def test_the_panel_shows_the_latest_evaluation_clip_beside_the_charts(panel_factory, tiny_config):
    config = tiny_config.with_overrides({"run.total_steps": 400, "run.eval_every": 200, "run.eval_episodes": 1})
    panel = panel_factory(config)
    assert panel.clip_image.layout.display == "none"
    panel.start()
    panel.wait(timeout=120)
    clips = sorted((panel.trainer.run_dir / "clips").glob("*.gif"))
    assert [p.name for p in clips] == ["step_000000200.gif", "step_000000400.gif"]
    assert panel.model.latest_clip.path == str(clips[-1])
    assert panel.clip_image.value == clips[-1].read_bytes() and panel.clip_image.value[:4] == b"GIF8"
    assert panel.clip_image.layout.display == "block"
    assert panel.model.latest_clip.caption in panel.clip_caption.value
    assert panel.model.latest_clip.caption.startswith("400 steps: ")


def test_a_panel_without_clips_records_none(panel_factory, tiny_config):
    config = tiny_config.with_overrides({"run.total_steps": 300, "run.eval_every": 200, "run.eval_episodes": 1})
    panel = panel_factory(config, clips=False)
    panel.start()
    panel.wait(timeout=120)
    assert panel.trainer.last_evaluation is not None and not (panel.trainer.run_dir / "clips").exists()
    assert panel.model.latest_clip is None and panel.clip_image.layout.display == "none"
