"""population.pt: every agent's learner, optimizer, counters, random streams and (optionally) replay.

The file holds all K agents in their places, frozen ones too, so a resume rebuilds the
same population; each agent's run folder also gets its policy.pt and summary.json, as
an ordinary run's does. Only the population that wrote a file (same seeds, same network)
may resume from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.checkpoint import CheckpointError, save_policy
from lab.config import Config
from lab.io import atomic_write_json
from lab.population.learner import PopulationTD3
from lab.population.live import set_learner_values
from lab.population.members import Member
from lab.population.replay import StackedReplayBuffer


def population_state(members: list[Member], learner: PopulationTD3, buffer: StackedReplayBuffer, epoch: int,
                     train_seconds: float) -> dict[str, Any]:
    """What population.pt holds (the replay buffers only with run.save_replay)."""
    first = members[0].config
    data: dict[str, Any] = {
        "kind": "population",
        "configs": [m.config.to_dict() for m in members],
        "network": first.to_dict()["network"],
        "actor": learner.actor_state(),
        "learner": learner.state_dict(),
        "members": [m.counters() for m in members],
        "schedule_overrides": [dict(m.schedule_overrides) for m in members],
        "numpy_rng": [m.rng.bit_generator.state for m in members],
        "noise": [torch.from_numpy(np.array(m.noise.state, dtype=np.float64)) for m in members],
        "epoch": epoch, "train_seconds": train_seconds,
    }
    if first.run.save_replay:
        data["replay"] = [buffer.agent_state(m.index) for m in members]
    return data


def write_agent_files(members: list[Member], learner: PopulationTD3, train_seconds: float, state: str) -> None:
    """Each agent's policy.pt and summary.json in its run folder, next to the population's checkpoint."""
    for m in members:
        if m.logger:
            save_policy(learner.agent_actor(m.index), m.run_dir / "policy.pt", m.config.network,
                        {"env_step": m.env_step, "agent": m.index, "seed": m.seed})
            atomic_write_json(m.run_dir / "summary.json", {**m.summary(train_seconds), "state": state})


def restore_population(path: str | Path, data: dict[str, Any], members: list[Member], learner: PopulationTD3,
                       buffer: StackedReplayBuffer) -> tuple[int, float]:
    """Restore every agent from a population checkpoint; returns (epoch, train_seconds)."""
    saved = [Config.from_dict(c) for c in data["configs"]]
    seeds, mine = [c.run.seed for c in saved], [m.seed for m in members]
    if seeds != mine:
        raise CheckpointError(f"population checkpoint {str(path)!r} holds seeds {seeds}, this population has "
                              f"seeds {mine}")
    if saved[0].network != members[0].config.network:
        raise CheckpointError(f"population checkpoint {str(path)!r} is incompatible: its network "
                              f"{saved[0].network} differs from the config's {members[0].config.network}")
    learner.load_state_dict(data["learner"])
    for m, counters, overrides, rng, noise in zip(members, data["members"], data["schedule_overrides"],
                                                  data["numpy_rng"], data["noise"]):
        m.restore(counters)
        m.schedule_overrides = dict(overrides)
        m.rng.bit_generator.state = rng
        m.noise.state[:] = noise.numpy()
        set_learner_values(m, learner)  # the given configs rule live values, as in Trainer
    if "replay" in data:
        for k, agent_state in enumerate(data["replay"]):
            buffer.load_agent_state(k, agent_state)
    return int(data["epoch"]), float(data["train_seconds"])


def resume_steps(data: dict[str, Any], agents: int) -> list[int | None]:
    """Each agent's env_step in a population checkpoint: its run folder keeps the log lines up to there."""
    members = data["members"]
    if len(members) != agents:
        seeds = [c["run"]["seed"] for c in data["configs"]]
        raise CheckpointError(f"the population checkpoint holds {len(members)} agents (seeds {seeds}), this "
                              f"population has {agents}: resume with the checkpoint's seeds")
    return [int(m["env_step"]) for m in members]
