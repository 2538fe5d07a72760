"""What the next run gives each agent, and where a change made in the panel goes: ``AgentSettings``.

Where a change goes is read from the field's metadata in lab/config.py, never from a list
here: a field that is live per agent (``live == AGENT``) changes for the selected agent or
for all; a field every agent must share (``shared``, which every ``SHARED`` live field is)
changes for all of them; any other restart-only field changes for the selected agent's next
run (so A and B may differ in their warm-up pilot, say). ``run.seed`` set for all agents
gives agent k the seed plus k, so no two agents are the same agent twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lab.config import AGENT, Config, config_fields, field_info, live_fields
from lab.train.members import member_configs


@dataclass(frozen=True)
class Change:
    """A checked change: each changed agent's new config, and the call that makes the engine follow it."""

    key: str
    configs: dict[int, Config]
    live: bool
    """The running engine changes too (else it waits for the next run)."""
    agent: int | None
    """Whom the engine changes: one agent, or every agent (None)."""
    note: str = ""
    """What a person should know: a change that went to more agents than were selected."""


class AgentSettings:
    """Each agent's next-run config: its starting config plus every change made for it."""

    def __init__(self, base: Sequence[Config]) -> None:
        member_configs(base[0], configs=base)  # configs no engine could train together are refused now
        self.base = list(base)
        """Each agent's starting config (Reset goes back to these)."""
        self.configs = list(base)

    @classmethod
    def seeded(cls, config: Config, agents: int) -> AgentSettings:
        """K agents of one config, agent k with seed + k."""
        return cls([config.with_overrides({"run.seed": config.run.seed + k}) for k in range(agents)])

    @property
    def agents(self) -> int:
        return len(self.configs)

    def plan(self, key: str, value: Any, agent: int | None) -> Change:
        """Check a change for one agent (None: all) without making it; raises ConfigError naming the field."""
        info = field_info(key)
        one = agent is not None and self.agents > 1
        everyone = info.shared or not one
        targets = list(range(self.agents)) if everyone or agent is None else [agent]
        configs = list(self.configs)
        for k in targets:
            seeded = info.key == "run.seed" and everyone and isinstance(value, int) and not isinstance(value, bool)
            configs[k] = configs[k].with_overrides({info.key: value + k if seeded else value})
        member_configs(configs[0], configs=configs)  # agents that could not train together are refused now
        note = f"{info.key} is shared by every agent: changed for all of them" if one and everyone else ""
        return Change(info.key, {k: configs[k] for k in targets}, info.live is not None,
                      None if everyone or info.live != AGENT else agent, note)

    def commit(self, change: Change) -> None:
        for k, config in change.configs.items():
            self.configs[k] = config

    def reset(self) -> None:
        self.configs = list(self.base)

    def restart_diff(self, running: Sequence[Config]) -> list[str]:
        """Restart-only fields whose next-run value differs from the running engine's, for any agent."""
        return [f.key for f in config_fields() if f.live is None
                and any(mine.get(f.key) != theirs.get(f.key) for mine, theirs in zip(self.configs, running))]

    def resets(self, now: Sequence[Mapping[str, Any]]) -> list[tuple[int | None, dict[str, Any]]]:
        """The live changes that put a running engine (``now``: each agent's live values) back on the base
        configs: (agent or None for all, changes)."""
        calls: list[tuple[int | None, dict[str, Any]]] = []
        shared = {f.key: self.base[0].get(f.key) for f in live_fields()
                  if f.live != AGENT and now[0][f.key] != self.base[0].get(f.key)}
        if shared:
            calls.append((None, shared))
        for k, values in enumerate(now):
            mine = {f.key: self.base[k].get(f.key) for f in live_fields()
                    if f.live == AGENT and values[f.key] != self.base[k].get(f.key)}
            if mine:
                calls.append((k if self.agents > 1 else None, mine))
        return calls

    def follow(self, agent: int, names: Sequence[str], now: Mapping[str, Any]) -> list[str]:
        """Put an agent's named live fields back on the engine's values (``now``), after a refused change;
        returns the fields that moved. A value the agent's other settings no longer fit raises ConfigError."""
        moved = []
        for name in names:
            key = field_info(name).key
            if key in now and self.configs[agent].get(key) != now[key]:
                self.configs[agent] = self.configs[agent].with_overrides({key: now[key]})
                moved.append(key)
        return moved
