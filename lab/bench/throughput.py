"""Throughput benchmarks: how fast the update, the replay and a training step run.

Figures here are printed, never asserted in unit tests: these machines are noisy,
so quote medians and ratios measured in one invocation.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import torch

from lab.agents.replay import Batch, ReplayBuffer
from lab.agents.td3 import TD3
from lab.config import Config, NetworkConfig, TrainingConfig
from lab.lander import ACT_DIM, ENV_ID, OBS_DIM
from lab.presets import preset


# ---- throughput ---------------------------------------------------------------------------
def _filled_buffer(capacity: int, n: int, per: bool, seed: int = 0, agents: int = 1) -> ReplayBuffer:
    """A replay buffer of random transitions (every agent's ring filled), priorities random under PER."""
    rng = np.random.default_rng(seed)
    buffer = ReplayBuffer(agents, capacity, OBS_DIM, ACT_DIM, seeds=[seed + k for k in range(agents)],
                          prioritized=per)
    chunk = 100_000
    for k in range(agents):
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            buffer.add(k, rng.standard_normal((m, OBS_DIM), dtype=np.float32),
                       rng.uniform(-1, 1, (m, ACT_DIM)).astype(np.float32),
                       rng.standard_normal(m, dtype=np.float32), rng.standard_normal((m, OBS_DIM), dtype=np.float32),
                       rng.random(m) < 0.01)
        if per:
            buffer.update_priorities([k], np.arange(n)[None], rng.exponential(1.0, (1, n)), [0.6], [1e-6])
    return buffer


def per_sample_update_ms(capacity: int = 1_000_000, batch_size: int = 256, repeats: int = 300) -> float:
    """Median ms for one PER sample of batch_size plus its priority update, from a full buffer."""
    buffer = _filled_buffer(capacity, capacity, per=True)
    rng = np.random.default_rng(1)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        batch = buffer.sample(batch_size, [0.99], betas=[0.4])
        buffer.update_priorities([0], batch.indices, rng.exponential(1.0, (1, batch_size)), [0.6], [1e-6])
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def bare_update_rate(hidden: list[int], batch_size: int, seconds: float = 3.0, policy_delay: int = 2,
                     agents: int = 1) -> float:
    """TD3 updates per second on one fixed batch: the ceiling for training at one update per step."""
    learner, batch = _warmed_learner(Config().with_overrides({
        "network.actor_hidden": hidden, "network.critic_hidden": hidden, "training.batch_size": batch_size,
        "training.policy_delay": policy_delay}), agents=agents)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        learner.update(batch)
        n += 1
    return n / (time.perf_counter() - start)


def learner_update_ms(config: Config, updates: int = 300, seed: int = 0, agents: int = 1) -> float:
    """Median ms of one batched TD3 update of `agents` agents of the config, on one fixed batch, after a warm-up."""
    learner, batch = _warmed_learner(config, seed, agents)
    times = []
    for _ in range(updates):
        start = time.perf_counter()
        learner.update(batch)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _warmed_learner(config: Config, seed: int = 0, agents: int = 1) -> tuple[TD3, Batch]:
    """The config's learner for `agents` agents after 20 updates on one fixed random batch, and that batch."""
    learner = TD3([seed + k for k in range(agents)], OBS_DIM, ACT_DIM, config.network, [config.training] * agents)
    size = config.training.batch_size
    batch = _filled_buffer(size * 4, size * 4, per=False, seed=seed, agents=agents).sample(
        size, [config.training.gamma] * agents)
    for _ in range(20):
        learner.update(batch)
    return learner, batch


def update_split(hidden: list[int], batch_size: int, per: bool, repeats: int = 200,
                 capacity: int = 200_000) -> dict[str, float]:
    """Median ms of each part of an update: sampling, critic, actor (+targets), priority update."""
    net = NetworkConfig(actor_hidden=tuple(hidden), critic_hidden=tuple(hidden))
    learner = TD3([0], OBS_DIM, ACT_DIM, net, [TrainingConfig(batch_size=batch_size, policy_delay=1)])
    buffer = _filled_buffer(capacity, capacity, per=per)
    parts: dict[str, list[float]] = {"sample": [], "critic": [], "actor": [], "priorities": []}
    for k in range(repeats + 10):
        t0 = time.perf_counter()
        batch = buffer.sample(batch_size, [0.99], betas=[0.4])
        t1 = time.perf_counter()
        _, _, td, _ = learner.critic_step(batch)
        t2 = time.perf_counter()
        learner.actor_step(batch)
        learner.soft_update()
        t3 = time.perf_counter()
        buffer.update_priorities([0], batch.indices, td.numpy(), [0.6], [1e-6])
        t4 = time.perf_counter()
        if k >= 10:
            for name, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                parts[name].append(dt)
    return {name: 1000 * statistics.median(v) for name, v in parts.items()}


def training_rate(config: Config, steps: int) -> float:
    """Env steps per second of real training (after learning_starts), eval off."""
    from lab.train.trainer import Trainer

    warm = config.training.learning_starts
    config = config.with_overrides({"run.total_steps": warm + steps, "run.eval_every": 0,
                                    "run.checkpoint_every": 0})
    trainer = Trainer(config, log_to_disk=False)
    marks: dict[str, float] = {}

    def mark(event: Any) -> None:
        if "start" not in marks and trainer.env_step >= warm:
            marks["start"], marks["step"] = trainer.train_seconds, trainer.env_step

    trainer.events.subscribe(mark)
    try:
        trainer.fit_or_raise()
    finally:
        trainer.close()
    if "start" not in marks or trainer.train_seconds <= marks["start"]:
        raise ValueError(f"steps={steps} is too few to time: no event came after the warm-up; allowed a few "
                         "hundred steps or more")
    return (trainer.env_step - marks["step"]) / (trainer.train_seconds - marks["start"])


def overlap_rates(config: Config, steps: int, rounds: int) -> dict[str, Any]:
    """Training env steps/s of the synchronous loop and of run.overlap_collection, alternating in one process."""
    sync, overlapped = [], []
    for _ in range(rounds):
        sync.append(training_rate(config.with_overrides({"run.overlap_collection": False}), steps))
        overlapped.append(training_rate(config.with_overrides({"run.overlap_collection": True}), steps))
    ratios = [o / s for s, o in zip(sync, overlapped)]
    return {"sync_steps_per_s": sync, "overlap_steps_per_s": overlapped, "ratios": ratios,
            "median_sync": statistics.median(sync), "median_overlap": statistics.median(overlapped),
            "median_ratio": statistics.median(ratios)}


def sb3_training_rate(hidden: list[int], batch_size: int, updates_per_step: float, steps: int,
                      learning_starts: int, threads: int) -> float | None:
    """SB3's TD3 env steps/s at the same settings, or None when stable-baselines3 is not installed."""
    try:
        import gymnasium as gym
        from stable_baselines3 import TD3 as SB3TD3
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.noise import NormalActionNoise
    except ImportError:
        return None
    torch.set_num_threads(threads)

    class Clock(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.start: float | None = None

        def _on_step(self) -> bool:
            if self.start is None and self.num_timesteps >= learning_starts:
                self.start = time.perf_counter()
            return True

    env = gym.make(ENV_ID)
    model = SB3TD3("MlpPolicy", env, learning_rate=1e-3, buffer_size=200_000, learning_starts=learning_starts,
                   batch_size=batch_size, gamma=0.98, train_freq=1,
                   gradient_steps=max(1, int(round(updates_per_step))),
                   action_noise=NormalActionNoise(np.zeros(2), 0.1 * np.ones(2)),
                   policy_kwargs={"net_arch": list(hidden)}, device="cpu", seed=0, verbose=0)
    clock = Clock()
    model.learn(total_timesteps=learning_starts + steps, callback=clock)
    elapsed = time.perf_counter() - (clock.start or time.perf_counter())
    env.close()
    return steps / elapsed if elapsed > 0 else None


def fast_preset_update_share() -> dict[str, float]:
    """PER sample + priority update as a share of one full update at the fast preset's sizes."""
    cfg = preset("fast")
    split = update_split(list(cfg.network.critic_hidden), cfg.training.batch_size, per=True)
    total = sum(split.values())
    return {"per_ms": split["sample"] + split["priorities"], "update_ms": total,
            "share": (split["sample"] + split["priorities"]) / total}
