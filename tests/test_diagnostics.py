"""DiagnosticsTracker and TensorBoardLogger, fed the trainer's own event types."""

from __future__ import annotations

import gc
import sys
import threading
import weakref

import numpy as np
import pytest
import scripted

from lab.analysis import BehaviorAnalyzer, BehaviorReport, DiagnosticsTracker, Outcome
from lab.analysis.diagnostics import BYTES_PER_EPISODE, moving_average
from lab.events import (
    CheckpointSaved,
    EpisodeEnded,
    Evaluated,
    EventBus,
    HyperparametersChanged,
    RunStateChanged,
    UpdateMetrics,
)
from lab.lander.behavior import BEHAVIOR_BIT, OUTCOMES


@pytest.fixture(scope="module")
def reports() -> dict[str, BehaviorReport]:
    """Real analyses: a heuristic landing, an unpowered crash, a hover that times out."""
    analyzer = BehaviorAnalyzer()
    flights = {"landed": scripted.fly(scripted.gym_heuristic, 0), "crashed": scripted.fly(scripted.no_thrust, 0),
               "hovered": scripted.fly(scripted.hold_altitude(0.8), 0)}
    return {name: analyzer.analyze_trajectory(f) for name, f in flights.items()}


def episode(i: int, raw: float, analysis: object = None, length: int = 200) -> EpisodeEnded:
    return EpisodeEnded(env_step=(i + 1) * length, episode=i, raw_return=raw, shaped_return=raw + 1.0, length=length,
                        success=raw >= 200, env_index=0, analysis=analysis)


def update(step: int, critic_loss: float = 1.0) -> UpdateMetrics:
    return UpdateMetrics(env_step=step, updates=step, critic_loss=critic_loss, actor_loss=-2.0, mean_q=3.0,
                         critic_grad_norm=0.5, actor_grad_norm=0.25, actor_lr=1e-3, critic_lr=1e-3, noise_scale=0.3,
                         per_beta=0.4, steps_per_second=500.0)


def test_episodes_and_window_counts(reports: dict[str, BehaviorReport]) -> None:
    tracker = DiagnosticsTracker(window=10)
    bus = EventBus()
    bus.subscribe(tracker)
    kinds = ["crashed"] * 12 + ["hovered"] * 8 + ["landed"] * 5  # windows: 10 crashed | 2 crashed 8 hovered | 5 landed
    for i, kind in enumerate(kinds):
        bus.publish(episode(i, {"crashed": -100.0, "hovered": -40.0, "landed": 250.0}[kind], reports[kind]))
    assert bus.errors == [] and tracker.episodes == 25

    counts = tracker.window_counts()
    assert counts["analyzed"].tolist() == [10, 10, 5]
    assert counts["last_episode"].tolist() == [9, 19, 24]
    assert counts["env_step"].tolist() == [2000, 4000, 5000]
    crash, hover, land = (OUTCOMES.index(reports[k].outcome) for k in ("crashed", "hovered", "landed"))
    assert counts["outcomes"][:, crash].tolist() == [10, 2, 0]
    assert counts["outcomes"][:, hover].tolist() == [0, 8, 0]
    assert counts["outcomes"][:, land].tolist() == [0, 0, 5]
    freefall = BEHAVIOR_BIT["FREEFALL"]
    assert counts["behaviors"][:, freefall].tolist() == [10, 2, 0]

    stats = tracker.behavior_statistics()
    assert stats["analyzed_episodes"] == 25 and stats["window"] == 10
    assert stats["outcome_totals"] == {reports["crashed"].outcome.value: 12, Outcome.TIMED_OUT_HOVERING.value: 8,
                                       reports["landed"].outcome.value: 5}
    second = stats["windows"][1]
    assert second["outcomes"] == {reports["crashed"].outcome.value: 0.2, "TIMED_OUT_HOVERING": 0.8}
    assert second["behaviors"]["FREEFALL"] == pytest.approx(0.2)
    assert stats["windows"][2]["behaviors"]["TOUCHED_DOWN_CLEAN"] == 1.0
    assert tracker.most_common_outcome() == reports["landed"].outcome.value  # the last 10: 5 hovered, 5 landed -> tie
    assert tracker.most_common_outcome(last=6) == reports["landed"].outcome.value

    cols = tracker.episode_columns()
    assert cols["outcome"].dtype == np.int8 and cols["behaviors"].dtype == np.uint32
    assert cols["shaped_return"][0] == pytest.approx(-99.0) and cols["success"].sum() == 5
    mask = int(cols["behaviors"][0])
    assert mask == reports["crashed"].behavior_mask and mask & (1 << freefall)


def test_episodes_without_analysis_count_but_have_no_outcome(reports: dict[str, BehaviorReport]) -> None:
    tracker = DiagnosticsTracker(window=4)
    for i in range(6):
        tracker(episode(i, 10.0 * i))
    tracker(episode(6, 70.0, reports["landed"].to_dict()))  # a dict works too (as read back from JSON)
    assert tracker.episodes == 7
    assert tracker.window_counts()["analyzed"].tolist() == [0, 1]
    assert tracker.episode_columns()["outcome"].tolist() == [-1] * 6 + [OUTCOMES.index(reports["landed"].outcome)]
    assert tracker.most_common_outcome(last=3) == reports["landed"].outcome.value
    assert DiagnosticsTracker().most_common_outcome() is None


def test_summary_totals_best_last_window_and_trend() -> None:
    rng = np.random.default_rng(0)
    tracker = DiagnosticsTracker(window=50)
    returns = np.linspace(-200, 250, 400) + rng.normal(0, 20, 400)
    for i, r in enumerate(returns):
        tracker(episode(i, float(r)))
    s = tracker.summary()
    assert s["episodes"] == 400 and s["env_step"] == 400 * 200
    assert s["returns"]["best_episode"] == pytest.approx(returns.max(), rel=1e-6)
    assert s["returns"]["best_episode_index"] == int(returns.argmax())
    assert s["returns"]["last_window_mean"] == pytest.approx(returns[-50:].mean(), rel=1e-5)
    assert s["returns"]["best_window_mean"] == pytest.approx(moving_average(returns, 50).max(), rel=1e-5)
    assert s["success"]["total"] == int((returns >= 200).sum())
    assert s["success"]["rate_last_window"] == pytest.approx((returns[-50:] >= 200).mean())
    assert s["trend"]["direction"] == "improving"

    falling = DiagnosticsTracker(window=50)
    for i, r in enumerate(returns[::-1]):
        falling(episode(i, float(r)))
    assert falling.summary()["trend"]["direction"] == "declining"
    flat = DiagnosticsTracker(window=50)
    for i, r in enumerate(rng.normal(0, 20, 200)):
        flat(episode(i, float(r)))
    assert flat.summary()["trend"]["direction"] == "flat"
    assert DiagnosticsTracker().summary()["episodes"] == 0


def test_learner_evaluations_changes_and_states_are_recorded() -> None:
    tracker = DiagnosticsTracker()
    for step in (1000, 2000, 3000):
        tracker(update(step, critic_loss=10.0 / step))
    tracker(Evaluated(env_step=2000, mean_return=-50.0, std_return=5.0, success_rate=0.0, returns=(-50.0,),
                      lengths=(300,), outcomes={"CRASHED_TILTED": 1}, seconds=0.5))
    tracker(Evaluated(env_step=3000, mean_return=230.0, std_return=5.0, success_rate=1.0, returns=(230.0,),
                      lengths=(250,), outcomes={"LANDED_SOFTLY": 1}, seconds=0.5))
    tracker(HyperparametersChanged(env_step=1500, changes={"actor_lr": (1e-3, 3e-4)}))
    tracker(RunStateChanged(env_step=3000, state="finished"))
    tracker(CheckpointSaved(env_step=3000, path="x.pt"))
    for unknown in (object(), "text", 3, None):
        tracker(unknown)  # ignored, not an error

    updates = tracker.update_columns()
    assert updates["env_step"].tolist() == [1000, 2000, 3000]
    assert updates["critic_loss"][-1] == pytest.approx(10.0 / 3000) and updates["per_beta"][0] == 0.4
    assert [e["env_step"] for e in tracker.evaluations] == [2000, 3000]
    assert tracker.hyperparameter_changes == [{"env_step": 1500, "changes": {"actor_lr": [1e-3, 3e-4]}}]
    assert tracker.checkpoints == 1
    s = tracker.summary()
    assert s["evaluations"]["best"]["mean_return"] == 230.0 and s["evaluations"]["solved_at_step"] == 3000
    assert s["training"]["last"]["mean_q"] == 3.0 and s["state"] == "finished"
    assert s["hyperparameter_changes"] == 1


def test_per_episode_state_is_small_and_keeps_no_objects(reports: dict[str, BehaviorReport]) -> None:
    assert BYTES_PER_EPISODE <= 40
    tracker = DiagnosticsTracker(window=100)
    for i in range(20_000):
        tracker.record_episode(i, float(i % 300), outcome=Outcome.LANDED_SOFTLY, behaviors=("SMOOTH_THRUST",))
    assert tracker.nbytes / tracker.episodes <= 100  # growth slack and window counts included

    report = BehaviorAnalyzer().analyze_trajectory(scripted.fly(scripted.no_thrust, 1))
    ref = weakref.ref(report)
    tracker(episode(20_000, -100.0, report))
    del report
    gc.collect()
    assert ref() is None  # the tracker kept no reference to the report
    assert tracker.episode_columns()["outcome"][-1] == OUTCOMES.index(Outcome.CRASHED_HIGH_VELOCITY)


def test_reading_while_recording_from_another_thread(reports: dict[str, BehaviorReport]) -> None:
    tracker = DiagnosticsTracker(window=10)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for i in range(3000):
                tracker(episode(i, float(i), reports["hovered"]))
        except BaseException as exc:  # noqa: BLE001 - surface it in the main thread
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    while writer.is_alive():
        tracker.summary()
        tracker.behavior_statistics()
    writer.join()
    assert errors == []
    assert tracker.episodes == 3000 and int(tracker.window_counts()["analyzed"].sum()) == 3000


def test_window_must_be_positive() -> None:
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="window"):
            DiagnosticsTracker(window=bad)


# ---- TensorBoard ----------------------------------------------------------------------------------------
def test_tensorboard_logger_writes_the_same_metrics(tmp_path, reports: dict[str, BehaviorReport]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from lab.analysis.tensorboard import TensorBoardLogger

    logger = TensorBoardLogger(tmp_path / "tb", window=10, mix_every=2)
    for i in range(4):
        logger(episode(i, 100.0 + i, reports["landed" if i % 2 else "crashed"]))
    logger(update(800))
    logger(Evaluated(env_step=800, mean_return=150.0, std_return=3.0, success_rate=0.5, returns=(147.0, 153.0),
                     lengths=(200, 210), outcomes={"LANDED_SOFTLY": 1, "CRASHED_TILTED": 1}))
    logger(HyperparametersChanged(env_step=800, changes={"actor_lr": (1e-3, 5e-4)}))
    logger(RunStateChanged(env_step=800, state="finished"))
    logger(object())
    logger.close()

    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    assert [e.value for e in acc.Scalars("episode/raw_return")] == [100.0, 101.0, 102.0, 103.0]
    assert [e.step for e in acc.Scalars("episode/raw_return")] == [200, 400, 600, 800]
    assert acc.Scalars(f"outcomes/{reports['landed'].outcome.value}")[-1].value == 0.5
    assert acc.Scalars("behaviors/FREEFALL")[-1].value == 0.5
    assert acc.Scalars("train/critic_loss")[0].value == 1.0
    assert acc.Scalars("eval/outcomes/LANDED_SOFTLY")[0].value == 0.5
    assert acc.Scalars("hyperparameters/actor_lr")[0].value == pytest.approx(5e-4)
    assert {"eval/mean_return", "eval/success_rate", "episode/success", "train/mean_q"} <= scalars


def test_tensorboard_missing_is_a_clear_error(tmp_path, monkeypatch) -> None:
    from lab.analysis.tensorboard import TensorBoardLogger

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    with pytest.raises(ImportError, match="pip install tensorboard"):
        TensorBoardLogger(tmp_path / "tb")
