"""The watch window, driven headless by posted key events, and the notebook launcher."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pygame
import pytest

from lab.render import launcher
from lab.render.episode import resolve_pilot
from lab.render.hud import surface_to_array
from lab.render.window import WatchWindow

REPO = Path(__file__).resolve().parents[1]
# The pretrained agent by default; LAB_TEST_WATCH_PILOT=heuristic while assets/ has no agent yet.
PILOT = os.environ.get("LAB_TEST_WATCH_PILOT") or None


def press(key: int, **extra) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode=extra.get("unicode", ""),
                                         scancode=0))


def test_watch_window_runs_a_full_episode_from_posted_keys(tmp_path):
    window = WatchWindow(resolve_pilot(PILOT), seed=3, speed=4, throttle=False, gif_dir=tmp_path).open()
    flight = window.flight
    for _ in range(3):
        assert window.tick()
    assert flight.steps > 0

    press(pygame.K_SPACE)  # pause: the sim holds still while frames keep being drawn
    window.tick()
    paused_at = flight.steps
    for _ in range(3):
        window.tick()
    assert window.paused and flight.steps == paused_at
    press(pygame.K_RIGHT)  # → while paused: exactly one step
    window.tick()
    assert flight.steps == paused_at + 1

    press(pygame.K_h)  # the HUD can be hidden and brought back
    window.tick()
    assert not window.hud_on
    press(pygame.K_h)
    press(pygame.K_EQUALS, unicode="+")
    window.tick()
    assert window.hud_on and window.speed == 8

    press(pygame.K_SPACE)  # resume, and fly to the end of the episode
    while window.hold == 0:
        assert window.tick()
    assert flight.done and window.report is not None  # the analyzer's verdict is on screen
    screen = surface_to_array(window.screen)
    raw = surface_to_array(window._frame_surface)
    assert screen.std() > 10  # not blank
    assert not np.array_equal(screen[10:150, 10:170], raw[10:150, 10:170])  # HUD telemetry over the scene
    assert not np.array_equal(screen[200:240, 200:400], raw[200:240, 200:400])  # the verdict banner

    press(pygame.K_g)  # the episode so far as a GIF
    window.tick()
    press(pygame.K_n)  # next episode: the next seed
    window.tick()
    assert window.episode == 2 and flight.seed == 4 and flight.steps <= 8 and window.report is None

    press(pygame.K_ESCAPE)  # quit cleanly
    assert window.run() == 0
    assert window.flight is None and not pygame.display.get_init()
    [gif] = window.saved_gifs
    assert gif.parent == tmp_path and gif.stat().st_size > 0


def test_restart_replays_the_same_seed_and_episodes_end_the_window():
    pilot = resolve_pilot("heuristic")
    window = WatchWindow(pilot, episodes=2, seed=7, speed=16, throttle=False).open()
    first = window.flight.obs.copy()
    for _ in range(5):
        window.tick()
    press(pygame.K_r)
    window.tick()
    assert window.episode == 1 and window.flight.seed == 7
    assert np.allclose(window.flight.observations[0], first)
    ticks = 0
    while window.tick():
        ticks += 1
    window.close()
    assert window.finished_episodes == 2 and ticks < 200
    stats = window.fps_stats()
    assert stats["frames"] > 10 and stats["mean_ms"] < 40


def test_closing_the_window_quits():
    window = WatchWindow(resolve_pilot("heuristic"), throttle=False).open()
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    assert window.run() == 0


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="speed must be between"):
        WatchWindow(resolve_pilot("heuristic"), speed=0)
    with pytest.raises(ValueError, match="episodes must be an integer >= 1"):
        WatchWindow(resolve_pilot("heuristic"), episodes=0)


def test_cli_watch_with_the_default_agent_exits_0_after_the_episodes():
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    command = [sys.executable, "-m", "lab", "watch", *([PILOT] if PILOT else []), "--episodes", "1", "--speed", "16"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "episode 1 (seed 10000): return" in done.stdout  # the evaluation seeds


def test_notebook_launcher_returns_at_once_and_the_window_finishes():
    start = time.monotonic()
    handle = launcher.watch("heuristic", episodes=1, speed=16, window=True)
    assert time.monotonic() - start < 2.0
    try:
        assert handle.wait(timeout=120) == 0, handle.log()
        assert "episode 1 (seed 10000)" in handle.log()
    finally:
        handle.stop()


def test_launcher_saves_a_live_policy_for_the_window_process(tmp_path):
    from lab.agents.networks import Actor
    from lab.config import NetworkConfig
    from lab.policy import Policy, load_policy

    policy = Policy.from_actor(Actor(8, 2, NetworkConfig()))
    handle = launcher.watch(policy, episodes=1, speed=16, window=True)
    try:
        saved = handle.command[4]
        assert saved.endswith("policy.pt")
        obs = np.linspace(-1, 1, 8, dtype=np.float32)
        assert np.allclose(load_policy(saved)(obs), policy(obs), atol=1e-6)
    finally:
        handle.stop()
    with pytest.raises(TypeError, match="cannot open"):
        launcher.watch(lambda obs: np.zeros(2), window=True)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        launcher.watch(tmp_path / "missing.pt", window=True)


def test_launcher_reports_a_missing_pretrained_agent_in_the_notebook(tmp_path, monkeypatch):
    import lab.policy

    monkeypatch.setattr(lab.policy, "PRETRAINED_POLICY", tmp_path / "pretrained_policy.pt")
    with pytest.raises(FileNotFoundError, match="pretrained agent"):
        launcher.watch(window=True)


def test_without_a_display_it_says_so_and_shows_a_gif(capsys, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    assert not launcher.has_display()
    path = launcher.watch("heuristic", seed=2)
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == ["No display is available here, so instead of a window the episode is shown below as a GIF."]
    assert path.suffix == ".gif" and path.stat().st_size > 0


def test_display_detection(monkeypatch):
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not launcher.has_display()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert launcher.has_display()
