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
Each part works on every acting agent's env rows at once; only what is one agent's own (its
random stream, noise process and cut draws) runs agent by agent. It returns the transitions
for the replay buffer, with their agents, and each agent's step count and finished episodes;
it never learns and never publishes, so the engine decides what happens next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from lab.config import Config
from lab.events import Trajectory
from lab.lander.shaping import shaping_bonus
from lab.lander.touchdown import TouchdownCut, cut_engines
from lab.rollout.envs import EnvWorker, InlineEnvs
from lab.rollout.episodes import EpisodeRecorder
from lab.rollout.noise import make_noise, noise_scale, reconfigured
from lab.rollout.nstep import NStepWindows, Transitions, discounts

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
    episodes: list[FinishedEpisode] = field(default_factory=list)
    error: str | None = None
    """Why this agent's step is unusable (its actor's actions were not finite): it diverged."""


@dataclass
class Collected:
    """One vector step of every acting agent: each agent's step, and the transitions it completed, with owners."""

    steps: list[AgentStep]
    transitions: Transitions
    agents: np.ndarray
    """The agent each transition belongs to."""


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
        """Warming up (greedy None): uniform, or the pilot plus noise; then the actor plus noise. Not yet clipped,
        nor cut: the collector does both for every agent at once."""
        pilot = self.config.training.warmup_pilot
        if greedy is None and pilot == "uniform":
            return self.rng.uniform(-1.0, 1.0, size=(self.num_envs, self.act_dim)).astype(np.float32)
        if greedy is None:
            from lab.lander.pilot import heuristic_actions

            greedy = heuristic_actions(obs)
        return greedy + scale * self.noise.sample()

    def episodes_ended(self, mask: np.ndarray | None = None) -> None:
        """New episodes (all envs, or those in mask): reset the noise state and draw the cut."""
        self.noise.reset(mask)
        self.cut.reset(mask)


class Collector:
    """Every agent's env rows (agent k owns rows k*num_envs to (k+1)*num_envs), their autoreset flags, n-step
    windows and running episodes, and each agent's explorer."""

    def __init__(self, configs: Sequence[Config], envs: InlineEnvs | EnvWorker, rngs: Sequence[np.random.Generator]
                 ) -> None:
        self.envs = envs
        self.num_envs = configs[0].env.num_envs
        self.obs_dim = int(np.prod(envs.single_observation_space.shape or ()))
        self.act_dim = int(np.prod(envs.single_action_space.shape or ()))
        self.explorers = [Explorer(c, self.num_envs, self.act_dim, rng) for c, rng in zip(configs, rngs)]
        rows = len(configs) * self.num_envs
        self.windows = NStepWindows(rows, configs[0].training.n_step, self.obs_dim, self.act_dim)
        self.obs = np.zeros((rows, self.obs_dim), dtype=np.float32)
        self.autoresetting = np.zeros(rows, dtype=bool)
        self.episodes: list[EpisodeRecorder] = []
        """The running episode of every env row."""

    def _rows(self, agents: Sequence[int]) -> np.ndarray:
        """The env rows of these agents, agent after agent."""
        return (np.asarray(agents, dtype=np.int64)[:, None] * self.num_envs + np.arange(self.num_envs)).ravel()

    def reset(self, seeds: Sequence[Sequence[int]]) -> None:
        """Start every agent's envs afresh, agent k's with seeds[k]; in-flight episodes and n-step tails are dropped."""
        self.obs = self.envs.reset([s for agent_seeds in seeds for s in agent_seeds]).astype(np.float32)
        self.autoresetting[:] = False
        self.episodes = [EpisodeRecorder(o.copy(), act_dim=self.act_dim) for o in self.obs]  # self.obs is rewritten
        for explorer in self.explorers:
            explorer.episodes_ended()
        self.windows.clear()

    def step(self, acting: Sequence[int], warming_up: Sequence[bool], scales: Sequence[float], greedy: Greedy,
             meanwhile: Callable[[], None] | None = None) -> Collected:
        """One vector step of the acting agents; meanwhile runs while their envs step (in a worker, overlapped)."""
        rows, n = self._rows(acting), self.num_envs
        obs = self.obs[rows]
        # 1. actions, all acting agents' at once
        actions, errors = self._actions(acting, warming_up, scales, greedy, obs)
        # 2. the envs step (in a worker, the updates owed run meanwhile)
        self.envs.step_async(actions, acting)
        if meanwhile is not None:
            meanwhile()
        next_obs, raw, terminated, truncated = self.envs.step_wait()
        next_obs = next_obs.astype(np.float32, copy=False)
        done = terminated | truncated
        # 3. NEXT_STEP autoreset: an env whose previous step ended just returned its reset
        #    observation. That step is not a transition: it only starts the next episode.
        real = ~self.autoresetting[rows]
        # 4. shaping
        shaped = self._shaped(acting, next_obs, raw, terminated)
        # 5. n-step transitions, each agent's discounted by its own gamma; a diverged actor's steps are not stored
        stored = real & self._healthy(errors)
        transitions = self.windows.push(rows[stored], obs[stored], actions[stored], shaped[stored], next_obs[stored],
                                        terminated[stored], done[stored], self._discounts(acting)[stored])
        # 6. episodes: record the step, finish those that ended
        episodes = self._record(rows, actions, raw, shaped, next_obs, terminated, truncated, real)
        self.obs[rows], self.autoresetting[rows] = next_obs, real & done
        steps = [AgentStep(k, int(real[i * n:(i + 1) * n].sum()), episodes.get(k, []), errors[i])
                 for i, k in enumerate(acting)]
        return Collected(steps, transitions, transitions.rows // n)

    def _healthy(self, errors: list[str | None]) -> np.ndarray:
        """The env rows of the agents whose actor gave finite actions."""
        return np.repeat(np.array([e is None for e in errors], dtype=bool), self.num_envs)

    def _discounts(self, acting: Sequence[int]) -> np.ndarray:
        """gamma**k for every acting agent's env rows, read each step so a live change of gamma applies at once."""
        per_agent = [discounts(self.explorers[k].config.training.gamma, self.windows.n) for k in acting]
        return np.repeat(np.reshape(per_agent, (len(acting), self.windows.n)), self.num_envs, axis=0)

    def _actions(self, acting: Sequence[int], warming_up: Sequence[bool], scales: Sequence[float], greedy: Greedy,
                 obs: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
        """The acting agents' actions, their env rows' obs -> (rows, act_dim): the actors run once for every agent
        past its warm-up, each explorer adds its noise, then all are clipped and cut at once."""
        n = self.num_envs
        learned = [i for i, warm in enumerate(warming_up) if not warm]
        by_actor: dict[int, np.ndarray] = {}
        if learned:
            by_actor = dict(zip(learned, greedy([acting[i] for i in learned],
                                                np.stack([obs[i * n:(i + 1) * n] for i in learned]))))
        actions = np.zeros((len(acting) * n, self.act_dim), dtype=np.float32)
        cutting = np.zeros(len(acting) * n, dtype=bool)
        errors: list[str | None] = [None] * len(acting)
        for i, k in enumerate(acting):
            start = by_actor.get(i)
            if start is not None and not np.isfinite(start).all():
                errors[i] = "actor actions became NaN"  # its rows stay zero and uncut
                continue
            mine = slice(i * n, (i + 1) * n)
            actions[mine] = self.explorers[k].actions(start, obs[mine], scales[i])
            cutting[mine] = self.explorers[k].cut.cutting
        np.clip(actions, -1.0, 1.0, out=actions)
        return cut_engines(actions, obs, cutting), errors

    def _shaped(self, acting: Sequence[int], next_obs: np.ndarray, raw: np.ndarray, terminated: np.ndarray
                ) -> np.ndarray:
        """The rewards learning sees: raw, plus the shaping bonus for agents that shape."""
        shaped, n = raw.astype(np.float64), self.num_envs
        for i, k in enumerate(acting):
            env = self.explorers[k].config.env
            if env.reward_shaping:
                mine = slice(i * n, (i + 1) * n)
                shaped[mine] += shaping_bonus(next_obs[mine], raw[mine], terminated[mine], env)
        return shaped

    def _record(self, rows: np.ndarray, actions: np.ndarray, raw: np.ndarray, shaped: np.ndarray,
                next_obs: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, real: np.ndarray
                ) -> dict[int, list[FinishedEpisode]]:
        """Add each real step to its row's episode (an autoreset step starts a new one); return the episodes that
        ended, by agent, and tell their explorers."""
        finished: dict[int, list[FinishedEpisode]] = {}
        for i, row in enumerate(rows.tolist()):
            if not real[i]:
                self.episodes[row] = EpisodeRecorder(next_obs[i], act_dim=self.act_dim)
                continue
            recorder = self.episodes[row]
            recorder.add(actions[i], float(raw[i]), next_obs[i], float(shaped[i]))
            if terminated[i] or truncated[i]:
                agent, env = divmod(row, self.num_envs)
                finished.setdefault(agent, []).append(FinishedEpisode(
                    env, recorder.finish(bool(terminated[i]), bool(truncated[i])), recorder.raw_return,
                    recorder.shaped_return))
        for agent, episodes in finished.items():
            mask = np.zeros(self.num_envs, dtype=bool)
            mask[[e.env_index for e in episodes]] = True
            self.explorers[agent].episodes_ended(mask)
        return finished

    def close(self) -> None:
        self.envs.close()
