"""The one training loop: K agent slots collected for, updated, evaluated and checkpointed together.

A single run is K = 1 (``lab.Trainer``); a population is K (``lab.Population``). Each job has
its own module and this one only decides when each happens:
- the rollout (exploration, env steps, autoreset, shaping, n-step, episodes): ``lab.rollout.collector``
- the update (debt, sampling, PER priorities, divergence): ``lab.train.learning`` and ``lab.agents.td3``
- pause/resume/stop, live changes and requests from other threads: ``lab.train.control``
- what a checkpoint holds and restores: ``lab.train.checkpoints``
- each agent's counters, state, events and run folder: ``lab.train.slot``
A live change is a config swap between steps: the explorer, the learner's per-agent settings and
the slot read the new frozen Config from the next step on.

An agent that is stopped, solved, failed or at its budget leaves the batched work: its envs are not
stepped again and, once its last update is paid, its rows leave the learner's stacks, so the others
run as fast as an engine without it. An agent whose values turn non-finite fails alone with a
one-line reason; its weights go back to the last good ones, so nothing non-finite is ever saved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.agents.replay import ReplayBuffer
from lab.agents.td3 import TD3, resolve_device
from lab.checkpoint import write_checkpoint_file
from lab.config import Config, ConfigError
from lab.evaluation import EvaluationResult
from lab.events import (
    CheckpointSaved,
    EpisodeEnded,
    EventBus,
    HyperparametersChanged,
    HyperparametersRefused,
    RunStateChanged,
)
from lab.io import atomic_write_json
from lab.policy import Policy
from lab.rollout.collector import AgentStep, Collected, Collector
from lab.rollout.envs import episode_seeds, make_agent_envs
from lab.rollout.worker import refuse_while_a_worker_starts
from lab.signals import STOP_SIGNALS, on_stop_signals
from lab.train import checkpoints
from lab.train.control import RunControl
from lab.train.evaluations import evaluate_agent, evaluation_due
from lab.train.learning import Learning
from lab.train.live import check_changes, live_values
from lab.train.members import member_configs
from lab.train.run_folder import RunFolderLock, claim_run_folder
from lab.train.slot import FAILED, SOLVED, STOPPED, AgentSlot


class DivergenceError(RuntimeError):
    """Every agent's values turned NaN or infinite; nothing non-finite was saved."""


@dataclass(frozen=True)
class AgentEvent:
    """An ordinary trainer event from agent ``agent`` (seed ``seed``) of an engine."""

    agent: int
    seed: int
    event: Any


@dataclass(frozen=True)
class Layout:
    """Where an engine writes: one run folder per agent, and the checkpoint holding all of them."""

    run_dir: Path
    agent_dirs: tuple[Path, ...]
    checkpoint: Path
    population: bool
    """A population writes population.pt and its own summary.json; a run of one writes checkpoint.pt in its folder."""


class Engine:
    """Train K TD3 agents at once; ``lab.Trainer`` (K = 1) and ``lab.Population`` give it its public faces."""

    def __init__(self, configs: Sequence[Config], layout: Layout, resume: str | Path | None = None,
                 log_to_disk: bool = True, shared_replay: bool = False) -> None:
        refuse_while_a_worker_starts()
        self.configs = member_configs(configs[0], configs=configs)
        first = self.configs[0]
        self.layout, self.log_to_disk = layout, log_to_disk
        self.resumed_from = None if resume is None else str(resume)
        self.agents = len(self.configs)
        saved = None if resume is None else checkpoints.read_training_checkpoint(resume, layout.population)
        changes: list[dict[str, tuple[Any, Any]]] = [{} for _ in self.configs]
        if saved is not None:
            assert resume is not None
            changes = checkpoints.resume_changes(resume, checkpoints.saved_configs(resume, saved), self.configs)
        self._locks: list[RunFolderLock] = []
        if log_to_disk:  # refuse a folder holding another run before any env or file is opened
            for folder in (layout.run_dir, *layout.agent_dirs) if layout.population else layout.agent_dirs:
                claim_run_folder(folder, resume)
            try:
                for folder in dict.fromkeys((layout.run_dir, *layout.agent_dirs)):
                    self._locks.append(RunFolderLock(folder))
            except BaseException:
                for lock in self._locks:
                    lock.release()
                raise
        torch.set_num_threads(first.run.torch_threads)
        self.device = resolve_device(first.run.device)
        self.agent_events = EventBus()
        """AgentEvent(agent, seed, event) for every agent's event (each agent's own bus has its plain events)."""
        self.name = layout.run_dir.name
        self.control = RunControl()
        self.state = "idle"
        self.error: BaseException | None = None
        self.interrupted: KeyboardInterrupt | None = None
        self.epoch = 0
        self.train_seconds = 0.0
        self._boundary_step = -1
        self.slots: list[AgentSlot] = []
        self.collector: Collector | None = None
        try:
            resume_steps = [None] * self.agents if saved is None else [int(a["env_step"]) for a in saved["agents"]]
            self.slots = [AgentSlot(k, c, d, log_to_disk, resume_step=step)
                          for k, (c, d, step) in enumerate(zip(self.configs, layout.agent_dirs, resume_steps))]
            envs = make_agent_envs(first.env, self.agents, first.env.num_envs, worker=first.run.overlap_collection)
            self.collector = Collector(self.configs, envs, [np.random.default_rng(c.run.seed) for c in self.configs])
            self.obs_dim, self.act_dim = obs_dim, act_dim = self.collector.obs_dim, self.collector.act_dim
            self.learner = TD3([c.run.seed for c in self.configs], obs_dim, act_dim, [c.network for c in self.configs],
                               [c.training for c in self.configs], self.device)
            self.buffer = ReplayBuffer(self.agents, first.training.buffer_size, obs_dim, act_dim,
                                       [c.run.seed + 1 for c in self.configs], prioritized=first.training.use_per,
                                       shared=shared_replay, device=self.device)
            self.learning = Learning(self.learner, self.buffer, self.slots, self._publish, lambda: self.train_seconds)
            self.epoch = 0 if saved is None else int(saved["epoch"])
            self._fresh_episodes()
            if saved is not None and resume is not None:
                self.epoch, self.train_seconds = checkpoints.restore(resume, saved, self.slots, self.learner,
                                                                     self.collector.explorers, self.buffer)
                self.learner.configure([c.training for c in self.configs])  # the given configs rule
            for m, diff in zip(self.slots, changes):
                m.resumed_from = self.resumed_from
                if diff:
                    self._publish(m, HyperparametersChanged(env_step=m.env_step, changes=diff))
            self.resume_changes = changes
            """Per agent, what the given config changed at the resume step (empty when not resuming)."""
        except BaseException:
            self._close_resources()  # the env worker, log files and locks: nothing outlives a failed constructor
            raise

    # ==== control ==========================================================================
    def fit(self, until_step: int | None = None) -> dict[str, Any]:
        """Train every agent to its run.total_steps in this thread; Ctrl-C, SIGTERM and SIGHUP stop cleanly with a
        checkpoint.

        until_step: return once every agent has reached this many env steps of its own (or its budget): a pause
        rather than the end, from which a later fit goes on (lab evolve's generations). After a signal,
        ``interrupted`` holds it.
        """
        if until_step is not None and (isinstance(until_step, bool) or not isinstance(until_step, int)
                                       or until_step < 0):
            raise ConfigError(f"until_step={until_step!r} is invalid: allowed an integer >= 0")
        self._check_can_start()
        self.control.enter_loop()
        try:
            self.control.stop_requested = self.control.pause_requested = False
            for m in self.slots:
                m.pause_at = until_step
            with on_stop_signals(self._stop_from_signal, (2, *STOP_SIGNALS)):
                return self._run()
        finally:
            for m in self.slots:
                m.pause_at = None
            self.control.leave_loop()

    def fit_or_raise(self, until_step: int | None = None) -> dict[str, Any]:
        """fit, then raise the signal that stopped it: for callers whose work means nothing cut short (a benchmark
        must not time, count or save such a run; an evolve generation must not be ranked), so Ctrl-C ends the
        caller's whole job, not just this run."""
        summary = self.fit(until_step)
        if self.interrupted is not None:
            raise self.interrupted
        return summary

    def start(self) -> Engine:
        """Train in a background thread and return at once."""
        self._check_can_start()
        self.control.enter_loop()

        def loop() -> None:
            try:
                self._run()
            except BaseException as exc:  # noqa: BLE001 - recorded and published by _run
                self.error = exc
            finally:
                self.control.leave_loop()

        self.control.start(loop)
        return self

    def _check_can_start(self) -> None:
        if self.collector is None or self._closed:
            raise RuntimeError("this trainer is closed: make a new one (resume=...) to train on")
        if self.control.looping:
            raise RuntimeError("this trainer is already training (fit() or start() from another thread): wait for "
                               "it, or stop() it first")
        if not any(m.state not in (STOPPED, SOLVED, FAILED) and m.env_step < m.config.run.total_steps
                   for m in self.slots):
            raise RuntimeError(f"this run is {self.state if self.state != 'idle' else 'done'} at its step budget; "
                               "raise run.total_steps to continue")

    _closed = False

    def _stop_from_signal(self, signum: int) -> None:
        self._signal = signum
        self.control.stop_from_signal()

    _signal: int | None = None

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def stop(self, agent: int | None = None, wait: bool = True, timeout: float | None = 120.0) -> None:
        """Stop one agent (it keeps its folder and weights; the others go on without its cost) or, with agent=None,
        all: the loop saves a checkpoint first.

        An agent's stop is in effect when this returns, whatever wait says: from another thread the loop applies
        it between steps, so a step already under way cannot count steps or store transitions for it afterwards.
        """
        if agent is not None:
            self.slot(agent)
            self.control.call("stop_agent", agent, self._serve)
            return
        self.control.stop()
        if wait:
            self.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        self.control.join(timeout)

    @property
    def running(self) -> bool:
        """True while a background thread trains."""
        return self.control.running

    def update_hyperparameters(self, agent: int | None = None, **changes: Any) -> None:
        """Change live fields of one agent (or all with agent=None) before the next update; names are dotted
        (``**{"training.actor_lr": 3e-4}``) or bare (``actor_lr=3e-4``).

        Raises ConfigError at once for a field that is not live, an out-of-range value, or a per-agent change of
        a field the agents share.
        """
        if agent is not None:
            self.slot(agent)
        check_changes([m.config for m in self.slots], agent, changes)
        self.control.submit_changes((agent, dict(changes)))
        if not self.control.looping:
            self._apply_pending_changes()

    def hyperparameters(self, agent: int = 0) -> dict[str, Any]:
        """Agent's live fields, by dotted name."""
        return live_values(self.slot(agent).config)

    def evaluate_now(self, agent: int = 0, episodes: int | None = None) -> EvaluationResult:
        """Evaluate an agent's current policy; from another thread while running, the loop does it between steps."""
        self.slot(agent)
        if episodes is not None and (isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1):
            raise ValueError(f"episodes={episodes!r} is invalid: allowed an integer >= 1, "
                             "or None for run.eval_episodes")
        return self.control.call("evaluate", (agent, episodes), self._serve)

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write the checkpoint now (between steps, when the loop is running)."""
        return self.control.call("checkpoint", path, self._serve)

    def agent_policy(self, agent: int = 0) -> Policy:
        """A frozen copy of an agent's actor (with its twin critic), numpy in and out."""
        m = self.slot(agent)
        actor, critic = self.learner.agent_modules(agent)
        label = self.name if self.agents == 1 else f"{self.name}[{agent}]"
        return Policy.from_actor(actor, name=f"{label}@{m.env_step}", critic=critic)

    def copy_agent(self, source: int, target: int) -> None:
        """Make agent target a copy of agent source (PBT's exploit): its weights, targets, optimizer moments and
        steps, learner settings, live fields and exploration noise state.

        What makes target its own slot stays: its seed and random streams, counters and budget, envs and their
        running episodes, and its replay buffer.
        """
        if self.control.looping:
            raise RuntimeError("copy_agent while training: stop it first")
        src, dst = self.slot(source), self.slot(target)
        if source == target:
            return
        self.learner.copy_agent(source, target)
        dst.config = src.config.with_overrides({"run.seed": dst.seed})
        self.configs[target] = dst.config
        assert self.collector is not None
        explorer = self.collector.explorers[target]
        explorer.configure(dst.config)
        explorer.noise.state[...] = self.collector.explorers[source].noise.state

    def slot(self, agent: int) -> AgentSlot:
        if not isinstance(agent, int) or isinstance(agent, bool) or not 0 <= agent < self.agents:
            raise ConfigError(f"agent={agent!r} is invalid: allowed 0 to {self.agents - 1}")
        return self.slots[agent]

    def summary(self) -> dict[str, Any]:
        steps = sum(m.env_step for m in self.slots)
        return {"agents": self.agents, "env_steps": steps, "train_seconds": round(self.train_seconds, 3),
                "aggregate_steps_per_second": round(steps / self.train_seconds, 2) if self.train_seconds else 0.0,
                "solved": sum(m.solved_at is not None for m in self.slots), "state": self.state,
                "failed": sum(m.state == FAILED for m in self.slots), "run_dir": str(self.layout.run_dir),
                "resumed_from": self.resumed_from,
                "members": [m.summary(self.train_seconds, self.state) for m in self.slots]}

    def close(self) -> None:
        """Release the envs, files and folder locks; the run folders stay."""
        if self.running:
            self.stop()
        self._close_resources()

    def _close_resources(self) -> None:
        self._closed = True
        if self.collector is not None:
            self.collector.close()
        for m in self.slots:
            m.close()
        for lock in self._locks:
            lock.release()

    # ==== the loop =========================================================================
    def _run(self) -> dict[str, Any]:
        self.interrupted, self._signal = None, None
        self._set_state("running")
        every = self.configs[0].run.checkpoint_every
        next_ckpt = [_next_multiple(m.env_step, every) for m in self.slots]
        try:
            while any(m.active for m in self.slots):
                if self._between_steps():
                    break
                started = time.perf_counter()
                self._step()
                self.train_seconds += time.perf_counter() - started
                for m in self.slots:
                    if m.state != FAILED and evaluation_due(m):  # at its budget too: before the checkpoint
                        self._evaluate(m)
                if every and any(m.env_step >= n for m, n in zip(self.slots, next_ckpt)):
                    self._checkpoint_at_boundary()
                    next_ckpt = [_next_multiple(m.env_step, every) for m in self.slots]
            else:
                return self._end()
            self._settle_debt()
            self._finish("stopped")
        except KeyboardInterrupt as exc:
            self._finish("stopped")
            self.interrupted = exc
        except DivergenceError as exc:
            kept = self.layout.checkpoint if self.log_to_disk and self.layout.checkpoint.exists() else None
            self._set_state("failed", error=str(exc), checkpoint=None if kept is None else str(kept))
            raise
        except BaseException as exc:
            self._finish("failed", error=f"{type(exc).__name__}: {exc}")
            raise
        if self._signal is not None:
            from lab.signals import Terminated

            self.interrupted = Terminated(self._signal) if self._signal != 2 else KeyboardInterrupt()
        return self.summary()

    def _end(self) -> dict[str, Any]:
        """No agent acts any more: a pause (fit(until_step)), the end of every budget, or every agent failed."""
        self._settle_debt()
        paused = any(m.pause_at is not None and m.state not in (STOPPED, SOLVED, FAILED)
                     and m.env_step < m.config.run.total_steps for m in self.slots)
        if not paused:
            for m in self.slots:
                if m.state != FAILED and m.config.run.eval_every and m.last_eval_step != m.env_step:
                    self._evaluate(m)
        if all(m.state == FAILED for m in self.slots):
            raise DivergenceError("; ".join(f"agent {m.index}: {m.error}" for m in self.slots) if self.agents > 1
                                  else str(self.slots[0].error))
        self._finish("paused" if paused else "finished")
        return self.summary()

    def _step(self) -> None:
        """One vector step of every acting agent; overlapped, the updates owed by the last step are paid while the
        envs step in their worker."""
        assert self.collector is not None
        self._shed_idle_agents()
        acting = [m for m in self.slots if m.active]
        explorers = self.collector.explorers
        warming = [explorers[m.index].warming_up(m.env_step, m.episodes) for m in acting]
        scales = [explorers[m.index].scale(m.episodes) for m in acting]
        overlapped = self.configs[0].run.overlap_collection
        collected = self.collector.step([m.index for m in acting], warming, scales, self._greedy,
                                        meanwhile=self._learn if overlapped else None)
        self._observe(collected)
        if not overlapped:
            self._learn()

    def _greedy(self, agents: list[int], obs: np.ndarray) -> np.ndarray:
        """The actors' actions for these agents, one batched forward pass over the learner's stacks."""
        active = self.learner.active
        rows = [active.index(k) for k in agents]
        stacked = np.zeros((len(active), *obs.shape[1:]), dtype=np.float32)
        stacked[rows] = obs
        return self.learner.act(torch.from_numpy(stacked)).cpu().numpy()[rows]

    def _observe(self, collected: Collected) -> None:
        """Store every agent's new transitions at once, then for each agent count its steps, owe its updates and
        publish its episodes (an agent whose actor diverged fails instead)."""
        t = collected.transitions
        self.buffer.add_many(collected.agents, t.obs, t.actions, t.rewards, t.next_obs, t.terminated, t.nsteps)
        for step in collected.steps:
            if step.error is None:
                self._count(step)
            else:
                self._fail(self.slots[step.agent], step.error)

    def _count(self, step: AgentStep) -> None:
        m = self.slots[step.agent]
        m.env_step += step.new_transitions
        self.learning.owe(m, step.new_transitions)
        for e in step.episodes:
            tr = e.trajectory
            analysis = None if not m.config.run.analyze_episodes else _analyzer().analyze(
                tr.observations, tr.actions, tr.terminated, tr.truncated, tr.rewards)
            m.episodes += 1
            self._publish(m, EpisodeEnded(
                env_step=m.env_step, episode=m.episodes, raw_return=e.raw_return, shaped_return=e.shaped_return,
                length=tr.length, success=e.raw_return >= m.config.env.success_threshold, env_index=e.env_index,
                trajectory=tr, analysis=analysis))

    def _learn(self) -> None:
        for k, reason in self.learning.pay().items():
            self._fail(self.slots[k], reason)

    def _settle_debt(self) -> None:
        """Overlapped, the last step's updates are still owed when the loop pauses or ends: pay them."""
        if self.configs[0].run.overlap_collection:
            self._learn()

    def _shed_idle_agents(self) -> None:
        """The learner's stacks hold exactly the agents that act or still owe an update."""
        learning = [m.index for m in self.slots if m.active or (m.update_debt >= 1.0 and m.state != FAILED)]
        if learning and learning != self.learner.active:
            self.learner.keep(learning)

    # ==== failures =========================================================================
    def _fail(self, m: AgentSlot, reason: str) -> None:
        """The agent diverged: it stops as failed, its weights return to the last good ones (its last checkpoint,
        else its start), and the others train on."""
        m.state, m.update_debt = FAILED, 0.0
        kept = self.layout.checkpoint if self.log_to_disk and self.layout.checkpoint.exists() else None
        good = checkpoints.last_good_learner(self.layout.checkpoint) if kept else None
        if good is None:
            fresh = TD3([m.seed], self.learner.obs_dim, self.learner.act_dim, m.config.network, [m.config.training])
            self.learner.load_agent(m.index, fresh.state_dict(), row=0)
        else:
            self.learner.load_agent(m.index, good)
        m.error = f"{reason} (env step {m.env_step}); " + (f"last good checkpoint kept at {kept}" if kept else
                                                           "no checkpoint had been written yet")
        self._publish(m, RunStateChanged(env_step=m.env_step, state="failed", error=m.error,
                                         checkpoint=None if kept is None else str(kept)))
        if m.logger:
            atomic_write_json(m.run_dir / "summary.json", m.summary(self.train_seconds, self.state))

    # ==== between steps ====================================================================
    def _between_steps(self) -> bool:
        """Apply live changes and serve requests; stay here while paused. Returns True to stop."""
        while True:
            self._apply_pending_changes()
            self.control.serve_requests(self._serve)
            if self.control.stop_requested:
                return True
            if not self.control.pause_requested:
                self._set_state("running")
                return False
            self._set_state("paused")
            self.control.wait_while_paused()

    def _apply_pending_changes(self) -> None:
        assert self.collector is not None
        for agent, changes in self.control.take_changes():
            try:
                new = check_changes([m.config for m in self.slots], agent, changes)
            except ConfigError as exc:  # checked already; a race with another change can still refuse it
                for m in self.slots if agent is None else [self.slots[agent]]:
                    self._publish(m, HyperparametersRefused(m.env_step, dict(changes), str(exc)))
                continue
            for k, config in new.items():
                m = self.slots[k]
                diff = m.config.differences(config)
                m.config = self.configs[k] = config
                self.collector.explorers[k].configure(config)
                if diff:
                    self._publish(m, HyperparametersChanged(env_step=m.env_step, changes=diff))
            self.learner.configure([m.config.training for m in self.slots], new)

    def _serve(self, kind: str, arg: Any) -> Any:
        if kind == "stop_agent":
            m = self.slots[arg]
            if m.state not in (FAILED, SOLVED):
                m.state = STOPPED
            m.update_debt = 0.0
            return None
        if kind == "evaluate":
            agent, episodes = arg
            return self._evaluate(self.slots[agent], episodes)
        if kind == "checkpoint":
            return self._write_checkpoint(arg)
        raise ValueError(f"unknown request {kind!r}")

    # ==== evaluation, checkpoints, state =====================================================
    def _evaluate(self, m: AgentSlot, episodes: int | None = None) -> EvaluationResult:
        result = evaluate_agent(m, self.agent_policy(m.index), self.train_seconds, self._publish, episodes)
        if m.config.run.stop_when_solved and result.mean_return >= m.config.env.success_threshold \
                and m.state not in (STOPPED, FAILED):
            m.state, m.update_debt = SOLVED, 0.0
        return result

    def _checkpoint_at_boundary(self) -> None:
        """Fresh episodes for every agent, then checkpoint: a resume then continues exactly from here."""
        self._settle_debt()
        self.epoch += 1
        self._fresh_episodes()
        if self.log_to_disk:
            self._write_checkpoint(None)
        self._boundary_step = self._total_steps()

    def _fresh_episodes(self) -> None:
        """Reset every agent's envs with seeds derived from (its seed, epoch)."""
        assert self.collector is not None
        self.collector.reset([episode_seeds(m.seed, self.epoch, m.config.env.num_envs) for m in self.slots])

    def _write_checkpoint(self, path: str | Path | None) -> Path:
        """Write the checkpoint (and for the engine's own, each agent's policy.pt and summary.json).

        An agent whose weights are no longer finite fails first, so nothing non-finite is ever written.
        """
        assert self.collector is not None
        for k, finite in self.learner.finite_agents().items():
            if not finite and self.slots[k].state != FAILED:
                self._fail(self.slots[k], "the learner's weights became non-finite")
        own = path is None or Path(path) == self.layout.checkpoint
        path = self.layout.checkpoint if path is None else Path(path)
        write_checkpoint_file(path, checkpoints.checkpoint_state(
            self.slots, self.learner, self.collector.explorers, self.buffer, self.epoch, self.train_seconds,
            self.layout.population))
        if own:
            for m in self.slots:
                m.saved_step = m.env_step
                if m.logger and m.state != FAILED:
                    from lab.checkpoint import save_policy

                    actor, critic = self.learner.agent_modules(m.index)
                    save_policy(actor, m.run_dir / "policy.pt", m.config.network,
                                {"env_step": m.env_step, "agent": m.index, "seed": m.seed}, critic=critic)
            self._write_summaries()
        for m in self.slots:
            self._publish(m, CheckpointSaved(env_step=m.env_step, path=str(path)))
        return path

    def _finish(self, state: str, error: str | None = None) -> None:
        """End of a fit: every agent back in the stacks, then the final checkpoint (unless nothing changed since
        the last one, or every agent failed)."""
        checkpoint = None
        try:
            self.learner.keep(range(self.agents))  # outside a run, the learner holds every agent
            if self.log_to_disk and not all(m.state == FAILED for m in self.slots):
                if self._boundary_step != self._total_steps():
                    self.epoch += 1
                    self._write_checkpoint(None)
                checkpoint = str(self.layout.checkpoint)
        except Exception as exc:  # noqa: BLE001 - report the original failure, not this one
            error = f"{error or ''} (checkpoint failed: {exc})".strip()
        self._set_state(state, error=error, checkpoint=checkpoint)

    def _set_state(self, state: str, error: str | None = None, checkpoint: str | None = None) -> None:
        if state == self.state and error is None and checkpoint is None:
            return
        self.state = state
        for m in self.slots:
            if m.state == FAILED and state != "failed":
                continue  # it said so when it failed
            self._publish(m, RunStateChanged(env_step=m.env_step, state=m.public_state(state),
                                             error=error, checkpoint=checkpoint))
        self._write_summaries()

    def _write_summaries(self) -> None:
        if not self.log_to_disk:
            return
        for m in self.slots:
            if m.logger:
                atomic_write_json(m.run_dir / "summary.json", m.summary(self.train_seconds, self.state))
        if self.layout.population:
            atomic_write_json(self.layout.run_dir / "summary.json", self.summary())

    def _publish(self, m: AgentSlot, event: Any) -> None:
        m.events.publish(event)
        self.agent_events.publish(AgentEvent(m.index, m.seed, event))

    def _total_steps(self) -> int:
        return sum(m.env_step for m in self.slots)


_ANALYZER: Any = None
_ANALYZER_LOCK = threading.Lock()


def _analyzer() -> Any:
    """The behavior analyzer, built on first use (lab.lander.behavior is slow to import)."""
    global _ANALYZER
    with _ANALYZER_LOCK:
        if _ANALYZER is None:
            from lab.lander.behavior import BehaviorAnalyzer

            _ANALYZER = BehaviorAnalyzer()
    return _ANALYZER


def _next_multiple(step: int, every: int) -> int:
    return 0 if every <= 0 else (step // every + 1) * every
