"""Frozen, validated configuration for a training run.

Every knob lives here once, with a one-line docstring. Configs are immutable so a
running trainer can hand them to any thread; change one with ``with_overrides``.
Bad values fail at construction with a message naming the field, the value and
what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml

from lab import lander
from lab.lander.pilot import PILOTS


class ConfigError(ValueError):
    """A config value, override or file is invalid; the message says which and why."""


@dataclass(frozen=True)
class Bounds:
    """The values one config field accepts, kept in the field's metadata beside its docstring.

    Validation, the panel's slider ranges and the search-space checks all read this, so a
    range is written once.
    """

    kind: str
    """number, integer, choice, bool, sizes (a list of layer widths) or text."""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    log: bool = False
    """The useful values span decades: sliders and searches should use a log scale."""
    choices: tuple[Any, ...] = ()
    typical: tuple[float, float] | None = None
    """A practical range inside the allowed one, for sliders; None means the whole range."""
    text: str = ""
    """What is allowed, for kinds whose range is not a number (text)."""

    def allowed(self) -> str:
        """What is allowed, as validation messages say it."""
        if self.kind == "number":
            left, right = ("(" if self.low_open else "["), (")" if self.high_open else "]")
            return f"a number in {left}{self.low}, {self.high}{right}"
        if self.kind == "integer":
            return f"an integer in [{self.low}, {self.high}]"
        if self.kind == "choice":
            return f"one of {', '.join(map(str, self.choices))}"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "sizes":
            return f"a non-empty list of layer widths, each an integer in [{self.low}, {self.high}]"
        return self.text

    def __contains__(self, value: Any) -> bool:
        if self.kind in ("number", "integer"):
            if not _is_number(value) or (self.kind == "integer" and not isinstance(value, int)):
                return False
            assert self.low is not None and self.high is not None
            above = value > self.low if self.low_open else value >= self.low
            below = value < self.high if self.high_open else value <= self.high
            return above and below
        if self.kind == "choice":
            return value in self.choices
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "sizes":
            assert self.low is not None and self.high is not None
            low, high = self.low, self.high
            return isinstance(value, (list, tuple)) and len(value) >= 1 and all(
                isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in value)
        return isinstance(value, str) and bool(value)

    def check(self, key: str, value: Any) -> None:
        """Raise ConfigError naming the field, the value and what is allowed."""
        if value not in self:
            raise ConfigError(f"{key}={value!r} is invalid: allowed {self.allowed()}")

    @property
    def slider(self) -> tuple[float, float]:
        """The practical range for a slider: ``typical`` if given, else the allowed range."""
        if self.typical is not None:
            return self.typical
        assert self.low is not None and self.high is not None, f"{self.kind} bounds have no range"
        return float(self.low), float(self.high)


def plain(value: Any) -> Any:
    """value with numpy scalars and arrays turned into Python numbers and lists.

    A numpy number passes every range check but pickles as a numpy object, which a checkpoint read with
    ``weights_only`` refuses as unsafe; converting here, where every value enters a Config, keeps every
    saved file loadable.
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


AGENT, SHARED = "agent", "shared"
"""A live field changes per agent (AGENT) or for every agent at once (SHARED); None means restart only."""


def _field(default: Any, bounds: Bounds, live: str | None, shared: bool) -> Any:
    """The field with its metadata: what it accepts, whether it changes while training, whether agents share it."""
    if live == SHARED:
        shared = True
    return field(default=default, metadata={"bounds": bounds, "live": live, "shared": shared})


def number(default: float, low: float, high: float, *, low_open: bool = False, high_open: bool = False,
           log: bool = False, typical: tuple[float, float] | None = None, live: str | None = None,
           shared: bool = False) -> Any:
    """A float field allowed in [low, high] (or open at either end)."""
    return _field(default, Bounds("number", float(low), float(high), low_open, high_open, log, typical=typical),
                  live, shared)


def integer(default: int, low: int, high: int, *, log: bool = False, typical: tuple[float, float] | None = None,
            live: str | None = None, shared: bool = False) -> Any:
    """An integer field allowed in [low, high]."""
    return _field(default, Bounds("integer", low, high, log=log, typical=typical), live, shared)


def choice(default: str, choices: Iterable[str], *, shared: bool = False) -> Any:
    """A field allowed one of a few names."""
    return _field(default, Bounds("choice", choices=tuple(choices)), None, shared)


def flag(default: bool, *, live: str | None = None, shared: bool = False) -> Any:
    """A true-or-false field."""
    return _field(default, Bounds("bool"), live, shared)


def sizes(default: tuple[int, ...], low: int, high: int) -> Any:
    """A list of hidden-layer widths, each in [low, high]; agents of one population share it (it shapes tensors)."""
    return _field(default, Bounds("sizes", low, high), None, True)


def text(default: str, allowed: str, *, shared: bool = False) -> Any:
    """A non-empty string field; ``allowed`` says what it should hold."""
    return _field(default, Bounds("text", text=allowed), None, shared)


_BOUNDED_FIELDS: dict[type, tuple[tuple[str, str, Bounds], ...]] = {}


def _bounded_fields(cls: type[_Section]) -> tuple[tuple[str, str, Bounds], ...]:
    """(dotted key, field name, Bounds) of a section's fields, read once per class."""
    if cls not in _BOUNDED_FIELDS:
        _BOUNDED_FIELDS[cls] = tuple((f"{cls.SECTION}.{f.name}", f.name, f.metadata["bounds"])
                                     for f in fields(cls) if "bounds" in f.metadata)
    return _BOUNDED_FIELDS[cls]


class _Section:
    """Checks every field against its Bounds when a section is built."""

    SECTION: ClassVar[str] = ""
    __dataclass_fields__: ClassVar[dict[str, Any]]

    def __post_init__(self) -> None:
        for key, name, bounds in _bounded_fields(type(self)):
            value = plain(getattr(self, name))  # numpy numbers become Python ones at the door (checkpoints stay safe)
            object.__setattr__(self, name, value)
            bounds.check(key, value)
        self._check_together()

    def _check_together(self) -> None:
        """Rules that involve more than one field."""


MAX_LAYER_WIDTH = 1_000_000
"""Widest hidden layer accepted; whether a network fits in memory is checked on top."""
BYTES_PER_PARAMETER = 4 * 5
"""float32 weights, their target copy, gradients and Adam's two moments."""


@dataclass(frozen=True)
class TrainingConfig(_Section):
    """How the TD3 learner updates."""

    SECTION = "training"

    actor_lr: float = number(1e-3, 0.0, 1.0, low_open=True, log=True, typical=(1e-5, 1e-2), live=AGENT)
    """Adam learning rate of the actor."""
    critic_lr: float = number(1e-3, 0.0, 1.0, low_open=True, log=True, typical=(1e-5, 1e-2), live=AGENT)
    """Adam learning rate of the twin critics."""
    gamma: float = number(0.99, 0.0, 1.0, high_open=True, typical=(0.9, 0.999), live=AGENT)
    """Discount factor."""
    tau: float = number(0.005, 0.0, 1.0, low_open=True, log=True, typical=(1e-4, 1e-1), live=AGENT)
    """Polyak factor for the target networks (1.0 copies outright)."""
    batch_size: int = integer(256, 1, 65_536, log=True, live=SHARED)
    """Transitions per gradient update (one batch per agent: agents of a population share the size)."""
    buffer_size: int = integer(1_000_000, 1, 50_000_000, log=True, shared=True)
    """Replay capacity in transitions, per agent."""
    learning_starts: int = integer(5_000, 0, 10_000_000)
    """Transitions collected before the first update (by warmup_pilot: uniform random actions by default)."""
    warmup_episodes: int = integer(0, 0, 100_000)
    """Further warm-up episodes at the start, on top of learning_starts."""
    warmup_pilot: str = choice("uniform", ("uniform", *PILOTS))
    """Who flies the warm-up: uniform random actions, or Gymnasium's hand-written pilot plus the exploration
    noise, so the buffer holds landings before the first update (learning from demonstrations: Vecerik et al.
    2017, Nair et al. 2018; the pilot is never imitated, TD3 only learns values from its transitions)."""
    updates_per_step: float = number(1.0, 0.0, 64.0, low_open=True, typical=(0.25, 4.0), live=SHARED)
    """Gradient updates per collected transition (the update-to-data ratio)."""
    policy_delay: int = integer(2, 1, 100, typical=(1, 8), live=AGENT)
    """Critic updates per actor and target update."""
    target_policy_noise: float = number(0.2, 0.0, 2.0, typical=(0.0, 1.0), live=AGENT)
    """Std of the smoothing noise added to target actions."""
    target_noise_clip: float = number(0.5, 0.0, 2.0, typical=(0.0, 1.0), live=AGENT)
    """Clip of the target smoothing noise."""
    n_step: int = integer(1, 1, 100, shared=True)
    """Steps summed into each return target (1 is plain TD3)."""
    grad_clip: float = number(0.0, 0.0, 1e6)
    """Max global gradient norm per network; 0 turns clipping off."""
    weight_decay: float = number(0.0, 0.0, 1.0)
    """L2 weight decay for both optimizers."""
    lr_schedule: str = choice("constant", ("constant", "linear", "cosine"))
    """Learning-rate schedule over total_steps: constant, linear or cosine."""
    critic_loss: str = choice("mse", ("mse", "huber"))
    """Critic regression loss: mse or huber."""
    use_per: bool = flag(False, shared=True)
    """Prioritized experience replay on a SumTree instead of uniform sampling (priorities per agent)."""
    per_alpha: float = number(0.6, 0.0, 1.0, live=AGENT)
    """How strongly priorities shape sampling (0 is uniform)."""
    per_beta_start: float = number(0.4, 0.0, 1.0)
    """Importance-sampling exponent at the start of training."""
    per_beta_end: float = number(1.0, 0.0, 1.0)
    """Importance-sampling exponent reached at total_steps."""
    per_epsilon: float = number(1e-6, 0.0, 1.0, low_open=True, log=True)
    """Added to |TD error| so no transition gets zero priority."""

    def _check_together(self) -> None:
        if self.batch_size > self.buffer_size:
            raise ConfigError(
                f"training.batch_size={self.batch_size} is invalid: allowed at most "
                f"training.buffer_size={self.buffer_size}")


@dataclass(frozen=True)
class NoiseConfig(_Section):
    """Exploration noise added to the actor's actions while collecting."""

    SECTION = "noise"

    kind: str = choice("ou", ("ou", "gaussian"))
    """Noise process: ou (Ornstein-Uhlenbeck, per-env state) or gaussian."""
    mu: float = number(0.0, -1.0, 1.0)
    """Long-run mean of the OU process."""
    sigma: float = number(0.3, 0.0, 5.0, typical=(0.0, 1.0), live=AGENT)
    """Noise std (OU diffusion, or the Gaussian std)."""
    theta: float = number(0.2, 0.0, 10.0, typical=(0.0, 2.0), live=AGENT)
    """OU mean-reversion rate."""
    dt: float = number(0.01, 0.0, 1.0, low_open=True)
    """OU time step."""
    scale_start: float = number(1.0, 0.0, 10.0)
    """Multiplier on the noise at the first episode."""
    scale_end: float = number(0.2, 0.0, 10.0)
    """Multiplier reached after scale_decay_episodes."""
    scale_decay_episodes: int = integer(300, 0, 10_000_000)
    """Episodes over which the multiplier decays linearly; 0 keeps scale_start."""
    touchdown_cut: float = number(0.0, 0.0, 1.0, typical=(0.0, 1.0), live=AGENT)
    """Fraction of training episodes in which the explorer cuts both engines whenever a leg is down, so that
    training sees landers come to rest and earn the +100 (lab.lander.touchdown.TouchdownCut); the policy and its
    evaluation are never changed. 0 changes nothing."""


@dataclass(frozen=True)
class NetworkConfig(_Section):
    """Shapes of the actor and the twin critics."""

    SECTION = "network"

    actor_hidden: tuple[int, ...] = sizes((256, 256), 1, MAX_LAYER_WIDTH)
    """Hidden layer widths of the actor, input to output."""
    critic_hidden: tuple[int, ...] = sizes((256, 256), 1, MAX_LAYER_WIDTH)
    """Hidden layer widths of each critic."""
    layer_norm: bool = flag(False, shared=True)
    """LayerNorm after each hidden layer."""
    activation: str = choice("relu", ("relu", "elu", "gelu", "tanh", "leaky_relu"), shared=True)
    """Hidden activation: relu, elu, gelu, tanh or leaky_relu."""
    main_engine_bias: float = number(0.0, -3.0, 3.0)
    """Initial bias of the actor's main-engine head; positive favours early thrust."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("actor_hidden", "critic_hidden"):  # a tuple keeps the frozen config hashable
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def _check_together(self) -> None:
        need = network_bytes(self)
        have = physical_memory()
        if need > have:
            name = "actor_hidden" if _mlp_parameters(
                [lander.OBS_DIM, *self.actor_hidden, lander.ACT_DIM]) >= _mlp_parameters(
                [lander.OBS_DIM + lander.ACT_DIM, *self.critic_hidden, 1]) else "critic_hidden"
            raise ConfigError(
                f"network.{name}={list(getattr(self, name))!r} is invalid: allowed networks that fit in memory; "
                f"the actor and twin critics would hold about {need // BYTES_PER_PARAMETER:,} parameters, "
                f"~{need / 2**30:,.0f} GiB with targets, gradients and Adam state, and this machine has "
                f"{have / 2**30:,.0f} GiB")


def _mlp_parameters(widths: list[int]) -> int:
    """Weights and biases of a fully connected stack (LayerNorm adds 2 per hidden unit, ignored)."""
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


def network_bytes(net: NetworkConfig) -> int:
    """Memory the actor and twin critics need to train, with their target copies, gradients and Adam state."""
    actor = _mlp_parameters([lander.OBS_DIM, *net.actor_hidden, lander.ACT_DIM])
    critics = 2 * _mlp_parameters([lander.OBS_DIM + lander.ACT_DIM, *net.critic_hidden, 1])
    return (actor + critics) * BYTES_PER_PARAMETER


def physical_memory() -> int:
    """This machine's RAM in bytes (unbounded where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**62


@dataclass(frozen=True)
class EnvironmentConfig(_Section):
    """Which env, how many copies, and the optional reward shaping."""

    SECTION = "env"

    env_id: str = text(lander.ENV_ID, "a registered Gymnasium id", shared=True)
    """Gymnasium id; the analyzer and shaping assume the LunarLander observation."""
    num_envs: int = integer(1, 1, 256, typical=(1, 16), shared=True)
    """Envs per agent, stepped side by side."""
    max_episode_steps: int = integer(0, 0, 100_000, shared=True)
    """Time limit per episode; 0 keeps the env's own (1000 for LunarLander)."""
    reward_shaping: bool = flag(False, live=AGENT)
    """Add the shaping bonuses below to the learning signal (raw return is always kept)."""
    shaping_time_penalty: float = number(0.05, 0.0, 1000.0, typical=(0.0, 0.5), live=AGENT)
    """Subtracted every step, to discourage hovering."""
    shaping_ground_bonus: float = number(0.1, 0.0, 1000.0, typical=(0.0, 1.0), live=AGENT)
    """Per step while descending within shaping_ground_height of the pad."""
    shaping_ground_height: float = number(0.3, 0.0, 2.0)
    """Observation-scale height under which the ground bonus applies."""
    shaping_leg_bonus: float = number(0.1, 0.0, 1000.0, typical=(0.0, 1.0), live=AGENT)
    """Per step per leg in contact while descending."""
    shaping_upright_bonus: float = number(0.05, 0.0, 1000.0, typical=(0.0, 0.5), live=AGENT)
    """Per step while descending with |angle| under shaping_upright_angle."""
    shaping_upright_angle: float = number(0.2, 0.0, math.pi)
    """Angle in radians that counts as upright."""
    shaping_landing_bonus: float = number(20.0, 0.0, 1000.0, typical=(0.0, 100.0), live=AGENT)
    """Once, when an episode ends in a landing with both legs down."""
    success_threshold: float = number(lander.SUCCESS_RETURN, -1e6, 1e6)
    """Raw return at which an episode counts as a success."""


@dataclass(frozen=True)
class RunConfig(_Section):
    """Budget, seeding, evaluation, checkpoints and where results go."""

    SECTION = "run"

    total_steps: int = integer(200_000, 1, 1_000_000_000, typical=(1, 10_000_000))
    """Env steps (transitions over all envs) to train for."""
    seed: int = integer(0, 0, 2**31 - 1)
    """Seeds torch, numpy, the envs and the noise; same seed, same run on CPU."""
    eval_every: int = integer(10_000, 0, 1_000_000_000)
    """Env steps between deterministic evaluations; 0 turns them off."""
    eval_episodes: int = integer(10, 1, 10_000)
    """Episodes per evaluation, with fixed seeds."""
    stop_when_solved: bool = flag(False)
    """End the run at an evaluation whose mean reaches env.success_threshold, keeping the policy that reached
    it: a newcomer's run ends landing, since later updates can lose what was learned."""
    eval_seed: int = integer(10_000, 0, 2**31 - 1)
    """First env seed of the evaluation episodes (kept apart from training seeds)."""
    checkpoint_every: int = integer(50_000, 0, 1_000_000_000, shared=True)
    """Env steps between checkpoints; 0 saves only at the end."""
    out_dir: str = text("runs", "a non-empty folder path", shared=True)
    """Folder under which each run gets its own sub-folder."""
    device: str = choice("auto", ("auto", "cpu", "cuda"), shared=True)
    """auto (CUDA when present), cpu or cuda: where the batched learner runs."""
    torch_threads: int = integer(1, 1, 256, shared=True)
    """Torch intra-op threads; on small MLPs one thread beats two."""
    overlap_collection: bool = flag(False, shared=True)
    """Step the envs in a second process while the learner updates (a second core). Deterministic, but the
    updates a step owes are paid while the next step's envs run, so acting lags learning by one step and a run
    differs from the synchronous default (the lag-one overlap of Ape-X-style collectors)."""
    analyze_episodes: bool = flag(True)
    """Run the behavior analyzer on every finished episode."""
    save_replay: bool = flag(False, shared=True)
    """Include the replay buffer in checkpoints (large, but resumes exactly)."""


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

    # ---- reading one field ---------------------------------------------------------
    def get(self, key: str) -> Any:
        """A field's value by its dotted (``training.actor_lr``) or bare (``actor_lr``) name."""
        section, name = resolve_field(key)
        return getattr(getattr(self, section), name)

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
        """Build from a nested dict; unknown sections or fields are refused by name.

        A retired field (see RETIRED) at the value that made it do nothing is dropped, so config files of
        older runs still load; set to anything else it is refused, naming the tag that still has it.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"a config must be a mapping of sections, got {type(data).__name__}")
        unknown = set(data) - set(SECTIONS)
        if unknown:
            name = sorted(map(str, unknown))[0]
            raise ConfigError(f"unknown config section {name!r}{_did_you_mean(name, list(SECTIONS))}: "
                              f"allowed {', '.join(SECTIONS)}")
        parts = {}
        for name, section_cls in SECTIONS.items():
            values = data.get(name) or {}
            if not isinstance(values, Mapping):
                raise ConfigError(f"config section {name} must be a mapping, got {values!r}")
            values = {k: v for k, v in values.items() if not _retired_and_inert(f"{name}.{k}", v)}
            allowed = [f.name for f in fields(section_cls)]
            bad = sorted(str(k) for k in values if k not in allowed)
            if bad:
                raise ConfigError(f"unknown field {bad[0]!r} in section {name}{_did_you_mean(bad[0], allowed)}: "
                                  f"allowed {', '.join(allowed)}")
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

        data = read_json_or_yaml(path, "config file", ConfigError)
        try:
            return cls.from_dict(data)
        except ConfigError as exc:  # name the file, so a bad value is found where it was written
            raise ConfigError(f"config file {str(path)!r}: {exc}") from exc

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
        grouped: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            retired = _retired_key(key) if isinstance(key, str) else None
            if retired is not None and _retired_and_inert(retired, value):
                continue  # an old command line's inert setting
            section, name = resolve_field(key)
            grouped.setdefault(section, {})[name] = value
        parts = {name: getattr(self, name) for name in SECTIONS}
        for section, values in grouped.items():
            try:
                parts[section] = dataclasses.replace(parts[section], **values)
            except TypeError as exc:  # e.g. comparing a str with a number
                raise ConfigError(f"section {section}: {exc}") from exc
        return Config(**parts)

    def differences(self, other: Config) -> dict[str, tuple[Any, Any]]:
        """Dotted name -> (this value, other's value) for every field the two configs set differently."""
        return {f.key: (self.get(f.key), other.get(f.key)) for f in config_fields()
                if self.get(f.key) != other.get(f.key)}


RETIRED_TAG = "levers-2026-12"
"""The git tag of the last commit that has the retired levers; each has a dated page under docs/experiments/."""
RETIRED: dict[str, Any] = {
    "training.action_penalty": 0.0, "training.target_pessimism": 1.0, "training.per_kind": "proportional",
    "training.algorithm": "td3", "training.sac_initial_alpha": 1.0, "training.sac_target_entropy": -2.0,
    "training.crossq_adam_beta1": 0.5, "training.crossq_renorm_momentum": 0.01, "training.crossq_renorm_warmup": 5000,
    "training.crossq_renorm_relax": 40_000, "training.policy_checkpoints": False, "training.checkpoint_window": 5,
    "training.checkpoint_widen_after": 20_000, "training.checkpoint_score": "min", "training.ensemble_size": 1,
    "training.ensemble_window": 3, "training.precision": "float32", "noise.ground_scale": 1.0,
    "env.train_episode_steps": 0, "env.vectorization": "sync",
}
"""Fields of levers that did not beat the baseline, removed from the code, and the value at which each did nothing."""


_NO_VALUE = object()


def _retired_and_inert(key: str, value: Any = _NO_VALUE) -> bool:
    """True for a retired field at its inert value (drop it); a retired field set otherwise is refused."""
    if key not in RETIRED:
        return False
    if value == RETIRED[key]:
        return True
    given = key if value is _NO_VALUE else f"{key}={value!r}"
    raise ConfigError(f"{given} is no longer supported: the lever it set did not beat the baseline and was retired "
                      f"(see docs/experiments); allowed: leave it out, or train with the git tag {RETIRED_TAG}, "
                      "which still has it")


def _retired_key(key: str) -> str | None:
    """The dotted retired field a dotted or bare name means, if any."""
    if key in RETIRED:
        return key
    return next((k for k in RETIRED if "." not in key and k.endswith(f".{key}")), None)


@dataclass(frozen=True)
class FieldInfo:
    """One config field and its metadata, as the panel, the docs and live changes read it."""

    key: str
    """Dotted name, e.g. training.actor_lr."""
    section: str
    name: str
    default: Any
    bounds: Bounds
    live: str | None
    """AGENT (changes per agent while training), SHARED (changes for every agent at once) or None (restart only)."""
    shared: bool
    """Agents of one population must share it (it shapes a tensor or the loop's rhythm)."""
    doc: str = ""
    """The docstring under the field in this file: the docs' reference and the panel's tooltips read it here."""


_FIELDS: tuple[FieldInfo, ...] = ()


def config_fields() -> tuple[FieldInfo, ...]:
    """Every config field, section by section, in declaration order."""
    global _FIELDS
    if not _FIELDS:
        docs = {section: attribute_docstrings(cls) for section, cls in SECTIONS.items()}  # source parsed once
        _FIELDS = tuple(FieldInfo(f"{section}.{f.name}", section, f.name, f.default if f.default is not
                                  dataclasses.MISSING else None, f.metadata["bounds"], f.metadata["live"],
                                  f.metadata["shared"], docs[section].get(f.name, ""))
                        for section, cls in SECTIONS.items() for f in fields(cls))
    return _FIELDS


def attribute_docstrings(cls: type) -> dict[str, str]:
    """A class's attribute docstrings (the string right under a field), which Python itself does not keep."""
    import ast
    import inspect
    import textwrap

    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body  # type: ignore[attr-defined]
    return {node.target.id: inspect.cleandoc(after.value.value) for node, after in zip(body, body[1:])
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)}


def field_info(key: str) -> FieldInfo:
    """The FieldInfo of a dotted or bare field name (errors name the field, as resolve_field's do)."""
    section, name = resolve_field(key)
    return next(f for f in config_fields() if f.section == section and f.name == name)


def live_fields() -> tuple[FieldInfo, ...]:
    """The fields that may change while a run trains."""
    return tuple(f for f in config_fields() if f.live is not None)


def shared_fields() -> tuple[FieldInfo, ...]:
    """The fields every agent of one population must share."""
    return tuple(f for f in config_fields() if f.shared)


def field_index() -> dict[str, list[str]]:
    """Bare field name -> the sections that define it."""
    index: dict[str, list[str]] = {}
    for f in config_fields():
        index.setdefault(f.name, []).append(f.section)
    return index


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def resolve_field(key: str) -> tuple[str, str]:
    """Turn ``training.actor_lr`` or ``actor_lr`` into (section, field), or explain why not."""
    if not isinstance(key, str) or not key:
        raise ConfigError(f"config key {key!r} is invalid: allowed section.field or a bare field name")
    retired = _retired_key(key)
    if retired is not None and retired.rpartition(".")[2] not in field_index():
        _retired_and_inert(retired)
    if "." in key:
        section, _, name = key.partition(".")
        if section not in SECTIONS:
            raise ConfigError(f"unknown config section {section!r} in {key!r}{_did_you_mean(section, SECTIONS)}: "
                              f"allowed {', '.join(SECTIONS)}")
        allowed = [f.name for f in fields(SECTIONS[section])]
        if name not in allowed:
            raise ConfigError(f"unknown field {name!r} in section {section}{_did_you_mean(name, allowed)}: "
                              f"allowed {', '.join(allowed)}")
        return section, name
    owners = field_index().get(key)
    if not owners:
        keys = [f.key for f in config_fields()] + list(field_index())
        raise ConfigError(f"unknown config field {key!r}{_did_you_mean(key, keys)}: use section.field, for "
                          "example training.actor_lr (python -m lab train --print-config lists them all)")
    if len(owners) > 1:
        raise ConfigError(f"config field {key!r} is ambiguous: say one of "
                          f"{', '.join(f'{o}.{key}' for o in owners)}")
    return owners[0], key


def bounds_of(key: str) -> Bounds:
    """What a config field accepts, e.g. ``bounds_of("training.actor_lr")`` (a bare name works too)."""
    return field_info(key).bounds


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
