"""Live changes: which config fields may change while agents train, checked before the loop applies them.

Whether a field is live, per agent or for every agent at once, is metadata beside the field
in lab/config.py (``live=AGENT`` or ``live=SHARED``); this module only reads it. A change
names fields by their dotted (``training.actor_lr``) or bare (``actor_lr``) names and is
checked by building each agent's new frozen Config, so a bad value is refused in the
caller's thread, with the field, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lab.config import AGENT, Config, ConfigError, field_info, live_fields, plain


def dotted_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes by dotted name, each refused unless its field is live."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        info = field_info(name)
        if info.live is None:
            live = ", ".join(f.key for f in live_fields())
            raise ConfigError(f"{info.key} cannot change while training (it applies when a run starts): "
                              f"live fields are {live}")
        out[info.key] = plain(value)
    return out


def check_changes(configs: Sequence[Config], agent: int | None, changes: Mapping[str, Any]) -> dict[int, Config]:
    """Each changed agent's new config; a per-agent change of a field all agents share is refused."""
    dotted = dotted_changes(changes)
    if agent is not None and len(configs) > 1:
        shared = [key for key in dotted if field_info(key).live != AGENT]
        if shared:
            raise ConfigError(f"{shared[0]} is shared by every agent of a population: change it with agent=None")
    targets = range(len(configs)) if agent is None else [agent]
    return {k: configs[k].with_overrides(dotted) for k in targets}


def live_values(config: Config) -> dict[str, Any]:
    """Every live field's current value, by dotted name."""
    return {f.key: config.get(f.key) for f in live_fields()}
