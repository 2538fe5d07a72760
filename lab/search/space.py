"""Search files and parameter spaces: parse, validate, expand a grid, sample at random.

One file format serves ``sweep``, ``tune`` and ``evolve``::

    name: lr_grid               # names the results folder
    type: grid                  # grid | random (sweep only)
    base: fast                  # a preset name or a config file (default: fast)
    overrides: {run.eval_every: 5000}   # fixed values for every run
    steps_per_run: 50000        # or episodes_per_run: 300
    num_samples: 20             # random sweeps only
    seed: 0                     # seeds the sampler and every run's run.seed
    parameters:
      actor_lr: [1.0e-4, 3.0e-4, 1.0e-3]             # grid: a list of values
      tau: {min: 0.001, max: 0.02, type: log}         # random: log | float | int
      batch_size: {choices: [64, 128, 256]}           # random: a choice

Parameters are named by bare (``actor_lr``) or dotted (``training.actor_lr``) config
field. Everything is checked before anything runs: names resolve, ranges are
well formed, and every value a run can get builds a valid Config.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lab.config import Config, ConfigError, bounds_of, resolve_field
from lab.io import read_json_or_yaml

COMMON_KEYS = {"name", "type", "base", "overrides", "steps_per_run", "episodes_per_run", "num_samples", "seed",
               "parameters", "description"}
RANGE_TYPES = ("log", "float", "int")
MAX_RUNS = 10_000
"""Most runs one sweep may plan: a bigger grid is refused before it is expanded."""
SIGNIFICANT_DIGITS = 4
"""Sampled floats are rounded to this many significant digits, so names and CSVs stay readable."""


class SpecError(ConfigError):
    """A search file is invalid; the message names the file, the key and what is allowed."""


# ---- parameter domains --------------------------------------------------------------------------
@dataclass(frozen=True)
class Grid:
    """Every listed value, in order."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    """A number between low and high (inclusive), uniform on a linear or log scale, or an integer."""

    low: float
    high: float
    scale: str  # log | float | int

    def sample(self, rng: np.random.Generator) -> float | int:
        if self.scale == "int":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.scale == "log":
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return self.clip(float(f"{value:.{SIGNIFICANT_DIGITS}g}"))

    def clip(self, value: float) -> float | int:
        value = min(max(value, self.low), self.high)
        return int(round(value)) if self.scale == "int" else float(value)


@dataclass(frozen=True)
class Choice:
    """One of the listed values, equally likely."""

    choices: tuple[Any, ...]

    def sample(self, rng: np.random.Generator) -> Any:
        return self.choices[int(rng.integers(len(self.choices)))]


Domain = Grid | Range | Choice


@dataclass(frozen=True)
class Parameter:
    """One searched config field: the name as written, its dotted key, and its domain."""

    name: str
    key: str
    domain: Domain

    def sample(self, rng: np.random.Generator) -> Any:
        if isinstance(self.domain, Grid):
            return Choice(self.domain.values).sample(rng)
        return self.domain.sample(rng)

    def candidates(self) -> tuple[Any, ...]:
        """Values worth checking up front: every listed value, or a range's two ends."""
        d = self.domain
        if isinstance(d, Grid):
            return d.values
        if isinstance(d, Choice):
            return d.choices
        return (d.clip(d.low), d.clip(d.high))


# ---- the spec and its runs ---------------------------------------------------------------------
@dataclass(frozen=True)
class RunPlan:
    """One configuration to run: its 1-based index, the swept values, and the full Config."""

    index: int
    params: dict[str, Any]
    config: Config

    @property
    def name(self) -> str:
        return f"run_{self.index:03d}"

    @property
    def label(self) -> str:
        return f"run {self.index:03d}: {format_params(self.params)}"


@dataclass(frozen=True)
class SearchSpec:
    """A parsed, validated search file."""

    name: str
    type: str
    parameters: tuple[Parameter, ...]
    base: Config
    """The base preset or file, with the fixed overrides, the seed and the step budget applied."""
    seed: int = 0
    num_samples: int | None = None
    steps_per_run: int | None = None
    episodes_per_run: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys specific to tune or evolve, checked by them."""
    raw: dict[str, Any] = field(default_factory=dict)
    """The file as read, kept for the results folder."""
    source: str = "<dict>"

    def config_for(self, params: Mapping[str, Any]) -> Config:
        """The base config with these parameter values (by name as written) applied."""
        keys = {p.name: p.key for p in self.parameters}
        return self.base.with_overrides({keys[name]: value for name, value in params.items()})

    @property
    def run_count(self) -> int:
        """How many runs the sweep plans, computed without expanding the grid."""
        if self.type == "grid":
            return math.prod([len(values) for values in self._grid_values()])
        return self.num_samples or 0

    def _grid_values(self) -> list[tuple[Any, ...]]:
        return [p.domain.values for p in self.parameters if isinstance(p.domain, Grid)]

    def iter_plans(self) -> Iterator[RunPlan]:
        """Every run of a sweep, one at a time, so a dry run of a large grid never holds it all.

        The grid's product in file order, or num_samples seeded draws; same order as ``plans()``.
        """
        if self.type == "grid":
            rows: Iterator[tuple[Any, ...]] = itertools.product(*self._grid_values())
        else:
            rng = np.random.default_rng(self.seed)
            rows = (tuple(p.sample(rng) for p in self.parameters) for _ in range(self.num_samples or 0))
        names = [p.name for p in self.parameters]
        for i, combo in enumerate(rows, start=1):
            row = dict(zip(names, combo))
            try:
                yield RunPlan(i, row, self.config_for(row))
            except ConfigError as exc:
                raise SpecError(f"{self.source}: run {i:03d} ({format_params(row)}) is invalid: {exc}") from exc

    def plans(self) -> list[RunPlan]:
        """Every run of a sweep as a list (at most MAX_RUNS); see ``iter_plans`` to stream them."""
        return list(self.iter_plans())


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.{SIGNIFICANT_DIGITS}g}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def format_params(params: Mapping[str, Any]) -> str:
    """``actor_lr=0.001 tau=0.01 batch_size=64``: the dry-run and log format."""
    return " ".join(f"{k}={format_value(v)}" for k, v in params.items())


# ---- parsing ------------------------------------------------------------------------------------
def load_spec(path: str | Path, kind: str = "sweep", extra_keys: Sequence[str] = ()) -> SearchSpec:
    """Read a JSON or YAML search file and validate it (see parse_spec)."""
    path = Path(path)
    data = read_json_or_yaml(path, "search file", SpecError)
    return parse_spec(data, kind=kind, extra_keys=extra_keys, source=str(path), folder=path.parent)


def parse_spec(data: Any, kind: str = "sweep", extra_keys: Sequence[str] = (), source: str = "<dict>",
               folder: Path | None = None) -> SearchSpec:
    """Validate a search mapping for ``kind`` (sweep, tune or evolve); raise SpecError naming the problem.

    A sweep's ``type`` is grid (the default) or random; tune (tpe) and evolve (pbt)
    sample ranges and choices themselves, so for them lists count as choices.
    """
    where = source
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: a search file must be a mapping, got {type(data).__name__}")
    unknown = set(data) - COMMON_KEYS - set(extra_keys)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)}: allowed {sorted(COMMON_KEYS | set(extra_keys))}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "/\\"):
        raise SpecError(f"{where}: name={name!r} is invalid: allowed a non-empty string without slashes")
    allowed_types = {"sweep": ("grid", "random"), "tune": ("tpe",), "evolve": ("pbt",)}[kind]
    search_type = data.get("type", allowed_types[0])
    if search_type not in allowed_types:
        raise SpecError(f"{where}: type={search_type!r} is invalid: allowed {', '.join(allowed_types)}")
    seed = _integer(data.get("seed", 0), f"{where}: seed", 0, 2**31 - 1)
    steps, episodes = data.get("steps_per_run"), data.get("episodes_per_run")
    if kind == "evolve":
        if steps is not None or episodes is not None:
            raise SpecError(f"{where}: evolve's budget is generations x generation_steps; drop steps_per_run and "
                            "episodes_per_run")
    elif (steps is None) == (episodes is None):
        raise SpecError(f"{where}: give exactly one of steps_per_run or episodes_per_run")
    steps = None if steps is None else _integer(steps, f"{where}: steps_per_run", 1, 10**9)
    episodes = None if episodes is None else _integer(episodes, f"{where}: episodes_per_run", 1, 10**7)
    num_samples = data.get("num_samples")
    if search_type == "random" and kind == "sweep":
        if num_samples is None:
            raise SpecError(f"{where}: a random sweep needs num_samples (how many configurations to draw)")
        num_samples = _integer(num_samples, f"{where}: num_samples", 1, MAX_RUNS)
    base = _base_config(data, where, folder, seed, steps)
    parameters = _parameters(data.get("parameters"), where, base, grid=search_type == "grid")
    spec = SearchSpec(name=name.strip(), type=search_type, parameters=parameters, base=base, seed=seed,
                      num_samples=num_samples, steps_per_run=steps, episodes_per_run=episodes,
                      extra={k: data[k] for k in extra_keys if k in data}, raw=dict(data), source=where)
    if kind == "sweep":
        if spec.run_count > MAX_RUNS:
            raise SpecError(f"{where}: the sweep has {spec.run_count:,} runs, more than the {MAX_RUNS:,} allowed: "
                            "list fewer values, or use type: random with num_samples")
        for _ in spec.iter_plans():  # builds every run's Config now, so a bad combination fails before the first run
            pass
    return spec


def _base_config(data: Mapping[str, Any], where: str, folder: Path | None, seed: int, steps: int | None) -> Config:
    from lab.presets import PRESETS, preset

    base = data.get("base", "fast")
    if not isinstance(base, str) or not base:
        raise SpecError(f"{where}: base={base!r} is invalid: allowed a preset name or a config file path")
    if base in PRESETS:
        config = preset(base)
    else:
        path = Path(base)
        if not path.is_absolute() and not path.exists() and folder is not None:
            path = folder / path  # relative to the search file
        if not path.exists():
            raise SpecError(f"{where}: base={base!r} is neither a preset ({', '.join(PRESETS)}) nor a config file")
        try:
            config = Config.load(path)
        except ConfigError as exc:
            raise SpecError(f"{where}: base: {exc}") from exc
    overrides = data.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        raise SpecError(f"{where}: overrides must be a mapping of config fields to values, got {overrides!r}")
    fixed: dict[str, Any] = {"run.seed": seed}
    if steps is not None:
        fixed["run.total_steps"] = steps
    try:
        fixed.update({".".join(resolve_field(k)): v for k, v in overrides.items()})
        return config.with_overrides(fixed)
    except ConfigError as exc:
        raise SpecError(f"{where}: overrides: {exc}") from exc


def _parameters(raw: Any, where: str, base: Config, grid: bool) -> tuple[Parameter, ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise SpecError(f"{where}: parameters must be a non-empty mapping of config fields to values or ranges")
    seen: dict[str, str] = {}
    out = []
    for name, spec in raw.items():
        label = f"{where}: parameter {name!r}"
        try:
            key = ".".join(resolve_field(name))
        except ConfigError as exc:
            raise SpecError(f"{label}: {exc}") from exc
        if key in seen:
            raise SpecError(f"{label} and {seen[key]!r} both name {key}: give it once")
        seen[key] = name
        param = Parameter(str(name), key, _domain(spec, label, grid))
        _check_bounds(param, label)
        for value in param.candidates():  # cross-field rules too (batch_size <= buffer_size)
            try:
                base.with_overrides({key: value})
            except ConfigError as exc:
                raise SpecError(f"{label}: value {format_value(value)} is invalid: {exc}") from exc
        out.append(param)
    return tuple(out)


def _check_bounds(param: Parameter, label: str) -> None:
    """Every value a parameter can take must be one its config field accepts (read from the field's Bounds)."""
    bounds = bounds_of(param.key)
    if isinstance(param.domain, Range):
        if bounds.kind not in ("number", "integer"):
            raise SpecError(f"{label}: {param.key} is not a number (allowed {bounds.allowed()}): "
                            "give {choices: [...]} instead of a range")
        if bounds.kind == "integer" and param.domain.scale != "int":
            raise SpecError(f"{label}: {param.key} takes integers: give the range type: int")
    for value in param.candidates():
        try:
            bounds.check(param.key, value)
        except ConfigError as exc:
            raise SpecError(f"{label}: value {format_value(value)} is invalid: {exc}") from exc


def _domain(spec: Any, label: str, grid: bool) -> Domain:
    spec = _numbers(spec)
    if isinstance(spec, list):
        if not spec:
            raise SpecError(f"{label}: an empty list gives nothing to try")
        return Grid(tuple(spec)) if grid else Choice(tuple(spec))
    if grid:
        raise SpecError(f"{label}: a grid sweep needs a list of values, got {spec!r}")
    if not isinstance(spec, Mapping):
        raise SpecError(f"{label}: allowed {{min, max, type: log|float|int}} or {{choices: [...]}}, got {spec!r}")
    if "choices" in spec:
        if set(spec) != {"choices"} or not isinstance(spec["choices"], list) or not spec["choices"]:
            raise SpecError(f"{label}: a choice is {{choices: [a non-empty list]}} and nothing else, got {spec!r}")
        return Choice(tuple(spec["choices"]))
    bad = set(spec) - {"min", "max", "type"}
    if bad or "min" not in spec or "max" not in spec:
        raise SpecError(f"{label}: a range is {{min, max, type: log|float|int}}, got {dict(spec)!r}")
    scale = spec.get("type", "float")
    if scale not in RANGE_TYPES:
        raise SpecError(f"{label}: range type={scale!r} is invalid: allowed {', '.join(RANGE_TYPES)}")
    low, high = spec["min"], spec["max"]
    for end, value in (("min", low), ("max", high)):
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not number or (scale == "int" and not float(value).is_integer()):
            kind = "an integer" if scale == "int" else "a finite number"
            raise SpecError(f"{label}: {end}={value!r} is invalid: allowed {kind}")
    if not low < high:
        raise SpecError(f"{label}: min={low!r} must be less than max={high!r}")
    if scale == "log" and low <= 0:
        raise SpecError(f"{label}: a log range needs min > 0, got min={low!r}")
    return Range(float(low), float(high), scale)


def _numbers(value: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` (no dot) as a string; read number-like strings as numbers, as overrides do."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value) if any(c in value for c in ".eE") else int(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _numbers(v) for k, v in value.items()}
    return value


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _integer(value: Any, label: str, lo: int, hi: int) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
    if not ok:
        raise SpecError(f"{label}={value!r} is invalid: allowed an integer in [{lo}, {hi}]")
    return value
