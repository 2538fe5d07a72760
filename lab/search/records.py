"""What a search stored about its file, compared with the file given now: one comparison for sweep, tune and evolve.

A search that goes on in a folder or study it started before must be the same search:
each stores a record of what defines it (plans, space, base config, settings) and a re-run
compares its own record with the stored one, naming the first difference in words. Without
``--out``, a re-run finds the latest results folder of the same search (``results_folder``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ABSENT = "<absent>"


def normalise(data: Any) -> Any:
    """A JSON round trip, so tuples and lists compare equal to what was saved."""
    return json.loads(json.dumps(data))


def first_difference(saved: Any, record: Any, prefix: str = "") -> str | None:
    """``key: stored X, file Y`` for the first dotted key whose values differ, or None when all agree."""
    for key, old, new in flat_pairs(normalise(saved), normalise(record), prefix):
        if old != new:
            return f"{key}: stored {old!r}, file {new!r}"
    return None


def flat_pairs(old: Any, new: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted key, stored value, new value) for every leaf of two nested mappings; a missing key is ABSENT."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from flat_pairs(old.get(key, ABSENT), new.get(key, ABSENT), f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), old, new


def parameter_records(parameters: Any) -> dict[str, Any]:
    """Each searched parameter by name: its config field and its domain (kind and bounds or values)."""
    import dataclasses

    return normalise({p.name: {"key": p.key, "domain": type(p.domain).__name__.lower(),
                               **dataclasses.asdict(p.domain)} for p in parameters})


def results_folder(root: Path, name: str, same: Callable[[Path], bool], fresh: bool = False) -> Path:
    """The latest ``root/<timestamp>_<name>`` folder for which ``same(folder)`` holds (to resume it), unless
    ``fresh``; else a new timestamped one."""
    if not fresh:
        for folder in sorted(root.glob(f"*_{name}"), reverse=True):
            if same(folder):
                return folder
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder, k = root / f"{stamp}_{name}", 1
    while folder.exists():
        k += 1
        folder = root / f"{stamp}-{k}_{name}"
    return folder
