"""The training loop as orchestration: collect, store, learn, evaluate, checkpoint.

Each job lives in its own module; this one only decides when each happens:
- the rollout (actions, env steps, autoreset, shaping, n-step, episodes): ``lab.collector``
- the update (debt, sampling, PER priorities, divergence checks): ``lab.learner`` and ``lab.td3``
- pause/resume/stop, live changes and requests from other threads: ``lab.run_control``
- what a checkpoint holds and restores: ``lab.checkpoint``
A live change is a config swap (``_use_config``): the collector and the learner
read the new frozen Config from their next step on.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from lab.checkpoint import (
    RunProgress,
    restore_training_checkpoint,
    save_policy,
    seed_everything,
    training_checkpoint,
    write_checkpoint_file,
)
from lab.collector import FinishedEpisode
from lab.collector_process import CollectorProcess, make_collector
from lab.config import Config, ConfigError
from lab.envs import env_dims, episode_seeds
from lab.evaluation import EvaluationResult, evaluate
from lab.events import (
    CheckpointSaved,
    EpisodeEnded,
    Evaluated,
    EventBus,
    HyperparametersChanged,
    HyperparametersRefused,
    RunStateChanged,
    UpdateMetrics,
)
from lab.hyperparameters import live_values, scheduled_noise_scale, scheduled_per_beta, validate_changes
from lab.io import atomic_write_json
from lab.learner import DivergenceError, Learner, finite_weights, make_agent, make_buffer
from lab.policy import Policy
from lab.run_control import RunControl, stop_on_signals
from lab.run_log import RunLogger, claim_run_folder
from lab.td3 import resolve_device


class Trainer:
    """Train TD3 on LunarLanderContinuous under a frozen Config.

    >>> trainer = Trainer("fast")            # a preset name, a Config, or a config file path
    >>> trainer.events.subscribe(print)      # any callable; see lab.events
    >>> trainer.fit()                        # or start() / pause() / resume() / stop()
    """

    def __init__(self, config: Config | str | Path = "fast", run_dir: str | Path | None = None,
                 name: str | None = None, resume: str | Path | None = None, log_to_disk: bool = True) -> None:
        self.config = cfg = _as_config(config)
        self.name = name or (config if isinstance(config, str) and "/" not in str(config) else "run")
        torch.set_num_threads(cfg.run.torch_threads)
        self.device = resolve_device(cfg.run.device)
        self.events = EventBus()
        self.run_dir = Path(run_dir) if run_dir else _new_run_dir(cfg.run.out_dir, self.name)
        if log_to_disk:  # refuse a folder holding another run before any env or file is opened
            claim_run_folder(self.run_dir, resume_step=None if resume is None else 0)
        self.rng = seed_everything(cfg.run.seed)
        obs_dim, act_dim = env_dims(cfg.env)
        agent = make_agent(cfg, obs_dim, act_dim, self.device)
        self.collector = make_collector(cfg, self.rng, agent.actor)
        self.learner = Learner(agent, make_buffer(cfg, obs_dim, act_dim, self.device), cfg)
        self.control = RunControl()
        self.state = "idle"
        self.error: BaseException | None = None
        self.last_evaluation: EvaluationResult | None = None
        self._last_eval_step = self._boundary_step = self._saved_step = -1
        self._closed = False
        self._analyzer = _behavior_analyzer() if cfg.run.analyze_episodes else None
        # The state a checkpoint restores: fresh counters, or the checkpoint's (with learner, RNGs, noise, replay).
        self.progress = RunProgress() if resume is None else restore_training_checkpoint(
            resume, cfg, agent, self.rng, self.noise.state, self.buffer, self.learner)
        resume_step = None if resume is None else self.progress.env_step
        self.logger = RunLogger(self.run_dir, resume_step=resume_step) if log_to_disk else None
        if self.logger:
            self.events.subscribe(self.logger)
            cfg.save(self.run_dir / "config.yaml")
        self.learner.update_debt = self.progress.update_debt
        self._fresh_episodes()

    agent = property(lambda self: self.learner.agent, doc="The TD3 learner.")
    buffer = property(lambda self: self.learner.buffer, doc="The replay buffer.")
    noise = property(lambda self: self.collector.noise, doc="The exploration noise process.")
    env_step = property(lambda self: self.progress.env_step, doc="Real env steps taken so far.")
    episodes = property(lambda self: self.progress.episodes, doc="Training episodes finished so far.")
    train_seconds = property(lambda self: self.progress.train_seconds, doc="Wall time spent training.")
    checkpoint_path = property(lambda self: self.run_dir / "checkpoint.pt")
    policy_path = property(lambda self: self.run_dir / "policy.pt")
    running = property(lambda self: self.control.running, doc="True while the background thread trains.")

    # ==== public control ===================================================================
    def fit(self) -> dict[str, Any]:
        """Train until run.total_steps in this thread; Ctrl-C, SIGTERM and SIGHUP stop cleanly with a checkpoint."""
        self._check_can_start()
        self.control.stop_requested = self.control.pause_requested = False
        with stop_on_signals(self.control):
            return self._run()

    def start(self) -> Trainer:
        """Train in a background thread and return at once."""
        self._check_can_start()
        if self.state in ("finished", "stopped", "failed") and self.env_step >= self.config.run.total_steps:
            raise RuntimeError(f"this run is {self.state} at its step budget; raise run.total_steps to continue")
        self.control.start(self._run_in_thread)
        return self

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def stop(self, wait: bool = True, timeout: float | None = 120.0) -> Path | None:
        """Ask the loop to stop; it saves a checkpoint first. Returns its path when wait is true."""
        self.control.stop()
        if wait:
            self.join(timeout)
        return self.checkpoint_path if self.checkpoint_path.exists() else None

    def join(self, timeout: float | None = None) -> None:
        self.control.join(timeout)

    def update_hyperparameters(self, **changes: Any) -> None:
        """Change live hyperparameters; they take effect before the next update.

        Raises ConfigError at once for unknown names or out-of-range values.
        """
        validate_changes(self.config, changes)  # fail here, in the caller's thread
        self.control.submit_changes(changes)
        if not self.running:
            self._apply_pending_changes()

    def hyperparameters(self) -> dict[str, Any]:
        """Current values of every live hyperparameter."""
        return live_values(self.config, self.progress.schedule_overrides, self.episodes, self.env_step)

    def evaluate_now(self, episodes: int | None = None) -> EvaluationResult:
        """Evaluate the current policy; from another thread while running, the loop does it between steps."""
        if episodes is not None and (isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1):
            raise ValueError(f"episodes={episodes!r} is invalid: allowed an integer >= 1, "
                             "or None for run.eval_episodes")
        return self.control.call("evaluate", episodes, self._serve)

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write a checkpoint now (between steps, when the loop is running)."""
        return self.control.call("checkpoint", path, self._serve)

    @property
    def policy(self) -> Policy:
        """A frozen copy of the actor this run deploys (its policy checkpoint when those are on), numpy in and out."""
        return Policy.from_actor(self.learner.deployed_actor, name=f"{self.name}@{self.env_step}")

    def summary(self) -> dict[str, Any]:
        p = self.progress
        return {
            "env_step": p.env_step, "episodes": p.episodes, "updates": self.agent.updates,
            "train_seconds": round(p.train_seconds, 3),
            "steps_per_second": round(p.env_step / p.train_seconds, 2) if p.train_seconds else 0.0,
            "best_eval": p.best_eval,
            "last_eval": None if self.last_evaluation is None else self.last_evaluation.mean_return,
            "solved_at_step": None if p.solved_at is None else p.solved_at[0],
            "solved_at_seconds": None if p.solved_at is None else round(p.solved_at[1], 3),
            "state": self.state, "run_dir": str(self.run_dir),
            "checkpoint_step": self._saved_step if self._saved_step >= 0 else None,
        }

    def close(self) -> None:
        """Release the envs and files; the run folder stays."""
        if self.running:
            self.stop()
        self._closed = True
        self.collector.close()
        if self.logger:
            self.logger.close()

    def current_noise_scale(self) -> float:
        return scheduled_noise_scale(self.config, self.progress.schedule_overrides, self.episodes)

    def current_per_beta(self) -> float:
        return scheduled_per_beta(self.config, self.progress.schedule_overrides, self.env_step)

    # ==== the loop =========================================================================
    def _run_in_thread(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - recorded and published by _run
            self.error = exc

    def _run(self) -> dict[str, Any]:
        run = self.config.run
        self._set_state("running")
        next_eval, next_ckpt = _next_multiple(self.env_step, run.eval_every), _next_multiple(self.env_step,
                                                                                             run.checkpoint_every)
        try:
            while self.env_step < run.total_steps:
                if self._between_steps():
                    self._finish("stopped")
                    return self.summary()
                started = time.perf_counter()
                self._collect_and_learn()
                self.progress.train_seconds += time.perf_counter() - started
                if next_eval and self.env_step >= next_eval:
                    landed = self._evaluate().mean_return >= self.config.env.success_threshold
                    next_eval = _next_multiple(self.env_step, run.eval_every)
                    if landed and run.stop_when_solved:
                        break
                if next_ckpt and self.env_step >= next_ckpt:
                    self._checkpoint_at_boundary()
                    next_ckpt = _next_multiple(self.env_step, run.checkpoint_every)
            if run.eval_every and self._last_eval_step != self.env_step:
                self._evaluate()
            self._finish("finished")
        except KeyboardInterrupt:
            self._finish("stopped")
        except DivergenceError as exc:
            raise self._diverged(exc) from exc
        except BaseException as exc:
            self._finish("failed", error=f"{type(exc).__name__}: {exc}")
            raise
        return self.summary()

    def _collect_and_learn(self) -> None:
        """One vector step: act, step every env, store real transitions, then pay the update debt.

        Overlapped, the debt of the previous step is paid while the collector's process steps the envs."""
        p, t = self.progress, self.config.training
        warming_up = p.env_step < t.learning_starts or p.episodes < t.warmup_episodes
        collector = self.collector
        overlapped = isinstance(collector, CollectorProcess)
        if isinstance(collector, CollectorProcess):
            step = collector.step(None if warming_up else self.agent.actor, self.current_noise_scale(),
                                  meanwhile=self._pay_debt)
        else:
            step = collector.step(None if warming_up else self.agent.explore, self.current_noise_scale())
        self.learner.store(step.transitions)
        p.env_step += step.new_transitions
        for episode in step.episodes:
            self._publish_episode(episode)
        beta = self.current_per_beta()
        self.learner.learn(step.new_transitions, p.env_step, beta, self._publish_metrics, defer=overlapped)
        for episode in step.episodes:
            self.learner.episode_ended(episode.env_index, episode.raw_return, p.env_step, beta,
                                       self._publish_metrics)

    def _pay_debt(self) -> None:
        self.learner.pay_debt(self.env_step, self.current_per_beta(), self._publish_metrics)

    def _publish_episode(self, e: FinishedEpisode) -> None:
        tr = e.trajectory
        analysis = None if self._analyzer is None else self._analyzer.analyze(
            tr.observations, tr.actions, tr.terminated, tr.truncated, tr.rewards)
        self.progress.episodes += 1
        self.events.publish(EpisodeEnded(
            env_step=self.env_step, episode=self.episodes, raw_return=e.raw_return, shaped_return=e.shaped_return,
            length=tr.length, success=e.raw_return >= self.config.env.success_threshold, env_index=e.env_index,
            trajectory=tr, analysis=analysis))

    def _publish_metrics(self, metrics: dict[str, Any]) -> None:
        self.events.publish(UpdateMetrics(
            env_step=self.env_step, noise_scale=self.current_noise_scale(),
            steps_per_second=self.env_step / max(self.train_seconds, 1e-9), **metrics))

    # ==== controls =========================================================================
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
        for changes in self.control.take_changes():
            before = self.hyperparameters()
            try:
                config, overrides = validate_changes(self.config, changes)
            except ConfigError as exc:  # checked already; a race with another change can still refuse it
                self.events.publish(HyperparametersRefused(self.env_step, dict(changes), str(exc)))
                continue
            self.progress.schedule_overrides.update(overrides)
            self._use_config(config)
            after = self.hyperparameters()
            diff = {k: (before[k], after[k]) for k in changes if before[k] != after[k]}
            if diff:
                self.events.publish(HyperparametersChanged(env_step=self.env_step, changes=diff))

    def _use_config(self, config: Config) -> None:
        """A live change: everything that reads hyperparameters reads this frozen Config from now on."""
        self.config = config
        self.collector.set_config(config)
        self.learner.set_config(config)

    def _serve(self, kind: str, arg: Any) -> Any:
        return self._evaluate(arg) if kind == "evaluate" else self._write_checkpoint(arg)

    def _check_can_start(self) -> None:
        if self._closed:
            raise RuntimeError("this trainer is closed (its envs and log files are released); make a new one, "
                               f"e.g. Trainer(config, resume={str(self.checkpoint_path)!r})")
        if self.running:
            raise RuntimeError("this trainer is already running in the background")

    # ==== evaluation, checkpoints, state ===================================================
    def _evaluate(self, episodes: int | None = None) -> EvaluationResult:
        started = time.perf_counter()
        cfg, p = self.config, self.progress
        result = evaluate(self.policy, episodes=cfg.run.eval_episodes if episodes is None else episodes,
                          seed=cfg.run.eval_seed, env_id=cfg.env.env_id, success_threshold=cfg.env.success_threshold,
                          analyze=cfg.run.analyze_episodes, keep_trajectories=True,
                          max_episode_steps=cfg.env.max_episode_steps)
        seconds = time.perf_counter() - started
        self.last_evaluation, self._last_eval_step = result, self.env_step
        if (p.best_eval is None or result.mean_return > p.best_eval) and finite_weights(self.learner.deployed_actor):
            p.best_eval = result.mean_return
            if self.logger:
                save_policy(self.learner.deployed_actor, self.run_dir / "best_policy.pt", cfg.network,
                            {"env_step": self.env_step, "eval_mean": result.mean_return})
        if p.solved_at is None and result.mean_return >= cfg.env.success_threshold:
            p.solved_at = (self.env_step, p.train_seconds)
        self.events.publish(Evaluated(
            env_step=self.env_step, mean_return=result.mean_return, std_return=result.std_return,
            success_rate=result.success_rate, returns=tuple(result.returns), lengths=tuple(result.lengths),
            outcomes=result.outcomes, seconds=seconds, train_seconds=p.train_seconds))
        if self.logger:
            self.logger.save_episodes(result)
        return result

    def _checkpoint_at_boundary(self) -> None:
        """Start fresh episodes, then checkpoint: env state is then exactly reproducible on resume."""
        self.progress.epoch += 1
        self._fresh_episodes()
        self._write_checkpoint(None)
        self._boundary_step = self.env_step

    def _fresh_episodes(self) -> None:
        """Reset every env with seeds derived from (seed, epoch)."""
        self.collector.reset(episode_seeds(self.config.run.seed, self.progress.epoch, self.config.env.num_envs))

    def _write_checkpoint(self, path: str | Path | None) -> Path:
        """Write the checkpoint (and for the run's own, policy.pt and summary.json); announce it once written."""
        path = Path(path) if path else self.checkpoint_path
        if not self.learner.weights_finite():
            raise DivergenceError(f"the learner's weights are not finite; {str(path)!r} was not written")
        self.progress.update_debt = self.learner.update_debt
        replay = self.buffer.state_dict() if self.config.run.save_replay else None
        write_checkpoint_file(path, training_checkpoint(self.config, self.agent, self.progress, self.rng,
                                                        self.noise.state, replay, self.learner.state_dict()))
        if path == self.checkpoint_path:
            self._saved_step = self.env_step
            save_policy(self.learner.deployed_actor, self.policy_path, self.config.network,
                        {"env_step": self.env_step})
            if self.logger:
                atomic_write_json(self.run_dir / "summary.json", self.summary())
        self.events.publish(CheckpointSaved(env_step=self.env_step, path=str(path)))
        return path

    def _finish(self, state: str, error: str | None = None) -> None:
        checkpoint = None
        try:
            if self._boundary_step != self.env_step:  # else the boundary checkpoint already holds this state
                self.progress.epoch += 1
                self._write_checkpoint(None)
            checkpoint = str(self.checkpoint_path)
        except Exception as exc:  # noqa: BLE001 - report the original failure, not this one
            error = f"{error or ''} (checkpoint failed: {exc})".strip()
        self._set_state(state, error=error, checkpoint=checkpoint)
        if self.logger:
            atomic_write_json(self.run_dir / "summary.json", self.summary())

    def _diverged(self, exc: DivergenceError) -> DivergenceError:
        """Stop as failed without saving anything: the last good checkpoint and policy stay as they were."""
        kept = str(self.checkpoint_path) if self._saved_step >= 0 or self.checkpoint_path.exists() else None
        reason = f"{exc} (env step {self.env_step}); " + (
            f"last good checkpoint kept at {kept}" if kept else "no checkpoint had been written yet")
        self._set_state("failed", error=reason, checkpoint=kept)
        if self.logger:
            atomic_write_json(self.run_dir / "summary.json", self.summary())
        return DivergenceError(reason)

    def _set_state(self, state: str, error: str | None = None, checkpoint: str | None = None) -> None:
        if state == self.state and error is None and checkpoint is None:
            return
        self.state = state
        self.events.publish(RunStateChanged(env_step=self.env_step, state=state, error=error, checkpoint=checkpoint))


def _behavior_analyzer() -> Any:
    from lab.lander.behavior import BehaviorAnalyzer

    return BehaviorAnalyzer()


def _as_config(config: Config | str | Path) -> Config:
    if isinstance(config, Config):
        return config
    if isinstance(config, Path) or (isinstance(config, str) and (config.endswith((".yaml", ".yml", ".json")))):
        return Config.load(config)
    if isinstance(config, str):
        from lab.presets import preset

        return preset(config)
    raise ConfigError(f"config must be a Config, a preset name or a config file, got {type(config).__name__}")


def _new_run_dir(out_dir: str, name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(out_dir) / f"{stamp}_{name}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def _next_multiple(step: int, every: int) -> int:
    return 0 if every <= 0 else (step // every + 1) * every
