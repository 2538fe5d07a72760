"""Checkpoint and policy files: written atomically, read with weights_only (no arbitrary unpickling).

A checkpoint holds everything needed to resume; a policy file holds only the
actor and its shape, small enough to share.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

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
    net = (dataclasses.asdict(network) if dataclasses.is_dataclass(network) and not isinstance(network, type)
           else dict(network))
    net = {k: list(v) if isinstance(v, tuple) else v for k, v in net.items()}
    state = {k: v.detach().cpu().clone() for k, v in actor_module.state_dict().items()}
    return write_checkpoint_file(path, {"kind": "policy", "network": net, "actor": state,
                                        "obs_dim": actor_module.obs_dim, "act_dim": actor_module.act_dim,
                                        **(metadata or {})})
