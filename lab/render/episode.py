"""One episode you step yourself, and the pilots that fly it.

The watch window, the play window, GIF export and the notebook viewer all drive
the same ``Flight`` so their telemetry and verdicts always agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lab.events import Trajectory
from lab.rollout.episodes import EpisodeRecorder

ENV_ID = "LunarLanderContinuous-v3"
PILOT_NAMES = ("heuristic", "random")  # checkpoint arguments that name a built-in pilot


def resolve_pilot(spec: Any = None) -> Any:
    """Turn a CLI/API pilot spec into a Policy: None (pretrained), 'heuristic', 'random', a path or a policy."""
    from lab.policy import PRETRAINED_POLICY, as_policy, heuristic_policy, random_policy  # torch: only when flying

    if isinstance(spec, str) and spec.lower() in PILOT_NAMES:
        return heuristic_policy() if spec.lower() == "heuristic" else random_policy()
    if spec is None and not PRETRAINED_POLICY.exists():
        raise FileNotFoundError(f"the pretrained agent {str(PRETRAINED_POLICY)!r} is missing; pass a checkpoint, "
                                "or 'heuristic' for Gymnasium's reference pilot")
    if isinstance(spec, (str, Path)) and not Path(spec).exists():
        raise FileNotFoundError(f"checkpoint {str(spec)!r} does not exist (expected a .pt policy or checkpoint file, "
                                f"a run folder, or one of {', '.join(PILOT_NAMES)})")
    return as_policy(spec)


EpisodeRecord = Trajectory
"""The old name of the one episode record (``lab.events.Trajectory``), kept for callers."""


class Flight:
    """A single LunarLanderContinuous episode with its history; reset it yourself, step it yourself."""

    def __init__(self, seed: int = 0, render: bool = True, env_id: str = ENV_ID, max_episode_steps: int = 0) -> None:
        """env_id and max_episode_steps (0: the env's own limit) as in EnvironmentConfig, so a run's clips
        fly the episodes its evaluations do."""
        from lab.rollout.envs import make_env

        self.env = make_env(env_id, render_mode="rgb_array" if render else None, max_episode_steps=max_episode_steps)
        self.reset(seed)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start over; the same seed gives the same terrain and the same initial push."""
        if seed is not None:
            self.seed = int(seed)
        obs, _ = self.env.reset(seed=self.seed)
        self._episode = EpisodeRecorder(np.asarray(obs, dtype=np.float32), seed=self.seed)
        self.terminated = self.truncated = False
        return self.obs

    @property
    def observations(self) -> list[np.ndarray]:
        return self._episode.observations

    @property
    def actions(self) -> list[np.ndarray]:
        return self._episode.actions

    @property
    def rewards(self) -> list[float]:
        return self._episode.rewards

    @property
    def obs(self) -> np.ndarray:
        return self.observations[-1]

    @property
    def steps(self) -> int:
        return len(self.actions)

    @property
    def ret(self) -> float:
        return float(sum(self.rewards))

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated

    @property
    def last_action(self) -> np.ndarray:
        return self.actions[-1] if self.actions else np.zeros(2, dtype=np.float32)

    def step(self, action: np.ndarray) -> float:
        if self.done:
            raise RuntimeError("the episode is over; call reset() first")
        action = np.clip(np.asarray(action, dtype=np.float32).reshape(2), -1.0, 1.0)
        obs, reward, terminated, truncated, _ = self.env.step(action)
        self._episode.add(action, float(reward), np.asarray(obs, dtype=np.float32))
        self.terminated, self.truncated = bool(terminated), bool(truncated)
        return float(reward)

    def frame(self) -> np.ndarray:
        """The env's own rendering of the current state, (400, 600, 3) uint8."""
        return self.env.render()

    def skip_frame(self) -> None:
        """Age the flame particles as a render would, without drawing: frames kept later look the same.

        LunarLander shortens particle lives inside render(); exporters that keep every
        other frame call this for the skipped ones instead of paying for a full render.
        """
        env = self.env.unwrapped
        if hasattr(env, "particles") and hasattr(env, "_clean_particles"):
            for particle in env.particles:
                particle.ttl -= 0.15  # as in LunarLander.render
            env._clean_particles(False)
        else:  # another gymnasium version: fall back to the real thing
            self.env.render()

    def record(self) -> Trajectory:
        return self._episode.finish(self.terminated, self.truncated)

    def close(self) -> None:
        self.env.close()


FrameFn = Callable[[np.ndarray, Flight], np.ndarray]


def run_episode(policy: Callable[[np.ndarray], np.ndarray], seed: int = 0, every: int = 1,
                frame_fn: FrameFn | None = None, render: bool = True, flight: Flight | None = None) -> Trajectory:
    """Fly one episode; keep every ``every``-th frame (and always the last), passed through ``frame_fn``.

    Skipped steps still age the flame particles (``Flight.skip_frame``), so the
    flames look the same whatever ``every`` is.
    """
    if int(every) < 1:
        raise ValueError(f"every must be an integer >= 1, got {every!r}")
    own = flight is None
    flight = flight or Flight(seed, render=render)
    if not own:
        flight.reset(seed)
    frames: list[np.ndarray] = []
    steps: list[int] = []

    def keep(frame: np.ndarray) -> None:
        frames.append(frame_fn(frame, flight) if frame_fn else frame)
        steps.append(flight.steps)

    try:
        if render:
            keep(flight.frame())
        while not flight.done:
            flight.step(policy(flight.obs))
            if render:
                if flight.steps % every == 0 or flight.done:
                    keep(flight.frame())
                else:
                    flight.skip_frame()
        record = flight.record()
    finally:
        if own:
            flight.close()
    return dataclasses.replace(record, frames=frames, frame_steps=steps)


def analyze(record: Trajectory) -> Any | None:
    """The behavior analyzer's report, or None while lab.analysis is unavailable (then show just the return)."""
    try:
        from lab.lander.behavior import BehaviorAnalyzer
    except ImportError as exc:
        if exc.name and not exc.name.startswith("lab"):
            raise  # a missing third-party dependency is a real error, not "analyzer not there"
        return None
    return BehaviorAnalyzer().analyze(record.observations, record.actions, record.terminated, record.truncated,
                                      record.rewards)


def pilot_label(policy: Any) -> str:
    """A short name for captions: 'pretrained agent', 'heuristic', or a checkpoint's file name."""
    from lab.policy import PRETRAINED_POLICY

    name = str(getattr(policy, "name", "policy"))
    if name == str(PRETRAINED_POLICY):
        return "pretrained agent"
    return Path(name).name if ("/" in name or "\\" in name or name.endswith(".pt")) else name
