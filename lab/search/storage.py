"""Optuna storage shared by ``sweep`` and ``tune``: URLs, one-line errors, locks, heartbeats and retries.

Any number of processes, on one machine (SQLite) or many (PostgreSQL, MySQL), open
the same study. A worker records a heartbeat while it runs a trial; a trial whose
heartbeat stops for ``grace`` seconds (SIGKILL, a lost machine) is failed by the
next worker that looks, and put back in the queue once (RetryHeartbeatStaleTrialCallback).
The heartbeat itself is recorded by lab.search.lease, which also ends a worker whose trial was taken.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Container, Iterator
from pathlib import Path
from typing import Any

from lab.config import ConfigError

SCHEMES = ("sqlite", "postgresql", "mysql")
DEFAULT_HEARTBEAT = 10
DEFAULT_GRACE = 60
MAX_RETRY = 1
"""A run whose worker died is redone once; a second death marks it failed for good."""


class StorageError(ConfigError):
    """A storage URL that is malformed, unreachable or corrupt: one line, exit code 2."""


def storage_url(storage: str | None, folder: Path) -> str:
    """The storage URL to use: the given one (checked, see driver_url), or SQLite in the results folder."""
    if storage:
        check_url(storage)
        return driver_url(storage)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'optuna.db').resolve()}"


def check_url(url: str) -> None:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] not in SCHEMES or not rest:
        raise StorageError(f"--storage {url!r} is invalid: allowed sqlite:///PATH, postgresql://USER@HOST[:PORT]/DB "
                           f"or mysql://USER@HOST[:PORT]/DB (scheme {scheme.split('+')[0]!r} is not one of "
                           f"{', '.join(SCHEMES)})" if sep else
                           f"--storage {url!r} is invalid: a URL like sqlite:///PATH or postgresql://USER@HOST/DB "
                           "is needed")


def driver_url(url: str) -> str:
    """SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; say psycopg2 when only that driver is installed."""
    from importlib.util import find_spec

    scheme, sep, rest = url.partition("://")
    if scheme == "postgresql" and find_spec("psycopg") is None and find_spec("psycopg2") is not None:
        return f"postgresql+psycopg2://{rest}"
    return url


def shown(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a URL too broken to parse is shown as given
        return url


@contextlib.contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Turn SQLAlchemy's page-long tracebacks into one line naming the storage and what went wrong."""
    import sqlalchemy.exc

    try:
        yield
    except ModuleNotFoundError as exc:
        raise StorageError(f"storage {shown(url)} needs the Python driver {exc.name!r}: pip install "
                           "'lander-lab[postgres]' (psycopg2) or the driver for your database") from None
    except sqlalchemy.exc.ArgumentError as exc:
        raise StorageError(f"--storage {shown(url)} is invalid: {_first_line(exc)}") from None
    except sqlalchemy.exc.DatabaseError as exc:
        reason = _first_line(getattr(exc, "orig", None) or exc)
        if url.startswith("sqlite:///") and "not a database" in reason:
            raise StorageError(f"storage file {url[len('sqlite:///'):]} is corrupt ({reason}): move it away to "
                               "start a new study, or restore it from a backup") from None
        raise StorageError(f"cannot use storage {shown(url)}: {reason}") from None
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise StorageError(f"cannot use storage {shown(url)}: {_first_line(exc)}") from None


def _first_line(exc: Any) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("(") and ")" in line:  # "(psycopg2.OperationalError) connection ... failed"
            line = line.split(")", 1)[1].strip()
        if line:
            return line
    return type(exc).__name__


def open_storage(url: str, heartbeat: int | None = DEFAULT_HEARTBEAT, grace: int | None = DEFAULT_GRACE) -> Any:
    """An RDBStorage with heartbeats and one retry of a trial whose worker died."""
    import inspect
    import warnings

    import optuna
    from optuna.exceptions import ExperimentalWarning

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    kwargs: dict[str, Any] = {}
    warnings.filterwarnings("ignore", category=ExperimentalWarning, module="optuna")  # heartbeats: stable enough
    warnings.filterwarnings("ignore", message=".*(heartbeat|RetryHeartbeat|fail_stale).*", category=ExperimentalWarning)
    if heartbeat:
        retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or \
            optuna.storages.RetryFailedTrialCallback  # optuna < 4.9
        name = ("heartbeat_stale_trial_callback"
                if "heartbeat_stale_trial_callback" in inspect.signature(optuna.storages.RDBStorage).parameters
                else "failed_trial_callback")
        kwargs = {"heartbeat_interval": int(heartbeat), "grace_period": int(grace or 2 * heartbeat),
                  name: retry(max_retry=MAX_RETRY)}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)


@contextlib.contextmanager
def study_lock(url: str, study_name: str) -> Iterator[None]:
    """Serialise creating a study (and its queue) or counting its trials, across processes and machines."""
    if url.startswith("sqlite:///"):
        import fcntl

        with open(f"{url[len('sqlite:///'):]}.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    if url.startswith(("postgresql", "mysql")):
        import sqlalchemy

        key = zlib.crc32(f"lander-lab:{study_name}".encode())
        postgres = url.startswith("postgresql")
        lock = "SELECT pg_advisory_lock(:k)" if postgres else "SELECT GET_LOCK(:k, -1)"
        unlock = "SELECT pg_advisory_unlock(:k)" if postgres else "SELECT RELEASE_LOCK(:k)"
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect() as conn:  # the lock lives as long as this connection
                conn.execute(sqlalchemy.text(lock), {"k": key if postgres else str(key)})
                try:
                    yield
                finally:
                    conn.execute(sqlalchemy.text(unlock), {"k": key if postgres else str(key)})
        finally:
            engine.dispose()
        return
    yield  # other databases: no lock


# ---- trials ---------------------------------------------------------------------------------------
def fail_stale(study: Any) -> None:
    """Fail trials whose worker stopped beating; the retry callback queues each again once."""
    import warnings

    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import fail_stale_trials

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        fail_stale_trials(study)


def pop_waiting(study: Any, runs: Container[int] | None = None) -> Any | None:
    """Take one queued (WAITING) trial, of these sweep runs when given, or None; never creates a new one.

    The storage makes the take atomic.
    """
    import optuna
    from optuna.trial import TrialState

    for frozen in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        if runs is not None and frozen.user_attrs.get("run") not in runs:
            continue
        try:
            if study._storage.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING):
                beat_now(study, frozen._trial_id)
                return optuna.trial.Trial(study, frozen._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def beat_now(study: Any, trial_id: int) -> None:
    """Record a trial's first heartbeat the moment it is taken, not when its heartbeat thread first runs.

    Optuna fails as stale only RUNNING trials whose last beat is old; a worker killed between the take and
    its thread's first beat (seen on a loaded machine) left a RUNNING trial with no beat at all, which no
    later worker ever failed or re-queued, so every resumed sweep waited for it forever.
    """
    from optuna.storages._heartbeat import is_heartbeat_enabled

    if is_heartbeat_enabled(study._storage):
        study._storage.record_heartbeat(trial_id)


def running(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def retried_numbers(study: Any) -> set[int]:
    """Trials that died and were queued again: their copy stands in for them."""
    numbers: set[int] = set()
    for t in study.get_trials(deepcopy=False):
        numbers.update(t.system_attrs.get("retry_history", ()))
        if "requeued_from" in t.system_attrs:
            numbers.add(t.system_attrs["requeued_from"])
    return numbers


def requeue(study: Any, trial: Any) -> None:
    """Fail an interrupted trial and queue a copy (same parameters, same user attributes) to run again."""
    import optuna
    from optuna.trial import TrialState

    frozen = study._storage.get_trial(trial._trial_id)
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
        study.tell(trial, state=TrialState.FAIL)
    attrs = {k: v for k, v in frozen.system_attrs.items() if k in ("retry_history", "failed_trial", "fixed_params")}
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params=frozen.params, distributions=frozen.distributions,
        user_attrs={k: v for k, v in frozen.user_attrs.items() if k in ("run",)},
        system_attrs={**attrs, "requeued_from": frozen.number}))


def backend(study: Any) -> Any:
    """The study's RDBStorage itself, under Optuna's cache: it reads a trial's state from the database every time."""
    storage = study._storage
    return getattr(storage, "_backend", storage)
