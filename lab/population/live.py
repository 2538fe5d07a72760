"""Live hyperparameter changes for one agent of a population, or for all of them.

Most live names are per agent: learner settings go into the learner's per-agent
tensors, noise and shaping into the agent's own config. Names that shape the shared
batch change for every agent at once or not at all; prioritized replay's do not
exist in a population.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lab.config import ConfigError
from lab.events import HyperparametersChanged
from lab.hyperparameters import LIVE_CONFIG_FIELDS, validate_changes
from lab.population.learner import HYPERPARAMETERS, PopulationTD3
from lab.population.members import Member

LEARNER_FIELDS = tuple(name for name in HYPERPARAMETERS if LIVE_CONFIG_FIELDS.get(name) == f"training.{name}")
"""Live names (also training.* fields) held in the learner's per-agent tensors: a learner setting made live
in lab.hyperparameters is live per agent here too."""
SHARED_LIVE = ("batch_size", "updates_per_step")
"""Live names that shape the shared batch: they change for all agents at once or not at all."""
UNSUPPORTED_LIVE = ("per_alpha", "per_beta")


def check_changes(members: Sequence[Member], agent: int | None, changes: dict[str, Any]) -> None:
    """Raise ConfigError now, in the caller's thread, for any change the population would refuse."""
    for name in changes:
        if name in UNSUPPORTED_LIVE:
            raise ConfigError(f"{name} cannot change in a population: it trains without prioritized replay")
        if name in SHARED_LIVE and agent is not None:
            raise ConfigError(f"{name} is shared by every agent of a population: change it with agent=None")
    for m in members if agent is None else [members[agent]]:
        validate_changes(m.config, changes)


def current_values(member: Member) -> dict[str, Any]:
    """The agent's live values, without prioritized replay's (a population has none)."""
    return {k: v for k, v in member.live_values().items() if k not in UNSUPPORTED_LIVE}


def set_learner_values(member: Member, learner: PopulationTD3) -> None:
    """The agent's config rules its learner settings (after a change, or over a resumed checkpoint's)."""
    for name in LEARNER_FIELDS:
        learner.set(name, member.index, getattr(member.config.training, name))


def apply_changes(member: Member, changes: dict[str, Any], learner: PopulationTD3) -> HyperparametersChanged | None:
    """Apply checked changes to one agent; the event listing what really changed, if anything did.

    Raises ConfigError when a change checked earlier is now refused (a race with another change).
    """
    before = current_values(member)
    member.config, overrides = validate_changes(member.config, changes)
    member.schedule_overrides.update(overrides)
    set_learner_values(member, learner)
    member.noise.config = member.config.noise  # the noise reads sigma/theta from its config, as lab.collector sets
    member.touchdown_cut.probability = member.config.noise.touchdown_cut
    after = current_values(member)
    diff = {k: (before[k], after[k]) for k in changes if k in before and before[k] != after[k]}
    return HyperparametersChanged(env_step=member.env_step, changes=diff) if diff else None
