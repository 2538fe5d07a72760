"""Files in and out: atomic writes (a reader never sees half a file, a crash never loses the old one),
strict config reading (no duplicate keys, no YAML aliases), and output files that replace only their own kind."""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import IO, Any

_TEMP_SUFFIX = ".tmp"
_active_temps: set[str] = set()
_active_lock = threading.Lock()


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write through ``write(fileobj)`` into a temp file beside path, fsync, then rename over it.

    Temp files left by an earlier write that was killed midway are removed first. An OSError
    (disk full, say) leaves the old file untouched and names the file being written.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"cannot write {str(path)!r}: {str(folder)!r} is a file, not a folder")
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {str(path)!r}: it is a folder, a file is needed")
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"cannot write {str(path)!r}: folder {str(folder)!r} is not writable")
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=_TEMP_SUFFIX, dir=folder)
    with _active_lock:
        _active_temps.add(tmp)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved file should read like any other
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise naming_file(exc, path) from exc
        raise
    finally:
        with _active_lock:
            _active_temps.discard(tmp)
    return path


def naming_file(exc: OSError, path: str | Path) -> OSError:
    """The same error with the file it concerns, so a message can say which file the disk refused."""
    if exc.filename is not None or exc.errno is None:
        return exc
    try:
        return type(exc)(exc.errno, exc.strerror, str(path))
    except TypeError:
        return exc


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Delete temp files of ``path`` whose writer died (SIGKILL, power loss) before renaming them.

    A temp name carries its writer's process id; one from a live process (or from a write
    still under way in this one) is left alone.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    prefix = f".{path.name}."
    removed: list[Path] = []
    try:
        names = [e.name for e in os.scandir(folder) if e.name.startswith(prefix) and e.name.endswith(_TEMP_SUFFIX)]
    except OSError:
        return removed
    for name in names:
        temp = folder / name
        pid, dash, _ = name[len(prefix):-len(_TEMP_SUFFIX)].partition("-")
        with _active_lock:
            if str(temp) in _active_temps:
                continue
        if dash and pid.isdigit() and int(pid) != os.getpid() and _process_alive(int(pid)):
            continue
        try:
            temp.unlink()
            removed.append(temp)
        except OSError:
            pass
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists but belongs to someone else
    return True


def shown(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """A path as text that always prints and encodes as UTF-8: a byte that is not UTF-8 shows as \\xff.

    Python keeps such bytes of a file name as lone surrogates, which a UTF-8 file or terminal refuses.
    """
    try:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    except TypeError:  # not a path at all (a file descriptor, say)
        return str(path)


_ESCAPED_BYTE = re.compile(r"(?<!\\)\\udc([89a-f][0-9a-f])")


def quoted(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """A path quoted for a one-line message, as ``repr`` quotes it (a newline shows as \\n), except that a
    byte that is not UTF-8 shows as \\xff rather than as Python's stand-in \\udcff."""
    try:
        text = os.fsdecode(path)
    except TypeError:
        text = str(path)
    return _ESCAPED_BYTE.sub(r"\\x\1", repr(text))


class ForeignFileError(FileExistsError):
    """An output would replace a file the lab did not write as that kind of output."""


HEAD_BYTES = 4096
"""How far into an existing output file its marker is looked for."""


def check_replaceable(path: str | Path, markers: tuple[bytes, ...], what: str, option: str = "--out") -> None:
    """Refuse to write ``what`` over an existing file unless its first bytes hold one of ``markers``.

    The lab writes a marker into each kind of output it may overwrite (a report, a comparison), so running
    a command again replaces its own earlier output while a checkpoint, a summary or a user's page named by
    mistake is never touched.
    """
    path = Path(path)
    if not path.exists():
        return
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {what} to {quoted(path)}: it is a folder, a file is needed")
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise naming_file(exc, path) from exc
    if not any(marker in head for marker in markers):
        raise ForeignFileError(f"{quoted(path)} exists and was not written by the lab as {what}: refusing to "
                               f"replace it; choose another {option} or move that file away")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


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
    """Appends one JSON object per line, flushed each time so a crash loses at most one line.

    A torn last line left by a crash is ended first, so the next record starts on a line of
    its own; a write that fails midway (disk full) is cut back so it leaves no torn line.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")
        if self._fh.tell() > 0 and not _ends_with_newline(self.path):
            self._fh.write(b"\n")
            self._fh.flush()

    def write(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, default=_json_default) + "\n").encode("utf-8")
        size = self._fh.tell()
        try:
            self._fh.write(line)
            self._fh.flush()
        except OSError as exc:
            self._cut_back(size)
            raise naming_file(exc, self.path) from exc

    def _cut_back(self, size: int) -> None:
        try:
            self._fh.close()  # drops what the failed flush left in the buffer
        except OSError:
            pass
        try:
            os.truncate(self.path, size)
        except OSError:
            pass
        self._fh = open(self.path, "ab")

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def read_jsonl(path: str | Path, on_skip: Callable[[int, str], None] | None = None) -> list[dict[str, Any]]:
    """Read a JSONL file line by line: a torn or undecodable line is skipped, never the whole file.

    ``on_skip(line_number, reason)`` hears about each skipped line so callers can say so.
    """
    rows: list[dict[str, Any]] = []
    path = Path(path)
    if not path.exists():
        return rows
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            reason = None
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                line, reason = "", "not UTF-8"
            if line:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    reason = "not valid JSON (a torn write?)"
                else:
                    if isinstance(record, dict):
                        rows.append(record)
                    else:
                        reason = f"a JSON {type(record).__name__}, not an object"
            if reason and on_skip is not None:
                on_skip(number, reason)
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
                else strict_yaml(text))
    except DuplicateKeyError as exc:
        raise error(f"{what} {name} gives key {exc.key!r} twice{exc.where}: keep one") from exc
    except AliasError as exc:
        raise error(f"{what} {name} {exc}") from exc
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise error(f"{what} {name} is not valid {path.suffix[1:] or 'YAML'}: {exc}") from exc
    if data is None:
        raise error(f"{what} {name} is empty: write at least one section, or leave the file out")
    return data


def strict_yaml(text: str) -> Any:
    """yaml.safe_load without repeated keys or aliases (DuplicateKeyError, AliasError), for files from elsewhere."""
    import yaml

    return yaml.load(text, Loader=_unique_key_loader())  # noqa: S506 - a SafeLoader subclass


class AliasError(ValueError):
    """A YAML alias (``*name``): refused before it is expanded, since nested aliases grow exponentially."""

    def __init__(self, anchor: str, line: int) -> None:
        super().__init__(f"uses the YAML alias *{anchor} (line {line}): aliases are refused, since a few lines of "
                         "nested aliases expand to gigabytes; write the value out in full")
        self.anchor, self.line = anchor, line


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
        """yaml.safe_load, except that a mapping may not repeat a key (PyYAML keeps the last one) and an alias
        is refused where it appears, before any node is built (a "billion laughs" file stays a few bytes)."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise AliasError(str(event.anchor), event.start_mark.line + 1)
            return super().compose_node(parent, index)

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

