"""Results as data: one JSON file per measurement under ``benchmarks/results/``.

A figure the README or the docs quote is read from such a file, so it is written once, says which command,
machine, date and commit produced it, and a newer measurement replaces it everywhere at once. A record holds
``kind`` (the bench subcommand), ``command`` (the exact command line), ``date``, ``commit``, ``machine``,
optional ``preset`` and ``note`` (what ran beside it), and ``results`` (the bench's own JSON output).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "benchmarks" / "results"
"""Where a checkout keeps its records (``--save`` writes under the current folder's benchmarks/results/)."""
REPORT_SEEDS = tuple(range(10))
"""The seeds a preset is judged on and reported with; never used to tune (tuning uses 20 and up)."""
SCHEMA = 1
MACHINE_KEYS = ("cpu", "cores", "gpu", "python", "torch")
_KIND = re.compile(r"^[a-z][a-z0-9-]*$")
_COMMIT = re.compile(r"^([0-9a-f]{7,40}|unknown)$")


class RecordError(ValueError):
    """A results file is not a valid record; the message names the file and the field."""


@dataclass(frozen=True)
class Record:
    """One measurement, as saved."""

    kind: str
    command: str
    date: str
    """ISO 8601 with a time zone, e.g. 2026-12-01T23:30:47+00:00; records sort by it."""
    commit: str
    machine: dict[str, Any]
    results: Any
    preset: str | None = None
    note: str | None = None
    dirty: bool = False
    """The checkout had uncommitted changes when it ran."""
    path: Path | None = field(default=None, compare=False)

    @property
    def day(self) -> str:
        return self.date[:10]

    @property
    def short_commit(self) -> str:
        return self.commit[:7] + ("+dirty" if self.dirty else "")

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "path"}
        order = ("kind", "preset", "command", "date", "commit", "dirty", "machine", "note", "results")
        return {"schema": SCHEMA, **{k: data[k] for k in order if data[k] is not None and data[k] is not False}}


def validate(data: Any, where: str = "record") -> Record:
    """The record in ``data``, or RecordError naming the field, its value and what is allowed."""
    if not isinstance(data, dict):
        raise RecordError(f"{where}: a results file must hold a JSON object, got {type(data).__name__}")
    schema = data.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise RecordError(f"{where}: schema={schema!r} is invalid: allowed {SCHEMA}")
    missing = [k for k in ("kind", "command", "date", "commit", "machine", "results") if k not in data]
    if missing:
        raise RecordError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = set(data) - {"schema", "kind", "command", "date", "commit", "machine", "results", "preset", "note",
                           "dirty"}
    if unknown:
        raise RecordError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    _check(where, "kind", data["kind"], isinstance(data["kind"], str) and bool(_KIND.match(data["kind"])),
           "a bench subcommand such as time-to-solve")
    _check(where, "command", data["command"], isinstance(data["command"], str) and data["command"].startswith(
        "python "), "the command line, starting with 'python '")
    _check(where, "date", data["date"], _is_iso_date(data["date"]), "an ISO 8601 date and time with a zone")
    _check(where, "commit", data["commit"], isinstance(data["commit"], str) and bool(_COMMIT.match(data["commit"])),
           "a git commit (7 to 40 hex digits) or 'unknown'")
    machine = data["machine"]
    _check(where, "machine", machine, isinstance(machine, dict) and set(MACHINE_KEYS) <= set(machine),
           f"an object with {', '.join(MACHINE_KEYS)}")
    for key in ("preset", "note"):
        if key in data:
            _check(where, key, data[key], isinstance(data[key], str) and bool(data[key]), "a non-empty string")
    if "dirty" in data:
        _check(where, "dirty", data["dirty"], isinstance(data["dirty"], bool), "true or false")
    return Record(kind=data["kind"], command=data["command"], date=data["date"], commit=data["commit"],
                  machine=dict(machine), results=data["results"], preset=data.get("preset"),
                  note=data.get("note"), dirty=data.get("dirty", False))


def _check(where: str, key: str, value: Any, ok: bool, allowed: str) -> None:
    if not ok:
        raise RecordError(f"{where}: {key}={value!r} is invalid: allowed {allowed}")


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def load(path: str | Path) -> Record:
    """Read and validate one results file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RecordError(f"results file {str(path)!r}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    record = validate(data, where=f"results file {str(path)!r}")
    return Record(**{**record.__dict__, "path": path})


def load_all(folder: str | Path = RESULTS_DIR) -> list[Record]:
    """Every record in the folder, oldest first (a missing folder has none)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    records = [load(path) for path in sorted(folder.glob("*.json"))]
    return sorted(records, key=lambda r: (datetime.fromisoformat(r.date), str(r.path)))


def newest(records: Iterable[Record], kind: str, preset: str | None = None,
           where: Callable[[Record], bool] | None = None) -> Record | None:
    """The latest record of that kind (and preset) that ``where`` accepts; None when there is none."""
    chosen = [r for r in records if r.kind == kind and (preset is None or r.preset == preset)
              and (where is None or where(r))]
    return max(chosen, key=lambda r: datetime.fromisoformat(r.date), default=None)


def is_report_check(record: Record) -> bool:
    """A plain time-to-solve of a preset on the report seeds: no overrides, one Trainer per seed."""
    results = record.results if isinstance(record.results, dict) else {}
    seeds = [row.get("seed") for row in results.get("seeds", []) if isinstance(row, dict)]
    return (record.kind == "time-to-solve" and tuple(seeds) == REPORT_SEEDS and not results.get("overrides")
            and not results.get("population"))


def save(record: Record, folder: str | Path = RESULTS_DIR) -> Path:
    """Write the record as a new file (never over another one), atomically; returns its path."""
    from lab.io import atomic_write_text

    validate(record.to_dict())
    folder = Path(folder)
    stamp = datetime.fromisoformat(record.date).astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    stem = "_".join(part for part in (stamp, record.kind, record.preset) if part)
    path = folder / f"{stem}.json"
    counter = 2
    while path.exists():
        path = folder / f"{stem}_{counter}.json"
        counter += 1
    return atomic_write_text(path, json.dumps(record.to_dict(), indent=2, ensure_ascii=False) + "\n")


# ---- what a new record says about where it ran ------------------------------------------------
def machine_info() -> dict[str, Any]:
    """CPU model, cores, GPU (or none), Python and torch versions of this machine."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {"cpu": _cpu_model(), "cores": os.cpu_count() or 1, "gpu": gpu, "python": platform.python_version(),
            "torch": torch.__version__}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_state(folder: Path = ROOT) -> tuple[str, bool]:
    """(HEAD's commit, whether tracked files differ from it); ('unknown', False) outside a git checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
    return commit, bool(status.strip())


def command_line(argv: list[str] | None = None) -> str:
    """How this process was started, as a reader would type it again."""
    argv = list(sys.argv if argv is None else argv)
    program = Path(argv[0]).name if argv else ""
    head = "python -m lab" if program in ("__main__.py", "lander-lab", "lab") else f"python {shlex.quote(argv[0])}"
    return " ".join([head, *(shlex.quote(a) for a in argv[1:])])


def new_record(kind: str, results: Any, *, preset: str | None = None, note: str | None = None,
               command: str | None = None) -> Record:
    """A record of a measurement just taken on this machine, at this checkout's commit."""
    commit, dirty = git_state()
    return Record(kind=kind, command=command or command_line(), date=datetime.now(UTC).isoformat(timespec="seconds"),
                  commit=commit, machine=machine_info(), results=results, preset=preset, note=note or None,
                  dirty=dirty)


# ---- python -m lab bench ... --save -----------------------------------------------------------
def default_folder() -> Path:
    """This checkout's benchmarks/results/, or ./benchmarks/results when the lab is installed, not checked out."""
    return RESULTS_DIR if (ROOT / "pyproject.toml").is_file() else Path("benchmarks") / "results"


def add_save_arguments(subparsers: Any, always_json: Iterable[str] = ("analyzer",)) -> None:
    """``--save``, ``--save-dir`` and ``--note`` on every bench subcommand that can print JSON."""
    for name, parser in subparsers.choices.items():
        has_json = any("--json" in action.option_strings for action in parser._actions)
        if not (has_json or name in always_json):
            continue
        parser.add_argument("--save", action="store_true",
                            help="also save the JSON result as a new record under --save-dir (implies --json)")
        parser.add_argument("--save-dir", default=None, metavar="DIR",
                            help=f"where --save writes (default: {_shown(default_folder())})")
        parser.add_argument("--note", default=None, metavar="TEXT",
                            help="what else ran on the machine meanwhile, kept in the saved record")


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _Tee:
    """Writes to the terminal and keeps a copy, so the bench's own JSON output is both shown and saved."""

    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def run_and_save(handler: Callable[[Any], int], args: Any, kind: str) -> int:
    """Run one bench subcommand; with ``--save``, keep its JSON output as a record and say where."""
    import contextlib
    import io

    if not getattr(args, "save", False):
        return handler(args)
    if hasattr(args, "json"):
        args.json = True
    copy = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, copy)):  # type: ignore[type-var]
        code = handler(args)
    if code:
        return code
    try:
        results = json.loads(copy.getvalue())
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"bench {kind} --save: its output is not one JSON document ({exc.msg}); nothing saved") \
            from exc
    record = new_record(kind, results, preset=getattr(args, "preset", None), note=args.note)
    path = save(record, args.save_dir or default_folder())
    print(f"saved {path}", file=sys.stderr)
    return 0
