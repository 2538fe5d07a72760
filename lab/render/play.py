"""Fly it yourself: the keyboard drives the engines, optionally racing a translucent ghost agent.

The ghost flies the same seed in lockstep in its own (unrendered) env and is
drawn over your scene, so you can compare your landing with the agent's. When the
ghost's file holds a critic, the value overlay shows what the agent makes of *your*
flying: its critic's Q for your state and your keys, and the commands its actor would give.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lab.render.episode import Flight, analyze
from lab.render.hud import humanize, signed
from lab.render.window import Viewer

ENGINE_KEYS = {"up": "main", "w": "main", "left": "left", "a": "left", "right": "right", "d": "right"}
GHOST_COLOR = (120, 220, 255)
# on-screen text: pygame's default font has no arrow glyphs, so keys are spelled out
PLAY_HELP = "Up/W main engine · Left/Right side engines · Space pause · . step · R restart · Esc quit"


def keyboard_action(held: set[str]) -> np.ndarray:
    """Held engines -> an env action: main full on or off; → pushes the lander right, ← left."""
    main = 1.0 if "main" in held else -1.0
    side = (1.0 if "right" in held else 0.0) - (1.0 if "left" in held else 0.0)
    return np.array([main, side], dtype=np.float32)


class PlayWindow(Viewer):
    """A Viewer whose pilot is the keyboard; the arrows fly, so '.' steps a paused frame."""

    title = "Lander Lab — fly it yourself"
    step_keys = (".", "period")
    verdict_seconds = 4.0

    def __init__(self, ghost: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("label", "you")
        super().__init__(**kwargs)
        self.held: set[str] = set()
        self.ghost_policy = ghost
        self.ghost: Flight | None = Flight(self.first_seed, render=False) if ghost is not None else None
        self.ghost_report: Any = None
        self.value_policy = ghost if hasattr(ghost, "no_critic_reason") else None

    def open(self) -> PlayWindow:
        super().open()
        self.toast(PLAY_HELP, 5)
        return self

    def close(self) -> None:
        if self.ghost is not None:
            self.ghost.close()
            self.ghost = None
        super().close()

    def choose_action(self, obs: np.ndarray) -> np.ndarray:
        return keyboard_action(self.held)

    def overlay_action(self, obs: np.ndarray) -> np.ndarray | None:
        """The agent's critic values your keys, not its own command."""
        return keyboard_action(self.held)

    def handle_event(self, event: Any) -> None:
        import pygame

        if event.type in (pygame.WINDOWFOCUSLOST, pygame.WINDOWMINIMIZED):
            self.held.clear()  # a key released in another window never reaches us
        super().handle_event(event)

    def handle_key(self, key: int, name: str) -> bool:
        engine = ENGINE_KEYS.get(name)
        if engine is None:
            return False
        self.held.add(engine)
        return True

    def handle_key_up(self, key: int, name: str) -> None:
        self.held.discard(ENGINE_KEYS.get(name, ""))

    # ---- the ghost -------------------------------------------------------------------------------
    def on_reset(self, seed: int) -> None:
        self.ghost_report = None
        if self.ghost is not None:
            self.ghost.reset(seed)

    def after_step(self) -> None:
        if self.ghost is not None and not self.ghost.done:
            self.ghost.step(self.ghost_policy(self.ghost.obs))

    def end_episode(self) -> None:
        """Let the ghost finish its flight too, so the verdict can compare both."""
        super().end_episode()
        if self.ghost is not None:
            while not self.ghost.done:
                self.ghost.step(self.ghost_policy(self.ghost.obs))
            self.ghost_report = analyze(self.ghost.record())

    def verdict_notes(self) -> list[str]:
        if self.ghost is None or not self.ghost.done:
            return []
        outcome = humanize(self.ghost_report.outcome) if self.ghost_report is not None else "done"
        return [f"agent: {outcome}, return {signed(self.ghost.ret)}"]

    def draw_extras(self, surface: Any) -> None:
        if self.ghost is not None:
            draw_ghost(surface, self.ghost.env.unwrapped)


def draw_ghost(surface: Any, env: Any, color: tuple[int, int, int] = GHOST_COLOR, alpha: int = 110) -> None:
    """The env's lander and legs as translucent polygons, in the env's own screen coordinates."""
    import pygame

    from lab.lander import SCALE, VIEWPORT_H
    from lab.render.fonts import font

    lander = getattr(env, "lander", None)
    if lander is None:
        return
    layer = pygame.Surface(surface.get_size(), pygame.SRCALPHA)
    for body in [lander, *getattr(env, "legs", [])]:
        for fixture in body.fixtures:
            points = [(p[0] * SCALE, VIEWPORT_H - p[1] * SCALE)
                      for p in (body.transform * v for v in fixture.shape.vertices)]
            pygame.draw.polygon(layer, (*color, alpha), points)
            pygame.draw.polygon(layer, (*color, 220), points, width=1)
    x, y = lander.position
    label = font(14).render("agent", True, (*color, 255))
    layer.blit(label, label.get_rect(midbottom=(x * SCALE, VIEWPORT_H - y * SCALE - 22)))
    surface.blit(layer, (0, 0))
