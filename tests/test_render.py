"""The HUD and the episode runner: physical units, drawing, frame selection, pilot resolution."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lab.policy import heuristic_policy
from lab.render.episode import Flight, analyze, resolve_pilot, run_episode
from lab.render.hud import Telemetry, draw_hud, hud_frame, signed, throttles, verdict_lines

REPO = Path(__file__).resolve().parents[1]


def flown(seed: int = 0, steps: int = 40) -> Flight:
    flight = Flight(seed, render=True)
    pilot = heuristic_policy()
    for _ in range(steps):
        flight.step(pilot(flight.obs))
    return flight


def test_telemetry_is_the_box2d_state_in_metres_and_degrees():
    flight = flown(steps=30)
    env = flight.env.unwrapped
    t = Telemetry.from_obs(flight.obs)
    lander = env.lander
    assert t.vx_ms == pytest.approx(lander.linearVelocity.x, abs=1e-4)
    assert t.vy_ms == pytest.approx(lander.linearVelocity.y, abs=1e-4)
    assert t.tilt_deg == pytest.approx(math.degrees(lander.angle), abs=1e-3)
    assert t.spin_dps == pytest.approx(math.degrees(lander.angularVelocity), abs=1e-3)
    assert t.x_m == pytest.approx(lander.position.x - 10.0, abs=1e-4)
    legs_down = env.helipad_y + 18 / 30.0
    assert t.altitude_m == pytest.approx(lander.position.y - legs_down, abs=1e-4)
    flight.close()


def test_leg_lamps_follow_the_legs_as_seen_on_screen():
    """Tilt clockwise and drop: the leg on the right of the screen (larger x) touches first."""
    flight = Flight(0, render=False)
    while not (flight.obs[6] or flight.obs[7]):
        flight.step(np.array([-1.0, 1.0 if flight.steps < 6 else 0.0]))
    legs = flight.env.unwrapped.legs
    touching = max(legs, key=lambda leg: leg.position.x).ground_contact
    t = Telemetry.from_obs(flight.obs)
    assert t.right_leg == touching and t.right_leg != t.left_leg
    flight.close()


def test_throttles_follow_the_env_engine_rules():
    assert throttles(np.array([0.5, -0.8])) == pytest.approx((0.75, -0.8))
    assert throttles(np.array([-0.3, 0.4])) == (0.0, 0.0)  # main off below 0, side off inside ±0.5
    assert throttles(np.array([2.0, 3.0])) == pytest.approx((1.0, 1.0))  # clipped like the env
    assert signed(-0.001) == "+0.0" and signed(-1.25, 1) == "-1.2"


def test_hud_draws_over_the_frame_and_leaves_the_scene_alone():
    flight = flown()
    frame = flight.frame()
    with_hud = hud_frame(frame, flight.obs, flight.last_action, flight.steps, flight.ret, 1)
    assert with_hud.shape == frame.shape and with_hud.dtype == np.uint8
    assert not np.array_equal(with_hud[10:150, 10:170], frame[10:150, 10:170])  # telemetry panel
    assert not np.array_equal(with_hud[10:90, 430:590], frame[10:90, 430:590])  # throttle bars
    assert np.array_equal(with_hud[300:, 150:450], frame[300:, 150:450])  # the ground stays as rendered
    banner = hud_frame(frame, flight.obs, flight.last_action, flight.steps, flight.ret, 1, None, show_verdict=True)
    assert not np.array_equal(banner[200:240, 250:350], with_hud[200:240, 250:350])
    flight.close()


def test_compact_hud_for_small_gif_frames():
    flight = flown()
    small = flight.frame()[::2, ::2].copy()
    out = hud_frame(small, flight.obs, flight.last_action, flight.steps, flight.ret, 3)
    assert out.shape == (200, 300, 3)
    assert not np.array_equal(out[5:50, 5:120], small[5:50, 5:120])
    flight.close()


def test_hud_draws_on_a_window_sized_surface_with_the_analyzer_verdict():
    import pygame

    record = run_episode(heuristic_policy(), seed=1, render=False)
    report = analyze(record)
    assert report is not None, "the behavior analyzer must be importable"
    headline, details = verdict_lines(report, record.ret)
    assert headline == report.outcome.value.replace("_", " ").lower()
    assert details[0] == f"return {signed(record.ret)}"
    surface = pygame.Surface((600, 400))
    draw_hud(surface, record.observations[-1], record.actions[-1], record.length, record.ret, 1, report,
             show_verdict=True, notes=["agent: landed softly"])
    assert pygame.transform.average_color(surface)[:3] != (0, 0, 0)


def test_run_episode_keeps_every_nth_frame_and_the_last():
    record = run_episode(heuristic_policy(), seed=2, every=3)
    t = record.length
    assert record.terminated and record.observations.shape == (t + 1, 8) and record.actions.shape == (t, 2)
    expected = list(range(0, t + 1, 3)) + ([t] if t % 3 else [])
    assert record.frame_steps == expected
    assert len(record.frames) == len(expected) and record.frames[0].shape == (400, 600, 3)


def test_skipped_frames_age_the_flames_like_a_render():
    """Frames kept with every=2 equal those of a flight rendered at every step."""
    pilot = heuristic_policy()
    flight = Flight(4)
    reference = []
    for _ in range(60):
        flight.step(pilot(flight.obs))
        frame = flight.frame()
        if flight.steps % 2 == 0:
            reference.append(frame)
    flight.close()
    record = run_episode(pilot, seed=4, every=2)
    assert all(np.array_equal(a, b) for a, b in zip(reference, record.frames[1:31]))


def test_resolve_pilot_names_and_errors(tmp_path):
    assert resolve_pilot("heuristic").name == "heuristic"
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        resolve_pilot(tmp_path / "nope.pt")


def test_flight_refuses_to_step_past_the_end():
    flight = Flight(0, render=False)
    pilot = heuristic_policy()
    while not flight.done:
        flight.step(pilot(flight.obs))
    with pytest.raises(RuntimeError, match="reset"):
        flight.step(np.zeros(2))
    flight.close()


def test_importing_lab_and_the_render_modules_does_not_import_pygame_or_torch():
    code = ("import sys, lab, lab.render.gif, lab.render.launcher, lab.render.hud, lab.render.window; "
            "lab.watch, lab.export_gif; "
            "assert 'pygame' not in sys.modules, 'pygame imported'; assert 'torch' not in sys.modules, 'torch'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=60)
