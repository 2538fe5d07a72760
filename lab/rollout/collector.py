"""The rollout: K agents' envs turned into experience, one vector step at a time.

``Collector.step`` reads top to bottom like lab/agents/td3.py:
1. choose actions: each acting agent's explorer starts from uniform random actions or the
   warm-up pilot while it warms up, else from its actor (one batched forward pass serves
   every agent), adds scaled exploration noise, clips, and applies the touchdown cut;
2. step every acting agent's envs (in an env worker the learner's updates run meanwhile);
3. drop the steps that only carry a NEXT_STEP autoreset observation;
4. add the shaping bonus;
5. turn steps into (n-step) transitions;
6. finish the episodes that ended.
It returns each agent's transitions for the replay buffer and its finished episodes; it
never learns and never publishes, so the engine decides what happens next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lab.config import Config
from lab.events import Trajectory
from lab.lander.shaping import shaping_bonus
from lab.lander.touchdown import TouchdownCut
from lab.rollout.envs import EnvWorker, InlineEnvs
from lab.rollout.episodes import EpisodeRecorder
from lab.rollout.noise import make_noise, noise_scale, reconfigured
from lab.rollout.nstep import NStepAccumulator

Greedy = Callable[[list[int], np.ndarray], np.ndarray]
"""The actors' actions for these agents' observations, (agents, envs, obs_dim) -> (agents, envs, act_dim)."""


@dataclass(frozen=True)
class FinishedEpisode:
    env_index: int
    trajectory: Trajectory
    raw_return: float
    shaped_return: float


@dataclass
class AgentStep:
    """What one vector step produced for one agent."""

    agent: int
    new_transitions: int
    """Real env steps taken (autoreset steps excluded)."""
    transitions: tuple | None
    """Arguments for ReplayBuffer.add after the agent, or None when no transition completed."""
    episodes: list[FinishedEpisode] = field(default_factory=list)
    error: str | None = None
    """Why this agent's step is unusable (its actor's actions were not finite): it diverged."""


class Explorer:
    """One agent's exploration: its config, random stream, noise process and touchdown cut."""

    def __init__(self, config: Config, num_envs: int, act_dim: int, rng: np.random.Generator) -> None:
        self.config, self.num_envs, self.act_dim, self.rng = config, num_envs, act_dim, rng
        self.noise = make_noise(config.noise, num_envs, act_dim, rng)
        self.cut = TouchdownCut(config.noise.touchdown_cut, num_envs, rng)

    def configure(self, config: Config) -> None:
        """A live change or a copied agent: the next step reads the new noise, cut, shaping and gamma."""
        self.config = config
        self.noise = reconfigured(self.noise, config.noise, self.num_envs, self.act_dim, self.rng)
        self.cut.probability = config.noise.touchdown_cut

    def warming_up(self, env_step: int, episodes: int) -> bool:
        t = self.config.training
        return env_step < t.learning_starts or episodes < t.warmup_episodes

    def scale(self, episodes: int) -> float:
        """The noise multiplier after this many episodes (noise.scale_* decay)."""
        return noise_scale(self.config.noise, episodes)

    def actions(self, greedy: np.ndarray | None, obs: np.ndarray, scale: float) -> np.ndarray:
        """Warming up (greedy None): uniform, or the pilot plus noise; then the actor plus noise; last, the cut."""
        pilot = self.config.training.warmup_pilot
        if greedy is None and pilot == "uniform":
            actions = self.rng.uniform(-1.0, 1.0, size=(self.num_envs, self.act_dim)).astype(np.float32)
            return self.cut.apply(actions, obs)
        if greedy is None:
            from lab.lander.pilot import heuristic_actions

            greedy = heuristic_actions(obs)
        actions = np.clip(greedy + scale * self.noise.sample(), -1.0, 1.0).astype(np.float32)
        return self.cut.apply(actions, obs)

    def episodes_ended(self, mask: np.ndarray | None = None) -> None:
        """New episodes (all envs, or those in mask): reset the noise state and draw the cut."""
        self.noise.reset(mask)
        self.cut.reset(mask)


class Collector:
    """Every agent's sub-env observations, autoreset flags, running episodes and explorers, agent after agent."""

    def __init__(self, configs: Sequence[Config], envs: InlineEnvs | EnvWorker, rngs: Sequence[np.random.Generator]
                 ) -> None:
        self.envs = envs
        self.num_envs = configs[0].env.num_envs
        self.obs_dim = int(np.prod(envs.single_observation_space.shape or ()))
        self.act_dim = int(np.prod(envs.single_action_space.shape or ()))
        self.explorers = [Explorer(c, self.num_envs, self.act_dim, rng) for c, rng in zip(configs, rngs)]
        self.nsteps = [NStepAccumulator(self.num_envs, c.training.n_step) for c in configs]
        self.obs = np.zeros((len(configs) * self.num_envs, self.obs_dim), dtype=np.float32)
        self.autoresetting = np.zeros(len(configs) * self.num_envs, dtype=bool)
        self.episodes: list[list[EpisodeRecorder]] = []

    def _rows(self, agent: int) -> slice:
        return slice(agent * self.num_envs, (agent + 1) * self.num_envs)

    def reset(self, seeds: Sequence[Sequence[int]]) -> None:
        """Start every agent's envs afresh, agent k's with seeds[k]; in-flight episodes and n-step tails are dropped."""
        self.obs = self.envs.reset([s for agent_seeds in seeds for s in agent_seeds]).astype(np.float32)
        self.autoresetting[:] = False
        self.episodes = [[EpisodeRecorder(o, act_dim=self.act_dim) for o in self.obs[self._rows(k)]]
                         for k in range(len(self.explorers))]
        for explorer, nstep in zip(self.explorers, self.nsteps):
            explorer.episodes_ended()
            nstep.clear()

    def step(self, acting: Sequence[int], warming_up: Sequence[bool], scales: Sequence[float], greedy: Greedy,
             meanwhile: Callable[[], None] | None = None) -> list[AgentStep]:
        """One vector step of the acting agents; meanwhile runs while their envs step (in a worker, overlapped)."""
        actions, errors = self._actions(acting, warming_up, scales, greedy)
        self.envs.step_async(actions.reshape(-1, self.act_dim), acting)
        if meanwhile is not None:
            meanwhile()
        next_obs, raw, terminated, truncated = self.envs.step_wait()
        next_obs = next_obs.astype(np.float32, copy=False)
        steps, n = [], self.num_envs
        observed, autoresetting = self.obs.copy(), self.autoresetting.copy()  # recorders keep views of rows
        for row, k in enumerate(acting):
            mine, rows = slice(row * n, (row + 1) * n), self._rows(k)
            step, finished = self._observe(k, actions[row], next_obs[mine], raw[mine], terminated[mine],
                                           truncated[mine], errors[row])
            steps.append(step)
            observed[rows], autoresetting[rows] = next_obs[mine], finished
        self.obs, self.autoresetting = observed, autoresetting
        return steps

    def _actions(self, acting: Sequence[int], warming_up: Sequence[bool], scales: Sequence[float],
                 greedy: Greedy) -> tuple[np.ndarray, list[str | None]]:
        """Each acting agent's actions (agents, envs, act_dim); the actors run once for all that no longer warm up."""
        learned = [k for k, warm in zip(acting, warming_up) if not warm]
        by_actor: dict[int, np.ndarray] = {}
        if learned:
            obs = np.stack([self.obs[self._rows(k)] for k in learned])
            by_actor = dict(zip(learned, greedy(learned, obs)))
        actions = np.empty((len(acting), self.num_envs, self.act_dim), dtype=np.float32)
        errors: list[str | None] = []
        for row, k in enumerate(acting):
            start = by_actor.get(k)
            if start is not None and not np.isfinite(start).all():
                actions[row], start = 0.0, None
                errors.append("actor actions became NaN")
                continue
            errors.append(None)
            actions[row] = self.explorers[k].actions(start, self.obs[self._rows(k)], scales[row])
        return actions, errors

    def _observe(self, k: int, actions: np.ndarray, next_obs: np.ndarray, raw: np.ndarray, terminated: np.ndarray,
                 truncated: np.ndarray, error: str | None) -> tuple[AgentStep, np.ndarray]:
        """One agent's step results: drop autoreset steps, shape, build transitions, record and end episodes;
        also which envs finished (they autoreset on their next step)."""
        config, obs = self.explorers[k].config, self.obs[self._rows(k)]
        # NEXT_STEP autoreset: an env whose previous step ended just returned its reset
        # observation. That step is not a transition: it only starts the next episode.
        real = ~self.autoresetting[self._rows(k)]
        shaped = raw + shaping_bonus(next_obs, raw, terminated, config.env) if config.env.reward_shaping else raw
        done = terminated | truncated
        transitions = None if error else self._transitions(k, obs, actions, shaped, next_obs, terminated, done, real)
        recorders = self.episodes[k]
        for i in range(self.num_envs):
            if real[i]:
                recorders[i].add(actions[i], float(raw[i]), next_obs[i], float(shaped[i]))
            else:
                recorders[i] = EpisodeRecorder(next_obs[i], act_dim=self.act_dim)
        finished = real & done
        episodes = []
        for i in np.flatnonzero(finished):
            recorder = recorders[i]
            episodes.append(FinishedEpisode(int(i), recorder.finish(bool(terminated[i]), bool(truncated[i])),
                                            recorder.raw_return, recorder.shaped_return))
        if finished.any():
            self.explorers[k].episodes_ended(finished)
        return AgentStep(k, int(real.sum()), transitions, episodes, error), finished

    def _transitions(self, k: int, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
                     terminated: np.ndarray, done: np.ndarray, real: np.ndarray) -> tuple | None:
        training = self.explorers[k].config.training
        if training.n_step == 1:  # the common case, fully batched
            return (obs[real], actions[real], rewards[real], next_obs[real], terminated[real]) if real.any() else None
        rows: list[Any] = []
        for i in np.flatnonzero(real):
            rows += self.nsteps[k].push(int(i), obs[i], actions[i], float(rewards[i]), next_obs[i],
                                        bool(terminated[i]), bool(done[i]), training.gamma)
        if not rows:
            return None
        o, a, r, no, term, nsteps = zip(*rows)
        return (np.stack(o), np.stack(a), np.asarray(r, dtype=np.float32), np.stack(no), np.asarray(term),
                np.asarray(nsteps, dtype=np.uint8))

    def close(self) -> None:
        self.envs.close()
