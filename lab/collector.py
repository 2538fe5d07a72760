"""The rollout: every episode the lab runs is recorded here, in training, evaluation, PBT and the renderers.

``Collector.step`` reads top to bottom like lab/td3.py: choose actions (uniform
or the warm-up pilot while warming up, else the actor; pilots fly with scaled
exploration noise), step every env, drop the steps that only carry a NEXT_STEP
autoreset observation, add the shaping bonus, turn steps into (n-step)
transitions, and finish the episodes that ended. It returns transitions for
the replay buffer and finished episodes; it never learns and never publishes,
so its callers decide what happens next.

``EpisodeRecorder`` assembles one ``Trajectory``; ``run_episodes`` flies a batch
of plain (non-vector) envs to the end with one batched forward pass per step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from lab.config import Config
from lab.envs import make_vector_env
from lab.events import Trajectory
from lab.lander.shaping import shaping_bonus
from lab.lander.touchdown import TouchdownCut
from lab.noise import make_noise, quieted_on_ground
from lab.nstep import NStepAccumulator

Actor = Callable[[np.ndarray], np.ndarray]


class EpisodeRecorder:
    """One episode in progress; ``finish`` turns it into the Trajectory every part of the lab shares."""

    def __init__(self, first_obs: np.ndarray, seed: int | None = None, act_dim: int = 2) -> None:
        self.observations: list[np.ndarray] = [first_obs]
        self.actions: list[np.ndarray] = []
        self.rewards: list[float] = []
        self.shaped_return = 0.0
        self.seed, self.act_dim = seed, act_dim

    def add(self, action: np.ndarray, reward: float, next_obs: np.ndarray, shaped: float | None = None) -> None:
        self.observations.append(next_obs)
        self.actions.append(action)
        self.rewards.append(reward)
        self.shaped_return += reward if shaped is None else shaped

    @property
    def raw_return(self) -> float:
        return float(np.sum(self.rewards))

    def finish(self, terminated: bool, truncated: bool) -> Trajectory:
        actions = (np.stack(self.actions).astype(np.float32, copy=False) if self.actions
                   else np.zeros((0, self.act_dim), np.float32))
        return Trajectory(np.stack(self.observations), actions, np.asarray(self.rewards, dtype=np.float32),
                          bool(terminated), bool(truncated), self.seed)


@dataclass(frozen=True)
class FinishedEpisode:
    env_index: int
    trajectory: Trajectory
    raw_return: float
    shaped_return: float


@dataclass(frozen=True)
class CollectedStep:
    """What one vector step produced."""

    new_transitions: int
    """Real env steps taken (autoreset steps excluded)."""
    transitions: tuple | None
    """Arguments for ReplayBuffer.add, or None when no transition completed."""
    episodes: list[FinishedEpisode]


class Collector:
    """A vector env and its exploration noise, turning a policy's actions into experience."""

    def __init__(self, config: Config, rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng
        self.envs = make_vector_env(config.env)
        self.num_envs = config.env.num_envs
        self.obs_dim = int(np.prod(self.envs.single_observation_space.shape or ()))
        self.act_dim = int(np.prod(self.envs.single_action_space.shape or ()))
        self.noise = make_noise(config.noise, self.num_envs, self.act_dim, rng)
        self.touchdown_cut = TouchdownCut(config.noise.touchdown_cut, self.num_envs, rng)
        self.nstep = NStepAccumulator(self.num_envs, config.training.n_step)

    def set_config(self, config: Config) -> None:
        """A live change: the next step reads the new shaping, noise and gamma."""
        self.config = config
        self.noise.config = config.noise
        self.touchdown_cut.probability = config.noise.touchdown_cut

    def reset(self, seeds: Sequence[int]) -> None:
        """Start every env afresh; in-flight episodes and n-step tails are dropped."""
        obs, _ = self.envs.reset(seed=list(seeds))
        self.obs = obs.astype(np.float32)
        self._autoresetting = np.zeros(self.num_envs, dtype=bool)
        self.episodes = [EpisodeRecorder(o, act_dim=self.act_dim) for o in self.obs]
        self.noise.reset()
        self.touchdown_cut.reset()
        self.nstep.clear()

    def step(self, actor: Actor | None, noise_scale: float = 1.0) -> CollectedStep:
        """One vector step; actor None acts uniformly at random (warm-up)."""
        cfg = self.config
        actions = self._actions(actor, noise_scale)
        next_obs, raw, terminated, truncated, _ = self.envs.step(actions)
        next_obs = next_obs.astype(np.float32, copy=False)
        # NEXT_STEP autoreset: an env whose previous step ended just returned its reset
        # observation. That step is not a transition: it only starts the next episode.
        real = ~self._autoresetting
        shaped = raw + shaping_bonus(next_obs, raw, terminated, cfg.env) if cfg.env.reward_shaping else raw
        done = terminated | truncated
        transitions = self._transitions(actions, shaped, next_obs, terminated, done, real)
        for i in range(self.num_envs):
            if real[i]:
                self.episodes[i].add(actions[i], float(raw[i]), next_obs[i], float(shaped[i]))
            else:
                self.episodes[i] = EpisodeRecorder(next_obs[i], act_dim=self.act_dim)
        finished = real & done
        episodes = [self._finish(int(i), bool(terminated[i]), bool(truncated[i])) for i in np.flatnonzero(finished)]
        if finished.any():
            self.noise.reset(finished)
            self.touchdown_cut.reset(finished)
        self._autoresetting = finished
        self.obs = next_obs
        return CollectedStep(int(real.sum()), transitions, episodes)

    def _actions(self, actor: Actor | None, noise_scale: float) -> np.ndarray:
        """Warming up: uniform, or the warm-up pilot plus noise; then the actor plus noise; last, the touchdown cut."""
        if actor is None and self.config.training.warmup_pilot == "uniform":
            actions = self.rng.uniform(-1.0, 1.0, size=(self.num_envs, self.act_dim)).astype(np.float32)
            return self.touchdown_cut.apply(actions, self.obs)
        if actor is None:
            from lab.lander.pilot import heuristic_actions

            actor = heuristic_actions
        greedy = actor(self.obs)
        if not np.isfinite(greedy).all():
            from lab.learner import DivergenceError

            raise DivergenceError("actor actions became NaN")
        noise = quieted_on_ground(self.noise.sample(), self.obs, self.config.noise)
        actions = np.clip(greedy + noise_scale * noise, -1.0, 1.0).astype(np.float32)
        return self.touchdown_cut.apply(actions, self.obs)

    def _transitions(self, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray, terminated: np.ndarray,
                     done: np.ndarray, real: np.ndarray) -> tuple | None:
        if self.config.training.n_step == 1:  # the common case, fully batched
            return self.obs[real], actions[real], rewards[real], next_obs[real], terminated[real]
        rows = []
        gamma = self.config.training.gamma
        for i in np.flatnonzero(real):
            rows += self.nstep.push(int(i), self.obs[i], actions[i], float(rewards[i]), next_obs[i],
                                    bool(terminated[i]), bool(done[i]), gamma)
        if not rows:
            return None
        o, a, r, no, term, n = zip(*rows)
        return (np.stack(o), np.stack(a), np.asarray(r, dtype=np.float32), np.stack(no), np.asarray(term),
                np.asarray(n, dtype=np.uint8))

    def _finish(self, i: int, terminated: bool, truncated: bool) -> FinishedEpisode:
        recorder = self.episodes[i]
        return FinishedEpisode(i, recorder.finish(terminated, truncated), recorder.raw_return,
                               recorder.shaped_return)

    def close(self) -> None:
        self.envs.close()


def run_episodes(actor: Actor, envs: Sequence[gym.Env], seeds: Sequence[int]) -> list[Trajectory]:
    """Fly one episode per env to its end, all side by side; each env is reset with its seed."""
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds)]).astype(np.float32)
    recorders = [EpisodeRecorder(o.copy(), seed=s) for o, s in zip(obs, seeds)]  # obs rows are overwritten
    ends: list[tuple[bool, bool]] = [(False, False)] * len(seeds)
    active = list(range(len(seeds)))
    while active:
        actions = actor(obs[active])
        still = []
        for k, i in enumerate(active):
            o, r, term, trunc, _ = envs[i].step(actions[k])
            recorders[i].add(actions[k], float(r), np.asarray(o, dtype=np.float32))
            obs[i] = o
            if term or trunc:
                ends[i] = (bool(term), bool(trunc))
            else:
                still.append(i)
        active = still
    return [r.finish(*end) for r, end in zip(recorders, ends)]
