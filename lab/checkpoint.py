"""Checkpoint and policy files: written atomically, read with weights_only (no arbitrary unpickling).

A checkpoint holds everything needed to resume (its schema lives in lab.train.checkpoints);
a policy file holds only the actor and its shape, small enough to share.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.io import atomic_write

FORMAT_VERSION = 2
"""What this version writes: 2 since the one engine (a checkpoint holds K agent slots)."""
READABLE_VERSIONS = (1, 2)
"""Versions whose policies still load (eval, watch, gif); training resumes only from FORMAT_VERSION."""
KINDS = ("checkpoint", "population", "policy")
TRAINING_SECTIONS = ("configs", "learner", "agents", "explorers")
"""What a training checkpoint (one run's checkpoint.pt, or population.pt) holds beyond its policies:
lab.train.checkpoints writes and restores them."""
REQUIRED_SECTIONS: dict[str | None, tuple[str, ...]] = {
    None: ("actor", "network"),
    "policy": ("actor", "network"),
    "checkpoint": ("actor", "network"),
    "population": ("actor", "network", "configs"),
}
"""Entries without which a file of each kind cannot give its policies (resuming checks TRAINING_SECTIONS too)."""

CHECKSUM_KEY = "file_checksum"
_CHECKSUM_TAG = b"lander-lab sha256:"
_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_END = b"PK\x05\x06"  # the end-of-central-directory record, whose comment carries the checksum
_ZIP_END_SIZE = 22


class CheckpointError(ValueError):
    """A checkpoint or policy file is missing, truncated, corrupt or incompatible."""


def write_checkpoint_file(path: str | Path, data: dict[str, Any]) -> Path:
    """Serialise to memory first, then write atomically: a crash never leaves half a file.

    The sha256 of the torch file goes into its zip comment, where torch.load ignores it, so a
    flipped byte is caught on reading and the file still loads with plain torch.load.
    """
    buffer = io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **data, CHECKSUM_KEY: "sha256"}, buffer)
    view = buffer.getbuffer()
    if bytes(view[-_ZIP_END_SIZE:-_ZIP_END_SIZE + 4]) != _ZIP_END or bytes(view[-2:]) != b"\x00\x00":
        raise RuntimeError("torch.save wrote no plain zip end record; cannot add a checksum")
    comment = _CHECKSUM_TAG + hashlib.sha256(view).hexdigest().encode("ascii")

    def write(fh: Any) -> None:
        fh.write(view[:-2])
        fh.write(len(comment).to_bytes(2, "little") + comment)

    return atomic_write(path, write)


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
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise CheckpointError(f"checkpoint {str(path)!r} is empty")
    if not head.startswith(_ZIP_MAGIC):
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated or corrupt: it holds {_sniff(head)}, "
                              "not a PyTorch checkpoint")
    checksum = _verify_checksum(path, size)
    data = _torch_load(path)
    if not isinstance(data, dict) or "format_version" not in data:
        raise CheckpointError(f"checkpoint {str(path)!r} was not written by Lander Lab")
    if data.get(CHECKSUM_KEY) and checksum is None:  # it was written with one, which is now damaged
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated or corrupt: its checksum is missing")
    if data["format_version"] not in READABLE_VERSIONS:
        raise CheckpointError(f"checkpoint {str(path)!r} has format {data['format_version']}, "
                              f"this version reads formats {', '.join(map(str, READABLE_VERSIONS))}")
    if kind is not None and data.get("kind") != kind:
        raise CheckpointError(f"{str(path)!r} is a {data.get('kind')} file, expected a {kind} file")
    for key in REQUIRED_SECTIONS.get(kind, REQUIRED_SECTIONS[None]):
        if key not in data:
            raise CheckpointError(f"checkpoint {str(path)!r} is incompatible: it has no {key!r} entry")
    data.pop(CHECKSUM_KEY, None)
    return data


def _verify_checksum(path: Path, size: int) -> str | None:
    """The file's sha256 if its zip comment carries one and it matches; None for older files without one."""
    with open(path, "rb") as fh:
        fh.seek(max(0, size - _ZIP_END_SIZE - 2 * len(_CHECKSUM_TAG) - 64))
        tail = fh.read()
    at = tail.rfind(_CHECKSUM_TAG)
    if at < 0:
        return None
    expected = tail[at + len(_CHECKSUM_TAG):]
    comment_start = size - len(tail) + at
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        remaining = comment_start - 2  # everything before the comment-length field
        while remaining > 0:
            chunk = fh.read(min(remaining, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
    digest.update(b"\x00\x00")  # the comment length as torch.save wrote it
    if digest.hexdigest().encode("ascii") != expected:
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt: its sha256 checksum does not match its "
                              "contents (the file was damaged after it was written)")
    return expected.decode("ascii")


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" in str(exc):  # torch's refusal, whose text advises the unsafe way round
            unsafe = re.search(r"GLOBAL ([\w.]+)", str(exc))
            what = unsafe.group(1) if unsafe else "a Python object beyond tensors and plain data"
            raise CheckpointError(f"checkpoint {str(path)!r} is truncated or corrupt: it would call {what} when "
                                  "loaded, and is refused as unsafe") from None
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated or corrupt: {_first_line(exc)}") from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a damaged zip or pickle
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated or corrupt: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _sniff(head: bytes) -> str:
    """A few words on what a non-checkpoint file looks like, for the error message."""
    for magic, what in ((b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"), (b"\xff\xd8\xff", "a JPEG image"),
                        (b"%PDF", "a PDF document"), (b"\x1f\x8b", "gzip data"), (b"\x80", "a bare pickle")):
        if head.startswith(magic):
            return what
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut in two by the 512-byte read
            return "binary data of an unknown kind"
        text = head[:exc.start].decode("utf-8")
    first = text.lstrip()[:1]
    if first in "{[":
        return "JSON or other text"
    if ":" in text.split("\n", 1)[0]:
        return "YAML or other text"
    return "text"


def save_policy(actor: Any, path: str | Path, network: Any = None, metadata: dict[str, Any] | None = None,
                critic: Any = None) -> Path:
    """Write a policy-only file from an Actor, a Policy made from one, or a TD3 agent.

    ``critic`` (a TwinCritic) is stored as the file's "critic" entry, so the file can say what its
    agent values (``Policy.value``: the overlays and the value map); a Policy brings its own critic.
    """
    import dataclasses

    actor_module = getattr(actor, "actor", actor)
    if not isinstance(actor_module, torch.nn.Module):
        raise TypeError(f"cannot save {actor!r} as a policy file: it has no torch actor "
                        "(the heuristic and plain callables cannot be saved)")
    if critic is None:
        from lab.policy import Policy

        if isinstance(actor, Policy):  # a learner's live critic is saved only when asked for
            critic = actor.critic
    if critic is not None and not isinstance(critic, torch.nn.Module):
        raise TypeError(f"critic must be a torch module (lab.agents.networks.TwinCritic), got {type(critic).__name__}")
    if network is None:
        network = getattr(actor_module, "network_config", None)
    if network is None:
        raise ValueError("save_policy needs the NetworkConfig of the actor")
    net = (dataclasses.asdict(network) if dataclasses.is_dataclass(network) and not isinstance(network, type)
           else dict(network))
    net = {k: list(v) if isinstance(v, tuple) else v for k, v in net.items()}
    state = {k: v.detach().cpu().clone() for k, v in actor_module.state_dict().items()}
    extra = {} if critic is None else {"critic": {k: v.detach().cpu().clone() for k, v in critic.state_dict().items()}}
    return write_checkpoint_file(path, {"kind": "policy", "network": net, "actor": state,
                                        "obs_dim": actor_module.obs_dim, "act_dim": actor_module.act_dim,
                                        **extra, **(metadata or {})})


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python and torch; returns a numpy generator seeded alike (for searches that draw their own numbers)."""
    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)
