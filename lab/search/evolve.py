"""Population-based training: N TD3 agents trained at once as one lab.Population, evolving hyperparameters.

Each generation every agent trains generation_steps / population env steps of its own
(lab.search.evolve_population), then all are evaluated on the same fixed seeds, and an
agent's mean return is its fitness. Selection is a tournament with elitism: the ``elite``
best survive untouched; every other agent meets ``tournament_size`` rivals and, if one of
them is fitter, becomes a copy of it (weights, targets and optimizer state) with mutated
hyperparameters, kept inside the search file's bounds. Each agent keeps its own replay
buffer (classic PBT) unless the file says ``shared_replay: true``.

Every generation ends with a commit (lab.search.evolve_folder): the population's checkpoint,
then lineage.json naming it, with the generation count and the selection RNG; then the elite's
files. Running the same command again resumes after the last committed generation, and asking
for more generations than a finished evolve ran continues it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from lab.config import SHARED, ConfigError, field_info, live_fields
from lab.search.space import Parameter, Range, SearchSpec, SpecError, format_params, load_spec

EVOLVE_KEYS = ("population", "generations", "generation_steps", "tournament_size", "elite", "perturb",
               "resample_probability", "shared_replay")
MUTABLE = tuple(field_info(name).key for name in ("actor_lr", "critic_lr", "sigma", "policy_delay"))
"""The live hyperparameters PBT evolves (a member's change is a live change of its slot between generations)."""
SHARED_BY_POPULATION = tuple(f.key for f in live_fields() if f.live == SHARED)
"""Live fields a population's agents share (one batch shape), so they cannot evolve: named in their refusal."""
DEFAULTS: dict[str, Any] = {"population": 4, "generations": 5, "generation_steps": 5000, "tournament_size": 2,
                            "elite": 1, "perturb": [0.8, 1.25], "resample_probability": 0.2, "shared_replay": False}

Log = Callable[[str], None]


# ---- the search file ------------------------------------------------------------------------------
def load_evolve_spec(path: str | Path) -> SearchSpec:
    spec = load_spec(path, kind="evolve", extra_keys=EVOLVE_KEYS)
    check_evolve_spec(spec)
    return spec


def settings(spec: SearchSpec) -> dict[str, Any]:
    return {**DEFAULTS, **spec.extra}


def check_evolve_spec(spec: SearchSpec) -> None:
    """Population settings, mutable parameters and the population's own rules, checked before any agent is built."""
    where, s = spec.source, settings(spec)
    n = s["population"]
    _int(where, "population", n, 2, 256)
    _int(where, "generations", s["generations"], 1, 1_000_000)
    _int(where, "generation_steps", s["generation_steps"], n, 10**9)
    _int(where, "tournament_size", s["tournament_size"], 1, n - 1)
    _int(where, "elite", s["elite"], 0, n - 1)
    perturb = s["perturb"]
    if not (isinstance(perturb, list) and perturb and all(_positive(f) for f in perturb)):
        raise SpecError(f"{where}: perturb={perturb!r} is invalid: allowed a list of positive factors, "
                        "e.g. [0.8, 1.25]")
    if not isinstance(s["shared_replay"], bool):
        raise SpecError(f"{where}: shared_replay={s['shared_replay']!r} is invalid: allowed true or false")
    p = s["resample_probability"]
    if not (_number(p) and 0.0 <= p <= 1.0):
        raise SpecError(f"{where}: resample_probability={p!r} is invalid: allowed a number in [0, 1]")
    for param in spec.parameters:
        if param.key in SHARED_BY_POPULATION:
            raise SpecError(f"{where}: parameter {param.name!r} ({param.key}) cannot evolve: the agents train as "
                            "one population and share one batch shape; drop it from parameters (set it in "
                            "overrides)")
        if param.key not in MUTABLE:
            raise SpecError(f"{where}: parameter {param.name!r} ({param.key}) cannot evolve: allowed "
                            f"{', '.join(MUTABLE)}")
    _check_population_config(spec)


def _check_population_config(spec: SearchSpec) -> None:
    """A config lab.Population refuses (seeds, shared shapes, memory) is refused here, in one line."""
    from lab.train.members import member_configs

    try:
        member_configs(spec.base, seeds=[spec.seed])
    except ConfigError as exc:
        raise SpecError(f"{spec.source}: evolve trains its agents as one population, which refuses this config: "
                        f"{exc}") from None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _positive(v: Any) -> bool:
    return _number(v) and v > 0


def _int(where: str, name: str, value: Any, lo: int, hi: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi):
        raise SpecError(f"{where}: {name}={value!r} is invalid: allowed an integer in [{lo}, {hi}]")


# ---- selection and mutation (pure: numbers in, decisions out) ---------------------------------
@dataclass(frozen=True)
class Offspring:
    """What one slot holds next generation: a copy of ``parent`` (itself when it survived), with these values."""

    parent: int
    hyperparameters: dict[str, Any]
    mutations: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def next_generation(fitness: list[float], hyperparameters: list[dict[str, Any]], parameters: tuple[Parameter, ...],
                    rng: np.random.Generator, tournament_size: int = 2, elite: int = 1,
                    perturb: tuple[float, ...] = (0.8, 1.25), resample_probability: float = 0.2) -> list[Offspring]:
    """Tournament selection with elitism, then mutation of every replaced slot."""
    n = len(fitness)
    order = sorted(range(n), key=lambda i: -fitness[i])
    elites = set(order[:elite])
    out = []
    for i in range(n):
        if i in elites:
            out.append(Offspring(i, dict(hyperparameters[i])))
            continue
        rivals = rng.choice([j for j in range(n) if j != i], size=min(tournament_size, n - 1), replace=False)
        winner = max((int(j) for j in rivals), key=lambda j: fitness[j])
        if fitness[winner] <= fitness[i]:
            out.append(Offspring(i, dict(hyperparameters[i])))  # it beat its rivals: it survives as it is
            continue
        values, mutations = dict(hyperparameters[winner]), {}
        for p in parameters:
            old = values[p.name]
            values[p.name] = mutate(p, old, rng, perturb, resample_probability)
            if values[p.name] != old:
                mutations[p.name] = (old, values[p.name])
        out.append(Offspring(winner, values, mutations))
    return out


def mutate(p: Parameter, value: Any, rng: np.random.Generator, perturb: tuple[float, ...],
           resample_probability: float) -> Any:
    """Resample with resample_probability; else scale a number by a perturb factor and clip it to its bounds."""
    if rng.random() < resample_probability:
        return p.sample(rng)
    if isinstance(p.domain, Range):
        scaled = value * float(perturb[int(rng.integers(len(perturb)))])
        return p.domain.clip(float(f"{scaled:.4g}"))
    return value  # a choice changes only by resampling


# ---- the run ----------------------------------------------------------------------------------------
def run_evolve(spec: SearchSpec, folder: str | Path | None = None, log: Log = print) -> dict[str, Any]:
    """Evolve for the configured generations, resuming after the last generation ``folder`` committed.

    Every generation commits the population's checkpoint, lineage.json (generation count and selection RNG)
    and the elite's files, in that order, each atomically; a kill loses at most the generation under way.
    """
    from lab.search.evolve_folder import EvolveFolder, default_folder
    from lab.search.evolve_population import EvolvingPopulation
    from lab.search.processes import signals_held

    s = settings(spec)
    evolve_folder = EvolveFolder(Path(folder) if folder is not None else default_folder(spec), spec)
    with evolve_folder.locked():
        lineage = evolve_folder.load()
        done = len(lineage["generations"]) if lineage else 0
        if lineage is not None and done >= s["generations"]:
            evolve_folder.check_elite(lineage)
            log(f"evolve {spec.name!r} already ran {done} generation(s) in {evolve_folder.path}: nothing to do "
                "(ask for more with --generations)")
            return evolve_folder.result(lineage)
        pop = EvolvingPopulation(spec, s, None if lineage is None else evolve_folder.resume_state(lineage))
        try:
            if lineage is None:
                lineage = evolve_folder.new_lineage(s, pop)
            else:
                lineage["settings"] = s
                evolve_folder.save_elite(pop, lineage["elite"])  # the commit may have ended before the elite
                log(f"resuming {evolve_folder.path} after generation {done} of {s['generations']}")
            started = time.perf_counter() - (lineage["generations"][-1]["seconds"] if done else 0.0)
            for g in range(done + 1, s["generations"] + 1):
                pop.train_generation(g)
                _generation(spec, s, pop, lineage, g, time.perf_counter() - started,
                            partial(evolve_folder.elite_record, pop, generation=g))
                with signals_held():  # a stop signal waits for the generation's files, then stops
                    evolve_folder.commit(pop, lineage, g)
                    evolve_folder.save_elite(pop, lineage["elite"])
                best = lineage["generations"][-1]["best"]
                log(f"generation {g}: best {best['fitness']:.1f} (agent {best['agent']}: "
                    f"{format_params(lineage['elite']['hyperparameters'])}), mean "
                    f"{lineage['generations'][-1]['mean_fitness']:.1f}, {pop.env_step} env steps")
        finally:
            pop.close()
    log(f"elite policy: {lineage['elite']['policy']} (python -m lab watch {lineage['elite']['policy']})")
    return evolve_folder.result(lineage)


def _generation(spec: SearchSpec, s: dict[str, Any], pop: Any, lineage: dict[str, Any], g: int,
                seconds: float, elite_record: Callable[[int, float], dict[str, Any]]) -> None:
    """Evaluate the trained generation, record it with its elite, then select and mutate (also after the last,
    so a longer evolve can go on from the committed state)."""
    fitness = pop.evaluate()
    slots = pop.slots
    best = int(np.argmax(fitness))
    record: dict[str, Any] = {
        "generation": g, "env_step": pop.env_step, "seconds": round(seconds, 2),
        "members": [{"slot": i, "agent": m.id, "fitness": fitness[i], "hyperparameters": dict(m.hyperparameters)}
                    for i, m in enumerate(slots)],
        "best": {"slot": best, "agent": slots[best].id, "fitness": fitness[best]},
        "mean_fitness": float(np.mean(fitness))}
    lineage["elite"] = elite_record(best, fitness[best])
    offspring = next_generation(fitness, [m.hyperparameters for m in slots], spec.parameters, pop.rng,
                                s["tournament_size"], s["elite"], tuple(s["perturb"]), s["resample_probability"])
    parents = pop.replace(offspring)
    record["next"] = []
    for i, (m, o) in enumerate(zip(pop.slots, offspring)):
        copied = o.parent != i
        if copied:
            lineage["agents"][str(m.id)] = {"parent": parents[i], "born": g, "slot": i,
                                            "hyperparameters": dict(m.hyperparameters)}
        record["next"].append({"slot": i, "agent": m.id, "parent": parents[i] if copied else None,
                               "mutations": {k: list(v) for k, v in o.mutations.items()}})
    lineage["generations"].append(record)
