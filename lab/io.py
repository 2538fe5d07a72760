"""Atomic file writes: a reader never sees half a file, a crash never loses the old one."""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write through ``write(fileobj)`` into a temp file beside path, fsync, then rename over it."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"cannot write {str(path)!r}: folder {str(folder)!r} is not writable")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved file should read like any other
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays, enums and paths become plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class JsonlWriter:
    """Appends one JSON object per line, flushed each time so a crash loses at most one line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, default=_json_default) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL file, skipping a torn last line left by a crash."""
    rows: list[dict[str, Any]] = []
    path = Path(path)
    if not path.exists():
        return rows
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def read_json_or_yaml(path: str | Path, what: str, error: type[Exception] = ValueError) -> Any:
    """Parse a .json file as JSON and anything else as YAML.

    A missing path, a folder, unreadable or non-UTF-8 bytes, an empty file and a key given
    twice in one mapping all raise ``error`` naming the file: a hand-edited config that
    silently loses a value is worse than one that is refused.
    """
    import yaml

    path = Path(path)
    name = repr(str(path))
    if path.is_dir():
        raise error(f"{what} {name} is a folder, not a file")
    if not path.exists():
        raise error(f"{what} {name} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(f"{what} {name} cannot be read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {name} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
                    "save it as UTF-8") from exc
    fmt = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        data = (json.loads(text, object_pairs_hook=_refuse_duplicate_pairs) if fmt == "JSON"
                else yaml.load(text, Loader=_unique_key_loader()))  # noqa: S506 - a SafeLoader subclass
    except DuplicateKeyError as exc:
        raise error(f"{what} {name} gives key {exc.key!r} twice{exc.where}: keep one") from exc
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise error(f"{what} {name} is not valid {path.suffix[1:] or 'YAML'}: {exc}") from exc
    if data is None:
        raise error(f"{what} {name} is empty: write at least one section, or leave the file out")
    return data


class DuplicateKeyError(ValueError):
    """A mapping in a config or search file names the same key twice."""

    def __init__(self, key: Any, where: str = "") -> None:
        super().__init__(f"duplicate key {key!r}{where}")
        self.key, self.where = key, where


def _refuse_duplicate_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


@functools.cache
def _unique_key_loader() -> type:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """yaml.safe_load, except that a mapping may not repeat a key (PyYAML keeps the last one)."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, Hashable):
                    continue  # SafeLoader refuses it with its own message
                if key in seen:
                    raise DuplicateKeyError(key, f" (line {key_node.start_mark.line + 1})")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader

