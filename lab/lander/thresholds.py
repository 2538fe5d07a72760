"""Every number the behavior analyzer decides with, in one place, in physical units.

How the env scales its observation, which leg is which and how the engines map actions
to power is told once, in ``lab.lander``; the analyzer converts these thresholds with it.

Facts of the env the analyzer leans on:

* An episode terminates with reward -100 when the lander's body touches the ground
  (``game_over``) or ``|x| >= 1`` (it left the screen sideways), and with +100 when
  Box2D puts the lander to sleep: every body slower than 0.01 m/s and 2 deg/s for 0.5 s.
  A sleeping body reports exactly zero velocity. Nothing ends an episode at the top:
  the lander starts at the top edge (y = 1.41) and may climb away until the time limit.
* The final observation of a crash is taken *after* the impact, so speeds, tilt
  and spin "at impact" are read from the observations just before it.
* The leg flags drop out while a leg slides across a joint between two terrain
  segments, so the analyzer never trusts one flag reading alone: a bounce must climb,
  and coming to rest is judged from speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from lab.lander import FPS, HOVER_THROTTLE, LANDING_REWARD, LEG_DOWN, SCALE, TOP_OF_VIEW_M


@dataclass(frozen=True)
class Thresholds:
    """The analyzer's decision thresholds, in SI units unless a field says otherwise.

    Change one with ``dataclasses.replace(Thresholds(), soft_touchdown_mps=1.2)`` and pass
    it to ``BehaviorAnalyzer(thresholds)``. The analyzer converts them to observation
    units once, using ``lab.lander``'s scale factors.
    """

    # ---- how an episode ended -----------------------------------------------------------------
    terminal_reward: float = LANDING_REWARD / 2
    """A final reward at or beyond +this is the env's +100 (came to rest); at or below -this, its -100
    (crash or off screen). Halfway, so reward shaping added on top cannot blur the two."""
    rest_speed_mps: float = 0.05
    """Faster than this, the lander is not at rest. Box2D sleeps bodies under 0.01 m/s."""
    rest_spin_rad_s: float = 0.05
    """Turning faster than this (3 deg/s), the lander is not at rest. Box2D's own limit is 2 deg/s."""
    rest_seconds: float = 0.2
    """Without rewards, a termination inside the screen counts as coming to rest only if the
    lander was at rest this long before it (Box2D needs 0.5 s; a crash is never this still)."""
    settle_speed_mps: float = 0.25
    """At the time limit, a lander with a leg down, or one that touched down and stayed slower than this..."""
    settle_seconds: float = 0.5
    """...for this long, within ``settle_clearance_m`` of where its legs last touched, is on the
    ground: it landed but kept an engine running, so it never fell asleep. Counts as LANDED_*
    (with ``came_to_rest`` False), not as a time-out: the landing happened."""
    settle_clearance_m: float = 0.3
    """How far above its last leg contact a lander may be and still count as on the ground."""
    flew_off_top_m: float = TOP_OF_VIEW_M + LEG_DOWN / SCALE
    """FLEW_OFF_TOP: the episode ends (at the time limit) with the lander's centre this high
    above the pad: 10 m, observation y = 1.5, where even its feet are above the viewport."""
    hover_speed_mps: float = 0.15
    """At a time limit, a mean vertical speed over ``trend_seconds`` within this is hovering;
    beyond it, descending or ascending."""
    trend_seconds: float = 2.0
    """Window at the end of a timed-out episode that decides hovering, descending or ascending."""

    # ---- landings -----------------------------------------------------------------------------
    soft_touchdown_mps: float = 1.5
    """Sinking speed just before the first leg contact. Above it the landing is hard: with the
    engine off, the legs bottom out and the body hits the ground from about 2 m/s. (Sideways speed
    only slides the feet, so it does not count; the heuristic touches down at 0.6..1.3 m/s.)"""
    perfect_tilt_rad: float = 0.1
    """LANDED_PERFECTLY needs the lander this upright (6 deg) at rest, on the pad, with no bounce."""
    landed_tilt_rad: float = 0.2
    """Resting tilted more than this (11 deg: on a slope, or on one leg) is LANDED_TILTED."""
    pad_half_width_m: float = 2.0
    """The helipad spans 2 m either side of the centre (observation |x| <= 0.2)."""

    # ---- crashes ------------------------------------------------------------------------------
    impact_seconds: float = 0.2
    """Impact speed is the highest speed over this window before the final observation."""
    crash_speed_mps: float = 2.5
    """An impact at least this fast is CRASHED_HIGH_VELOCITY, beyond the 2 m/s the legs absorb.
    A slower crash is CRASHED_TILTED when tilted, else still HIGH_VELOCITY (the legs bottomed out)."""
    crash_sideways_mps: float = 1.5
    """CRASHED_SIDEWAYS: horizontal impact speed at least this, and more than the vertical one."""
    crash_tilt_rad: float = 0.35
    """CRASHED_TILTED: a slower impact with the lander tilted at least this much (20 deg) at the
    moment of its highest impact speed."""
    spin_rate_rad_s: float = 3.0
    """Turning this fast (170 deg/s) is spinning; Gymnasium's heuristic peaks near 2 rad/s."""
    spin_window_seconds: float = 1.0
    """CRASHED_SPINNING: the lander reached ``spin_rate_rad_s`` within this long before impact."""

    # ---- vertical behaviors ----------------------------------------------------------------------
    approach_seconds: float = 0.5
    """Descent speed is judged over this window before the first ground contact (or the end).
    The heuristic still sinks at 3 m/s one second out, braking to about 1 m/s at touchdown."""
    controlled_descent_mps: float = 2.0
    """CONTROLLED_DESCENT: never sinking faster than this during the approach..."""
    descended_min_m: float = 1.0
    """...after losing at least this much height."""
    rapid_descent_mps: float = 3.0
    """RAPID_DESCENT: sinking at least this fast during the approach."""
    freefall_seconds: float = 0.5
    """FREEFALL: falling with the main engine off for this long straight into the ground
    (or the end of the episode)..."""
    freefall_long_seconds: float = 2.0
    """...or for this long anywhere (20 m/s gained). The heuristic drops for up to 1.2 s, then brakes.
    Only the flight before the first touchdown counts."""
    reversal_deadband_mps: float = 0.75
    """A direction reversal counts only when the speed crosses from below -this to above +this."""
    yo_yo_reversals: int = 3
    """YO_YO_PATTERN (vertical) and HORIZONTAL_OSCILLATION: at least this many reversals."""

    # ---- horizontal and orientation behaviors ----------------------------------------------------
    drift_m: float = 3.0
    """DRIFTED_LEFT/RIGHT: ending at least this far from the pad centre (1 m beyond its edge)."""
    upright_rad: float = 0.35
    """STAYED_UPRIGHT: never tilted more than this (20 deg), the crash impact excluded."""
    heavy_tilt_rad: float = 0.5
    """HEAVY_LEFT/RIGHT_TILT: tilted at least this much (29 deg) to that side."""
    spin_seconds: float = 0.2
    """SPINNING_UNCONTROLLED: at least ``spin_rate_rad_s`` for this long..."""
    spun_over_rad: float = math.pi / 2
    """...or tilted this far (90 deg: lying on its side or upside down) at any moment."""

    # ---- thrust ----------------------------------------------------------------------------------
    hover_throttle: float = HOVER_THROTTLE
    """Main-engine power whose thrust equals the lander's weight (0.57); thrust levels are
    measured as mean airborne main power divided by this."""
    no_thrust_duty: float = 0.01
    """MAIN_THRUST_NONE: the main engine fired on at most this fraction of airborne steps."""
    light_thrust_ratio: float = 0.5
    """MAIN_THRUST_LIGHT below this fraction of hover thrust, MODERATE from it..."""
    heavy_thrust_ratio: float = 1.1
    """...and HEAVY from this: on average the engine out-lifts gravity, so the lander climbs."""
    smooth_jerk: float = 0.15
    """SMOOTH_THRUST: mean |change of action| per step (action units, clipped to [-1, 1]) at most
    this; the heuristic sits near 0.07."""
    erratic_jerk: float = 0.4
    """ERRATIC_THRUST: at least this; uniform random actions average 0.67."""

    # ---- contact ---------------------------------------------------------------------------------
    bounce_seconds: float = 0.2
    """BOUNCED: airborne again for at least this long after touching down."""
    liftoff_m: float = 0.1
    """After the first touchdown, the lander is airborne again only with no leg flag AND at least
    this high above where a leg last touched: a sliding leg drops its flag without climbing."""
    clean_both_legs_seconds: float = 0.5
    """TOUCHED_DOWN_CLEAN: both legs down within this of the first, softly, with no bounce or crash."""
    scrape_speed_mps: float = 0.3
    """SCRAPED_*_LEG: one leg alone on the ground while sliding faster than this..."""
    scrape_seconds: float = 0.2
    """...for at least this long in total."""

    # ---- quality of control ----------------------------------------------------------------------
    control_tilt_rad: float = 0.4
    """In control: tilted at most this much (the heuristic's own tilt limit, 23 deg)..."""
    control_spin_rad_s: float = 1.5
    """...and turning at most this fast; or standing on the ground, unless the episode crashed."""
    controlled_fraction: float = 0.98
    """CONTROLLED_THROUGHOUT: in control on at least this fraction of steps, and it did not crash."""
    stable_tilt_rad: float = 0.2
    """Stable: upright within this..."""
    stable_spin_rad_s: float = 0.5
    """...turning slower than this..."""
    stable_speed_mps: float = 2.0
    """...and moving slower than this..."""
    stable_seconds: float = 1.0
    """...for this long. NEVER_STABILIZED: never, and it did not land either."""
    late_seconds: float = 1.5
    """LOST_CONTROL_LATE: stable at some point, then out of control in the last this many seconds..."""
    late_fraction: float = 0.25
    """...on at least this fraction of them..."""
    late_before_fraction: float = 0.9
    """...after being in control on at least this fraction of the steps before them."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
            if not ok:
                raise ValueError(f"Thresholds.{f.name}={value!r} is invalid: expected a finite number >= 0")
        if self.light_thrust_ratio > self.heavy_thrust_ratio:
            raise ValueError(f"Thresholds.light_thrust_ratio={self.light_thrust_ratio} must not exceed "
                             f"heavy_thrust_ratio={self.heavy_thrust_ratio}")
        if self.smooth_jerk > self.erratic_jerk:
            raise ValueError(f"Thresholds.smooth_jerk={self.smooth_jerk} must not exceed "
                             f"erratic_jerk={self.erratic_jerk}")


def steps(seconds: float) -> int:
    """Env steps in a duration, at least one."""
    return max(1, int(round(seconds * FPS)))
