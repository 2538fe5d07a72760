"""Settings by their config key, as both panel models read them: ``config_value`` and friends.

A key is a dotted config field (``noise.sigma``) or a schedule override (``noise_scale``,
``per_beta``), the names the engine validates. These helpers answer the questions a panel
asks of a config: a setting's value, what a new run would start with, which differences
need a new run, and which live changes put a running agent back on a config.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lab.config import Config
from lab.presets import preset, preset_names
from lab.train.live import LIVE_CONFIG_FIELDS

LIVE_KEYS: dict[str, str] = {field: name for name, field in LIVE_CONFIG_FIELDS.items()}
"""Dotted config field -> live name, for the fields that change while a run trains."""
SCHEDULE_STARTS: dict[str, str] = {"noise_scale": "noise.scale_start", "per_beta": "training.per_beta_start"}
"""Where each schedule override's starting value lives in the config."""


def config_value(config: Config, key: str) -> Any:
    """A setting's value in a config; a schedule override reads its schedule's starting value."""
    section, name = SCHEDULE_STARTS.get(key, key).split(".")
    return getattr(getattr(config, section), name)


def as_config(source: str | Path | Config) -> Config:
    """A Config from a preset name, a config file or a Config."""
    if isinstance(source, Config):
        return source
    if isinstance(source, str) and source in preset_names():
        return preset(source)
    return Config.load(source)


def next_run_values(config: Config, overrides: dict[str, float], names: Iterable[str]) -> dict[str, Any]:
    """The named live settings a new run would start with: the config's, or the panel's pinned overrides."""
    values = {name: config_value(config, LIVE_CONFIG_FIELDS.get(name, name)) for name in names}
    values.update({n: v for n, v in overrides.items() if n in values})
    return values


def restart_fields(mine: Config, theirs: Config) -> list[str]:
    """Config fields that differ between two configs and only a new run can change."""
    ours, running = mine.to_dict(), theirs.to_dict()
    return [f"{section}.{k}" for section, values in ours.items() for k, v in values.items()
            if f"{section}.{k}" not in LIVE_KEYS and running[section].get(k) != v]


def live_resets(now: dict[str, Any], base: Config, overrides: Iterable[str]) -> dict[str, Any]:
    """The live changes that put a running agent back on ``base``: what differs, and every pinned override."""
    live = {name: config_value(base, field) for name, field in LIVE_CONFIG_FIELDS.items()
            if name in now and now[name] != config_value(base, field)}
    live.update({name: config_value(base, name) for name in overrides})
    return live
