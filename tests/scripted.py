"""Scripted pilots flown in the real LunarLanderContinuous-v3, for analyzer tests.

Each pilot is ``pilot(obs, step) -> action``; some keep state, so build a fresh
one per episode. ``fly`` runs one seeded episode and returns the arrays the
analyzer takes, so tests judge real physics rather than hand-typed numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from gymnasium.envs.box2d.lunar_lander import heuristic

from lab.events import Trajectory
from lab.rollout.envs import make_env
from lab.rollout.episodes import run_episodes

Pilot = Callable[[np.ndarray, int], np.ndarray]

HOVER_A0 = 0.144
"""Main-engine action whose 57% throttle balances gravity (see lab.lander.thresholds)."""
VY_OBS_PER_MPS = 1 / 7.5
"""Observation units per m/s of vertical speed."""


Flight = Trajectory
"""The lab's one episode record."""


class _Continuous:  # heuristic() only reads env.unwrapped.continuous
    continuous = True

    @property
    def unwrapped(self) -> _Continuous:
        return self


_ENV = _Continuous()


def fly(pilot: Pilot, seed: int, max_steps: int = 1000) -> Flight:
    """One episode of pilot in the real env, seeded, ending on termination or the time limit."""
    env = make_env("LunarLanderContinuous-v3", max_episode_steps=max_steps)
    steps = iter(range(max_steps + 1))
    try:
        return run_episodes(lambda obs: np.clip(pilot(obs[0], next(steps)), -1, 1)[None].astype(np.float32),
                            [env], [seed])[0]
    finally:
        env.close()


def gym_heuristic(obs: np.ndarray, step: int) -> np.ndarray:
    """Gymnasium's own lander controller."""
    return np.asarray(heuristic(_ENV, obs), dtype=np.float32)


def no_thrust(obs: np.ndarray, step: int) -> np.ndarray:
    return np.array([-1.0, 0.0], np.float32)


def full_side_thrust(direction: float) -> Pilot:
    """Main engine off, one side engine at full power for the whole episode."""
    return lambda obs, step: np.array([-1.0, direction], np.float32)


def _attitude(obs: np.ndarray, x_target: float = 0.0, tilt: float | None = None) -> float:
    """Side-engine command: lean towards x_target like Gymnasium's heuristic, or hold a fixed tilt."""
    x, vx, angle, omega = obs[0], obs[2], obs[4], obs[5]
    target = np.clip((x - x_target) * 0.5 + vx * 1.0, -0.4, 0.4) if tilt is None else tilt
    return float(-((target - angle) * 0.5 - omega * 1.0) * 20)


def vertical_speed(target_mps: Callable[[np.ndarray, int], float], x_target: float = 0.0,
                   tilt: float | None = None, cut_on_contact: bool = True) -> Pilot:
    """Track a vertical speed (m/s, + is up) with the main engine; steer with the side engines."""

    def pilot(obs: np.ndarray, step: int) -> np.ndarray:
        if cut_on_contact and (obs[6] or obs[7]):
            return np.array([-1.0, 0.0], np.float32)
        error = target_mps(obs, step) * VY_OBS_PER_MPS - obs[3]
        return np.array([HOVER_A0 + 15 * error, _attitude(obs, x_target, tilt)], np.float32)

    return pilot


def hold_altitude(y_target: float) -> Pilot:
    """Hold a height (observation units) above the pad, centred, forever."""
    return vertical_speed(lambda obs, step: float(np.clip((y_target - obs[1]) * 6.0, -2, 2)), cut_on_contact=False)


def descend_at(speed_mps: float, **kwargs) -> Pilot:
    """Sink at a steady speed all the way to the ground, then cut the engines."""
    return vertical_speed(lambda obs, step: -speed_mps, **kwargs)


def hold_then_climb(y_target: float, climb_from_step: int, climb_mps: float) -> Pilot:
    """Hold a low height, then climb gently until the time limit."""
    hold = hold_altitude(y_target)
    climb = vertical_speed(lambda obs, step: climb_mps, cut_on_contact=False)
    return lambda obs, step: hold(obs, step) if step < climb_from_step else climb(obs, step)


def full_main_thrust(obs: np.ndarray, step: int) -> np.ndarray:
    """Main engine flat out while staying upright: the lander climbs out of the top of the screen."""
    return np.array([1.0, _attitude(obs)], np.float32)


def hop_after_touchdown(speed_mps: float = 1.0, burn_steps: int = 15) -> Pilot:
    """Land, then fire the main engine flat out for a moment: the lander bounces back up."""
    land = descend_at(speed_mps)
    state = {"first": None}

    def pilot(obs: np.ndarray, step: int) -> np.ndarray:
        if state["first"] is None and (obs[6] or obs[7]):
            state["first"] = step
        if state["first"] is not None and step - state["first"] < burn_steps:
            return np.array([1.0, _attitude(obs)], np.float32)
        return land(obs, step)

    return pilot


def yo_yo(low: float = 0.3, high: float = 1.0, period_steps: int = 150) -> Pilot:
    """Alternate between two heights: climb, sink, climb, sink."""
    def target(obs: np.ndarray, step: int) -> float:
        y_target = high if (step // period_steps) % 2 else low
        return float(np.clip((y_target - obs[1]) * 6.0, -2.5, 2.5))

    return vertical_speed(target, cut_on_contact=False)


def weave(amplitude: float = 0.4, period_steps: int = 150) -> Pilot:
    """Hold height while swinging from one side of the pad to the other."""
    def pilot(obs: np.ndarray, step: int) -> np.ndarray:
        x_target = amplitude if (step // period_steps) % 2 else -amplitude
        climb = float(np.clip((0.8 - obs[1]) * 6.0, -2, 2)) * VY_OBS_PER_MPS
        return np.array([HOVER_A0 + 15 * (climb - obs[3]), _attitude(obs, x_target)], np.float32)

    return pilot


def random_actions(seed: int) -> Pilot:
    rng = np.random.default_rng(seed)
    return lambda obs, step: rng.uniform(-1, 1, size=2).astype(np.float32)


def pulsed_main(every: int = 4) -> Pilot:
    """The main engine at its weakest setting on one step in every few: too little to brake."""
    return lambda obs, step: np.array([0.01 if step % every == 0 else -1.0, _attitude(obs)], np.float32)


def lean_near_ground(speed_mps: float, tilt: float, below: float = 0.2) -> Pilot:
    """Sink upright, then hold a lean in the last metre: the lander slides sideways into the ground."""
    upright, leaning = descend_at(speed_mps), descend_at(speed_mps, tilt=tilt)
    return lambda obs, step: leaning(obs, step) if obs[1] < below else upright(obs, step)


def skim(tilt: float) -> Pilot:
    """Hold a low height while leaning: the lander accelerates sideways until it leaves the screen."""
    return vertical_speed(lambda obs, step: float(np.clip((0.1 - obs[1]) * 6, -2, 2)), tilt=tilt,
                          cut_on_contact=False)
