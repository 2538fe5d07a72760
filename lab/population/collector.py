"""The acting half of a population step: choose actions, then turn what the envs returned into transitions.

Per agent this is what lab.collector does for one run: random actions until learning
starts, the policy plus exploration noise after; real transitions (never the reset
observation an autoresetting sub-env returns) stored in the agent's own buffer, episode
traces kept and ended, and the update debt the new transitions bring. Only the agents
that still act are named; the others' rows are left as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lab.envs import episode_seeds
from lab.events import EpisodeEnded, Trajectory
from lab.lander.pilot import heuristic_actions
from lab.lander.shaping import shaping_bonus
from lab.noise import quieted_on_ground
from lab.population.events import Publish
from lab.population.learner import PopulationTD3
from lab.population.members import EpisodeTrace, Member
from lab.population.replay import StackedReplayBuffer


class PopulationCollector:
    """Every agent's sub-env observations, autoreset flags and running episodes, laid out agent after agent."""

    obs: np.ndarray
    autoresetting: np.ndarray

    def __init__(self, members: list[Member], buffer: StackedReplayBuffer, publish: Publish, num_envs: int,
                 obs_dim: int, act_dim: int) -> None:
        self.members, self.buffer, self.publish = members, buffer, publish
        self.num_envs, self.obs_dim, self.act_dim = num_envs, obs_dim, act_dim
        self._analyzer: Any = None

    def _rows(self, agent: int) -> slice:
        return slice(agent * self.num_envs, (agent + 1) * self.num_envs)

    def fresh_episodes(self, envs: Any, epoch: int) -> None:
        """Reset every sub-env with seeds derived from (agent seed, epoch), as lab.Trainer does per run."""
        seeds = [s for m in self.members for s in episode_seeds(m.seed, epoch, self.num_envs)]
        self.obs = envs.reset(seeds).astype(np.float32)
        self.autoresetting = np.zeros(len(self.members) * self.num_envs, dtype=bool)
        for m in self.members:
            m.traces = [EpisodeTrace([o]) for o in self.obs[self._rows(m.index)]]
            m.noise.reset()
            m.touchdown_cut.reset()
            m.nstep.clear()

    def actions(self, acting: Sequence[int], learner: PopulationTD3) -> np.ndarray:
        """Actions of the acting agents, num_envs rows each; one batched forward pass serves them all."""
        n = self.num_envs
        actions = np.empty((len(acting), n, self.act_dim), dtype=np.float32)
        policy = None
        for row, k in enumerate(acting):
            m, t = self.members[k], self.members[k].config.training
            obs_k = self.obs[self._rows(k)]
            warming_up = m.env_step < t.learning_starts or m.episodes < t.warmup_episodes
            if warming_up and t.warmup_pilot == "uniform":
                uniform = m.rng.uniform(-1.0, 1.0, size=(n, self.act_dim)).astype(np.float32)
                actions[row] = m.touchdown_cut.apply(uniform, obs_k)
                continue
            if warming_up:
                greedy = heuristic_actions(obs_k)
            else:
                if policy is None:
                    obs = self.obs.reshape(len(self.members), n, self.obs_dim)[learner.active]
                    policy = dict(zip(learner.active, learner.act(torch.from_numpy(obs)).numpy()))
                greedy = policy[k]
            noise = quieted_on_ground(m.noise.sample(), obs_k, m.config.noise)
            noisy = greedy + m.noise_scale() * noise
            actions[row] = m.touchdown_cut.apply(np.clip(noisy, -1.0, 1.0).astype(np.float32), obs_k)
        return actions.reshape(len(acting) * n, self.act_dim)

    def observe(self, acting: Sequence[int], actions: np.ndarray, next_obs: np.ndarray, raw: np.ndarray,
                terminated: np.ndarray, truncated: np.ndarray) -> None:
        """The acting agents' step results (rows agent after agent): store, track and end episodes, owe updates."""
        n = self.num_envs
        done = terminated | truncated
        # New arrays, never written in place: traces and n-step queues keep views of the observations.
        observed, autoresetting = self.obs.copy(), self.autoresetting.copy()
        for row, k in enumerate(acting):
            m, mine, rows = self.members[k], slice(row * n, (row + 1) * n), self._rows(k)
            real = ~self.autoresetting[rows]
            obs, act, r, nxt, term = self.obs[rows], actions[mine], raw[mine], next_obs[mine], terminated[mine]
            env_cfg = m.config.env
            shaped = r + shaping_bonus(nxt, r, term, env_cfg) if env_cfg.reward_shaping else r
            self._store(m, obs, act, shaped, nxt, term, done[mine], real)
            for i in range(n):
                if real[i]:
                    trace = m.traces[i]
                    trace.observations.append(nxt[i])
                    trace.actions.append(act[i])
                    trace.raw_rewards.append(float(r[i]))
                    trace.shaped_return += float(shaped[i])
                else:
                    m.traces[i] = EpisodeTrace([nxt[i]])
            n_real = int(real.sum())
            m.env_step += n_real
            finished = real & done[mine]
            autoresetting[rows], observed[rows] = finished, nxt
            for i in np.flatnonzero(finished):
                self._end_episode(m, int(i), bool(term[i]), bool(truncated[mine][i]))
            if finished.any():
                m.noise.reset(finished)
                m.touchdown_cut.reset(finished)
            t = m.config.training
            if not m.stopped and m.env_step >= t.learning_starts and self.buffer.size[m.index] >= t.batch_size:
                m.update_debt += t.updates_per_step * n_real
        self.obs, self.autoresetting = observed, autoresetting

    def _store(self, m: Member, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
               terminated: np.ndarray, done: np.ndarray, real: np.ndarray) -> None:
        if m.config.training.n_step == 1:
            self.buffer.add(m.index, obs[real], actions[real], rewards[real], next_obs[real], terminated[real])
            return
        rows = []
        for i in np.flatnonzero(real):
            rows += m.nstep.push(int(i), obs[i], actions[i], float(rewards[i]), next_obs[i], bool(terminated[i]),
                                 bool(done[i]), m.config.training.gamma)
        if rows:
            o, a, r, no, term, k = zip(*rows)
            self.buffer.add(m.index, np.stack(o), np.stack(a), np.asarray(r, dtype=np.float32), np.stack(no),
                            np.asarray(term), np.asarray(k, dtype=np.uint8))

    def _end_episode(self, m: Member, i: int, terminated: bool, truncated: bool) -> None:
        trace = m.traces[i]
        raw_return = float(np.sum(trace.raw_rewards))
        trajectory = Trajectory(np.stack(trace.observations), np.stack(trace.actions),
                                np.asarray(trace.raw_rewards, dtype=np.float32), terminated, truncated)
        analysis = None
        if m.config.run.analyze_episodes:
            analysis = self.analyzer.analyze(trajectory.observations, trajectory.actions, terminated, truncated,
                                             trajectory.rewards)
        m.episodes += 1
        self.publish(m, EpisodeEnded(
            env_step=m.env_step, episode=m.episodes, raw_return=raw_return, shaped_return=trace.shaped_return,
            length=len(trace.actions), success=raw_return >= m.config.env.success_threshold, env_index=i,
            trajectory=trajectory, analysis=analysis))

    @property
    def analyzer(self) -> Any:
        """lab.analysis's behaviour analyzer, built on first use (it is slow to import)."""
        if self._analyzer is None:
            from lab.lander.behavior import BehaviorAnalyzer

            self._analyzer = BehaviorAnalyzer()
        return self._analyzer
