"""Exploration noise: Ornstein-Uhlenbeck or pink with one state per env, or Gaussian, times a decaying scale.

All read their parameters from a frozen NoiseConfig; a live change swaps ``config``.
"""

from __future__ import annotations

import numpy as np

from lab import lander
from lab.config import NoiseConfig


class OUNoise:
    """Temporally correlated noise, x += theta*(mu - x)*dt + sigma*sqrt(dt)*N(0, 1), one row per env.

    Each env keeps its own state and resets it when its episode ends, so one env's
    crash does not shape another's exploration.
    """

    def __init__(self, num_envs: int, act_dim: int, mu: float, sigma: float, theta: float, dt: float,
                 rng: np.random.Generator) -> None:
        self.config = NoiseConfig(kind="ou", mu=mu, sigma=sigma, theta=theta, dt=dt)
        self.rng = rng
        self.state = np.full((num_envs, act_dim), mu, dtype=np.float64)

    @property
    def sigma(self) -> float:
        return self.config.sigma

    @property
    def theta(self) -> float:
        return self.config.theta

    def sample(self) -> np.ndarray:
        c = self.config
        drift = c.theta * (c.mu - self.state) * c.dt
        diffusion = c.sigma * np.sqrt(c.dt) * self.rng.standard_normal(self.state.shape)
        self.state += drift + diffusion
        return self.state.astype(np.float32)

    def reset(self, env_mask: np.ndarray | None = None) -> None:
        if env_mask is None:
            self.state[:] = self.config.mu
        else:
            self.state[env_mask] = self.config.mu


class GaussianNoise:
    """Independent N(mu, sigma) per step: the usual TD3 choice."""

    def __init__(self, num_envs: int, act_dim: int, mu: float, sigma: float, rng: np.random.Generator) -> None:
        self.config = NoiseConfig(kind="gaussian", mu=mu, sigma=sigma)
        self.rng = rng
        self.shape = (num_envs, act_dim)
        self.state = np.zeros(self.shape)

    @property
    def sigma(self) -> float:
        return self.config.sigma

    def sample(self) -> np.ndarray:
        return (self.config.mu + self.config.sigma * self.rng.standard_normal(self.shape)).astype(np.float32)

    def reset(self, env_mask: np.ndarray | None = None) -> None:
        """Stateless: nothing to reset."""


PINK_TIMESCALES = (1.0, 4.0, 16.0, 64.0, 256.0, 1024.0)
"""Correlation times (steps) of the one-pole processes summed into pink noise: from a step to an episode."""


class PinkNoise:
    """Pink (1/f) Gaussian noise: equal-variance AR(1) processes with log-spaced correlation times, summed.

    Eberhard et al. 2023, "Pink Noise Is All You Need: Colored Noise Exploration in Deep Reinforcement
    Learning" (ICLR): 1/f noise beats white (Gaussian) and red (OU) noise as a default for off-policy
    control. Its slow parts can hold an action for tens of steps (as long as coming to rest takes here:
    about 25 steps with the engines off), its fast parts still jitter. One-pole processes spaced two
    octaves apart sum to a 1/f spectrum between the fastest and slowest time scale, and keep a Markov
    state (one row per env, as OU's) that checkpoints store as they are. The process starts stationary
    and runs on across episodes (the paper draws a fresh sequence per episode): a redraw at each reset
    would make a run resumed from a checkpoint, which starts fresh episodes after restoring the state,
    differ from the unbroken run.
    """

    def __init__(self, num_envs: int, act_dim: int, mu: float, sigma: float, rng: np.random.Generator) -> None:
        self.config = NoiseConfig(kind="pink", mu=mu, sigma=sigma)
        self.rng = rng
        self.act_dim = act_dim
        self.decay = np.exp(-1.0 / np.asarray(PINK_TIMESCALES))
        self.innovation = np.sqrt(1.0 - self.decay**2)
        """Std of each process's fresh draw per step, so each keeps unit variance."""
        self.state = rng.standard_normal((num_envs, act_dim * len(PINK_TIMESCALES)))

    @property
    def sigma(self) -> float:
        return self.config.sigma

    def sample(self) -> np.ndarray:
        parts = self.state.reshape(len(self.state), self.act_dim, len(self.decay))
        parts *= self.decay
        parts += self.innovation * self.rng.standard_normal(parts.shape)
        unit = parts.sum(axis=-1) / np.sqrt(len(self.decay))
        return (self.config.mu + self.config.sigma * unit).astype(np.float32)

    def reset(self, env_mask: np.ndarray | None = None) -> None:
        """Runs on: the state is already a draw from the stationary law."""


Noise = OUNoise | GaussianNoise | PinkNoise


def make_noise(cfg: NoiseConfig, num_envs: int, act_dim: int, rng: np.random.Generator) -> Noise:
    noise: Noise
    if cfg.kind == "ou":
        noise = OUNoise(num_envs, act_dim, cfg.mu, cfg.sigma, cfg.theta, cfg.dt, rng)
    elif cfg.kind == "pink":
        noise = PinkNoise(num_envs, act_dim, cfg.mu, cfg.sigma, rng)
    else:
        noise = GaussianNoise(num_envs, act_dim, cfg.mu, cfg.sigma, rng)
    noise.config = cfg
    return noise


def reconfigured(noise: Noise, cfg: NoiseConfig, num_envs: int, act_dim: int, rng: np.random.Generator) -> Noise:
    """noise reading cfg from now on; a fresh process of cfg.kind if the kind changed (each kind has its own state)."""
    if noise.config.kind != cfg.kind:
        return make_noise(cfg, num_envs, act_dim, rng)
    noise.config = cfg
    return noise


def noise_scale(cfg: NoiseConfig, episodes_done: int) -> float:
    """Linear decay from scale_start to scale_end over scale_decay_episodes."""
    if cfg.scale_decay_episodes <= 0:
        return cfg.scale_start
    frac = min(1.0, episodes_done / cfg.scale_decay_episodes)
    return cfg.scale_start + frac * (cfg.scale_end - cfg.scale_start)


def quieted_on_ground(noise: np.ndarray, obs: np.ndarray, cfg: NoiseConfig) -> np.ndarray:
    """noise with the rows of envs whose lander touches the ground scaled by cfg.ground_scale (why: NoiseConfig).

    At 1 the draw is returned as it is, so runs that leave the option off stay bit for bit what they were.
    """
    if cfg.ground_scale == 1.0:
        return noise
    right, left = lander.legs(obs)
    return np.where((right | left)[:, None], np.float32(cfg.ground_scale) * noise, noise)
