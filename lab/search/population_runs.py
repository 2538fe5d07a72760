"""Sweep runs that can share one batched update, trained as one lab.Population instead of one by one.

With ``lab sweep --population K`` a worker takes up to K queued runs whose configs
``lab.train.members.member_configs`` accepts together (same network, batch size,
buffer, envs per agent...: the fields lab/config.py marks shared) and trains them in one
process as one Population. A run that fits no group (another network shape, for one) trains alone,
exactly as without the flag.

Which runs train together is planned from the plan order (``plan_groups``), so a re-run
forms the same populations and a population's checkpoint resumes. Inside the sweep folder::

    runs/population_001-002-003/     the Population's folder: population.pt (its checkpoint),
                                     summary.json, sweep_runs.json (its runs, in agent order)
        agent0_seed0/ ...            one ordinary run folder per member
    runs/run_001 -> population_001-002-003/agent0_seed0     every run keeps its runs/run_NNN

Each member's result is read back from its own run folder into the same record a lone run
writes (run_NNN_results.json). Seeds: a sweep's points usually share one seed (a grid of
learning rates with seed 0). Members may share a seed when their configs differ, and each
then starts from the same weights and episodes it would have alone; two identical configs
with one seed are refused by member_configs, so they land in different populations.
time_to_solve_seconds counts the population's training seconds, which its members share.
"""

from __future__ import annotations

import json
import os
import shutil
import traceback
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lab.config import Config, ConfigError
from lab.events import EpisodeEnded, Evaluated
from lab.io import atomic_write_json
from lab.search.processes import stop_requested
from lab.search.space import RunPlan

MEMBERS_FILE = "sweep_runs.json"
"""In a population's folder: the sweep runs it trains, in agent order."""
POPULATION_CHECKPOINT = "population.pt"
"""lab.train.population.POPULATION_FILE, named here so planning a sweep imports no torch."""

Log = Callable[[str], None]


def check_population_size(size: Any) -> int:
    """``--population`` must be an integer from 1 (every run alone, the default) to a population's agent limit."""
    from lab.train.members import check_agent_count

    return check_agent_count(size, "--population", " (the most queued runs one worker trains together as one "
                                                   "population; 1 trains each run alone)")


# ---- planning -----------------------------------------------------------------------------------
def plan_groups(plans: Sequence[RunPlan], size: int) -> dict[int, tuple[int, ...]]:
    """Each run's planned population: in plan order, up to ``size`` runs that member_configs accepts together.

    A run no population accepts (alone it is refused, e.g. use_per) gets a group of its own.
    member_configs compares every agent with agent 0 and refuses twins (same config, same
    seed), so a newcomer is checked with a group's first run and against the group's configs;
    checking the whole group each time would cost K^2 comparisons per run.
    """
    groups: dict[int, tuple[int, ...]] = {}
    filling: list[tuple[Config, set[str], list[int]]] = []  # first config, every config's key, runs

    def close(runs: list[int]) -> None:
        for run in runs:
            groups[run] = tuple(runs)

    for plan in plans:
        key = json.dumps(plan.config.to_dict(), sort_keys=True)
        home = next((g for g in filling if key not in g[1] and _trainable_together([g[0], plan.config])), None)
        if home is None:
            if size == 1 or not _trainable_together([plan.config]):
                close([plan.index])  # trains alone
                continue
            home = (plan.config, set(), [])
            filling.append(home)
        home[1].add(key)
        home[2].append(plan.index)
        if len(home[2]) == size:
            close(home[2])
            filling = [g for g in filling if g is not home]
    for _, _, runs in filling:
        close(runs)
    return groups


def _trainable_together(configs: list[Config]) -> bool:
    from lab.train.members import member_configs

    try:
        member_configs(configs[0], configs=configs)
    except ConfigError:
        return False
    return True


# ---- progress on disk ---------------------------------------------------------------------------
def population_dir(runs_dir: Path, runs: Sequence[int]) -> Path:
    """runs/population_001-002-003: named by its runs, so the same runs find their checkpoint again."""
    names = "-".join(f"{r:03d}" for r in runs)
    if len(names) > 120:  # a big population: keep the name short enough for any file system
        names = f"{runs[0]:03d}-{runs[-1]:03d}x{len(runs)}_{zlib.crc32(names.encode()):08x}"
    return runs_dir / f"population_{names}"


def _run_dir(folder: Path, run: int) -> Path:
    return folder / "runs" / f"run_{run:03d}"


def has_own_checkpoint(folder: Path, run: int) -> bool:
    """A lone attempt of this run left a checkpoint: it resumes alone, as without --population."""
    path = _run_dir(folder, run)
    return not path.is_symlink() and (path / "checkpoint.pt").is_file()


def saved_population(folder: Path, run: int) -> list[int] | None:
    """The runs of the checkpointed population this run's folder belongs to, in agent order; else None."""
    link = _run_dir(folder, run)
    if not link.is_symlink():
        return None
    home = (link.parent / os.readlink(link)).parent
    if not (home / POPULATION_CHECKPOINT).is_file():
        return None
    runs = population_members(home)
    return runs if runs and run in runs else None


def population_members(home: Path) -> list[int] | None:
    try:
        runs = json.loads((home / MEMBERS_FILE).read_text(encoding="utf-8"))["runs"]
        return [int(r) for r in runs]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def wanted_runs(folder: Path, run: int, groups: Mapping[int, tuple[int, ...]]) -> list[int]:
    """Whom to train this run with: its checkpointed population (to resume it), else its planned one
    without the runs whose progress lives elsewhere (they resume where it is when their turn comes)."""
    if has_own_checkpoint(folder, run):
        return [run]
    saved = saved_population(folder, run)
    if saved:
        return saved
    return [r for r in groups.get(run, (run,))
            if r == run or not (has_own_checkpoint(folder, r) or saved_population(folder, r))]


def takeable_runs(study: Any, folder: Path) -> set[int]:
    """Queued runs a worker may take now: not those of a checkpointed population while a partner still runs.

    A dead worker's trials go stale one by one (each beats on its own), so the first one queued again
    would otherwise be taken alone, splitting its population and starting every member over.
    """
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING))
    running = {t.user_attrs.get("run") for t in trials if t.state == TrialState.RUNNING}
    waiting = {int(t.user_attrs["run"]) for t in trials if t.state == TrialState.WAITING and "run" in t.user_attrs}
    if not running:  # the usual case: no folder need be read
        return waiting
    return {r for r in waiting if not running & (set(saved_population(folder, r) or ()) - {r})}


def claim_partners(study: Any, trial: Any, folder: Path, groups: Mapping[int, tuple[int, ...]]) -> list[Any]:
    """The taken trial and whichever of its wanted partners are still queued (taken now), in agent order."""
    from lab.search.storage import pop_waiting

    run = int(trial.user_attrs["run"])
    taken = []
    for r in wanted_runs(folder, run, groups):
        partner = trial if r == run else pop_waiting(study, runs={r})
        if partner is not None:
            taken.append(partner)
    return taken


# ---- training -----------------------------------------------------------------------------------
class _Stops:
    """Stops a member at its episode budget, and the whole population on a stop request (SIGTERM, Ctrl-C)."""

    def __init__(self, population: Any, episodes: int | None) -> None:
        self.population, self.episodes = population, episodes
        self.interrupted = False

    def __call__(self, tagged: Any) -> None:
        event = tagged.event
        if not isinstance(event, (EpisodeEnded, Evaluated)):
            return
        if stop_requested() and not self.interrupted:
            self.interrupted = True
            self.population.stop(wait=False)  # we are on the training thread: only set the flag
        if self.episodes is not None and isinstance(event, EpisodeEnded) and event.episode >= self.episodes:
            self.population.stop(agent=tagged.agent)


def train_population(tasks: Sequence[dict[str, Any]], log: Log,
                     before_write: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """Train planned runs (sweep tasks, see lab.search.sweep._task) as one Population; save each run's record.

    before_write is called just before each results file is written (a TrialLease's check: a worker whose
    runs were taken from it ends there, writing nothing more).

    Resumes from the population's checkpoint when these same runs left one. A stop request
    raises KeyboardInterrupt after the population checkpointed, so the sweep queues its runs again.
    """
    from lab.checkpoint import CheckpointError
    from lab.search.runner import folder_result

    runs = [int(t["run"]) for t in tasks]
    runs_dir = Path(tasks[0]["run_dir"]).parent
    home = population_dir(runs_dir, runs)
    configs = [Config.from_dict(t["config"]) for t in tasks]
    checkpoint = home / POPULATION_CHECKPOINT
    resume = checkpoint if checkpoint.is_file() and population_members(home) == runs else None
    if home.exists() and resume is None:  # killed before its first checkpoint: start again from nothing
        shutil.rmtree(home)
    log(f"population of {len(runs)} runs ({', '.join(f'{r:03d}' for r in runs)}) in {home}"
        + (f", resumed from {checkpoint.name}" if resume else ""))
    population, error = None, None
    summary: dict[str, Any] = {"state": "failed", "members": [_empty_summary() for _ in runs]}
    try:
        try:
            population = _open(configs, home, resume, runs, tasks)
        except CheckpointError:
            if resume is None:
                raise
            shutil.rmtree(home)  # an unreadable checkpoint: the population starts over instead
            resume = None
            population = _open(configs, home, None, runs, tasks)
        stops = _Stops(population, tasks[0]["episodes"])
        population.events.subscribe(stops)
        summary = population.fit()
    except Exception as exc:  # noqa: BLE001 - one bad population must not end a whole sweep
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        if population is not None:
            summary = population.summary()
    finally:
        if population is not None:
            population.close()
    if summary["state"] == "stopped" or (error is not None and stop_requested()):  # its env worker saw Ctrl-C too
        raise KeyboardInterrupt(f"population {home} was interrupted")
    status = "failed" if error else "finished"
    records = []
    for task, config, counters in zip(tasks, configs, summary["members"]):
        result = folder_result(status, error, {**counters, "run_dir": task["run_dir"]}, task["run_dir"],
                               config.env.success_threshold)
        record = {"run": task["run"], "params": task["params"], **result,
                  "resumed_from": str(resume) if resume else None, "config": task["config"]}
        if before_write is not None:
            before_write()
        atomic_write_json(task["results"], record)
        records.append(record)
    return records


def _open(configs: list[Config], home: Path, resume: Path | None, runs: list[int],
          tasks: Sequence[dict[str, Any]]) -> Any:
    """The Population, its member list written down and each runs/run_NNN pointing at its member's folder."""
    from lab.train.population import Population

    population = Population(configs=configs, run_dir=home, name=home.name, resume=resume)
    atomic_write_json(home / MEMBERS_FILE, {"runs": runs})
    for task, member in zip(tasks, population.members):
        link_run_folder(Path(task["run_dir"]), member.run_dir)
    return population


def link_run_folder(link: Path, target: Path) -> None:
    """Point runs/run_NNN at a member's folder; a temp link renamed over the old one, so the swap is atomic."""
    if link.is_dir() and not link.is_symlink():  # a lone attempt killed before its first checkpoint
        shutil.rmtree(link)
    temp = link.with_name(f".{link.name}.link")
    temp.unlink(missing_ok=True)
    temp.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)
    os.replace(temp, link)


def _empty_summary() -> dict[str, Any]:
    return {"env_step": 0, "episodes": 0, "updates": 0, "train_seconds": 0.0, "steps_per_second": 0.0}
