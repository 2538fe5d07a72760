"""Which configs may train together as the agents of one engine, checked before anything is built.

Agents share one batched update, so the fields marked ``shared`` in lab/config.py (network
shapes, batch and buffer size, envs per agent, n-step, the loop's rhythm) must match;
learning rates, tau, noise, gamma, policy delay, seeds, shaping and budgets may differ.
Two agents may share a seed only when their configs differ (a sweep's grid points often
do); with the same config too they would be the same agent twice, which is refused. The
memory the K agents need is estimated here too, before any folder is made.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from lab.config import Config, ConfigError, network_bytes, physical_memory, shared_fields
from lab.lander import ACT_DIM, OBS_DIM

MAX_AGENTS = 256
REPLAY_BYTES = 4 * (2 * OBS_DIM + ACT_DIM + 1) + 2
"""Bytes per stored transition: two observations, an action and a reward in float32, a flag and a step count."""
TREE_BYTES = 2 * 2 * 8
"""Bytes per transition of a prioritized agent's SumTree (about two float64 nodes per leaf)."""


def check_agent_count(value: Any, name: str = "agents", why: str = "") -> int:
    """A number of agents trained together: an integer from 1 to MAX_AGENTS (``why`` says what it counts)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_AGENTS:
        raise ConfigError(f"{name}={value!r} is invalid: allowed an integer from 1 to {MAX_AGENTS}{why}")
    return value


def member_configs(config: Config, seeds: Sequence[int] | None = None,
                   configs: Sequence[Config] | None = None) -> list[Config]:
    """One Config per agent, checked; from a base config and seeds, or given outright."""
    if configs is None:
        if seeds is None:
            seeds = [config.run.seed]
        seeds = list(seeds)
        bad = [s for s in seeds if not isinstance(s, numbers.Integral) or isinstance(s, bool) or not 0 <= s < 2**31]
        if bad:
            raise ConfigError(f"seed {bad[0]!r} is invalid: allowed integers in [0, {2**31 - 1}]")
        configs = [config.with_overrides({"run.seed": int(s)}) for s in seeds]
    configs = list(configs)
    check_agent_count(len(configs), why=" (one per seed or config of the population)")
    seen: dict[int, list[int]] = {}
    for k, c in enumerate(configs):
        twin = next((j for j in seen.get(c.run.seed, []) if configs[j] == c), None)
        if twin is not None:  # same config and seed: two identical agents; a sweep's points may share a seed
            raise ConfigError(f"seed {c.run.seed} is repeated (agents {twin} and {k}): "
                              "each agent of a population needs its own seed")
        seen.setdefault(c.run.seed, []).append(k)
    first = configs[0]
    for k, c in enumerate(configs):
        for f in shared_fields():
            if c.get(f.key) != first.get(f.key):
                raise ConfigError(f"agent {k} has {f.key}={c.get(f.key)!r} but agent 0 has {first.get(f.key)!r}: "
                                  f"agents of one population must share {f.key} (group members by shape into "
                                  "separate populations)")
    check_memory(configs)
    return configs


def memory_bytes(config: Config, agents: int) -> int:
    """What `agents` agents of this config hold in memory: networks with targets, gradients and Adam, and replay."""
    t = config.training
    per_transition = REPLAY_BYTES + (TREE_BYTES if t.use_per else 0)
    return agents * (network_bytes(config.network) + t.buffer_size * per_transition)


def check_memory(configs: Sequence[Config]) -> None:
    """Refuse K agents that would not fit in this machine's memory, with the estimate, before anything is built."""
    need, have = memory_bytes(configs[0], len(configs)), physical_memory()
    if need > have:
        raise ConfigError(f"agents={len(configs)} is invalid with network.actor_hidden="
                          f"{list(configs[0].network.actor_hidden)}, network.critic_hidden="
                          f"{list(configs[0].network.critic_hidden)} and training.buffer_size="
                          f"{configs[0].training.buffer_size:,}: allowed populations that fit in memory; "
                          f"{len(configs)} agents would need about {need / 2**30:,.1f} GiB and this machine has "
                          f"{have / 2**30:,.1f} GiB")
