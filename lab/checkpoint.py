"""Checkpoint and policy files: written atomically, read with weights_only (no arbitrary unpickling).

A checkpoint holds everything needed to resume (its schema is ``training_checkpoint``
and ``restore_training_checkpoint`` below); a policy file holds only the actor and
its shape, small enough to share.
"""

from __future__ import annotations

import io
import pickle
import random
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.io import atomic_write

FORMAT_VERSION = 1
KINDS = ("checkpoint", "policy")


class CheckpointError(ValueError):
    """A checkpoint or policy file is missing, truncated, corrupt or incompatible."""


def write_checkpoint_file(path: str | Path, data: dict[str, Any]) -> Path:
    """Serialise to memory first, then write atomically: a crash never leaves half a file."""
    buffer = io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **data}, buffer)
    return atomic_write(path, lambda fh: fh.write(buffer.getbuffer()))


def read_checkpoint_file(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Load and check a file written by write_checkpoint_file; every failure names the file and why."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if path.is_dir():
        for name in ("checkpoint.pt", "policy.pt"):
            if (path / name).exists():
                return read_checkpoint_file(path / name, kind)
        raise CheckpointError(f"folder {str(path)!r} holds no checkpoint.pt or policy.pt")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {str(path)!r} is empty")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated or corrupt: {exc}") from exc
    if not isinstance(data, dict) or "format_version" not in data:
        raise CheckpointError(f"checkpoint {str(path)!r} was not written by Lander Lab")
    if data["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {str(path)!r} has format {data['format_version']}, "
                              f"this version reads format {FORMAT_VERSION}")
    if kind is not None and data.get("kind") != kind:
        raise CheckpointError(f"{str(path)!r} is a {data.get('kind')} file, expected a {kind} file")
    for key in ("actor", "network"):
        if key not in data:
            raise CheckpointError(f"checkpoint {str(path)!r} is incompatible: it has no {key!r} entry")
    return data


def save_policy(actor: Any, path: str | Path, network: Any = None, metadata: dict[str, Any] | None = None) -> Path:
    """Write a policy-only file from an Actor, a Policy made from one, or a TD3 agent."""
    import dataclasses

    actor_module = getattr(actor, "actor", actor)
    if not isinstance(actor_module, torch.nn.Module):
        raise TypeError(f"cannot save {actor!r} as a policy file: it has no torch actor "
                        "(the heuristic and plain callables cannot be saved)")
    if network is None:
        network = getattr(actor_module, "network_config", None)
    if network is None:
        raise ValueError("save_policy needs the NetworkConfig of the actor")
    net = dataclasses.asdict(network) if dataclasses.is_dataclass(network) else dict(network)
    net = {k: list(v) if isinstance(v, tuple) else v for k, v in net.items()}
    state = {k: v.detach().cpu().clone() for k, v in actor_module.state_dict().items()}
    return write_checkpoint_file(path, {"kind": "policy", "network": net, "actor": state,
                                        "obs_dim": actor_module.obs_dim, "act_dim": actor_module.act_dim,
                                        **(metadata or {})})


# ---- what a training checkpoint holds ------------------------------------------------------------
SECTIONS = ("config", "agent", "counters", "schedule_overrides", "rng", "noise")


@dataclass
class RunProgress:
    """How far a run has come: the counters a checkpoint restores. A fresh run starts from RunProgress()."""

    env_step: int = 0
    episodes: int = 0
    epoch: int = 0
    """Checkpoint boundaries passed; env reset seeds derive from it."""
    train_seconds: float = 0.0
    update_debt: float = 0.0
    best_eval: float | None = None
    solved_at: tuple[int, float] | None = None
    schedule_overrides: dict[str, float] = field(default_factory=dict)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python and torch; the returned generator drives exploration (a checkpoint saves all three)."""
    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def training_checkpoint(config: Any, agent: Any, progress: RunProgress, rng: np.random.Generator,
                        noise_state: np.ndarray, replay: dict[str, Any] | None = None) -> dict[str, Any]:
    """The contents of checkpoint.pt: learner, counters, every RNG and the noise state (and the replay buffer)."""
    version, internal, gauss = random.getstate()
    data: dict[str, Any] = {
        "kind": "checkpoint",
        "config": config.to_dict(),
        "network": config.to_dict()["network"],
        "actor": agent.actor.state_dict(),
        "agent": agent.state_dict(),
        "counters": {"env_step": progress.env_step, "episodes": progress.episodes, "epoch": progress.epoch,
                     "train_seconds": progress.train_seconds, "update_debt": progress.update_debt,
                     "best_eval": progress.best_eval, "solved_at": list(progress.solved_at or [])},
        "schedule_overrides": dict(progress.schedule_overrides),
        "rng": {"torch": torch.get_rng_state(), "numpy": rng.bit_generator.state,
                "python": [version, list(internal), gauss]},
        "noise": torch.from_numpy(np.array(noise_state, dtype=np.float64)),
        "env_step": progress.env_step,
    }
    if replay is not None:
        data["replay"] = replay
    return data


def restore_training_checkpoint(path: str | Path, config: Any, agent: Any, rng: np.random.Generator,
                                noise_state: np.ndarray, buffer: Any) -> RunProgress:
    """Load a checkpoint into the learner, RNGs, noise and buffer; the given config rules (it must fit)."""
    from lab.config import Config

    data = read_checkpoint_file(path, kind="checkpoint")
    where = f"checkpoint {str(path)!r}"
    missing = [name for name in SECTIONS if name not in data]
    if missing:
        raise CheckpointError(f"{where} is incompatible: it has no {', '.join(map(repr, missing))} section")
    saved = Config.from_dict(data["config"])
    if saved.network != config.network:
        raise CheckpointError(f"{where} is incompatible: its network {saved.network} "
                              f"differs from the config's {config.network}")
    if saved.env.num_envs != config.env.num_envs:
        raise CheckpointError(f"{where} is incompatible: it has env.num_envs={saved.env.num_envs}, "
                              f"the config asks for {config.env.num_envs}")
    if "replay" in data and (saved.training.buffer_size, saved.training.use_per) != (
            config.training.buffer_size, config.training.use_per):
        raise CheckpointError(f"{where} is incompatible: its replay buffer has "
                              f"buffer_size={saved.training.buffer_size}, use_per={saved.training.use_per}")
    agent.load_state_dict(data["agent"])
    c = data["counters"]
    solved = (int(c["solved_at"][0]), float(c["solved_at"][1])) if c["solved_at"] else None
    progress = RunProgress(int(c["env_step"]), int(c["episodes"]), int(c["epoch"]), float(c["train_seconds"]),
                           float(c["update_debt"]), c["best_eval"], solved, dict(data["schedule_overrides"]))
    torch.set_rng_state(data["rng"]["torch"])
    rng.bit_generator.state = data["rng"]["numpy"]
    version, internal, gauss = data["rng"]["python"]
    random.setstate((version, tuple(internal), gauss))
    noise_state[:] = data["noise"].numpy()
    if "replay" in data:
        buffer.load_state_dict(data["replay"])
    return progress
