"""The telemetry HUD: one drawing, used by the watch and play windows and by GIF export.

``draw_hud`` is a pure function of what it is given (observation, action, step,
return, episode, analyzer report, and optionally a ``ValueReadout``), so a GIF can
redraw the HUD of any past frame from the recorded episode, exactly as the window
showed it. The value readout is what the agent makes of the shown state: its critic's
Q(s, a) and its actor's two engine commands, computed once per shown frame by
``value_readout`` (one forward pass, never on the training thread).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lab import lander

TEXT = (235, 235, 235)
DIM = (150, 150, 165)
PANEL = (10, 12, 30, 165)
BORDER = (110, 110, 150)
GOOD = (90, 220, 120)
WARN = (245, 190, 60)
BAD = (240, 80, 80)
FLAME = (255, 150, 50)
SIDE = (120, 190, 255)
VALUE = (200, 160, 255)


@dataclass(frozen=True)
class Telemetry:
    """The observation in physical units: metres, m/s, degrees."""

    x_m: float
    altitude_m: float
    vx_ms: float
    vy_ms: float
    tilt_deg: float
    spin_dps: float
    left_leg: bool
    right_leg: bool

    @classmethod
    def from_obs(cls, obs: np.ndarray) -> Telemetry:
        o = np.asarray(obs, dtype=np.float64).reshape(lander.OBS_DIM)
        right_leg, left_leg = lander.legs(o)
        return cls(
            x_m=o[lander.X] * lander.X_M,
            altitude_m=o[lander.Y] * lander.Y_M,  # above the pad, where the legs would touch it
            vx_ms=o[lander.VX] * lander.VX_MPS,
            vy_ms=o[lander.VY] * lander.VY_MPS,
            # positive: counter-clockwise; after a flip the env's angle keeps counting turns,
            # the HUD shows where the lander points
            tilt_deg=(math.degrees(o[lander.ANGLE]) + 180.0) % 360.0 - 180.0,
            spin_dps=math.degrees(o[lander.SPIN] * lander.SPIN_RAD_S),
            right_leg=bool(right_leg),
            left_leg=bool(left_leg),
        )


def throttles(action: np.ndarray) -> tuple[float, float]:
    """The engine power the env applies: main in [0, 1], side in [-1, 1] (negative pushes the lander left)."""
    a = np.asarray(action, dtype=np.float64).reshape(lander.ACT_DIM)
    return float(lander.main_power(a[0])), float(lander.side_power(a[1]))


def signed(value: float, digits: int = 1) -> str:
    """'+1.2' or '-1.2', and '+0.0' rather than '-0.0' for tiny negatives, so the HUD doesn't flicker."""
    text = f"{value:+.{digits}f}"
    return text.replace("-", "+") if float(text) == 0 else text


def humanize(name: Any) -> str:
    """'LANDED_SOFTLY' or an enum of it -> 'landed softly'."""
    text = getattr(name, "value", name)
    return str(text).replace("_", " ").lower()


def outcome_color(outcome: str) -> tuple[int, int, int]:
    """Green for a clean landing, amber for a rough one or a time-out, red for crashes and fly-offs."""
    o = humanize(outcome)
    if o.startswith(("crashed", "flew")):
        return BAD
    return GOOD if o in ("landed perfectly", "landed softly") else WARN


def verdict_lines(report: Any | None, ret: float, top: int = 3) -> tuple[str, list[str]]:
    """The headline and detail lines of the end-of-episode banner."""
    if report is None:
        return "episode over", [f"return {signed(ret)}"]
    behaviors = [humanize(b) for b in list(getattr(report, "behaviors", []) or [])[:top]]
    details = [f"return {signed(ret)}"] + ([" · ".join(behaviors)] if behaviors else [])
    return humanize(report.outcome), details


@dataclass(frozen=True)
class ValueReadout:
    """What the agent values at the shown frame: TD3's estimate Q(s, a) = min(Q1, Q2), and its actor's commands."""

    main: float
    """The actor's main-engine command in [-1, 1] (the engine fires above 0)."""
    side: float
    """The actor's side-engine command in [-1, 1] (fires beyond +-0.5; + pushes right)."""
    q: float | None
    """The smaller twin critic's Q(s, a) for the shown state and action; None without a critic."""
    note: str = ""
    """Why there is no Q (e.g. "no critic in this file")."""
    history: tuple[float, ...] = ()
    """Q at the frames shown so far in this episode, for the sparkline."""


def value_readout(policy: Any, obs: np.ndarray, action: np.ndarray | None = None,
                  history: Sequence[float] = ()) -> ValueReadout:
    """The actor's commands for ``obs`` and the critic's Q(obs, action), action defaulting to those commands.

    One actor pass and one critic pass. ``policy`` is a ``lab.policy.Policy``; one without a
    critic gives q=None and its reason in ``note``.
    """
    obs = np.asarray(obs, dtype=np.float32).reshape(lander.OBS_DIM)
    commands = np.asarray(policy(obs), dtype=np.float32).reshape(lander.ACT_DIM)
    acted = commands if action is None else np.asarray(action, dtype=np.float32).reshape(lander.ACT_DIM)
    reason = getattr(policy, "no_critic_reason", "no critic")
    if reason is not None:
        return ValueReadout(float(commands[0]), float(commands[1]), None, str(reason), tuple(history))
    q = float(policy.value(obs, acted))
    return ValueReadout(float(commands[0]), float(commands[1]), q, "", (*history, q))


def value_rows(readout: ValueReadout) -> list[tuple[str, str]]:
    """The overlay's lines, label and value, exactly as drawn (the tests read these)."""
    q = ("Q(s,a)", signed(readout.q, 1)) if readout.q is not None else ("Q(s,a)", "—")
    return [q, ("main cmd", signed(readout.main, 2)), ("side cmd", signed(readout.side, 2))]


def _scale(surface: Any) -> float:
    return surface.get_height() / 400.0


def _panel(surface: Any, rect: Any) -> None:
    import pygame

    box = pygame.Surface(rect.size, pygame.SRCALPHA)
    box.fill(PANEL)
    surface.blit(box, rect.topleft)
    pygame.draw.rect(surface, BORDER, rect, width=1)


def _bar(surface: Any, rect: Any, fraction: float, color: tuple[int, int, int], centered: bool = False) -> None:
    import pygame

    pygame.draw.rect(surface, (40, 40, 60), rect)
    if centered:
        mid = rect.x + rect.w // 2
        w = int(round(abs(fraction) * rect.w / 2))
        fill = pygame.Rect(mid - w if fraction < 0 else mid, rect.y, w, rect.h)
        pygame.draw.line(surface, DIM, (mid, rect.y - 1), (mid, rect.bottom), 1)
    else:
        fill = pygame.Rect(rect.x, rect.y, int(round(fraction * rect.w)), rect.h)
    if fill.w > 0:
        pygame.draw.rect(surface, color, fill)
    pygame.draw.rect(surface, BORDER, rect, width=1)


def _text(surface: Any, text: str, pos: tuple[int, int], size: int, color=TEXT, bold=False, anchor="topleft") -> Any:
    from lab.render.fonts import font

    img = font(size, bold).render(text, True, color)
    rect = img.get_rect(**{anchor: pos})
    surface.blit(img, rect)
    return rect


def telemetry_rows(obs: np.ndarray, step: int, ret: float, episode: int) -> list[tuple[str, str]]:
    t = Telemetry.from_obs(obs)
    return [
        ("episode", f"{episode}"),
        ("step", f"{step}"),
        ("return", signed(ret, 1)),
        ("altitude", f"{t.altitude_m + 0.0:.2f} m".replace("-0.00", "0.00")),
        ("h speed", f"{signed(t.vx_ms, 2)} m/s"),
        ("v speed", f"{signed(t.vy_ms, 2)} m/s"),
        ("tilt", f"{signed(t.tilt_deg, 1)}°"),
        ("spin", f"{signed(t.spin_dps, 0)}°/s"),
    ]


def draw_hud(surface: Any, obs: np.ndarray, action: np.ndarray, step: int, ret: float, episode: int,
             report: Any | None = None, *, show_verdict: bool = False, notes: Sequence[str] = (),
             value: ValueReadout | None = None) -> None:
    """Draw telemetry, leg contacts and throttle bars over ``surface``; the verdict banner if asked.

    ``notes`` are extra lines for the banner (play mode adds the ghost agent's result);
    ``value``, when given, adds what the agent values (Q and its commands) below the throttles.

    Sizes follow the surface height, and below 300 px a compact layout keeps small
    GIFs readable instead of shrinking the window's layout into illegible text.
    """
    if surface.get_height() < 300:
        _draw_compact(surface, obs, action, step, ret, episode, value)
    else:
        _draw_full(surface, obs, action, step, ret, episode)
        if value is not None:
            _draw_value(surface, value)
    if show_verdict:
        draw_verdict(surface, report, ret, notes)


def _draw_full(surface: Any, obs: np.ndarray, action: np.ndarray, step: int, ret: float, episode: int) -> None:
    import pygame

    s = _scale(surface)
    size, line, pad = round(17 * s), round(17 * s), round(8 * s)
    rows = telemetry_rows(obs, step, ret, episode)
    width = round(170 * s)
    left = pygame.Rect(pad, pad, width, pad * 2 + line * (len(rows) + 1))
    _panel(surface, left)
    y = left.y + pad
    for label, value in rows:
        _text(surface, label.upper(), (left.x + pad, y), size, DIM)
        _text(surface, value, (left.right - pad, y), size, TEXT, anchor="topright")
        y += line
    _text(surface, "LEGS", (left.x + pad, y), size, DIM)
    _legs(surface, obs, (left.right - pad, y + line // 2), round(9 * s))

    main, side = throttles(action)
    right = pygame.Rect(surface.get_width() - pad - width, pad, width, pad * 2 + line * 4)
    _panel(surface, right)
    y = right.y + pad
    _text(surface, "MAIN", (right.x + pad, y), size, DIM)
    _text(surface, f"{main:.0%}", (right.right - pad, y), size, anchor="topright")
    _bar(surface, pygame.Rect(right.x + pad, y + line, right.w - 2 * pad, round(line * 0.7)), main, FLAME)
    y += 2 * line
    _text(surface, "SIDE", (right.x + pad, y), size, DIM)
    label = "off" if side == 0 else f"{'left' if side < 0 else 'right'} {abs(side):.0%}"
    _text(surface, label, (right.right - pad, y), size, anchor="topright")
    _bar(surface, pygame.Rect(right.x + pad, y + line, right.w - 2 * pad, round(line * 0.7)), side, SIDE,
         centered=True)


def _draw_compact(surface: Any, obs: np.ndarray, action: np.ndarray, step: int, ret: float, episode: int,
                  value: ValueReadout | None = None) -> None:
    import pygame

    s = max(_scale(surface), 0.45)
    size, line, pad = max(11, round(24 * s)), max(10, round(22 * s)), max(3, round(6 * s))
    t = Telemetry.from_obs(obs)
    lines = [f"ep {episode}  step {step}  R {signed(ret, 0)}",
             f"alt {t.altitude_m:.1f} m  vy {signed(t.vy_ms)} m/s".replace("alt -0.0", "alt 0.0"),
             f"vx {signed(t.vx_ms)}  tilt {signed(t.tilt_deg, 0)}°"]
    colors = [TEXT] * len(lines)
    if value is not None:
        (_, q), (_, main_cmd), (_, side_cmd) = value_rows(value)
        lines += [f"Q(s,a) {q}" if value.q is not None else value.note, f"cmd {main_cmd} {side_cmd}"]
        colors += [VALUE if value.q is not None else DIM, VALUE]
    from lab.render.fonts import font

    width = max(font(size).size(text)[0] for text in lines) + 2 * pad
    box = pygame.Rect(pad, pad, width, len(lines) * line + 2 * pad)
    _panel(surface, box)
    for i, (text, color) in enumerate(zip(lines, colors)):
        _text(surface, text, (box.x + pad, box.y + pad + i * line), size, color)

    main, side = throttles(action)
    bar_w, bar_h = max(40, round(110 * s)), max(5, round(12 * s))
    right = pygame.Rect(surface.get_width() - pad - bar_w - 2 * pad, pad, bar_w + 2 * pad, 2 * line + 2 * pad)
    _panel(surface, right)
    _bar(surface, pygame.Rect(right.x + pad, right.y + pad + (line - bar_h) // 2, bar_w, bar_h), main, FLAME)
    _bar(surface, pygame.Rect(right.x + pad, right.y + pad + line + (line - bar_h) // 2, bar_w, bar_h), side, SIDE,
         centered=True)
    _legs(surface, obs, (right.right - pad, right.bottom + pad + bar_h), bar_h)


def _draw_value(surface: Any, value: ValueReadout) -> None:
    """Below the throttles: Q(s, a), the actor's commands, and Q over the episode so far."""
    import pygame

    s = _scale(surface)
    size, line, pad = round(17 * s), round(17 * s), round(8 * s)
    width = round(170 * s)
    spark = round(30 * s) if value.q is not None else 0
    top = pad + pad * 2 + line * 4 + pad  # under the throttle panel
    box = pygame.Rect(surface.get_width() - pad - width, top, width, pad * 2 + line * 4 + spark)
    _panel(surface, box)
    y = box.y + pad
    _text(surface, "WHAT IT VALUES", (box.x + pad, y), round(13 * s), DIM)
    y += line
    for label, text in value_rows(value):
        if label.startswith("Q") and value.q is None:
            _text(surface, value.note, (box.x + pad, y), round(13 * s), DIM)
        else:
            _text(surface, label if label.startswith("Q") else label.upper(), (box.x + pad, y), size, DIM)
            _text(surface, text, (box.right - pad, y), size, VALUE, anchor="topright")
        y += line
    if spark and len(value.history) > 1:
        _sparkline(surface, pygame.Rect(box.x + pad, y + 2, box.w - 2 * pad, spark - 4), value.history)


def _sparkline(surface: Any, rect: Any, values: Sequence[float]) -> None:
    """Q over the episode so far, scaled to its own range, with the latest value as a dot."""
    import pygame

    v = np.asarray(values[-200:], dtype=np.float64)
    low, high = float(v.min()), float(v.max())
    span = high - low if high > low else 1.0
    xs = rect.x + np.linspace(0, rect.w - 1, len(v))
    ys = rect.bottom - 1 - (v - low) / span * (rect.h - 1)
    points = [(int(x), int(y)) for x, y in zip(xs, ys)]
    pygame.draw.lines(surface, VALUE, False, points, 1)
    pygame.draw.circle(surface, TEXT, points[-1], 2)


def _legs(surface: Any, obs: np.ndarray, right_mid: tuple[int, int], radius: int) -> None:
    """Two lamps, left and right leg: green while the leg touches the ground."""
    import pygame

    t = Telemetry.from_obs(obs)
    x, y = right_mid
    for i, touching in enumerate((t.right_leg, t.left_leg)):
        cx = x - radius - i * (2 * radius + max(3, radius // 2))
        pygame.draw.circle(surface, GOOD if touching else (60, 60, 75), (cx, y), radius)
        pygame.draw.circle(surface, BORDER, (cx, y), radius, width=1)


def draw_verdict(surface: Any, report: Any | None, ret: float, notes: Sequence[str] = ()) -> None:
    """The analyzer's outcome and top behaviors, centred over the scene."""
    import pygame

    from lab.render.fonts import font

    s = max(_scale(surface), 0.5)
    headline, details = verdict_lines(report, ret)
    details = details + list(notes)
    big, small, pad = max(15, round(34 * s)), max(11, round(20 * s)), round(10 * s)
    width = max([font(big, True).size(headline.upper())[0]] + [font(small).size(d)[0] for d in details]) + 4 * pad
    width = min(width, surface.get_width() - 2 * pad)
    height = round(big * 0.8) + len(details) * round(small * 0.9) + 3 * pad
    box = pygame.Rect(0, 0, width, height)
    box.center = (surface.get_width() // 2, round(surface.get_height() * 0.555))  # below the telemetry panels
    _panel(surface, box)
    color = outcome_color(headline) if report is not None else TEXT
    y = _text(surface, headline.upper(), (box.centerx, box.y + pad), big, color, True, anchor="midtop").bottom
    for d in details:
        y = _text(surface, d, (box.centerx, y + pad // 2), small, TEXT, anchor="midtop").bottom


def draw_toast(surface: Any, text: str) -> None:
    """A one-line status message at the bottom (keys, paused, speed, saved GIF), shrunk to fit."""
    import pygame

    from lab.render.fonts import font

    s = max(_scale(surface), 0.5)
    size, pad = max(11, round(18 * s)), round(6 * s)
    while size > 9 and font(size).size(text)[0] > surface.get_width() - 4 * pad:
        size -= 1
    w, h = font(size).size(text)
    box = pygame.Rect(0, 0, w + 2 * pad, h + pad)
    box.midbottom = (surface.get_width() // 2, surface.get_height() - pad)
    _panel(surface, box)
    _text(surface, text, box.center, size, TEXT, anchor="center")


def hud_frame(frame: np.ndarray, obs: np.ndarray, action: np.ndarray, step: int, ret: float, episode: int,
              report: Any | None = None, *, show_verdict: bool = False,
              value: ValueReadout | None = None) -> np.ndarray:
    """The HUD drawn onto a copy of an (H, W, 3) frame, off screen (works with SDL_VIDEODRIVER=dummy)."""
    surface = array_to_surface(frame)
    draw_hud(surface, obs, action, step, ret, episode, report, show_verdict=show_verdict, value=value)
    return surface_to_array(surface)


def array_to_surface(frame: np.ndarray) -> Any:
    import pygame

    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    return pygame.image.frombuffer(frame.tobytes(), (frame.shape[1], frame.shape[0]), "RGB").copy()


def surface_to_array(surface: Any) -> np.ndarray:
    import pygame

    w, h = surface.get_size()
    return np.frombuffer(pygame.image.tobytes(surface, "RGB"), dtype=np.uint8).reshape(h, w, 3).copy()
