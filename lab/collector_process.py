"""Overlapped collection (run.overlap_collection): the Collector in a second process, one step behind the learner.

    step t:   parent copies the actor into shared memory, sends "step"  ─┐
              parent pays the updates owed by step t-1                    │ child: act, step the envs,
              parent receives step t's transitions and episodes   ◄──────┘ build transitions and episodes

Env physics, inference, noise and episode bookkeeping run on the second core while the learner updates
on the first. Each side waits for the other once per step, so a run is deterministic, but it is not the
synchronous run: the actor that acts at step t has not yet learned from step t-1's transitions. The
random stream and the noise state live in the child; every answer carries them back, so the parent's
copies (``rng``, ``noise``) are current whenever a checkpoint is written, and a reset sends them back
down, so a restored checkpoint reaches the child.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from lab.collector import CollectedStep, Collector
from lab.config import Config
from lab.noise import make_noise
from lab.worker_process import Worker


def _collector_handler(config: Config, rng_state: dict[str, Any], actor: torch.nn.Module
                       ) -> Callable[[str, Any], Any]:
    """The child's side: a plain Collector acting with the shared-memory actor."""
    torch.set_num_threads(1)
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    collector = Collector(config, rng)

    @torch.no_grad()
    def act(obs: np.ndarray) -> np.ndarray:
        return actor(torch.as_tensor(obs)).numpy()

    def state() -> tuple[Mapping[str, Any], np.ndarray]:
        return rng.bit_generator.state, collector.noise.state

    def handle(command: str, payload: Any) -> Any:
        if command == "step":
            acting, noise_scale = payload
            return collector.step(act if acting else None, noise_scale), state()
        if command == "reset":
            seeds, (rng.bit_generator.state, collector.noise.state[...]) = payload
            collector.reset(seeds)
            return state()
        if command == "config":
            collector.set_config(payload)
            return None
        if command == "spaces":
            return collector.obs_dim, collector.act_dim
        if command == "close":
            collector.close()
            return None
        raise ValueError(f"unknown collector command {command!r}")

    return handle


class CollectorProcess:
    """A Collector in a child process, stepping while the learner updates; the trainer's drop-in for Collector."""

    def __init__(self, config: Config, rng: np.random.Generator, actor: torch.nn.Module) -> None:
        self.config = config
        self.rng = rng
        self._actor = copy.deepcopy(actor).cpu().requires_grad_(False).share_memory()
        self._worker = Worker("lab-collector", _collector_handler, config, rng.bit_generator.state, self._actor)
        self.num_envs = config.env.num_envs
        self.obs_dim, self.act_dim = self._worker.call("spaces")
        self.noise = make_noise(config.noise, self.num_envs, self.act_dim, rng)

    def set_config(self, config: Config) -> None:
        self.config = config
        self.noise.config = config.noise
        self._worker.call("config", config)

    def reset(self, seeds: list[int]) -> None:
        """Start every env afresh, with the parent's random stream and noise state (restored or current)."""
        self._take_state(self._worker.call("reset", (list(seeds), (self.rng.bit_generator.state, self.noise.state))))

    def step(self, actor: torch.nn.Module | None, noise_scale: float = 1.0,
             meanwhile: Callable[[], None] | None = None) -> CollectedStep:
        """One vector step in the child with ``actor``'s current weights (None: uniform warm-up); ``meanwhile``
        runs here while the child steps."""
        if actor is not None:
            with torch.no_grad():
                live = actor.state_dict()
                for name, shared in self._actor.state_dict().items():
                    shared.copy_(live[name])
        self._worker.send("step", (actor is not None, noise_scale))
        try:
            if meanwhile is not None:
                meanwhile()
        finally:
            step, state = self._worker.receive()
        self._take_state(state)
        return step

    def _take_state(self, state: tuple[Mapping[str, Any], np.ndarray]) -> None:
        self.rng.bit_generator.state, self.noise.state[...] = state

    def close(self) -> None:
        self._worker.close()


def make_collector(config: Config, rng: np.random.Generator, actor: torch.nn.Module) -> Collector | CollectorProcess:
    """The run's collector: in this process (the deterministic default) or overlapped in a second one."""
    return CollectorProcess(config, rng, actor) if config.run.overlap_collection else Collector(config, rng)
