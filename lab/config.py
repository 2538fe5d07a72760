"""Frozen, validated configuration for a training run.

Every knob lives here once, with a one-line docstring. Configs are immutable so a
running trainer can hand them to any thread; change one with ``with_overrides``.
Bad values fail at construction with a message naming the field, the value and
what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config value, override or file is invalid; the message says which and why."""


def _require(ok: bool, section: str, name: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{section}.{name}={value!r} is invalid: allowed {allowed}")


def _in_range(section: str, name: str, value: float, lo: float, hi: float,
              lo_open: bool = False, hi_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    left, right = ("(" if lo_open else "["), (")" if hi_open else "]")
    _require(ok, section, name, value, f"a number in {left}{lo}, {hi}{right}")


def _int_range(section: str, name: str, value: int, lo: int, hi: int) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
    _require(ok, section, name, value, f"an integer in [{lo}, {hi}]")


def _choice(section: str, name: str, value: Any, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    _require(value in choices, section, name, value, f"one of {', '.join(choices)}")


def _freeze_sizes(obj: Any, name: str, section: str) -> None:
    """Store hidden sizes as a tuple so the frozen config stays hashable."""
    value = getattr(obj, name)
    ok = isinstance(value, (list, tuple)) and len(value) >= 1 and all(
        isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in value)
    _require(ok, section, name, value, "a non-empty list of layer widths, each an integer in [1, 4096]")
    object.__setattr__(obj, name, tuple(value))


PRECISIONS = ("float32", "bfloat16")
"""Allowed training.precision values; the throughput benchmark offers the same."""


@dataclass(frozen=True)
class TrainingConfig:
    """How the TD3 learner updates."""

    actor_lr: float = 1e-3
    """Adam learning rate of the actor."""
    critic_lr: float = 1e-3
    """Adam learning rate of the twin critics."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak factor for the target networks (1.0 copies outright)."""
    batch_size: int = 256
    """Transitions per gradient update."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions."""
    learning_starts: int = 5_000
    """Transitions collected (with random actions) before the first update."""
    warmup_episodes: int = 0
    """Further episodes of random actions at the start, on top of learning_starts."""
    updates_per_step: float = 1.0
    """Gradient updates per collected transition (the update-to-data ratio)."""
    policy_delay: int = 2
    """Critic updates per actor and target update."""
    target_policy_noise: float = 0.2
    """Std of the smoothing noise added to target actions."""
    target_noise_clip: float = 0.5
    """Clip of the target smoothing noise."""
    n_step: int = 1
    """Steps summed into each return target (1 is plain TD3)."""
    grad_clip: float = 0.0
    """Max global gradient norm per network; 0 turns clipping off."""
    weight_decay: float = 0.0
    """L2 weight decay for both optimizers."""
    lr_schedule: str = "constant"
    """Learning-rate schedule over total_steps: constant, linear or cosine."""
    critic_loss: str = "mse"
    """Critic regression loss: mse or huber."""
    precision: str = "float32"
    """Matmuls of the updates in float32, or bfloat16 autocast (pays off from ~[256, 256] on AMX CPUs and GPUs)."""
    use_per: bool = False
    """Prioritized experience replay on a SumTree instead of uniform sampling."""
    per_alpha: float = 0.6
    """How strongly priorities shape sampling (0 is uniform)."""
    per_beta_start: float = 0.4
    """Importance-sampling exponent at the start of training."""
    per_beta_end: float = 1.0
    """Importance-sampling exponent reached at total_steps."""
    per_epsilon: float = 1e-6
    """Added to |TD error| so no transition gets zero priority."""

    def __post_init__(self) -> None:
        s = "training"
        _in_range(s, "actor_lr", self.actor_lr, 0.0, 1.0, lo_open=True)
        _in_range(s, "critic_lr", self.critic_lr, 0.0, 1.0, lo_open=True)
        _in_range(s, "gamma", self.gamma, 0.0, 1.0, hi_open=True)
        _in_range(s, "tau", self.tau, 0.0, 1.0, lo_open=True)
        _int_range(s, "batch_size", self.batch_size, 1, 65_536)
        _int_range(s, "buffer_size", self.buffer_size, 1, 50_000_000)
        _int_range(s, "learning_starts", self.learning_starts, 0, 10_000_000)
        _int_range(s, "warmup_episodes", self.warmup_episodes, 0, 100_000)
        _in_range(s, "updates_per_step", self.updates_per_step, 0.0, 64.0, lo_open=True)
        _int_range(s, "policy_delay", self.policy_delay, 1, 100)
        _in_range(s, "target_policy_noise", self.target_policy_noise, 0.0, 2.0)
        _in_range(s, "target_noise_clip", self.target_noise_clip, 0.0, 2.0)
        _int_range(s, "n_step", self.n_step, 1, 100)
        _in_range(s, "grad_clip", self.grad_clip, 0.0, 1e6)
        _in_range(s, "weight_decay", self.weight_decay, 0.0, 1.0)
        _choice(s, "lr_schedule", self.lr_schedule, ("constant", "linear", "cosine"))
        _choice(s, "critic_loss", self.critic_loss, ("mse", "huber"))
        _choice(s, "precision", self.precision, PRECISIONS)
        _require(isinstance(self.use_per, bool), s, "use_per", self.use_per, "true or false")
        _in_range(s, "per_alpha", self.per_alpha, 0.0, 1.0)
        _in_range(s, "per_beta_start", self.per_beta_start, 0.0, 1.0)
        _in_range(s, "per_beta_end", self.per_beta_end, 0.0, 1.0)
        _in_range(s, "per_epsilon", self.per_epsilon, 0.0, 1.0, lo_open=True)
        if self.batch_size > self.buffer_size:
            raise ConfigError(
                f"training.batch_size={self.batch_size} is invalid: allowed at most "
                f"training.buffer_size={self.buffer_size}")


@dataclass(frozen=True)
class NoiseConfig:
    """Exploration noise added to the actor's actions while collecting."""

    kind: str = "ou"
    """Noise process: ou (Ornstein-Uhlenbeck, per-env state) or gaussian."""
    mu: float = 0.0
    """Long-run mean of the OU process."""
    sigma: float = 0.3
    """Noise std (OU diffusion, or the Gaussian std)."""
    theta: float = 0.2
    """OU mean-reversion rate."""
    dt: float = 0.01
    """OU time step."""
    scale_start: float = 1.0
    """Multiplier on the noise at the first episode."""
    scale_end: float = 0.2
    """Multiplier reached after scale_decay_episodes."""
    scale_decay_episodes: int = 300
    """Episodes over which the multiplier decays linearly; 0 keeps scale_start."""

    def __post_init__(self) -> None:
        s = "noise"
        _choice(s, "kind", self.kind, ("ou", "gaussian"))
        _in_range(s, "mu", self.mu, -1.0, 1.0)
        _in_range(s, "sigma", self.sigma, 0.0, 5.0)
        _in_range(s, "theta", self.theta, 0.0, 10.0)
        _in_range(s, "dt", self.dt, 0.0, 1.0, lo_open=True)
        _in_range(s, "scale_start", self.scale_start, 0.0, 10.0)
        _in_range(s, "scale_end", self.scale_end, 0.0, 10.0)
        _int_range(s, "scale_decay_episodes", self.scale_decay_episodes, 0, 10_000_000)


@dataclass(frozen=True)
class NetworkConfig:
    """Shapes of the actor and the twin critics."""

    actor_hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor, input to output."""
    critic_hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of each critic."""
    layer_norm: bool = False
    """LayerNorm after each hidden layer."""
    activation: str = "relu"
    """Hidden activation: relu, elu, gelu, tanh or leaky_relu."""
    main_engine_bias: float = 0.0
    """Initial bias of the actor's main-engine head; positive favours early thrust."""

    def __post_init__(self) -> None:
        s = "network"
        _freeze_sizes(self, "actor_hidden", s)
        _freeze_sizes(self, "critic_hidden", s)
        _require(isinstance(self.layer_norm, bool), s, "layer_norm", self.layer_norm, "true or false")
        _choice(s, "activation", self.activation, ("relu", "elu", "gelu", "tanh", "leaky_relu"))
        _in_range(s, "main_engine_bias", self.main_engine_bias, -3.0, 3.0)


@dataclass(frozen=True)
class EnvironmentConfig:
    """Which env, how many copies, and the optional reward shaping."""

    env_id: str = "LunarLanderContinuous-v3"
    """Gymnasium id; the analyzer and shaping assume the LunarLander observation."""
    num_envs: int = 1
    """Parallel envs in the vector env."""
    max_episode_steps: int = 0
    """Time limit per episode; 0 keeps the env's own (1000 for LunarLander)."""
    vectorization: str = "sync"
    """sync (one process) or async (one process per env)."""
    reward_shaping: bool = False
    """Add the shaping bonuses below to the learning signal (raw return is always kept)."""
    shaping_time_penalty: float = 0.05
    """Subtracted every step, to discourage hovering."""
    shaping_ground_bonus: float = 0.1
    """Per step while descending within shaping_ground_height of the pad."""
    shaping_ground_height: float = 0.3
    """Observation-scale height under which the ground bonus applies."""
    shaping_leg_bonus: float = 0.1
    """Per step per leg in contact while descending."""
    shaping_upright_bonus: float = 0.05
    """Per step while descending with |angle| under shaping_upright_angle."""
    shaping_upright_angle: float = 0.2
    """Angle in radians that counts as upright."""
    shaping_landing_bonus: float = 20.0
    """Once, when an episode ends in a landing with both legs down."""
    success_threshold: float = 200.0
    """Raw return at which an episode counts as a success."""

    def __post_init__(self) -> None:
        s = "env"
        _require(isinstance(self.env_id, str) and bool(self.env_id), s, "env_id", self.env_id,
                 "a registered Gymnasium id")
        _int_range(s, "num_envs", self.num_envs, 1, 256)
        _int_range(s, "max_episode_steps", self.max_episode_steps, 0, 100_000)
        _choice(s, "vectorization", self.vectorization, ("sync", "async"))
        _require(isinstance(self.reward_shaping, bool), s, "reward_shaping", self.reward_shaping,
                 "true or false")
        for name in ("shaping_time_penalty", "shaping_ground_bonus", "shaping_leg_bonus",
                     "shaping_upright_bonus", "shaping_landing_bonus"):
            _in_range(s, name, getattr(self, name), 0.0, 1000.0)
        _in_range(s, "shaping_ground_height", self.shaping_ground_height, 0.0, 2.0)
        _in_range(s, "shaping_upright_angle", self.shaping_upright_angle, 0.0, math.pi)
        _in_range(s, "success_threshold", self.success_threshold, -1e6, 1e6)


@dataclass(frozen=True)
class RunConfig:
    """Budget, seeding, evaluation, checkpoints and where results go."""

    total_steps: int = 200_000
    """Env steps (transitions over all envs) to train for."""
    seed: int = 0
    """Seeds torch, numpy, the envs and the noise; same seed, same run on CPU."""
    eval_every: int = 10_000
    """Env steps between deterministic evaluations; 0 turns them off."""
    eval_episodes: int = 10
    """Episodes per evaluation, with fixed seeds."""
    eval_seed: int = 10_000
    """First env seed of the evaluation episodes (kept apart from training seeds)."""
    checkpoint_every: int = 50_000
    """Env steps between checkpoints; 0 saves only at the end."""
    out_dir: str = "runs"
    """Folder under which each run gets its own sub-folder."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    torch_threads: int = 1
    """Torch intra-op threads; on small MLPs one thread beats two."""
    analyze_episodes: bool = True
    """Run the behavior analyzer on every finished episode."""
    save_replay: bool = False
    """Include the replay buffer in checkpoints (large, but resumes exactly)."""

    def __post_init__(self) -> None:
        s = "run"
        _int_range(s, "total_steps", self.total_steps, 1, 1_000_000_000)
        _int_range(s, "seed", self.seed, 0, 2**31 - 1)
        _int_range(s, "eval_every", self.eval_every, 0, 1_000_000_000)
        _int_range(s, "eval_episodes", self.eval_episodes, 1, 10_000)
        _int_range(s, "eval_seed", self.eval_seed, 0, 2**31 - 1)
        _int_range(s, "checkpoint_every", self.checkpoint_every, 0, 1_000_000_000)
        _require(isinstance(self.out_dir, str) and bool(self.out_dir), s, "out_dir", self.out_dir,
                 "a non-empty folder path")
        _choice(s, "device", self.device, ("auto", "cpu", "cuda"))
        _int_range(s, "torch_threads", self.torch_threads, 1, 256)
        _require(isinstance(self.analyze_episodes, bool), s, "analyze_episodes",
                 self.analyze_episodes, "true or false")
        _require(isinstance(self.save_replay, bool), s, "save_replay", self.save_replay, "true or false")


SECTIONS: dict[str, type] = {
    "training": TrainingConfig,
    "noise": NoiseConfig,
    "network": NetworkConfig,
    "env": EnvironmentConfig,
    "run": RunConfig,
}


@dataclass(frozen=True)
class Config:
    """A whole run: one section per concern."""

    training: TrainingConfig = field(default_factory=TrainingConfig)
    """Learner settings."""
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    """Exploration settings."""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """Network shapes."""
    env: EnvironmentConfig = field(default_factory=EnvironmentConfig)
    """Environment settings."""
    run: RunConfig = field(default_factory=RunConfig)
    """Budget and bookkeeping."""

    def __post_init__(self) -> None:
        for name, cls in SECTIONS.items():
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"{name} must be a {cls.__name__}, got {type(getattr(self, name)).__name__}")

    # ---- conversion -------------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (tuples become lists) for YAML, JSON and checkpoints."""
        out: dict[str, dict[str, Any]] = {}
        for name in SECTIONS:
            section = dataclasses.asdict(getattr(self, name))
            out[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build from a nested dict; unknown sections or fields are refused by name."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a config must be a mapping of sections, got {type(data).__name__}")
        unknown = set(data) - set(SECTIONS)
        if unknown:
            raise ConfigError(f"unknown config section(s) {sorted(unknown)}: allowed {list(SECTIONS)}")
        parts = {}
        for name, section_cls in SECTIONS.items():
            values = data.get(name) or {}
            if not isinstance(values, Mapping):
                raise ConfigError(f"config section {name} must be a mapping, got {values!r}")
            allowed = {f.name for f in fields(section_cls)}
            bad = set(values) - allowed
            if bad:
                raise ConfigError(f"unknown field(s) {sorted(bad)} in section {name}: "
                                  f"allowed {sorted(allowed)}")
            try:
                parts[name] = section_cls(**values)
            except TypeError as exc:  # e.g. comparing a str with a number
                raise ConfigError(f"section {name}: {exc}") from exc
        return cls(**parts)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def save(self, path: str | Path) -> Path:
        """Write YAML or JSON by the file's suffix, atomically."""
        from lab.io import atomic_write_text

        path = Path(path)
        text = self.to_json() if path.suffix.lower() == ".json" else self.to_yaml()
        atomic_write_text(path, text)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Config:
        """Read a YAML or JSON config file; a preset file is a partial config over the defaults."""
        from lab.io import read_json_or_yaml

        return cls.from_dict(read_json_or_yaml(path, "config file", ConfigError) or {})

    # ---- overrides --------------------------------------------------------------
    def with_overrides(self, overrides: Mapping[str, Any] | Iterable[str] | None = None,
                       **named: Any) -> Config:
        """A new config with dotted (``training.actor_lr``) or bare (``actor_lr``) keys changed.

        Accepts a mapping, ``key=value`` strings from a command line, or keyword
        arguments with bare names.
        """
        changes: dict[str, Any] = {}
        if overrides is not None:
            if isinstance(overrides, Mapping):
                changes.update(overrides)
            else:
                for item in overrides:
                    key, value = parse_override(item)
                    changes[key] = value
        changes.update(named)
        data = self.to_dict()
        for key, value in changes.items():
            section, name = resolve_field(key)
            data[section][name] = value
        return Config.from_dict(data)


def field_index() -> dict[str, list[str]]:
    """Bare field name -> the sections that define it."""
    index: dict[str, list[str]] = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            index.setdefault(f.name, []).append(section)
    return index


def resolve_field(key: str) -> tuple[str, str]:
    """Turn ``training.actor_lr`` or ``actor_lr`` into (section, field), or explain why not."""
    if not isinstance(key, str) or not key:
        raise ConfigError(f"config key {key!r} is invalid: allowed section.field or a bare field name")
    if "." in key:
        section, _, name = key.partition(".")
        if section not in SECTIONS:
            raise ConfigError(f"unknown config section {section!r} in {key!r}: allowed {list(SECTIONS)}")
        allowed = [f.name for f in fields(SECTIONS[section])]
        if name not in allowed:
            raise ConfigError(f"unknown field {name!r} in section {section}: allowed {allowed}")
        return section, name
    owners = field_index().get(key)
    if not owners:
        raise ConfigError(f"unknown config field {key!r}: use section.field, for example training.actor_lr")
    if len(owners) > 1:
        raise ConfigError(f"config field {key!r} is ambiguous: say one of "
                          f"{', '.join(f'{o}.{key}' for o in owners)}")
    return owners[0], key


def parse_override(item: str) -> tuple[str, Any]:
    """Split ``key=value`` and parse the value as YAML, so 3e-4, true and [256, 256] work."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is invalid: allowed key=value, e.g. training.actor_lr=3e-4")
    key, _, raw = item.partition("=")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {item!r}: value {raw!r} does not parse: {exc}") from exc
    if isinstance(value, str):  # YAML reads 3e-4 as a string; numbers should be numbers
        try:
            value = float(value)
        except ValueError:
            pass
    return key.strip(), value
