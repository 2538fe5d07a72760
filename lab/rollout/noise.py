"""Exploration noise: Ornstein-Uhlenbeck with one state per env, or Gaussian, times a decaying scale.

All read their parameters from a frozen NoiseConfig; a live change swaps ``config``.
"""

from __future__ import annotations

import numpy as np

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


Noise = OUNoise | GaussianNoise


def make_noise(cfg: NoiseConfig, num_envs: int, act_dim: int, rng: np.random.Generator) -> Noise:
    noise: Noise
    if cfg.kind == "ou":
        noise = OUNoise(num_envs, act_dim, cfg.mu, cfg.sigma, cfg.theta, cfg.dt, rng)
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
