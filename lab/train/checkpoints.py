"""What a training checkpoint holds, and how a resume checks and restores it: one schema for every K.

A single run's ``checkpoint.pt`` and a population's ``population.pt`` are the same record of
K agent slots (kind "checkpoint" for a run of one, "population" for K): every agent's config,
the batched learner (weights, targets, Adam moments, settings, random streams), each slot's
counters and state, each explorer's random stream, noise and touchdown-cut draws, the epoch
and training seconds, and with run.save_replay the replay. Its "actor" entry is what policy
readers take: agent 0's actor for a run of one, the stacked actors for a population.

A resume keeps what cannot change under a trained agent (its seed, network, envs, replay
layout); any other field the given config sets differently is a change recorded at the
resume step, as a live change would be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.agents.replay import ReplayBuffer
from lab.agents.td3 import TD3
from lab.checkpoint import FORMAT_VERSION, TRAINING_SECTIONS, CheckpointError, read_checkpoint_file
from lab.config import RETIRED_TAG, Config, ConfigError
from lab.rollout.collector import Explorer
from lab.train.slot import AgentSlot

FIXED_ON_RESUME = ("run.seed", "network.actor_hidden", "network.critic_hidden", "network.layer_norm",
                   "network.activation", "env.env_id", "env.num_envs", "training.buffer_size", "training.use_per")
"""Fields a resumed agent keeps: its identity, the shapes of its weights and envs, the layout of its replay."""


def checkpoint_state(slots: list[AgentSlot], learner: TD3, explorers: list[Explorer], buffer: ReplayBuffer,
                     epoch: int, train_seconds: float, population: bool) -> dict[str, Any]:
    """The contents of checkpoint.pt (population False, one agent) or population.pt."""
    configs = [m.config.to_dict() for m in slots]
    learner_state = learner.state_dict()
    actor = learner_state["actor"] if population else learner.agent_modules(0)[0].state_dict()
    data: dict[str, Any] = {
        "kind": "population" if population else "checkpoint",
        "configs": configs, "network": configs[0]["network"], "actor": actor, "learner": learner_state,
        "agents": [m.counters() for m in slots],
        "explorers": [{"rng": e.rng.bit_generator.state,
                       "noise": torch.from_numpy(np.array(e.noise.state, dtype=np.float64)),
                       "cutting": torch.from_numpy(e.cut.cutting.copy())} for e in explorers],
        "epoch": epoch, "train_seconds": train_seconds, "env_step": slots[0].env_step,
    }
    if not population:
        data["config"] = configs[0]  # a run of one: its config and critic, as readers of checkpoint.pt expect
        data["critic"] = learner.agent_modules(0)[1].state_dict()
    if slots[0].config.run.save_replay:
        data["replay"] = [buffer.agent_state(m.index) for m in slots]
    return data


def read_training_checkpoint(path: str | Path, population: bool) -> dict[str, Any]:
    """A checkpoint this engine can resume from, or one line saying why not."""
    kind = "population" if population else "checkpoint"
    data = read_checkpoint_file(path, kind=kind)
    if data["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {str(path)!r} was written by an earlier version of the lab (format "
                              f"{data['format_version']}): its policy still loads for eval, watch and gif, but "
                              f"training resumes only from format {FORMAT_VERSION} (the git tag {RETIRED_TAG} "
                              "resumes it)")
    missing = [name for name in TRAINING_SECTIONS if name not in data]
    if missing:
        raise CheckpointError(f"checkpoint {str(path)!r} is incompatible: it has no {missing[0]!r} section")
    return data


def saved_configs(path: str | Path, data: dict[str, Any]) -> list[Config]:
    try:
        return [Config.from_dict(c) for c in data["configs"]]
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} holds a config this version cannot read: {exc}") from None


def resume_changes(path: str | Path, saved: list[Config], given: list[Config]) -> list[dict[str, tuple[Any, Any]]]:
    """Per agent, the fields the given configs change (old, new); a change of a FIXED_ON_RESUME field is refused."""
    where = f"checkpoint {str(path)!r}"
    if len(saved) != len(given):
        seeds = [c.run.seed for c in saved]
        raise CheckpointError(f"{where} holds {len(saved)} agents (seeds {seeds}), this run has {len(given)}: "
                              "resume with the checkpoint's seeds")
    changes = []
    for k, (old, new) in enumerate(zip(saved, given)):
        diff = old.differences(new)
        fixed = [key for key in FIXED_ON_RESUME if key in diff]
        if fixed:
            who = f"agent {k} of {where}" if len(saved) > 1 else where
            raise CheckpointError(f"{fixed[0]}={diff[fixed[0]][1]!r} differs from {who}, which has "
                                  f"{diff[fixed[0]][0]!r}: a resumed agent keeps its {fixed[0]} (drop the override, "
                                  "or start a new run)")
        changes.append(diff)
    return changes


def restore(path: str | Path, data: dict[str, Any], slots: list[AgentSlot], learner: TD3, explorers: list[Explorer],
            buffer: ReplayBuffer) -> tuple[int, float]:
    """Load every agent's learner rows, counters, exploration state and (if saved) replay; returns (epoch, seconds).

    Call it after the envs were reset for the new episodes, so the explorers' saved draws stand.
    """
    learner.load_state_dict(data["learner"])
    for m, counters in zip(slots, data["agents"]):
        m.restore(counters)
    for explorer, saved in zip(explorers, data["explorers"]):
        explorer.rng.bit_generator.state = saved["rng"]
        explorer.noise.state[...] = saved["noise"].numpy()
        explorer.cut.cutting[...] = saved["cutting"].numpy()
    for k, agent_state in enumerate(data.get("replay", [])):
        try:
            buffer.load_agent_state(k, agent_state)
        except ValueError as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} is incompatible: {exc}") from None
    return int(data["epoch"]), float(data["train_seconds"])


def last_good_learner(path: Path) -> dict[str, Any] | None:
    """The learner state of the last checkpoint written, where a failed agent's last finite weights are."""
    if not path.exists():
        return None
    try:
        return read_checkpoint_file(path)["learner"]
    except (CheckpointError, KeyError):
        return None
