"""Fly it yourself: the keyboard loop from posted key events, the ghost, the verdict, the CLI."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np
import pygame

from lab import cli
from lab.render.episode import resolve_pilot
from lab.render.hud import Telemetry, surface_to_array
from lab.render.play import PlayWindow, keyboard_action


def key(kind: int, code: int) -> None:
    pygame.event.post(pygame.event.Event(kind, key=code, mod=0, unicode="", scancode=0))


def test_keyboard_action_mapping():
    assert keyboard_action(set()).tolist() == [-1.0, 0.0]  # engines off
    assert keyboard_action({"main", "right"}).tolist() == [1.0, 1.0]
    assert keyboard_action({"left"}).tolist() == [-1.0, -1.0]
    assert keyboard_action({"left", "right"}).tolist() == [-1.0, 0.0]


def test_play_loop_flies_from_posted_keys_with_a_ghost():
    window = PlayWindow(ghost=resolve_pilot("heuristic"), seed=0, speed=2, throttle=False).open()
    flight, ghost = window.flight, window.ghost

    key(pygame.KEYDOWN, pygame.K_UP)  # main engine on while held
    for _ in range(10):
        window.tick()
    held = flight.steps
    assert held > 0 and all(a[0] == 1.0 for a in flight.actions)
    assert ghost.steps == flight.steps  # the ghost flies in lockstep
    key(pygame.KEYUP, pygame.K_UP)
    key(pygame.KEYDOWN, pygame.K_RIGHT)  # → fires the side engine that pushes right
    for _ in range(5):
        window.tick()
    after = flight.actions[held:]
    assert after and all(a.tolist() == [-1.0, 1.0] for a in after)
    assert Telemetry.from_obs(flight.obs).tilt_deg < Telemetry.from_obs(flight.observations[held]).tilt_deg

    # the ghost is drawn over the player's scene
    screen, raw = surface_to_array(window.screen), surface_to_array(window._frame_surface)
    assert not np.array_equal(screen[120:300, 180:420], raw[120:300, 180:420])

    key(pygame.KEYUP, pygame.K_RIGHT)
    key(pygame.KEYDOWN, pygame.K_SPACE)  # pause, then '.' steps one frame (the arrows are engines here)
    window.tick()
    paused_at = flight.steps
    key(pygame.KEYDOWN, pygame.K_PERIOD)
    window.tick()
    window.tick()
    assert flight.steps == paused_at + 1
    key(pygame.KEYDOWN, pygame.K_SPACE)
    while window.hold == 0:  # no more input: the lander falls until the episode ends
        assert window.tick()
    assert flight.done and window.report is not None and ghost.done
    notes = window.verdict_notes()
    assert len(notes) == 1 and notes[0].startswith("agent: ") and "return" in notes[0]
    key(pygame.KEYDOWN, pygame.K_ESCAPE)
    assert window.run() == 0


def test_cli_play_runs_headless_to_the_end(capsys):
    assert cli.main(["play", "--ghost", "heuristic", "--episodes", "1", "--speed", "16"]) == 0
    assert "episode 1 (seed 10000): return" in capsys.readouterr().out  # the evaluation seeds
