"""How a population's agents speak: every agent's ordinary trainer events, tagged with the agent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.population.members import Member


@dataclass(frozen=True)
class AgentEvent:
    """An ordinary trainer event from agent ``agent`` (seed ``seed``) of a population."""

    agent: int
    seed: int
    event: Any


Publish = Callable[[Member, Any], None]
"""Deliver an event to one agent's own bus (its run folder's logger) and, tagged, to the population's."""
