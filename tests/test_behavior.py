"""The behavior analyzer, judged on real episodes flown by scripted pilots in the real env."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable

import numpy as np
import pytest
import scripted

from lab import lander
from lab.analysis import Behavior, BehaviorAnalyzer, BehaviorReport, Outcome, Thresholds
from lab.events import Trajectory
from lab.lander.behavior import BEHAVIOR_BIT, BEHAVIORS, OUTCOME_CODE, OUTCOMES, behavior_mask

# name -> (pilot factory, seed). A fresh pilot per episode: some keep state.
CASES: dict[str, tuple[Callable[[], scripted.Pilot], int]] = {
    "heuristic_0": (lambda: scripted.gym_heuristic, 0),
    "heuristic_1": (lambda: scripted.gym_heuristic, 1),
    "heuristic_2": (lambda: scripted.gym_heuristic, 2),
    "heuristic_3": (lambda: scripted.gym_heuristic, 3),
    "no_thrust_0": (lambda: scripted.no_thrust, 0),
    "no_thrust_1": (lambda: scripted.no_thrust, 1),
    "no_thrust_2": (lambda: scripted.no_thrust, 2),
    "side_right_0": (lambda: scripted.full_side_thrust(1.0), 0),
    "side_right_1": (lambda: scripted.full_side_thrust(1.0), 1),
    "side_left_0": (lambda: scripted.full_side_thrust(-1.0), 0),
    "side_left_1": (lambda: scripted.full_side_thrust(-1.0), 1),
    "hover_0": (lambda: scripted.hold_altitude(0.8), 0),
    "hover_1": (lambda: scripted.hold_altitude(0.8), 1),
    "sink_slowly": (lambda: scripted.descend_at(0.3), 0),
    "climb_late": (lambda: scripted.hold_then_climb(0.4, 850, 0.6), 0),
    "full_main": (lambda: scripted.full_main_thrust, 0),
    "firm_landing": (lambda: scripted.descend_at(1.8), 0),
    "hop": (lambda: scripted.hop_after_touchdown(), 0),
    "slope_right": (lambda: scripted.descend_at(0.5, x_target=0.5), 0),
    "slope_right_tip": (lambda: scripted.descend_at(0.5, x_target=0.5), 1),
    "slope_left": (lambda: scripted.descend_at(0.5, x_target=-0.5), 0),
    "on_ground_at_time_limit": (lambda: scripted.descend_at(0.5, x_target=0.5), 2),
    "lean_right_late": (lambda: scripted.lean_near_ground(0.8, -0.6), 0),
    "skim_left": (lambda: scripted.skim(0.3), 0),
    "skim_right": (lambda: scripted.skim(-0.3), 0),
    "yo_yo": (lambda: scripted.yo_yo(), 0),
    "weave": (lambda: scripted.weave(), 0),
    "pulsed_main": (lambda: scripted.pulsed_main(), 0),
    "random": (lambda: scripted.random_actions(0), 0),
}


class Flights:
    """Flies each case once, on first use, and keeps it for the module."""

    def __init__(self) -> None:
        self._cache: dict[str, scripted.Flight] = {}

    def __getitem__(self, name: str) -> scripted.Flight:
        if name not in self._cache:
            factory, seed = CASES[name]
            self._cache[name] = scripted.fly(factory(), seed)
        return self._cache[name]


@pytest.fixture(scope="module")
def flights() -> Flights:
    return Flights()


@pytest.fixture(scope="module")
def analyzer() -> BehaviorAnalyzer:
    return BehaviorAnalyzer()


def analyze(analyzer: BehaviorAnalyzer, flight: scripted.Flight, rewards: bool = True) -> BehaviorReport:
    return analyzer.analyze(flight.observations, flight.actions, flight.terminated, flight.truncated,
                            flight.rewards if rewards else None)


def test_hover_throttle_balances_gravity(flights: Flights, analyzer: BehaviorAnalyzer) -> None:
    hover = flights["hover_0"]
    late = hover.observations[500:, 1] * lander.Y_M
    assert np.ptp(late) < 0.5  # the pilot really holds its height...
    assert analyze(analyzer, hover).main_thrust_ratio == pytest.approx(1.0, abs=0.05)  # ...on hover thrust


def test_fuel_is_what_the_env_charged(flights: Flights, analyzer: BehaviorAnalyzer) -> None:
    """Rewards are shaping differences minus fuel, so the fuel the env charged can be recovered from them."""
    def shaping(o: np.ndarray) -> float:
        o = o.astype(np.float64)
        return (-100 * np.hypot(o[0], o[1]) - 100 * np.hypot(o[2], o[3]) - 100 * abs(o[4]) + 10 * o[6] + 10 * o[7])

    flight = flights["hover_0"]  # no terminal +-100 replaces a reward
    charged = shaping(flight.observations[-1]) - shaping(flight.observations[0]) - flight.rewards.astype(float).sum()
    assert analyze(analyzer, flight).fuel_used == pytest.approx(charged, rel=1e-3)


# ---- the required cases ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["heuristic_0", "heuristic_1", "heuristic_2", "heuristic_3"])
def test_gymnasium_heuristic_lands(flights: Flights, analyzer: BehaviorAnalyzer, name: str) -> None:
    report = analyze(analyzer, flights[name])
    assert report.outcome.value.startswith("LANDED_")
    assert report.came_to_rest and report.touchdown_speed is not None
    assert Behavior.FREEFALL not in report.behaviors and Behavior.MAIN_THRUST_NONE not in report.behaviors


@pytest.mark.parametrize("name", ["no_thrust_0", "no_thrust_1", "no_thrust_2"])
def test_no_thrust_crashes_in_freefall(flights: Flights, analyzer: BehaviorAnalyzer, name: str) -> None:
    report = analyze(analyzer, flights[name])
    assert report.outcome.value.startswith("CRASHED_")
    assert {Behavior.FREEFALL, Behavior.MAIN_THRUST_NONE} <= set(report.behaviors)
    assert report.impact_speed is not None and report.impact_speed > 10  # fell about 9 m unbraked
    assert report.fuel_used == 0


@pytest.mark.parametrize("name", ["side_right_0", "side_right_1", "side_left_0", "side_left_1"])
def test_full_side_thrust_flies_off_or_spins_in(flights: Flights, analyzer: BehaviorAnalyzer, name: str) -> None:
    report = analyze(analyzer, flights[name])
    assert report.outcome in {Outcome.FLEW_OFF_LEFT, Outcome.FLEW_OFF_RIGHT, Outcome.CRASHED_SPINNING,
                              Outcome.CRASHED_SIDEWAYS}
    assert Behavior.SPINNING_UNCONTROLLED in report.behaviors


@pytest.mark.parametrize("name", ["hover_0", "hover_1"])
def test_holding_altitude_times_out_hovering(flights: Flights, analyzer: BehaviorAnalyzer, name: str) -> None:
    flight = flights[name]
    assert flight.truncated and len(flight.actions) == 1000
    report = analyze(analyzer, flight)
    assert report.outcome is Outcome.TIMED_OUT_HOVERING
    assert abs(report.final_vertical_speed) < Thresholds().hover_speed_mps


EVERY_OUTCOME = {
    Outcome.LANDED_PERFECTLY: "heuristic_0",
    Outcome.LANDED_SOFTLY: "slope_right",  # came to rest off the pad
    Outcome.LANDED_HARD: "firm_landing",
    Outcome.LANDED_TILTED: "slope_left",
    Outcome.CRASHED_HIGH_VELOCITY: "no_thrust_0",
    Outcome.CRASHED_SPINNING: "side_right_0",
    Outcome.CRASHED_SIDEWAYS: "lean_right_late",
    Outcome.CRASHED_TILTED: "slope_right_tip",
    Outcome.FLEW_OFF_LEFT: "skim_left",
    Outcome.FLEW_OFF_RIGHT: "skim_right",
    Outcome.FLEW_OFF_TOP: "full_main",
    Outcome.TIMED_OUT_HOVERING: "hover_0",
    Outcome.TIMED_OUT_DESCENDING: "sink_slowly",
    Outcome.TIMED_OUT_ASCENDING: "climb_late",
}


def test_every_outcome_has_a_case() -> None:
    assert set(EVERY_OUTCOME) == set(Outcome)


@pytest.mark.parametrize("outcome", list(EVERY_OUTCOME), ids=lambda o: o.value)
def test_each_outcome_from_a_real_flight(flights: Flights, analyzer: BehaviorAnalyzer, outcome: Outcome) -> None:
    assert analyze(analyzer, flights[EVERY_OUTCOME[outcome]]).outcome is outcome


@pytest.mark.parametrize("name", sorted(CASES))
def test_rewards_only_sharpen_the_same_verdict(flights: Flights, analyzer: BehaviorAnalyzer, name: str) -> None:
    """Without rewards, the analyzer infers rest from the physics and reaches the same verdict."""
    flight = flights[name]
    with_rewards, without = analyze(analyzer, flight), analyze(analyzer, flight, rewards=False)
    assert (without.outcome, without.behaviors) == (with_rewards.outcome, with_rewards.behaviors)
    assert with_rewards.came_to_rest == (flight.terminated and flight.rewards[-1] == 100)


# ---- what the figures say about each outcome --------------------------------------------------------------------
def test_landing_figures(flights: Flights, analyzer: BehaviorAnalyzer) -> None:
    t = Thresholds()
    perfect = analyze(analyzer, flights["heuristic_0"])
    assert perfect.on_pad and perfect.touchdown_sink_speed <= t.soft_touchdown_mps and perfect.bounces == 0
    hard = analyze(analyzer, flights["firm_landing"])
    assert hard.touchdown_sink_speed > t.soft_touchdown_mps and hard.came_to_rest
    tilted = analyze(analyzer, flights["slope_left"])
    assert abs(tilted.final_x) > t.pad_half_width_m  # it rested on a slope beside the pad
    soft = analyze(analyzer, flights["slope_right"])
    assert not soft.on_pad and soft.touchdown_sink_speed <= t.soft_touchdown_mps
    # 30 reward points of fuel is what gymnasium's own comment says the heuristic spends
    assert 15 < perfect.fuel_used < 45


def test_crash_figures(flights: Flights, analyzer: BehaviorAnalyzer) -> None:
    t = Thresholds()
    sideways = analyze(analyzer, flights["lean_right_late"])
    assert sideways.ended_by == "crash" and sideways.final_x > 0 and Behavior.SCRAPED_RIGHT_LEG in sideways.behaviors
    tipped = analyze(analyzer, flights["slope_right_tip"])
    assert tipped.impact_speed < t.crash_speed_mps and tipped.max_tilt >= t.crash_tilt_rad
    spinning = analyze(analyzer, flights["side_right_0"])
    assert spinning.max_spin_rate >= t.spin_rate_rad_s


def test_flew_off_figures(flights: Flights, analyzer: BehaviorAnalyzer) -> None:
    assert analyze(analyzer, flights["skim_left"]).final_x <= -lander.X_M
    assert analyze(analyzer, flights["skim_right"]).final_x >= lander.X_M
    top = analyze(analyzer, flights["full_main"])
    assert top.final_height >= Thresholds().flew_off_top_m and Behavior.MAIN_THRUST_HEAVY in top.behaviors


def test_standing_on_the_ground_at_the_time_limit_is_a_landing(flights: Flights, analyzer: BehaviorAnalyzer) -> None:
    """The side engines kept it awake, so the env timed it out; it had landed all the same."""
    flight = flights["on_ground_at_time_limit"]
    assert flight.truncated and not flight.terminated
    report = analyze(analyzer, flight)
    assert report.outcome.landed and report.ended_by == "on_ground" and not report.came_to_rest


def test_timeout_direction(flights: Flights, analyzer: BehaviorAnalyzer) -> None:
    assert analyze(analyzer, flights["sink_slowly"]).final_vertical_speed < -0.15
    assert analyze(analyzer, flights["climb_late"]).final_vertical_speed > 0.15


BEHAVIOR_CASES = [
    ("heuristic_0", Behavior.CONTROLLED_DESCENT),
    ("heuristic_0", Behavior.SMOOTH_THRUST),
    ("heuristic_0", Behavior.TOUCHED_DOWN_CLEAN),
    ("heuristic_0", Behavior.CONTROLLED_THROUGHOUT),
    ("heuristic_0", Behavior.MAIN_THRUST_MODERATE),
    ("heuristic_2", Behavior.STAYED_CENTERED),
    ("heuristic_2", Behavior.STAYED_UPRIGHT),
    ("no_thrust_0", Behavior.RAPID_DESCENT),
    ("no_thrust_0", Behavior.NEVER_STABILIZED),
    ("yo_yo", Behavior.YO_YO_PATTERN),
    ("weave", Behavior.HORIZONTAL_OSCILLATION),
    ("skim_left", Behavior.DRIFTED_LEFT),
    ("skim_right", Behavior.DRIFTED_RIGHT),
    ("slope_right", Behavior.HEAVY_LEFT_TILT),
    ("slope_right_tip", Behavior.HEAVY_RIGHT_TILT),
    ("full_main", Behavior.MAIN_THRUST_HEAVY),
    ("pulsed_main", Behavior.MAIN_THRUST_LIGHT),
    ("random", Behavior.ERRATIC_THRUST),
    ("hop", Behavior.BOUNCED),
    ("slope_right", Behavior.SCRAPED_LEFT_LEG),
    ("lean_right_late", Behavior.SCRAPED_RIGHT_LEG),
    ("lean_right_late", Behavior.LOST_CONTROL_LATE),
]


@pytest.mark.parametrize(("name", "behavior"), BEHAVIOR_CASES, ids=lambda v: getattr(v, "value", v))
def test_behavior_seen_in_real_flight(flights: Flights, analyzer: BehaviorAnalyzer, name: str,
                                      behavior: Behavior) -> None:
    assert behavior in analyze(analyzer, flights[name]).behaviors


def test_every_behavior_is_covered() -> None:
    covered = {b for _, b in BEHAVIOR_CASES} | {Behavior.FREEFALL, Behavior.MAIN_THRUST_NONE,
                                                Behavior.SPINNING_UNCONTROLLED}
    assert covered == set(Behavior)


@pytest.mark.parametrize("name", sorted(CASES))
def test_behaviors_are_consistent(flights: Flights, analyzer: BehaviorAnalyzer, name: str) -> None:
    found = set(analyze(analyzer, flights[name]).behaviors)
    thrust = {Behavior.MAIN_THRUST_HEAVY, Behavior.MAIN_THRUST_MODERATE, Behavior.MAIN_THRUST_LIGHT,
              Behavior.MAIN_THRUST_NONE}
    assert len(found & thrust) == 1
    for exclusive in ({Behavior.CONTROLLED_DESCENT, Behavior.RAPID_DESCENT},
                      {Behavior.CONTROLLED_DESCENT, Behavior.FREEFALL},
                      {Behavior.ERRATIC_THRUST, Behavior.SMOOTH_THRUST},
                      {Behavior.TOUCHED_DOWN_CLEAN, Behavior.BOUNCED},
                      {Behavior.STAYED_UPRIGHT, Behavior.HEAVY_LEFT_TILT},
                      {Behavior.STAYED_CENTERED, Behavior.DRIFTED_LEFT, Behavior.DRIFTED_RIGHT},
                      {Behavior.CONTROLLED_THROUGHOUT, Behavior.NEVER_STABILIZED, Behavior.LOST_CONTROL_LATE}):
        assert len(found & exclusive) <= 1, found & exclusive


# ---- the report object ------------------------------------------------------------------------------------
def test_report_serializes_and_reads(flights: Flights, analyzer: BehaviorAnalyzer) -> None:
    report = analyze(analyzer, flights["no_thrust_0"])
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["outcome"] == report.outcome.value and data["behaviors"] == [b.value for b in report.behaviors]
    assert data["touchdown_speed"] == pytest.approx(report.touchdown_speed)
    assert report.outcome.value in report.summary() and "FREEFALL" in report.summary()
    assert report.duration == pytest.approx(len(flights["no_thrust_0"].actions) / 50)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.outcome = Outcome.LANDED_SOFTLY  # type: ignore[misc]
    hover = analyze(analyzer, flights["hover_0"]).to_dict()
    assert hover["touchdown_speed"] is None and hover["impact_speed"] is None


def test_analyze_trajectory_event(flights: Flights, analyzer: BehaviorAnalyzer) -> None:
    flight = flights["heuristic_0"]
    trajectory = Trajectory(flight.observations, flight.actions, flight.rewards, flight.terminated, flight.truncated)
    assert analyzer.analyze_trajectory(trajectory) == analyze(analyzer, flight)


def test_labels_are_str_enums_with_compact_codes() -> None:
    assert all(o.value == o.name and isinstance(o, str) for o in Outcome)
    assert all(b.value == b.name and isinstance(b, str) for b in Behavior)
    assert len(OUTCOMES) == 14 and max(OUTCOME_CODE.values()) < 127
    assert len(BEHAVIORS) == 25 and max(BEHAVIOR_BIT.values()) < 32
    assert behavior_mask(["FREEFALL", Behavior.BOUNCED, "NOT_A_BEHAVIOR"]) == (
        1 << BEHAVIOR_BIT["FREEFALL"]) | (1 << BEHAVIOR_BIT["BOUNCED"])
    assert {o.family for o in Outcome} == {"landed", "crashed", "flew_off", "timed_out"}


# ---- thresholds live in one place -----------------------------------------------------------------------
def test_thresholds_steer_the_verdict(flights: Flights) -> None:
    flight = flights["heuristic_0"]
    strict = BehaviorAnalyzer(dataclasses.replace(Thresholds(), soft_touchdown_mps=0.3))
    assert analyze(strict, flight).outcome is Outcome.LANDED_HARD
    assert analyze(BehaviorAnalyzer(), flight).outcome is Outcome.LANDED_PERFECTLY


def test_every_threshold_is_documented() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(Thresholds))
    body = tree.body[0].body  # type: ignore[attr-defined]
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign):
            doc = body[i + 1] if i + 1 < len(body) else None
            assert isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant), node.target.id


@pytest.mark.parametrize("change", [{"crash_speed_mps": -1.0}, {"spin_rate_rad_s": math.nan},
                                    {"light_thrust_ratio": 2.0}, {"smooth_jerk": 0.9}])
def test_bad_thresholds_are_refused(change: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(change))):
        dataclasses.replace(Thresholds(), **change)


# ---- bad input ------------------------------------------------------------------------------------------
def _episode(steps: int = 5) -> tuple[np.ndarray, np.ndarray]:
    obs = np.zeros((steps + 1, 8), np.float32)
    obs[:, 1] = np.linspace(1.4, 1.0, steps + 1)
    return obs, np.zeros((steps, 2), np.float32)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda o, a: (o[:, :7], a, {}), r"observations must have shape \(T\+1, 8\).*\(6, 7\)"),
    (lambda o, a: (o[0], a, {}), r"observations must have shape"),
    (lambda o, a: (o, a[:-1], {}), r"actions must have shape \(5, 2\).*\(4, 2\)"),
    (lambda o, a: (o, a[:, :1], {}), r"actions must have shape"),
    (lambda o, a: (o[:1], a[:0], {}), r"episode is empty"),
    (lambda o, a: (np.zeros((0, 8)), a[:0], {}), r"episode is empty"),
    (lambda o, a: (np.where(np.arange(8) == 3, np.nan, o), a, {}), r"observations contains NaN.*\(0, 3\)"),
    (lambda o, a: (o, np.full_like(a, np.inf), {}), r"actions contains NaN or infinity"),
    (lambda o, a: (o, a, {"rewards": np.zeros(4)}), r"rewards must have shape \(5,\)"),
    (lambda o, a: (o, a, {"rewards": np.array([0, 0, 0, 0, np.nan])}), r"rewards contains NaN"),
    (lambda o, a: (o, a, {"terminated": False, "truncated": False}), r"has not ended"),
    (lambda o, a: (o, a, {"terminated": "yes"}), r"terminated must be a bool"),
    (lambda o, a: ("not numbers", a, {}), r"observations must be a numeric array"),
])
def test_bad_input_is_named(mutate: Callable, message: str) -> None:
    obs, act = _episode()
    obs, act, extra = mutate(obs, act)
    kwargs = {"terminated": False, "truncated": True, **extra}
    with pytest.raises(ValueError, match=message):
        BehaviorAnalyzer().analyze(obs, act, kwargs.pop("terminated"), kwargs.pop("truncated"), **kwargs)


def test_one_step_episode_is_analyzed() -> None:
    obs, act = _episode(1)
    report = BehaviorAnalyzer().analyze(obs, act, False, True)
    assert report.steps == 1 and report.outcome.family == "timed_out"


def test_benchmark_reports_time_per_episode() -> None:
    from lab.bench.analyzer import benchmark_analyzer

    result = benchmark_analyzer(episodes=5)
    assert result["steps_per_episode"] == 1000 and result["episodes"] == 5
    assert 0 < result["median_ms"] <= result["max_ms"]
    with pytest.raises(ValueError, match="episodes"):
        benchmark_analyzer(episodes=0)


def test_arbitrary_finite_input_never_breaks_the_analyzer() -> None:
    """Odd but valid episodes (one step, legs down from the start, wild values) still get exactly one outcome."""
    rng = np.random.default_rng(7)
    analyzer = BehaviorAnalyzer()
    for _ in range(300):
        steps = int(rng.integers(1, 60))
        obs = rng.normal(0, rng.choice([0.1, 1.0, 20.0]), size=(steps + 1, 8))
        obs[:, 6:] = rng.random((steps + 1, 2)) < rng.random()
        act = rng.uniform(-3, 3, size=(steps, 2))
        terminated = bool(rng.random() < 0.5)
        rewards = rng.choice([-100.0, 0.0, 100.0], size=steps) if rng.random() < 0.5 else None
        report = analyzer.analyze(obs, act, terminated, not terminated, rewards)
        assert isinstance(report.outcome, Outcome) and report.steps == steps
        assert len(set(report.behaviors)) == len(report.behaviors)
        json.dumps(report.to_dict(), allow_nan=False)
