"""The training loop: collect with exploration noise, store, update TD3, evaluate, checkpoint.

``fit()`` runs it in the calling thread; ``start()`` runs it in a background thread
that ``pause()``, ``resume()``, ``stop()`` and ``update_hyperparameters()`` steer.
Control calls only record a request under a lock; the loop applies requests
between vector steps, so the learner never sees a half-applied change.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.checkpoint import CheckpointError, read_checkpoint_file, save_policy, write_checkpoint_file
from lab.config import Config, ConfigError
from lab.envs import episode_seeds, make_vector_env
from lab.evaluation import EvaluationResult, evaluate
from lab.events import (
    CheckpointSaved,
    EpisodeEnded,
    Evaluated,
    EventBus,
    HyperparametersChanged,
    RunStateChanged,
    Trajectory,
    UpdateMetrics,
)
from lab.hyperparameters import LIVE_CONFIG_FIELDS, validate_changes
from lab.io import atomic_write_json
from lab.noise import make_noise, noise_scale
from lab.nstep import NStepAccumulator
from lab.policy import Policy
from lab.replay import PrioritizedReplayBuffer, ReplayBuffer, per_beta
from lab.run_log import RunLogger
from lab.shaping import shaping_bonus
from lab.td3 import TD3

METRICS_EVERY = 250
"""Updates between UpdateMetrics events: often enough for charts, rare enough to cost nothing."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("run.device='cuda' is invalid: no CUDA device is available; allowed auto or cpu")
    return torch.device(name)


@dataclass
class _Episode:
    """The running episode of one env."""

    observations: list[np.ndarray]
    actions: list[np.ndarray]
    raw_rewards: list[float]
    shaped_return: float = 0.0


class Trainer:
    """Train TD3 on LunarLanderContinuous under a frozen Config.

    >>> trainer = Trainer("fast")            # a preset name, a Config, or a config file path
    >>> trainer.events.subscribe(print)      # any callable; see lab.events
    >>> trainer.fit()                        # or start() / pause() / resume() / stop()
    """

    _autoresetting: np.ndarray
    _episodes: list[_Episode]

    def __init__(self, config: Config | str | Path = "fast", run_dir: str | Path | None = None,
                 name: str | None = None, resume: str | Path | None = None, log_to_disk: bool = True) -> None:
        self.config = _as_config(config)
        self.name = name or (config if isinstance(config, str) and "/" not in str(config) else "run")
        cfg = self.config
        torch.set_num_threads(cfg.run.torch_threads)
        self.device = resolve_device(cfg.run.device)
        self.events = EventBus()
        self.run_dir = Path(run_dir) if run_dir else _new_run_dir(cfg.run.out_dir, self.name)

        # State that a checkpoint restores.
        self.env_step = 0
        self.episodes = 0
        self.epoch = 0
        self.train_seconds = 0.0
        self.best_eval: float | None = None
        self.solved_at: tuple[int, float] | None = None
        self._seed_everything(cfg.run.seed)
        self.envs = make_vector_env(cfg.env)
        self.obs_dim = int(np.prod(self.envs.single_observation_space.shape))
        self.act_dim = int(np.prod(self.envs.single_action_space.shape))
        self.agent = TD3(self.obs_dim, self.act_dim, cfg.network, cfg.training, self.device)
        self.buffer = self._make_buffer()
        self.noise = make_noise(cfg.noise, cfg.env.num_envs, self.act_dim, self.rng)
        self.nstep = NStepAccumulator(cfg.env.num_envs, cfg.training.n_step, cfg.training.gamma)
        self.schedule_overrides: dict[str, float] = {}
        self.last_evaluation: EvaluationResult | None = None
        self._update_debt = 0.0
        self._metrics: dict[str, float] = {}
        self._metric_count = 0

        # Control state, shared with other threads under _lock.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending_changes: list[dict[str, Any]] = []
        self._requests: list[tuple[str, threading.Event, list[Any]]] = []
        self._pause = False
        self._stop = False
        self._thread: threading.Thread | None = None
        self.state = "idle"
        self.error: BaseException | None = None

        self.logger = RunLogger(self.run_dir) if log_to_disk else None
        if self.logger:
            self.events.subscribe(self.logger)
            cfg.save(self.run_dir / "config.yaml")
        if resume is not None:
            self._load_checkpoint(resume)
        self._fresh_episodes()

    # ==== public control ===================================================================
    def fit(self) -> dict[str, Any]:
        """Train until run.total_steps in this thread; Ctrl-C stops cleanly with a checkpoint."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this trainer is already running in the background")
        return self._run()

    def start(self) -> Trainer:
        """Train in a background thread and return at once."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this trainer is already running")
        if self.state in ("finished", "stopped", "failed") and self.env_step >= self.config.run.total_steps:
            raise RuntimeError(f"this run is {self.state} at its step budget; raise run.total_steps to continue")
        with self._lock:
            self._stop = False
            self._pause = False
        self._thread = threading.Thread(target=self._run_in_thread, name="lab-trainer", daemon=True)
        self._thread.start()
        return self

    def pause(self) -> None:
        with self._lock:
            self._pause = True
            self._wake.notify_all()

    def resume(self) -> None:
        with self._lock:
            self._pause = False
            self._wake.notify_all()

    def stop(self, wait: bool = True, timeout: float | None = 120.0) -> Path | None:
        """Ask the loop to stop; it saves a checkpoint first. Returns its path when wait is true."""
        with self._lock:
            self._stop = True
            self._pause = False
            self._wake.notify_all()
        if wait:
            self.join(timeout)
        return self.checkpoint_path if self.checkpoint_path.exists() else None

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def update_hyperparameters(self, **changes: Any) -> None:
        """Change live hyperparameters; they take effect before the next update.

        Raises ConfigError at once for unknown names or out-of-range values.
        """
        validate_changes(self.config, changes)  # fail here, in the caller's thread
        with self._lock:
            self._pending_changes.append(dict(changes))
        if not self.running:
            self._apply_pending_changes()

    def hyperparameters(self) -> dict[str, Any]:
        """Current values of every live hyperparameter."""
        values: dict[str, Any] = {}
        for name, dotted in LIVE_CONFIG_FIELDS.items():
            section, field_name = dotted.split(".")
            values[name] = getattr(getattr(self.config, section), field_name)
        values["noise_scale"] = self.current_noise_scale()
        values["per_beta"] = self.current_per_beta()
        return values

    def evaluate_now(self, episodes: int | None = None) -> EvaluationResult:
        """Evaluate the current policy; from another thread while running, the loop does it between steps."""
        return self._request("evaluate", episodes)

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write a checkpoint now (between steps, when the loop is running)."""
        return self._request("checkpoint", path)

    @property
    def policy(self) -> Policy:
        """A frozen copy of the current actor as a numpy-in, numpy-out policy."""
        return Policy.from_actor(self.agent.actor, name=f"{self.name}@{self.env_step}")

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    @property
    def policy_path(self) -> Path:
        return self.run_dir / "policy.pt"

    def summary(self) -> dict[str, Any]:
        return {
            "env_step": self.env_step, "episodes": self.episodes, "updates": self.agent.updates,
            "train_seconds": round(self.train_seconds, 3),
            "steps_per_second": round(self.env_step / self.train_seconds, 2) if self.train_seconds else 0.0,
            "best_eval": self.best_eval,
            "last_eval": None if self.last_evaluation is None else self.last_evaluation.mean_return,
            "solved_at_step": None if self.solved_at is None else self.solved_at[0],
            "solved_at_seconds": None if self.solved_at is None else round(self.solved_at[1], 3),
            "state": self.state, "run_dir": str(self.run_dir),
        }

    def close(self) -> None:
        """Release the envs and files; the run folder stays."""
        if self.running:
            self.stop()
        self.envs.close()
        if self.logger:
            self.logger.close()

    # ==== the loop =========================================================================
    def _run_in_thread(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - recorded and published by _run
            self.error = exc

    def _run(self) -> dict[str, Any]:
        cfg = self.config
        self._set_state("running")
        next_eval = _next_multiple(self.env_step, cfg.run.eval_every)
        next_ckpt = _next_multiple(self.env_step, cfg.run.checkpoint_every)
        try:
            while self.env_step < cfg.run.total_steps:
                if self._handle_controls():
                    break
                t0 = time.perf_counter()
                self._collect_and_learn()
                self.train_seconds += time.perf_counter() - t0
                if next_eval and self.env_step >= next_eval:
                    self._evaluate()
                    next_eval = _next_multiple(self.env_step, cfg.run.eval_every)
                if next_ckpt and self.env_step >= next_ckpt:
                    self._checkpoint_at_boundary()
                    next_ckpt = _next_multiple(self.env_step, cfg.run.checkpoint_every)
            else:
                if cfg.run.eval_every and (self.last_evaluation is None or self._last_eval_step != self.env_step):
                    self._evaluate()
                self._finish("finished")
                return self.summary()
            self._finish("stopped")
            return self.summary()
        except KeyboardInterrupt:
            self._finish("stopped")
            return self.summary()
        except BaseException as exc:
            self._finish("failed", error=f"{type(exc).__name__}: {exc}")
            raise

    def _collect_and_learn(self) -> None:
        """One vector step: act, step every env, store real transitions, then pay the update debt."""
        cfg = self.config
        actions = self._choose_actions()
        next_obs, raw, terminated, truncated, _ = self.envs.step(actions)
        next_obs = next_obs.astype(np.float32, copy=False)
        # NEXT_STEP autoreset: an env whose previous step ended just returned its reset
        # observation. That step is not a transition: it only starts the next episode.
        real = ~self._autoresetting
        shaped = raw + shaping_bonus(next_obs, raw, terminated, cfg.env) if cfg.env.reward_shaping else raw
        done = terminated | truncated
        self._store(actions, shaped, next_obs, terminated, done, real)
        for i in range(cfg.env.num_envs):
            if real[i]:
                ep = self._episodes[i]
                ep.observations.append(next_obs[i])
                ep.actions.append(actions[i])
                ep.raw_rewards.append(float(raw[i]))
                ep.shaped_return += float(shaped[i])
            else:
                self._episodes[i] = _Episode([next_obs[i]], [], [])
        n_real = int(real.sum())
        self.env_step += n_real
        finished = real & done
        for i in np.flatnonzero(finished):
            self._end_episode(int(i), bool(terminated[i]), bool(truncated[i]))
        if finished.any():
            self.noise.reset(finished)
        self._autoresetting = finished
        self.obs = next_obs
        self._learn(n_real)

    def _choose_actions(self) -> np.ndarray:
        t = self.config.training
        n = self.config.env.num_envs
        if self.env_step < t.learning_starts or self.episodes < t.warmup_episodes:
            return self.rng.uniform(-1.0, 1.0, size=(n, self.act_dim)).astype(np.float32)
        actions = self.agent.act(self.obs) + self.current_noise_scale() * self.noise.sample()
        return np.clip(actions, -1.0, 1.0).astype(np.float32)

    def _store(self, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray, terminated: np.ndarray,
               done: np.ndarray, real: np.ndarray) -> None:
        if self.config.training.n_step == 1:  # the common case, fully batched
            self.buffer.add(self.obs[real], actions[real], rewards[real], next_obs[real], terminated[real])
            return
        rows = []
        for i in np.flatnonzero(real):
            rows += self.nstep.push(int(i), self.obs[i], actions[i], float(rewards[i]), next_obs[i],
                                    bool(terminated[i]), bool(done[i]))
        if rows:
            o, a, r, no, term, n = zip(*rows)
            self.buffer.add(np.stack(o), np.stack(a), np.asarray(r, dtype=np.float32), np.stack(no),
                            np.asarray(term), np.asarray(n, dtype=np.uint8))

    def _learn(self, new_transitions: int) -> None:
        t = self.config.training
        if self.env_step < t.learning_starts or len(self.buffer) < t.batch_size:
            return
        self._update_debt += t.updates_per_step * new_transitions
        progress = self.env_step / self.config.run.total_steps
        actor_lr, critic_lr = self.agent.apply_schedule(progress)
        beta = self.current_per_beta()
        while self._update_debt >= 1.0:
            self._update_debt -= 1.0
            want_metrics = self._metric_count + 1 >= METRICS_EVERY
            batch = self.buffer.sample(t.batch_size, t.gamma, beta)
            result = self.agent.update(batch, want_metrics=want_metrics)
            if t.use_per:
                self.buffer.update_priorities(batch.indices, result.td_errors.cpu().numpy())
            self._accumulate_metrics(result, want_metrics, actor_lr, critic_lr, beta)

    def _accumulate_metrics(self, result: Any, final: bool, actor_lr: float, critic_lr: float, beta: float) -> None:
        m = self._metrics
        m["critic_loss"] = m.get("critic_loss", 0.0) + float(result.critic_loss)
        m["mean_q"] = m.get("mean_q", 0.0) + float(result.mean_q)
        if result.actor_loss is not None:
            m["actor_loss"] = m.get("actor_loss", 0.0) + float(result.actor_loss)
            m["actor_n"] = m.get("actor_n", 0.0) + 1
        self._metric_count += 1
        if not final:
            return
        n = self._metric_count
        self.events.publish(UpdateMetrics(
            env_step=self.env_step, updates=self.agent.updates,
            critic_loss=m["critic_loss"] / n, mean_q=m["mean_q"] / n,
            actor_loss=m.get("actor_loss", float("nan")) / max(1.0, m.get("actor_n", 0.0)),
            critic_grad_norm=float(result.critic_grad_norm),
            actor_grad_norm=float("nan") if result.actor_grad_norm is None else float(result.actor_grad_norm),
            actor_lr=actor_lr, critic_lr=critic_lr, noise_scale=self.current_noise_scale(), per_beta=beta,
            steps_per_second=self.env_step / max(self.train_seconds, 1e-9)))
        self._metrics, self._metric_count = {}, 0

    def _end_episode(self, i: int, terminated: bool, truncated: bool) -> None:
        ep = self._episodes[i]
        raw_return = float(np.sum(ep.raw_rewards))
        trajectory = Trajectory(np.stack(ep.observations), np.stack(ep.actions),
                                np.asarray(ep.raw_rewards, dtype=np.float32), terminated, truncated)
        analysis = None
        if self.config.run.analyze_episodes:
            analysis = self._analyzer.analyze(trajectory.observations, trajectory.actions, terminated, truncated,
                                              trajectory.rewards)
        self.episodes += 1
        self.events.publish(EpisodeEnded(
            env_step=self.env_step, episode=self.episodes, raw_return=raw_return,
            shaped_return=ep.shaped_return, length=len(ep.actions),
            success=raw_return >= self.config.env.success_threshold, env_index=i,
            trajectory=trajectory, analysis=analysis))

    # ==== controls =========================================================================
    def _handle_controls(self) -> bool:
        """Apply requests between steps; block while paused. Returns True to stop."""
        with self._lock:
            if self._pause and not self._stop:
                self._set_state("paused")
                while self._pause and not self._stop and not self._requests and not self._pending_changes:
                    self._wake.wait(0.1)
                resumed = not self._pause
            else:
                resumed = False
            stop = self._stop
        self._apply_pending_changes()
        self._serve_requests()
        if resumed and not stop:
            self._set_state("running")
        return stop

    def _apply_pending_changes(self) -> None:
        with self._lock:
            pending, self._pending_changes = self._pending_changes, []
        for changes in pending:
            before = self.hyperparameters()
            try:
                new_config, overrides = validate_changes(self.config, changes)
            except ConfigError as exc:  # checked already; a race with another change can still refuse it
                self.events.errors.append(str(exc))
                continue
            self.config = new_config
            self.schedule_overrides.update(overrides)
            self._push_live_values()
            after = self.hyperparameters()
            diff = {k: (before[k], after[k]) for k in changes if before[k] != after[k]}
            if diff:
                self.events.publish(HyperparametersChanged(env_step=self.env_step, changes=diff))

    def _push_live_values(self) -> None:
        """Copy live values from the config into the objects that use them."""
        t, n = self.config.training, self.config.noise
        agent = self.agent
        agent.set_learning_rates(t.actor_lr, t.critic_lr)
        agent.tau, agent.policy_delay = t.tau, t.policy_delay
        agent.target_policy_noise, agent.target_noise_clip = t.target_policy_noise, t.target_noise_clip
        self.noise.sigma = n.sigma
        if hasattr(self.noise, "theta"):
            self.noise.theta = n.theta
        self.nstep.gamma = t.gamma
        if isinstance(self.buffer, PrioritizedReplayBuffer):
            self.buffer.alpha = t.per_alpha

    def _request(self, kind: str, arg: Any) -> Any:
        """Run kind on the training thread between steps, or here when no loop is running."""
        if not self.running or threading.current_thread() is self._thread:
            return self._serve(kind, arg)
        done = threading.Event()
        box: list[Any] = []
        request = (kind, done, [arg, box])
        with self._lock:
            self._requests.append(request)
            self._wake.notify_all()
        while not done.wait(0.2):
            if not self.running:  # the loop ended before serving it: take it back and serve it here
                with self._lock:
                    self._requests = [r for r in self._requests if r is not request]
                if not done.is_set():
                    return self._serve(kind, arg)
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _serve_requests(self) -> None:
        with self._lock:
            requests, self._requests = self._requests, []
        for kind, done, payload in requests:
            try:
                payload[1].append(self._serve(kind, payload[0]))
            except Exception as exc:  # noqa: BLE001 - handed back to the caller's thread
                payload[1].append(exc)
            done.set()

    def _serve(self, kind: str, arg: Any) -> Any:
        if kind == "evaluate":
            return self._evaluate(arg)
        return self._write_checkpoint(arg)

    # ==== evaluation, checkpoints, state ===================================================
    _last_eval_step = -1
    _boundary_step = -1

    def _evaluate(self, episodes: int | None = None) -> EvaluationResult:
        started = time.perf_counter()
        cfg = self.config
        result = evaluate(self.policy, episodes=episodes or cfg.run.eval_episodes, seed=cfg.run.eval_seed,
                          env_id=cfg.env.env_id, success_threshold=cfg.env.success_threshold,
                          analyze=cfg.run.analyze_episodes, keep_trajectories=True,
                          max_episode_steps=cfg.env.max_episode_steps)
        seconds = time.perf_counter() - started
        self.last_evaluation = result
        self._last_eval_step = self.env_step
        if self.best_eval is None or result.mean_return > self.best_eval:
            self.best_eval = result.mean_return
            if self.logger:
                save_policy(self.agent.actor, self.run_dir / "best_policy.pt", self.config.network,
                            {"env_step": self.env_step, "eval_mean": result.mean_return})
        if self.solved_at is None and result.mean_return >= cfg.env.success_threshold:
            self.solved_at = (self.env_step, self.train_seconds)
        self.events.publish(Evaluated(
            env_step=self.env_step, mean_return=result.mean_return, std_return=result.std_return,
            success_rate=result.success_rate, returns=tuple(result.returns), lengths=tuple(result.lengths),
            outcomes=result.outcomes, seconds=seconds, train_seconds=self.train_seconds))
        if self.logger:
            self.logger.save_episodes(result)
        return result

    def _checkpoint_at_boundary(self) -> Path:
        """Start fresh episodes, then checkpoint: env state is then exactly reproducible on resume."""
        self.epoch += 1
        self._fresh_episodes()
        self._boundary_step = self.env_step
        return self._write_checkpoint(None)

    def _write_checkpoint(self, path: str | Path | None) -> Path:
        path = Path(path) if path else self.checkpoint_path
        cfg = self.config
        data: dict[str, Any] = {
            "kind": "checkpoint",
            "config": cfg.to_dict(),
            "network": cfg.to_dict()["network"],
            "actor": self.agent.actor.state_dict(),
            "agent": self.agent.state_dict(),
            "counters": {"env_step": self.env_step, "episodes": self.episodes, "epoch": self.epoch,
                         "train_seconds": self.train_seconds, "update_debt": self._update_debt,
                         "best_eval": self.best_eval, "solved_at": list(self.solved_at or [])},
            "schedule_overrides": dict(self.schedule_overrides),
            "rng": {"torch": torch.get_rng_state(), "numpy": self.rng.bit_generator.state,
                    "python": _python_rng_state()},
            "noise": torch.from_numpy(np.array(self.noise.state, dtype=np.float64)),
            "env_step": self.env_step,
        }
        if cfg.run.save_replay:
            data["replay"] = self.buffer.state_dict()
        write_checkpoint_file(path, data)
        if path == self.checkpoint_path:
            save_policy(self.agent.actor, self.policy_path, cfg.network, {"env_step": self.env_step})
            if self.logger:
                atomic_write_json(self.run_dir / "summary.json", self.summary())
        self.events.publish(CheckpointSaved(env_step=self.env_step, path=str(path)))
        return path

    def _load_checkpoint(self, path: str | Path) -> None:
        """Restore learner, counters, RNGs and noise; the given config rules (it must fit the networks)."""
        data = read_checkpoint_file(path, kind="checkpoint")
        saved = Config.from_dict(data["config"])
        if saved.network != self.config.network:
            raise CheckpointError(f"checkpoint {str(path)!r} is incompatible: its network {saved.network} "
                                  f"differs from the config's {self.config.network}")
        if saved.env.num_envs != self.config.env.num_envs:
            raise CheckpointError(f"checkpoint {str(path)!r} is incompatible: it has env.num_envs="
                                  f"{saved.env.num_envs}, the config asks for {self.config.env.num_envs}")
        if "replay" in data and (saved.training.buffer_size, saved.training.use_per) != (
                self.config.training.buffer_size, self.config.training.use_per):
            raise CheckpointError(f"checkpoint {str(path)!r} is incompatible: its replay buffer has "
                                  f"buffer_size={saved.training.buffer_size}, use_per={saved.training.use_per}")
        self.agent.load_state_dict(data["agent"])
        c = data["counters"]
        self.env_step, self.episodes, self.epoch = int(c["env_step"]), int(c["episodes"]), int(c["epoch"])
        self.train_seconds, self._update_debt = float(c["train_seconds"]), float(c["update_debt"])
        self.best_eval = c["best_eval"]
        self.solved_at = tuple(c["solved_at"]) if c["solved_at"] else None  # type: ignore[assignment]
        self.schedule_overrides = dict(data["schedule_overrides"])
        torch.set_rng_state(data["rng"]["torch"])
        self.rng.bit_generator.state = data["rng"]["numpy"]
        _set_python_rng_state(data["rng"]["python"])
        self.noise.state[:] = data["noise"].numpy()
        if "replay" in data:
            self.buffer.load_state_dict(data["replay"])
        self._push_live_values()

    def _fresh_episodes(self) -> None:
        """Reset every env with seeds derived from (seed, epoch); in-flight episodes are dropped."""
        seeds = episode_seeds(self.config.run.seed, self.epoch, self.config.env.num_envs)
        obs, _ = self.envs.reset(seed=seeds)
        self.obs = obs.astype(np.float32)
        self._autoresetting = np.zeros(self.config.env.num_envs, dtype=bool)
        self._episodes = [_Episode([o], [], []) for o in self.obs]
        self.noise.reset()
        self.nstep.clear()

    def _finish(self, state: str, error: str | None = None) -> None:
        checkpoint = None
        try:
            if self._boundary_step == self.env_step:  # the boundary checkpoint already holds this state
                checkpoint = str(self.checkpoint_path)
            else:
                self.epoch += 1
                checkpoint = str(self._write_checkpoint(None))
        except Exception as exc:  # noqa: BLE001 - report the original failure, not this one
            error = f"{error or ''} (checkpoint failed: {exc})".strip()
        self._set_state(state, error=error, checkpoint=checkpoint)
        if self.logger:
            atomic_write_json(self.run_dir / "summary.json", self.summary())

    def _set_state(self, state: str, error: str | None = None, checkpoint: str | None = None) -> None:
        if state == self.state and error is None and checkpoint is None:
            return
        self.state = state
        self.events.publish(RunStateChanged(env_step=self.env_step, state=state, error=error, checkpoint=checkpoint))

    # ==== helpers ===========================================================================
    def _seed_everything(self, seed: int) -> None:
        random.seed(seed)
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)

    def _make_buffer(self) -> ReplayBuffer:
        t = self.config.training
        seed = self.config.run.seed + 1
        if t.use_per:
            return PrioritizedReplayBuffer(t.buffer_size, self.obs_dim, self.act_dim, t.per_alpha, t.per_epsilon,
                                           seed=seed, device=str(self.device))
        return ReplayBuffer(t.buffer_size, self.obs_dim, self.act_dim, seed=seed, device=str(self.device))

    @property
    def _analyzer(self) -> Any:
        if not hasattr(self, "_analyzer_instance"):
            from lab.analysis import BehaviorAnalyzer

            self._analyzer_instance = BehaviorAnalyzer()
        return self._analyzer_instance

    def current_noise_scale(self) -> float:
        if "noise_scale" in self.schedule_overrides:
            return self.schedule_overrides["noise_scale"]
        return noise_scale(self.config.noise, self.episodes)

    def current_per_beta(self) -> float:
        if "per_beta" in self.schedule_overrides:
            return self.schedule_overrides["per_beta"]
        t = self.config.training
        return per_beta(t.per_beta_start, t.per_beta_end, self.env_step / self.config.run.total_steps)


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


def _python_rng_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _set_python_rng_state(state: list[Any]) -> None:
    random.setstate((state[0], tuple(state[1]), state[2]))
