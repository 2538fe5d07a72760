"""Why an episode ended the way it did: outcome, behaviors and the figures behind them.

``BehaviorAnalyzer().analyze(observations, actions, terminated, truncated, rewards)``
reads one finished LunarLander episode and names how it ended (one ``Outcome``) and
what the lander did on the way (any number of ``Behavior``). Every threshold lives in
``lab.lander.thresholds``, which also documents how the env scales its observation.

The analysis is a fixed number of numpy passes over the episode, with no Python loop
over steps, so it costs well under a millisecond for a 1,000-step episode
(``lab.bench.analyzer.benchmark_analyzer`` measures it) and the trainer can run it on
every episode.
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lab import lander
from lab.lander import ACT_DIM, OBS_DIM
from lab.lander.thresholds import Thresholds, steps


class Outcome(enum.StrEnum):
    """How an episode ended: exactly one per episode."""

    LANDED_PERFECTLY = "LANDED_PERFECTLY"
    LANDED_SOFTLY = "LANDED_SOFTLY"
    LANDED_HARD = "LANDED_HARD"
    LANDED_TILTED = "LANDED_TILTED"
    CRASHED_HIGH_VELOCITY = "CRASHED_HIGH_VELOCITY"
    CRASHED_SPINNING = "CRASHED_SPINNING"
    CRASHED_SIDEWAYS = "CRASHED_SIDEWAYS"
    CRASHED_TILTED = "CRASHED_TILTED"
    FLEW_OFF_LEFT = "FLEW_OFF_LEFT"
    FLEW_OFF_RIGHT = "FLEW_OFF_RIGHT"
    FLEW_OFF_TOP = "FLEW_OFF_TOP"
    TIMED_OUT_HOVERING = "TIMED_OUT_HOVERING"
    TIMED_OUT_DESCENDING = "TIMED_OUT_DESCENDING"
    TIMED_OUT_ASCENDING = "TIMED_OUT_ASCENDING"

    @property
    def family(self) -> str:
        """landed, crashed, flew_off or timed_out."""
        return _FAMILY[self.value.split("_", 1)[0]]

    @property
    def landed(self) -> bool:
        return self.value.startswith("LANDED")


_FAMILY = {"LANDED": "landed", "CRASHED": "crashed", "FLEW": "flew_off", "TIMED": "timed_out"}


class Behavior(enum.StrEnum):
    """What the lander did on the way: any number per episode."""

    # vertical
    CONTROLLED_DESCENT = "CONTROLLED_DESCENT"
    RAPID_DESCENT = "RAPID_DESCENT"
    FREEFALL = "FREEFALL"
    YO_YO_PATTERN = "YO_YO_PATTERN"
    # horizontal
    STAYED_CENTERED = "STAYED_CENTERED"
    DRIFTED_LEFT = "DRIFTED_LEFT"
    DRIFTED_RIGHT = "DRIFTED_RIGHT"
    HORIZONTAL_OSCILLATION = "HORIZONTAL_OSCILLATION"
    # orientation
    STAYED_UPRIGHT = "STAYED_UPRIGHT"
    HEAVY_LEFT_TILT = "HEAVY_LEFT_TILT"
    HEAVY_RIGHT_TILT = "HEAVY_RIGHT_TILT"
    SPINNING_UNCONTROLLED = "SPINNING_UNCONTROLLED"
    # thrust
    MAIN_THRUST_HEAVY = "MAIN_THRUST_HEAVY"
    MAIN_THRUST_MODERATE = "MAIN_THRUST_MODERATE"
    MAIN_THRUST_LIGHT = "MAIN_THRUST_LIGHT"
    MAIN_THRUST_NONE = "MAIN_THRUST_NONE"
    ERRATIC_THRUST = "ERRATIC_THRUST"
    SMOOTH_THRUST = "SMOOTH_THRUST"
    # contact
    TOUCHED_DOWN_CLEAN = "TOUCHED_DOWN_CLEAN"
    BOUNCED = "BOUNCED"
    SCRAPED_LEFT_LEG = "SCRAPED_LEFT_LEG"
    SCRAPED_RIGHT_LEG = "SCRAPED_RIGHT_LEG"
    # quality
    CONTROLLED_THROUGHOUT = "CONTROLLED_THROUGHOUT"
    NEVER_STABILIZED = "NEVER_STABILIZED"
    LOST_CONTROL_LATE = "LOST_CONTROL_LATE"


OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
BEHAVIORS: tuple[Behavior, ...] = tuple(Behavior)
OUTCOME_CODE: dict[str, int] = {o.value: i for i, o in enumerate(OUTCOMES)}
"""Outcome name -> small int, for compact per-episode storage (int8; -1 means unknown)."""
BEHAVIOR_BIT: dict[str, int] = {b.value: i for i, b in enumerate(BEHAVIORS)}
"""Behavior name -> bit index in a per-episode uint32 mask."""


def behavior_mask(behaviors: Any) -> int:
    """Bitmask of behavior names or enums; unknown names (from a newer lab) are ignored."""
    mask = 0
    for b in behaviors or ():
        bit = BEHAVIOR_BIT.get(b.value if isinstance(b, Behavior) else str(b))
        if bit is not None:
            mask |= 1 << bit
    return mask


@dataclass(frozen=True)
class BehaviorReport:
    """What happened in one episode: the outcome, the behaviors, and the figures behind them.

    Distances in metres, speeds in m/s, angles in radians, times in seconds, fuel in the
    env's reward points. A figure that does not apply (no touchdown, no crash) is None.
    """

    outcome: Outcome
    behaviors: list[Behavior]
    steps: int
    """Env steps in the episode."""
    ended_by: str
    """rest, crash, off_screen, time_limit, or on_ground (time limit while standing on its legs)."""
    touchdown_speed: float | None
    """Speed just before the first leg contact."""
    touchdown_sink_speed: float | None
    """Its downward part, which the legs must absorb: LANDED_HARD judges this."""
    touchdown_tilt: float | None
    """|tilt| at the first leg contact."""
    impact_speed: float | None
    """Crashes: the highest speed in the last moments before the body hit."""
    max_tilt: float
    """Largest |tilt|, wrapped to [0, pi], the crash impact excluded."""
    max_spin_rate: float
    """Largest |angular velocity|, the crash impact excluded."""
    fuel_used: float
    """Reward points the env charged for the engines (the heuristic lander spends about 30)."""
    main_engine_duty: float
    """Fraction of airborne steps on which the main engine fired."""
    main_thrust_ratio: float
    """Mean airborne main-engine power over the power that hovers (1.0 balances gravity)."""
    thrust_jerk: float
    """Mean |change of action| per step."""
    time_airborne: float
    """Seconds with no leg on the ground."""
    peak_descent_speed: float
    """Fastest sinking speed before the first ground contact or impact."""
    approach_speed: float
    """Fastest sinking speed in the approach window before the first ground contact (or the end)."""
    final_x: float
    """Metres right of the pad centre at the end."""
    final_height: float
    """Metres above the pad (0 = standing on it) at the end."""
    final_vertical_speed: float
    """Mean vertical speed over the trend window at the end (+ is up)."""
    bounces: int
    """Times the lander left the ground again after touching down."""
    vertical_reversals: int
    horizontal_reversals: int
    came_to_rest: bool
    """The env ended the episode because the lander fell asleep (the +100 ending)."""
    on_pad: bool
    """Ended within the helipad's x-span."""

    @property
    def duration(self) -> float:
        """Seconds of simulated flight."""
        return self.steps * lander.DT

    @property
    def landed(self) -> bool:
        return self.outcome.landed

    @property
    def behavior_mask(self) -> int:
        return behavior_mask(self.behaviors)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: enum names as strings, non-finite numbers as None."""
        data = asdict(self)
        data["outcome"] = self.outcome.value
        data["behaviors"] = [b.value for b in self.behaviors]
        for key, value in data.items():
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = None
        return data

    def summary(self) -> str:
        """One line a student can read: outcome, key figures, behaviors."""
        parts = [f"{self.outcome.value} after {self.duration:.1f} s"]
        if self.touchdown_speed is not None:
            parts.append(f"touchdown {self.touchdown_speed:.1f} m/s")
        if self.impact_speed is not None:
            parts.append(f"impact {self.impact_speed:.1f} m/s")
        parts += [f"max tilt {math.degrees(self.max_tilt):.0f} deg", f"fuel {self.fuel_used:.1f}",
                  f"airborne {self.time_airborne:.1f} s"]
        text = ", ".join(parts)
        if self.behaviors:
            text += " | " + ", ".join(b.value for b in self.behaviors)
        return text


class _Limits:
    """Thresholds converted once to observation units and step counts."""

    def __init__(self, t: Thresholds) -> None:
        self.rest_steps = steps(t.rest_seconds)
        self.settle_steps = steps(t.settle_seconds)
        self.settle_clearance = t.settle_clearance_m / lander.Y_M
        self.top_y = t.flew_off_top_m / lander.Y_M
        self.trend_steps = steps(t.trend_seconds)
        self.pad_x = t.pad_half_width_m / lander.X_M
        self.impact_steps = steps(t.impact_seconds)
        self.spin_window_steps = steps(t.spin_window_seconds)
        self.approach_steps = steps(t.approach_seconds)
        self.descended_y = t.descended_min_m / lander.Y_M
        self.freefall_steps = steps(t.freefall_seconds)
        self.freefall_long_steps = steps(t.freefall_long_seconds)
        self.drift_x = t.drift_m / lander.X_M
        self.spin_steps = steps(t.spin_seconds)
        self.bounce_steps = steps(t.bounce_seconds)
        self.liftoff_y = t.liftoff_m / lander.Y_M
        self.both_legs_steps = steps(t.clean_both_legs_seconds)
        self.scrape_steps = steps(t.scrape_seconds)
        self.stable_steps = steps(t.stable_seconds)
        self.late_steps = steps(t.late_seconds)


class BehaviorAnalyzer:
    """Turns one finished episode into a ``BehaviorReport``. Stateless and thread-safe."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds if thresholds is not None else Thresholds()
        if not isinstance(self.thresholds, Thresholds):
            raise TypeError(f"thresholds must be a Thresholds, got {type(self.thresholds).__name__}")
        self._k = _Limits(self.thresholds)

    def analyze(self, observations: Any, actions: Any, terminated: Any, truncated: Any,
                rewards: Any = None) -> BehaviorReport:
        """Analyze one episode.

        observations: (T+1, 8), the reset observation through the final one; actions: (T, 2);
        rewards: optional (T,), which makes telling a crash from coming to rest exact.
        """
        obs, act, rew, terminated, truncated = _validate(observations, actions, terminated, truncated, rewards)
        return self._analyze(obs, act, rew, terminated, truncated)

    def analyze_trajectory(self, trajectory: Any) -> BehaviorReport:
        """Analyze a ``lab.events.Trajectory`` (or anything with the same attributes)."""
        return self.analyze(trajectory.observations, trajectory.actions, trajectory.terminated,
                            trajectory.truncated, getattr(trajectory, "rewards", None))

    # ------------------------------------------------------------------------------------------
    def _analyze(self, obs: np.ndarray, act: np.ndarray, rew: np.ndarray | None,
                 terminated: bool, truncated: bool) -> BehaviorReport:
        t, k = self.thresholds, self._k
        n = obs.shape[0]
        T = n - 1
        cols = np.ascontiguousarray(obs.T)
        x, y, ang = cols[lander.X], cols[lander.Y], cols[lander.ANGLE]
        vx = cols[lander.VX] * lander.VX_MPS
        vy = cols[lander.VY] * lander.VY_MPS
        spin = np.abs(cols[lander.SPIN]) * lander.SPIN_RAD_S
        speed = np.hypot(vx, vy)
        signed_tilt = np.remainder(ang + math.pi, 2 * math.pi) - math.pi
        tilt = np.abs(signed_tilt)
        right_leg, left_leg = lander.legs(obs)
        contact = right_leg | left_leg
        touched = bool(contact.any())
        first = int(contact.argmax()) if touched else -1
        if touched:  # after touchdown, airborne again only when clear of where a leg last touched
            last_touch = np.maximum.accumulate(np.where(contact, np.arange(n), 0))
            airborne = ~contact & ((np.arange(n) < first) | (y - y[last_touch] > k.liftoff_y))
        else:
            airborne = ~contact

        # ---- how it ended ------------------------------------------------------------------------
        x_end = float(x[-1])
        if terminated:
            if abs(x_end) >= 1.0:
                ended = "off_screen"
            else:
                last = float(rew[-1]) if rew is not None else 0.0
                if last >= t.terminal_reward:
                    ended = "rest"
                elif last <= -t.terminal_reward:
                    ended = "crash"
                else:  # no rewards: a sleeping lander was still for a while; a crash never is
                    w = slice(max(0, n - 1 - k.rest_steps), n - 1)
                    still = n > 1 and speed[w].max() <= t.rest_speed_mps and spin[w].max() <= t.rest_spin_rad_s
                    ended = "rest" if still else "crash"
        elif y[-1] >= k.top_y:
            ended = "off_screen"
        elif touched and self._settled(y, speed, contact, n):
            ended = "on_ground"
        else:
            ended = "time_limit"
        crashed = ended == "crash"
        flight = n - 1 if crashed else n  # a crash's final observation is after the impact
        ground = first if touched else flight  # observations before this are before touching anything

        # ---- per-step engine use (action t leads to observation t+1) -------------------------------
        a = np.minimum(np.maximum(act, -1.0), 1.0)  # what the env applies
        main = lander.main_power(a[:, 0])
        side = np.abs(lander.side_power(a[:, 1]))
        airborne_step = airborne[1:]
        n_air = int(np.count_nonzero(airborne_step))
        main_air = main[airborne_step] if n_air else main
        duty = float(np.count_nonzero(main_air)) / main_air.size
        thrust_ratio = float(main_air.sum()) / main_air.size / t.hover_throttle
        fuel = lander.MAIN_FUEL_COST * float(main.sum()) + lander.SIDE_FUEL_COST * float(side.sum())
        jerk = float(np.abs(a[1:] - a[:-1]).sum()) / (2 * (T - 1)) if T > 1 else 0.0

        # ---- descent ------------------------------------------------------------------------------
        before_ground = vy[:max(ground, 1)]
        peak_descent = max(0.0, -float(before_ground.min()))
        approach = vy[max(0, ground - k.approach_steps):max(ground, 1)]
        approach_speed = max(0.0, -float(approach.min()))
        descended = float(y[0] - y[max(ground, 1) - 1]) >= k.descended_y
        unpowered_fall = (main == 0) & (cols[lander.VY][1:] < 0) & airborne_step
        if touched:
            unpowered_fall[first:] = False
        starts, ends = _runs(unpowered_fall)
        lengths = ends - starts
        freefall = bool(lengths.size) and (
            int(lengths.max()) >= k.freefall_long_steps
            or bool(((lengths >= k.freefall_steps) & (ends >= ground - 1 - k.impact_steps)).any()))

        # ---- attitude and motion over the flight (crash impact excluded) ---------------------------
        f_tilt, f_spin, f_air = tilt[:flight], spin[:flight], airborne[:flight]
        max_tilt = float(f_tilt.max())
        max_spin = float(f_spin.max())
        airborne_obs = f_air
        v_rev = _reversals(vy[:flight][airborne_obs], t.reversal_deadband_mps)
        h_rev = _reversals(vx[:flight][airborne_obs], t.reversal_deadband_mps)
        spinning = max_tilt >= t.spun_over_rad or _longest(f_spin >= t.spin_rate_rad_s) >= k.spin_steps
        in_control = (f_tilt <= t.control_tilt_rad) & (f_spin <= t.control_spin_rad_s)
        if not crashed:
            in_control |= ~f_air
        stable = ((f_tilt <= t.stable_tilt_rad) & (f_spin <= t.stable_spin_rad_s)
                  & (speed[:flight] <= t.stable_speed_mps))
        stabilized = ended in ("rest", "on_ground") or _longest(stable) >= k.stable_steps
        control_share = _share(in_control)
        split = max(flight - k.late_steps, 0)
        lost_late = (stabilized and split > 0 and 1.0 - _share(in_control[split:]) >= t.late_fraction
                     and _share(in_control[:split]) >= t.late_before_fraction)

        # ---- contact ------------------------------------------------------------------------------
        touchdown_speed = touchdown_sink = touchdown_tilt = None
        bounces = 0
        both_soon = False
        if touched:
            touchdown_speed = float(speed[max(first - 1, 0)])
            touchdown_sink = max(0.0, -float(vy[max(first - 1, 0)]))
            touchdown_tilt = float(tilt[first])
            starts, ends = _runs(airborne[first:])
            bounces = int(np.count_nonzero(ends - starts >= k.bounce_steps))
            w = slice(first, first + k.both_legs_steps + 1)
            both_soon = bool((right_leg[w] & left_leg[w]).any())
        sliding = np.abs(vx[:flight]) >= t.scrape_speed_mps
        scraped_right = np.count_nonzero(right_leg[:flight] & ~left_leg[:flight] & sliding) >= k.scrape_steps
        scraped_left = np.count_nonzero(left_leg[:flight] & ~right_leg[:flight] & sliding) >= k.scrape_steps

        # ---- outcome ------------------------------------------------------------------------------
        recent = vy[max(0, n - k.trend_steps):]
        trend = float(recent.sum()) / recent.size
        on_pad = abs(x_end) <= k.pad_x
        impact_speed = None
        if ended == "off_screen":
            outcome = (Outcome.FLEW_OFF_LEFT if x_end <= -1.0 else Outcome.FLEW_OFF_RIGHT if x_end >= 1.0
                       else Outcome.FLEW_OFF_TOP)
        elif crashed:
            w = slice(max(0, n - 1 - k.impact_steps), n - 1)
            i = w.start + int(speed[w].argmax())
            impact_speed = float(speed[i])
            if float(spin[max(0, n - 1 - k.spin_window_steps):n - 1].max()) >= t.spin_rate_rad_s:
                outcome = Outcome.CRASHED_SPINNING
            elif abs(vx[i]) >= t.crash_sideways_mps and abs(vx[i]) >= abs(vy[i]):
                outcome = Outcome.CRASHED_SIDEWAYS
            elif impact_speed >= t.crash_speed_mps:
                outcome = Outcome.CRASHED_HIGH_VELOCITY
            elif float(tilt[i]) >= t.crash_tilt_rad:
                outcome = Outcome.CRASHED_TILTED
            else:  # upright and slow, yet the body hit: the legs bottomed out
                outcome = Outcome.CRASHED_HIGH_VELOCITY
        elif ended in ("rest", "on_ground"):
            if float(tilt[-1]) > t.landed_tilt_rad:
                outcome = Outcome.LANDED_TILTED
            elif touchdown_sink is not None and touchdown_sink > t.soft_touchdown_mps:
                outcome = Outcome.LANDED_HARD
            elif ended == "rest" and on_pad and float(tilt[-1]) <= t.perfect_tilt_rad and bounces == 0:
                outcome = Outcome.LANDED_PERFECTLY
            else:
                outcome = Outcome.LANDED_SOFTLY
        elif trend > t.hover_speed_mps:
            outcome = Outcome.TIMED_OUT_ASCENDING
        elif trend < -t.hover_speed_mps:
            outcome = Outcome.TIMED_OUT_DESCENDING
        else:
            outcome = Outcome.TIMED_OUT_HOVERING

        # ---- behaviors ----------------------------------------------------------------------------
        B = Behavior
        flags = {
            B.CONTROLLED_DESCENT: descended and approach_speed <= t.controlled_descent_mps and not freefall,
            B.RAPID_DESCENT: approach_speed >= t.rapid_descent_mps,
            B.FREEFALL: freefall,
            B.YO_YO_PATTERN: v_rev >= t.yo_yo_reversals,
            B.STAYED_CENTERED: float(np.abs(x[:flight]).max()) <= k.pad_x,
            B.DRIFTED_LEFT: x_end <= -k.drift_x,
            B.DRIFTED_RIGHT: x_end >= k.drift_x,
            B.HORIZONTAL_OSCILLATION: h_rev >= t.yo_yo_reversals,
            B.STAYED_UPRIGHT: max_tilt <= t.upright_rad,
            B.HEAVY_LEFT_TILT: not spinning and float(signed_tilt[:flight].max()) >= t.heavy_tilt_rad,
            B.HEAVY_RIGHT_TILT: not spinning and float(signed_tilt[:flight].min()) <= -t.heavy_tilt_rad,
            B.SPINNING_UNCONTROLLED: spinning,
            B.MAIN_THRUST_NONE: duty <= t.no_thrust_duty,
            B.MAIN_THRUST_LIGHT: duty > t.no_thrust_duty and thrust_ratio < t.light_thrust_ratio,
            B.MAIN_THRUST_MODERATE: (duty > t.no_thrust_duty
                                     and t.light_thrust_ratio <= thrust_ratio < t.heavy_thrust_ratio),
            B.MAIN_THRUST_HEAVY: duty > t.no_thrust_duty and thrust_ratio >= t.heavy_thrust_ratio,
            B.ERRATIC_THRUST: jerk >= t.erratic_jerk,
            B.SMOOTH_THRUST: jerk <= t.smooth_jerk,
            B.TOUCHED_DOWN_CLEAN: (touched and both_soon and bounces == 0 and ended not in ("crash", "off_screen")
                                   and touchdown_sink is not None and touchdown_sink <= t.soft_touchdown_mps),
            B.BOUNCED: bounces > 0,
            B.SCRAPED_LEFT_LEG: bool(scraped_left),
            B.SCRAPED_RIGHT_LEG: bool(scraped_right),
            B.CONTROLLED_THROUGHOUT: (stabilized and control_share >= t.controlled_fraction
                                      and ended not in ("crash", "off_screen")),
            B.NEVER_STABILIZED: not stabilized,
            B.LOST_CONTROL_LATE: bool(lost_late),
        }
        behaviors = [b for b in BEHAVIORS if flags[b]]

        return BehaviorReport(
            outcome=outcome, behaviors=behaviors, steps=T, ended_by=ended,
            touchdown_speed=touchdown_speed, touchdown_sink_speed=touchdown_sink, touchdown_tilt=touchdown_tilt,
            impact_speed=impact_speed,
            max_tilt=max_tilt, max_spin_rate=max_spin, fuel_used=fuel, main_engine_duty=duty,
            main_thrust_ratio=thrust_ratio, thrust_jerk=jerk, time_airborne=n_air * lander.DT,
            peak_descent_speed=peak_descent, approach_speed=approach_speed,
            final_x=x_end * lander.X_M, final_height=float(y[-1]) * lander.Y_M, final_vertical_speed=trend,
            bounces=bounces, vertical_reversals=v_rev, horizontal_reversals=h_rev,
            came_to_rest=ended == "rest", on_pad=bool(on_pad),
        )

    def _settled(self, y: np.ndarray, speed: np.ndarray, contact: np.ndarray, n: int) -> bool:
        """On the ground at the time limit: a leg down at the end, or slow for a while near where one last touched."""
        k = self._k
        if contact[-1]:
            return True
        last_contact = n - 1 - int(contact[::-1].argmax())
        near_ground = float(y[-1] - y[last_contact]) <= k.settle_clearance
        slow = n > k.settle_steps and float(speed[n - k.settle_steps:].max()) <= self.thresholds.settle_speed_mps
        return near_ground and slow


# ---- small vectorized helpers ---------------------------------------------------------------------
_EMPTY = np.zeros(0, dtype=np.int64)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of every run of True."""
    if not mask.any():
        return _EMPTY, _EMPTY
    padded = np.zeros(mask.size + 2, dtype=np.int8)
    padded[1:-1] = mask
    edges = padded[1:] - padded[:-1]
    return (edges == 1).nonzero()[0], (edges == -1).nonzero()[0]


def _share(mask: np.ndarray) -> float:
    """Fraction of True values (0 for an empty mask)."""
    return np.count_nonzero(mask) / mask.size if mask.size else 0.0


def _longest(mask: np.ndarray) -> int:
    starts, ends = _runs(mask)
    return int((ends - starts).max()) if starts.size else 0


def _reversals(v: np.ndarray, deadband: float) -> int:
    """Direction changes of a velocity, counting only swings that leave the dead band on both sides."""
    signs = np.sign(v[np.abs(v) > deadband])
    return int(np.count_nonzero(signs[1:] != signs[:-1])) if signs.size > 1 else 0


def _validate(observations: Any, actions: Any, terminated: Any, truncated: Any,
              rewards: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool, bool]:
    """Shapes, types and finiteness, each failure named with what was expected."""
    obs = _numeric("observations", observations)
    if obs.ndim != 2 or obs.shape[1] != OBS_DIM:
        raise ValueError(f"observations must have shape (T+1, {OBS_DIM}) (the reset observation through the "
                         f"final one), got shape {obs.shape}")
    if obs.shape[0] < 2:
        raise ValueError(f"observations has {obs.shape[0]} row(s): the episode is empty; expected the reset "
                         "observation plus at least one step")
    T = obs.shape[0] - 1
    act = _numeric("actions", actions)
    if act.shape != (T, ACT_DIM):
        raise ValueError(f"actions must have shape ({T}, {ACT_DIM}) to match {T + 1} observations, got shape "
                         f"{act.shape}")
    rew = None
    if rewards is not None:
        rew = _numeric("rewards", rewards)
        if rew.shape != (T,):
            raise ValueError(f"rewards must have shape ({T},) to match {T + 1} observations, got shape {rew.shape}")
    for name, arr in (("observations", obs), ("actions", act), ("rewards", rew)):
        if arr is not None and not np.isfinite(arr).all():
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
            raise ValueError(f"{name} contains NaN or infinity (first at index {where}); expected finite numbers")
    flags = []
    for name, value in (("terminated", terminated), ("truncated", truncated)):
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.item()
        if not isinstance(value, (bool, np.bool_)) and value not in (0, 1):
            raise ValueError(f"{name} must be a bool, got {value!r}")
        flags.append(bool(value))
    if not any(flags):
        raise ValueError("terminated and truncated are both False: the episode has not ended; "
                         "expected a finished episode")
    return obs, act, rew, flags[0], flags[1]


def _numeric(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(value).__name__}: {exc}") from None
    return arr
