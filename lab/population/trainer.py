"""The population loop: K TD3 agents trained side by side in one process.

Each step acts for every acting agent in one batched forward pass, steps their
sub-envs, stores each agent's transitions in its own buffer (lab.population.collector),
and pays the update debt with batched updates (lab.population.updates). With
``overlap`` (the default) the envs step in a worker process while the update runs
here, so both cores work; the update then samples the buffer as it was before this
step's transitions (one step of lag), which is why ``overlap=False`` exists for exact runs.

An agent that is stopped or reaches its budget leaves the batched work: its envs are
no longer stepped and, once its last update is paid, its rows leave the learner's
stacks, so the others run as fast as a population without it. Outside ``fit`` the
learner holds all K agents again.

Every agent keeps an ordinary run folder (config.yaml, episodes.jsonl,
evaluations.jsonl, updates.jsonl, policy.pt, best_policy.pt, summary.json) under
the population folder, which also holds population.pt, the resumable checkpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.checkpoint import read_checkpoint_file, write_checkpoint_file
from lab.config import Config, ConfigError
from lab.events import CheckpointSaved, EventBus, RunStateChanged
from lab.io import atomic_write_json
from lab.noise import reconfigured
from lab.policy import POPULATION_FILE, Policy
from lab.population.checkpoints import population_state, restore_population, resume_steps, write_agent_files
from lab.population.collector import PopulationCollector
from lab.population.envs import make_population_envs
from lab.population.evaluations import evaluate_member, evaluation_due
from lab.population.events import AgentEvent
from lab.population.learner import PopulationTD3, initial_modules
from lab.population.live import SHARED_LIVE, apply_changes, check_changes, current_values
from lab.population.members import Member, member_configs
from lab.population.replay import StackedReplayBuffer
from lab.population.updates import PopulationUpdates
from lab.trainer import _as_config, _new_run_dir, _next_multiple

__all__ = ["AgentEvent", "Population"]


class Population:
    """Train K independent TD3 agents at once; agent k is lab.Trainer's run with seed seeds[k].

    >>> population = Population("fast", seeds=[0, 1, 2, 3, 4])
    >>> population.events.subscribe(print)   # AgentEvent(agent, seed, event) for every agent's event
    >>> population.fit()
    """

    def __init__(self, config: Config | str | Path = "fast", seeds: Sequence[int] | None = None,
                 configs: Sequence[Config] | None = None, run_dir: str | Path | None = None,
                 name: str | None = None, resume: str | Path | None = None, log_to_disk: bool = True,
                 overlap: bool = True, shared_replay: bool = False) -> None:
        """shared_replay: every agent stores into and samples from one buffer (PBT's option) instead of its own."""
        base = _as_config(config if configs is None else configs[0])
        self.configs = member_configs(base, seeds, configs)
        named = configs is None and isinstance(config, str) and "/" not in config
        self.name = name or (str(config) if named else "population")
        first = self.configs[0]
        torch.set_num_threads(first.run.torch_threads)
        self.agents = len(self.configs)
        self.num_envs = first.env.num_envs
        self.overlap = overlap
        self.log_to_disk = log_to_disk
        self.events = EventBus()
        self.run_dir = Path(run_dir) if run_dir else _new_run_dir(first.run.out_dir, f"{self.name}-x{self.agents}")
        if log_to_disk:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.epoch = 0
        self.train_seconds = 0.0
        self.state = "idle"
        self.error: BaseException | None = None
        self.interrupted: KeyboardInterrupt | None = None
        """The Ctrl-C or signal that stopped the last fit, for a caller that must stop too (lab evolve)."""
        self._boundary_step = -1
        self._lock = threading.Lock()
        self._pending: list[tuple[int | None, dict[str, Any]]] = []
        self._stop = False
        self._thread: threading.Thread | None = None
        self.envs = make_population_envs(first.env, self.agents, self.num_envs, worker=overlap)
        self.members: list[Member] = []
        try:
            self.obs_dim = obs_dim = int(np.prod(self.envs.single_observation_space.shape))
            self.act_dim = act_dim = int(np.prod(self.envs.single_action_space.shape))
            saved = None if resume is None else read_checkpoint_file(resume, kind="population")
            resume_at = [None] * self.agents if saved is None else resume_steps(saved, self.agents)
            self.members = [Member(k, c, self.run_dir / f"agent{k}_seed{c.run.seed}", act_dim, log_to_disk,
                                   resume_step=step) for k, (c, step) in enumerate(zip(self.configs, resume_at))]
            starts = [initial_modules(c.run.seed, obs_dim, act_dim, c.network) for c in self.configs]
            self.learner = PopulationTD3([s[0] for s in starts], [s[1] for s in starts],
                                         [c.training for c in self.configs], [s[2] for s in starts])
            self.buffer = StackedReplayBuffer(self.agents, first.training.buffer_size, obs_dim, act_dim,
                                              [c.run.seed + 1 for c in self.configs], shared=shared_replay)
            self.collector = PopulationCollector(self.members, self.buffer, self._publish, self.num_envs, obs_dim,
                                                 act_dim)
            self.updates = PopulationUpdates(self.learner, self.buffer, self.members, self._publish,
                                             lambda: self.train_seconds)
            if saved is not None:
                self.epoch, self.train_seconds = restore_population(str(resume), saved, self.members, self.learner,
                                                                    self.buffer)
            self.collector.fresh_episodes(self.envs, self.epoch)
        except BaseException:
            self._close_resources()  # the env worker and any log files: nothing outlives a failed constructor
            raise

    # ==== public control ===================================================================
    def fit(self, until_step: int | None = None) -> dict[str, Any]:
        """Train every agent to its run.total_steps in this thread; Ctrl-C stops with a checkpoint.

        until_step: return once every agent has reached this many env steps of its own (or its budget), a
        pause rather than the end: a later fit goes on from each agent's counters (lab evolve's generations).
        After a Ctrl-C or signal, ``interrupted`` holds it.
        """
        if self.running:
            raise RuntimeError("this population is already training in the background")
        if until_step is not None and (isinstance(until_step, bool) or not isinstance(until_step, int)
                                       or until_step < 0):
            raise ConfigError(f"until_step={until_step!r} is invalid: allowed an integer >= 0")
        for m in self.members:
            m.pause_at = until_step
        try:
            return self._run()
        finally:
            for m in self.members:
                m.pause_at = None

    def copy_agent(self, source: int, target: int) -> None:
        """Make agent target a copy of agent source (PBT's exploit): its weights, targets, optimizer moments and
        steps, learner settings, live hyperparameters and exploration noise state.

        What makes target its own slot stays: its seed and random streams, counters and budget, envs and
        their running episodes, and its replay buffer.
        """
        if self.running:
            raise RuntimeError("copy_agent while the population trains: stop it first")
        src, dst = self._member(source), self._member(target)
        if source == target:
            return
        self.learner.copy_agent(source, target)
        dst.config = src.config.with_overrides({"run.seed": dst.seed})
        dst.schedule_overrides = dict(src.schedule_overrides)
        dst.noise = reconfigured(dst.noise, dst.config.noise, self.num_envs, self.act_dim, dst.rng)
        dst.noise.state[...] = src.noise.state
        dst.touchdown_cut.probability = dst.config.noise.touchdown_cut
        self.configs = [m.config for m in self.members]

    def start(self) -> Population:
        """Train in a background thread and return at once."""
        if self.running:
            raise RuntimeError("this population is already training")
        self._stop = False
        self._thread = threading.Thread(target=self._run_in_thread, name="lab-population", daemon=True)
        self._thread.start()
        return self

    def stop(self, agent: int | None = None, wait: bool = True, timeout: float | None = 120.0) -> None:
        """Stop one agent (it keeps its folder and weights, the others go on without its cost) or, with
        agent=None, all."""
        if agent is not None:
            member = self._member(agent)
            member.stopped, member.update_debt = True, 0.0
            return
        with self._lock:
            self._stop = True
        if wait and self._thread is not None:
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def update_hyperparameters(self, agent: int | None = None, **changes: Any) -> None:
        """Change live hyperparameters of one agent (or all with agent=None) before the next update.

        Raises ConfigError at once for unknown names, out-of-range values, or a per-agent change of a
        setting the whole population shares.
        """
        if agent is not None:
            self._member(agent)
        check_changes(self.members, agent, changes)
        with self._lock:
            self._pending.append((agent, dict(changes)))
        if not self.running:
            self._apply_pending_changes()

    def hyperparameters(self, agent: int) -> dict[str, Any]:
        """Current live values of one agent."""
        return current_values(self._member(agent))

    def policy(self, agent: int) -> Policy:
        """A frozen copy of one agent's actor."""
        m = self._member(agent)
        return Policy.from_actor(self.learner.agent_actor(m.index), name=f"{self.name}[{agent}]@{m.env_step}")

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / POPULATION_FILE

    def summary(self) -> dict[str, Any]:
        steps = self._total_steps()
        return {"agents": self.agents, "env_steps": steps, "train_seconds": round(self.train_seconds, 3),
                "aggregate_steps_per_second": round(steps / self.train_seconds, 2) if self.train_seconds else 0.0,
                "solved": sum(m.solved_at is not None for m in self.members), "state": self.state,
                "run_dir": str(self.run_dir), "members": [m.summary(self.train_seconds) for m in self.members]}

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write population.pt (every agent's learner, optimizer, counters, random streams) and each policy.pt."""
        path = Path(path) if path else self.checkpoint_path
        write_checkpoint_file(path, population_state(self.members, self.learner, self.buffer, self.epoch,
                                                     self.train_seconds))
        if path == self.checkpoint_path:
            write_agent_files(self.members, self.learner, self.train_seconds, self.state)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.run_dir / "summary.json", self.summary())
        for m in self.members:
            self._publish(m, CheckpointSaved(env_step=m.env_step, path=str(path)))
        return path

    def close(self) -> None:
        """Release the envs and files; the run folders stay."""
        if self.running:
            self.stop()
        self._close_resources()

    def _close_resources(self) -> None:
        self.envs.close()
        for m in self.members:
            m.close()

    def __enter__(self) -> Population:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ==== the loop =========================================================================
    def _run_in_thread(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - recorded and published by _run
            self.error = exc

    def _run(self) -> dict[str, Any]:
        self.interrupted = None
        self._set_state("running")
        checkpoint_every = self.configs[0].run.checkpoint_every
        next_ckpt = [_next_multiple(m.env_step, checkpoint_every) for m in self.members]
        try:
            while any(m.active for m in self.members):
                with self._lock:
                    stop = self._stop
                if stop:
                    break
                self._apply_pending_changes()
                t0 = time.perf_counter()
                self._step()
                self.train_seconds += time.perf_counter() - t0
                self._evaluations_due()
                if checkpoint_every and any(m.env_step >= n for m, n in zip(self.members, next_ckpt)):
                    self._checkpoint_at_boundary()
                    next_ckpt = [_next_multiple(m.env_step, checkpoint_every) for m in self.members]
            else:
                self._settle_debt()
                paused = any(m.pause_at is not None and not m.stopped and m.env_step < m.config.run.total_steps
                             for m in self.members)
                for m in [] if paused else self.members:
                    if m.config.run.eval_every and m.last_eval_step != m.env_step:
                        self._evaluate(m)
                self._finish("paused" if paused else "finished")
                return self.summary()
            self._settle_debt()
            self._finish("stopped")
            return self.summary()
        except KeyboardInterrupt as exc:
            self.interrupted = exc
            self._finish("stopped")
            return self.summary()
        except BaseException as exc:
            self._finish("failed", error=f"{type(exc).__name__}: {exc}")
            raise

    def _step(self) -> None:
        """Act for the acting agents and step their envs; with overlap the previous step's updates run while
        the envs step."""
        self._shed_idle_agents()
        acting = [m.index for m in self.members if m.active]
        actions = self.collector.actions(acting, self.learner)
        self.envs.step_async(actions, acting)
        if self.overlap:
            self.updates.learn()
        next_obs, raw, terminated, truncated = self.envs.step_wait()
        self.collector.observe(acting, actions, next_obs.astype(np.float32, copy=False), raw, terminated,
                               truncated)
        if not self.overlap:
            self.updates.learn()

    def _shed_idle_agents(self) -> None:
        """The learner's stacks hold exactly the agents that act or still owe an update."""
        learning = [m.index for m in self.members if m.active or m.update_debt >= 1.0]
        if learning and learning != self.learner.active:
            self.learner.keep(learning)

    def _settle_debt(self) -> None:
        """With overlap, the last step's updates are still owed when the loop ends: pay them."""
        if self.overlap:
            self.updates.learn()

    # ==== live changes =====================================================================
    def _apply_pending_changes(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for agent, changes in pending:
            for m in self.members if agent is None else [self.members[agent]]:
                try:
                    event = apply_changes(m, changes, self.learner)
                except ConfigError as exc:  # checked already; a race with another change can still refuse it
                    self.events.errors.append(f"agent {m.index}: {exc}")
                    continue
                if event is not None:
                    self._publish(m, event)
            if any(name in changes for name in SHARED_LIVE):
                self.configs = [m.config for m in self.members]

    # ==== evaluation, checkpoints, state ===================================================
    def _evaluations_due(self) -> None:
        for m in self.members:
            if evaluation_due(m):
                self._evaluate(m)

    def _evaluate(self, m: Member) -> None:
        evaluate_member(m, self.policy(m.index), lambda: self.learner.agent_actor(m.index), self.train_seconds,
                        self._publish)

    def _checkpoint_at_boundary(self) -> Path:
        """Fresh episodes for every agent, then checkpoint: a resume then continues exactly from here."""
        self._settle_debt()
        self.epoch += 1
        self.collector.fresh_episodes(self.envs, self.epoch)
        self._boundary_step = self._total_steps()
        return self.save_checkpoint() if self.log_to_disk else self.checkpoint_path

    def _finish(self, state: str, error: str | None = None) -> None:
        self.state = state
        try:
            self.learner.keep(range(self.agents))  # outside a run, the learner holds every agent
            if self.log_to_disk and self._boundary_step != self._total_steps():
                self.epoch += 1
                self.save_checkpoint()
        except Exception as exc:  # noqa: BLE001 - report the original failure, not this one
            error = f"{error or ''} (checkpoint failed: {exc})".strip()
        self._set_state(state, error=error, checkpoint=str(self.checkpoint_path) if self.log_to_disk else None)

    def _set_state(self, state: str, error: str | None = None, checkpoint: str | None = None) -> None:
        self.state = state
        for m in self.members:
            self._publish(m, RunStateChanged(env_step=m.env_step, state=state, error=error, checkpoint=checkpoint))
        if self.log_to_disk:
            atomic_write_json(self.run_dir / "summary.json", self.summary())

    # ==== helpers ===========================================================================
    def _publish(self, m: Member, event: Any) -> None:
        m.events.publish(event)
        self.events.publish(AgentEvent(m.index, m.seed, event))

    def _member(self, agent: int) -> Member:
        if not isinstance(agent, int) or isinstance(agent, bool) or not 0 <= agent < self.agents:
            raise ConfigError(f"agent={agent!r} is invalid: allowed 0 to {self.agents - 1}")
        return self.members[agent]

    def _total_steps(self) -> int:
        return sum(m.env_step for m in self.members)
