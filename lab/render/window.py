"""The pygame window: watch an agent fly, with the HUD, pause/step/speed keys and GIF snapshots.

Beside the HUD, the value overlay shows what the agent makes of each shown frame: its
critic's Q(s, a) (TD3's min of the twins), its actor's two engine commands and Q over the
episode so far; V toggles it. It costs one actor and one critic pass per drawn frame.

``Viewer`` is one frame loop, split into ``handle_event`` (keys) and ``tick``
(advance the sim, draw, flip) so tests drive it by posting events, headless under
SDL_VIDEODRIVER=dummy. ``WatchWindow`` flies a policy; ``lab.render.play`` flies
the keyboard.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from lab.lander import FPS as ENV_FPS
from lab.render.episode import Flight, analyze
from lab.render.hud import ValueReadout, value_readout

SPEED_RANGE = (0.125, 16.0)
FPS_RANGE = (1, 240)
GIF_EVERY, GIF_SCALE, GIF_FPS = 2, 0.5, 25  # G keeps every 2nd step: 25 fps plays back in real time
SIZE = (600, 400)

# on-screen text too: pygame's default font has no arrow glyphs, so keys are spelled out
KEYS_HELP = ("Space pause · Right arrow step · N next · R restart · +/- speed · G gif · H hud · V value · "
             "Esc quit")


def check_settings(episodes: int | None, speed: float, fps: float) -> None:
    """Reject bad settings with the field, the value and what is allowed."""
    if episodes is not None and (not isinstance(episodes, int) or isinstance(episodes, bool) or episodes < 1):
        raise ValueError(f"episodes must be an integer >= 1 (or omitted to play until you quit), got {episodes!r}")
    if not SPEED_RANGE[0] <= float(speed) <= SPEED_RANGE[1]:
        raise ValueError(f"speed must be between {SPEED_RANGE[0]} and {SPEED_RANGE[1]}, got {speed!r}")
    if not FPS_RANGE[0] <= float(fps) <= FPS_RANGE[1]:
        raise ValueError(f"fps must be between {FPS_RANGE[0]} and {FPS_RANGE[1]}, got {fps!r}")


class Viewer:
    """The frame loop shared by watching and playing; subclasses choose the actions."""

    title = "Lander Lab"
    step_keys: tuple[str, ...] = ("right", ".")
    verdict_seconds = 2.5

    def __init__(self, episodes: int | None = None, seed: int = 0, speed: float = 1.0, fps: float = ENV_FPS,
                 hud: bool = True, gif_dir: str | Path = ".", throttle: bool = True, label: str = "",
                 verbose: bool = False, value: bool = True) -> None:
        check_settings(episodes, speed, fps)
        self.episodes, self.first_seed, self.speed, self.fps = episodes, int(seed), float(speed), float(fps)
        self.hud_on, self.gif_dir, self.throttle, self.label = hud, Path(gif_dir), throttle, label
        self.verbose = verbose  # print each episode's verdict: useful when scripted
        self.value_on = value
        """Draw the value overlay (when ``value_policy`` is set); V toggles it."""
        self.value_policy: Any = None
        """The Policy whose actor and critic the overlay reads; None draws no overlay."""
        self.readout: ValueReadout | None = None
        """The overlay of the frame on screen."""
        self.screen: Any = None
        self.flight: Flight | None = None
        self.episode = 0  # 1-based number of the episode on screen
        self.finished_episodes = 0
        self.paused = False
        self.running = False
        self.report: Any = None
        self.hold = 0  # frames left showing the verdict
        self.frame_times: deque[float] = deque(maxlen=500)  # seconds of work per frame, waiting excluded
        self.saved_gifs: list[Path] = []
        self._pending_steps = 0.0
        self._step_once = False
        self._frame_surface: Any = None
        self._toast: tuple[str, float] | None = None
        self._gif_frames: list[tuple[int, Future]] = []  # (step, downscaled frame being made)
        self._gif_threads: list[threading.Thread] = []
        # Shrinking frames for the G key runs beside the frame loop (Pillow releases the GIL), keeping frames even.
        self._shrinker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gif-frames")

    # ---- life cycle -----------------------------------------------------------------------
    def open(self) -> Viewer:
        import pygame

        pygame.display.init()
        pygame.font.init()
        self.screen = pygame.display.set_mode(SIZE)
        pygame.display.set_caption(f"{self.title} — {self.label}" if self.label else self.title)
        pygame.key.set_repeat(0)
        self.clock = pygame.time.Clock()
        self.flight = Flight(self.first_seed, render=True)
        self.running = True
        self.begin_episode(self.first_seed)
        return self

    def run(self) -> int:
        """Play until the episodes are done or the user quits; 0 either way."""
        if not self.running:
            self.open()
        try:
            while self.tick():
                pass
        finally:
            self.close()
        return 0

    def close(self) -> None:
        for thread in self._gif_threads:
            thread.join()
        self._shrinker.shutdown(wait=True)
        if self.flight is not None:
            self.flight.close()
            self.flight = None
        if self.screen is not None:
            import pygame

            pygame.display.quit()
            self.screen = None
        self.running = False

    # ---- episodes -------------------------------------------------------------------------
    def begin_episode(self, seed: int, restart: bool = False) -> None:
        assert self.flight is not None
        self.flight.reset(seed)
        if not restart:
            self.episode += 1
        self.report, self.hold, self._pending_steps = None, 0, 0.0
        self._gif_frames = []
        self.readout = None
        self.on_reset(seed)
        self._render_frame()

    def next_episode(self) -> None:
        """Count the current episode as done; start the next seed, or stop after the last one."""
        self.finished_episodes += 1
        if self.episodes is not None and self.finished_episodes >= self.episodes:
            self.running = False
            return
        self.begin_episode(self.first_seed + self.finished_episodes)

    def end_episode(self) -> None:
        """The lander came to rest, crashed or timed out: show the analyzer's verdict for a moment."""
        assert self.flight is not None
        self.report = analyze(self.flight.record())
        self.hold = max(1, round(self.verdict_seconds * self.fps / max(1.0, self.speed)))
        if self.verbose:
            verdict = self.report.summary() if self.report is not None else "episode over"
            print(f"episode {self.episode} (seed {self.flight.seed}): return {self.flight.ret:+.1f}; {verdict}",
                  flush=True)

    # ---- hooks for subclasses ----------------------------------------------------------------
    def choose_action(self, obs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def on_reset(self, seed: int) -> None:
        """Called after each reset (play mode resets its ghost here)."""

    def after_step(self) -> None:
        """Called after each simulation step (play mode steps its ghost here)."""

    def draw_extras(self, surface: Any) -> None:
        """Drawn between the scene and the HUD (play mode draws its ghost here)."""

    def verdict_notes(self) -> list[str]:
        return []

    def overlay_action(self, obs: np.ndarray) -> np.ndarray | None:
        """The action whose Q the overlay shows; None: the actor's own command for this state."""
        return None

    def handle_key(self, key: int, name: str) -> bool:
        """Subclass keys; return True when handled."""
        return False

    def handle_key_up(self, key: int, name: str) -> None:
        """Subclass key releases (play mode's engines)."""

    # ---- events -----------------------------------------------------------------------------
    def handle_event(self, event: Any) -> None:
        import pygame

        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.KEYUP:
            self.handle_key_up(event.key, pygame.key.name(event.key))
        elif event.type == pygame.KEYDOWN:
            self._key_down(event.key, pygame.key.name(event.key), getattr(event, "unicode", ""))

    def _key_down(self, key: int, name: str, char: str) -> None:
        import pygame

        if key == pygame.K_ESCAPE:
            self.running = False
        elif self.handle_key(key, name):
            pass
        elif key == pygame.K_SPACE:
            self.paused = not self.paused
            self.toast("paused — Right arrow steps one frame" if self.paused else "resumed")
        elif name in self.step_keys:
            if self.paused:
                self._step_once = True
        elif key == pygame.K_n:
            self.next_episode()
        elif key == pygame.K_r:
            self.begin_episode(self.flight.seed, restart=True)  # type: ignore[union-attr]
            self.toast(f"restarted seed {self.flight.seed}")  # type: ignore[union-attr]
        elif key in (pygame.K_PLUS, pygame.K_KP_PLUS, pygame.K_EQUALS) or char == "+":
            self.set_speed(self.speed * 2)
        elif key in (pygame.K_MINUS, pygame.K_KP_MINUS) or char == "-":
            self.set_speed(self.speed / 2)
        elif key == pygame.K_g:
            self.save_gif()
        elif key == pygame.K_h:
            self.hud_on = not self.hud_on
            self.toast("HUD on" if self.hud_on else "HUD off — H brings it back")
        elif key == pygame.K_v:
            self.value_on = not self.value_on
            self._update_readout()
            self.toast("value overlay on" if self.value_on else "value overlay off — V brings it back")

    def set_speed(self, speed: float) -> None:
        self.speed = float(np.clip(speed, *SPEED_RANGE))
        self.toast(f"speed ×{self.speed:g}")

    def toast(self, text: str, seconds: float = 1.5) -> None:
        self._toast = (text, time.monotonic() + seconds)

    # ---- the frame --------------------------------------------------------------------------
    def tick(self) -> bool:
        """Handle events, advance the simulation by speed × real time, draw one frame; False when done."""
        import pygame

        start = time.perf_counter()
        for event in pygame.event.get():
            self.handle_event(event)
            if not self.running:
                return False
        self.advance()
        if not self.running:
            return False
        self.draw()
        pygame.display.flip()
        self.frame_times.append(time.perf_counter() - start)
        self.clock.tick(self.fps if self.throttle else 0)
        return self.running

    def advance(self) -> None:
        flight = self.flight
        assert flight is not None
        if self.hold:
            if not self.paused:
                self.hold -= 1
                if self.hold == 0:
                    self.next_episode()
            return
        if self.paused:
            steps = 1 if self._step_once else 0
            self._step_once = False
        else:
            self._pending_steps += self.speed * ENV_FPS / self.fps
            steps = int(self._pending_steps)
            self._pending_steps -= steps
        for i in range(steps):
            if flight.done:
                break
            flight.step(self.choose_action(flight.obs))
            self.after_step()
            if i < steps - 1 and not flight.done:
                flight.skip_frame()  # not shown, but the flames age as if it were
        if steps:
            self._render_frame()
            if flight.done:
                self.end_episode()

    def _render_frame(self) -> None:
        """Render the env once per shown frame, and keep a small copy for the G key."""
        from lab.render.gif import downscale
        from lab.render.hud import array_to_surface

        flight = self.flight
        assert flight is not None
        frame = flight.frame()
        self._frame_surface = array_to_surface(frame)
        self._update_readout()
        last = self._gif_frames[-1][0] if self._gif_frames else -GIF_EVERY
        if flight.steps - last >= GIF_EVERY or flight.done or not self._gif_frames:
            self._gif_frames.append((flight.steps, self._shrinker.submit(downscale, frame, GIF_SCALE)))

    def _update_readout(self) -> None:
        """One forward pass for the frame about to be shown; a finished episode keeps its last readout."""
        flight = self.flight
        if not (self.value_on and self.value_policy is not None) or flight is None:
            self.readout = None
            return
        if flight.done and self.readout is not None:
            return  # the terminal state has no action to value
        history = self.readout.history if self.readout is not None else ()
        self.readout = value_readout(self.value_policy, flight.obs, self.overlay_action(flight.obs), history)

    def draw(self) -> None:
        from lab.render.hud import draw_hud, draw_toast

        flight = self.flight
        assert flight is not None
        self.screen.blit(self._frame_surface, (0, 0))
        self.draw_extras(self.screen)
        if self.hud_on:
            draw_hud(self.screen, flight.obs, flight.last_action, flight.steps, flight.ret, self.episode,
                     self.report, show_verdict=self.hold > 0, notes=self.verdict_notes(),
                     value=self.readout if self.value_on else None)
        if self._toast and time.monotonic() < self._toast[1]:
            draw_toast(self.screen, self._toast[0])
        elif self.paused:
            draw_toast(self.screen, "paused — Space resumes, Right arrow steps")

    # ---- G: the episode so far as a GIF ------------------------------------------------------
    def save_gif(self) -> Path | None:
        """Write the episode so far (HUD included) to gif_dir; the write runs in a thread so the window stays smooth."""
        from lab.render.gif import check_writable, episode_caption, finish_frames, write_gif

        flight = self.flight
        assert flight is not None
        if not self._gif_frames:
            return None
        try:
            check_writable(self.gif_dir)
        except OSError as exc:
            self.toast(f"cannot save GIF: {exc}", 4)
            return None
        steps = [step for step, _ in self._gif_frames]
        frames = [pending.result() for _, pending in self._gif_frames]
        record = flight.record()
        caption = episode_caption(self.label or "lander", flight.seed, flight.ret, self.report if self.hold else None)
        finished = finish_frames(frames, steps, record, self.report, self.episode, caption,
                                 hud=self.hud_on, verdict=self.hold > 0)
        path = self.gif_dir / f"lander-seed{flight.seed}-step{flight.steps}-{time.strftime('%Y%m%d-%H%M%S')}.gif"

        def write() -> None:
            try:
                write_gif(finished, path, GIF_FPS, caption)
                self.saved_gifs.append(path)
                print(f"saved GIF: {path}", flush=True)
                self.toast(f"saved {path.name}", 3)
            except OSError as exc:
                self.toast(f"cannot save GIF: {exc}", 4)

        thread = threading.Thread(target=write, name="gif-writer", daemon=False)
        thread.start()
        self._gif_threads.append(thread)
        self.toast("saving GIF…")
        return path

    def fps_stats(self) -> dict[str, float]:
        """Work per frame (not counting the wait for the next frame): mean, p95, and the fps it allows."""
        if not self.frame_times:
            return {"frames": 0}
        times = np.asarray(self.frame_times)
        return {"frames": len(times), "mean_ms": float(times.mean() * 1e3),
                "p95_ms": float(np.percentile(times, 95) * 1e3), "max_fps": float(1.0 / times.mean())}


class WatchWindow(Viewer):
    """Watch a policy land, episode after episode (seeds seed, seed+1, ...)."""

    title = "Lander Lab — watch"

    def open(self) -> WatchWindow:
        super().open()
        self.toast(KEYS_HELP, 4)
        return self

    def __init__(self, policy: Any, **kwargs: Any) -> None:
        from lab.render.episode import pilot_label

        kwargs.setdefault("label", pilot_label(policy))
        super().__init__(**kwargs)
        self.policy = policy
        self.value_policy = policy if hasattr(policy, "no_critic_reason") else None

    def choose_action(self, obs: np.ndarray) -> np.ndarray:
        return self.policy(obs)
