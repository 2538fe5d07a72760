"""A lever screen: several config changes ("levers"), each trained on the same seeds, judged by env steps to solve.

Screening one lever at a time on five seeds costs five runs; screening six costs thirty.
Levers whose configs can share a population (the same network, batch and envs:
the fields lab/config.py marks shared) train together as one batched lab.Population, so
all their seeds share both cores, and an agent that solves leaves the batched work.
Each lever is then summarized like ``bench time-to-solve`` (solved count, median, IQM,
95% stratified-bootstrap CI), so levers are compared on the same seeds and statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lab.bench.solve import SolveResult, summarize_solves, time_to_solve_agents
from lab.config import Config, ConfigError, shared_fields
from lab.events import Evaluated


@dataclass(frozen=True)
class Lever:
    """A named set of dotted overrides on the screen's base config; no overrides is the baseline."""

    name: str
    overrides: tuple[str, ...] = ()


def parse_lever(tokens: Sequence[str]) -> Lever:
    """``NAME [KEY=VALUE ...]`` as given to ``--lever``."""
    if not tokens or "=" in tokens[0]:
        raise ConfigError(f"--lever {' '.join(tokens)!r} is invalid: allowed a name first, then KEY=VALUE "
                          "overrides (e.g. --lever shaping env.reward_shaping=true)")
    bad = [t for t in tokens[1:] if "=" not in t]
    if bad:
        raise ConfigError(f"--lever {tokens[0]}: {bad[0]!r} is not a KEY=VALUE override")
    return Lever(tokens[0], tuple(tokens[1:]))


def check_lever_names(levers: Sequence[Lever]) -> None:
    """Each lever's name once: results are reported by name."""
    names = [lever.name for lever in levers]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"lever name {repeated[0]!r} is given twice: allowed each name once")


def lever_configs(base: Config, levers: Sequence[Lever], seeds: Sequence[int]) -> dict[str, list[Config]]:
    """One config per lever and seed, checked: names unique, levers different."""
    check_lever_names(levers)
    configs: dict[str, list[Config]] = {}
    unseeded: dict[str, Config] = {}
    for lever in levers:
        config = base.with_overrides(list(lever.overrides))
        twin = next((name for name, other in unseeded.items() if other == config), None)
        if twin is not None:
            raise ConfigError(f"levers {twin} and {lever.name} give the same config: allowed levers that differ")
        unseeded[lever.name] = config
        configs[lever.name] = [config.with_overrides({"run.seed": seed}) for seed in seeds]
    return configs


def shape_groups(configs: dict[str, list[Config]]) -> list[list[str]]:
    """Lever names grouped so each group can train as one population (same shared fields), in given order."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for name, members in configs.items():
        key = tuple(repr(members[0].get(f.key)) for f in shared_fields())
        groups.setdefault(key, []).append(name)
    return list(groups.values())


def screen_levers(base: Config, levers: Sequence[Lever], seeds: Sequence[int], max_steps: int,
                  max_seconds: float, eval_every: int = 5_000, eval_episodes: int = 10, max_agents: int = 0,
                  threshold: float | None = None,
                  on_result: Callable[[str, SolveResult], None] | None = None,
                  on_evaluated: Callable[[str, int, Evaluated], None] | None = None) -> dict[str, list[SolveResult]]:
    """Every lever on every seed, each lever's results in seed order.

    Populations hold at most max_agents agents (0: a whole shape group). ``on_result`` hears each
    agent as it solves or runs out of time, and the rest when their population ends; ``on_evaluated``
    hears every evaluation with its lever and seed. Solved means an
    evaluation mean at or above threshold (default: the base config's env.success_threshold).
    """
    if not seeds:
        raise ValueError("no seeds given: allowed one or more seeds")
    configs = lever_configs(base, levers, seeds)
    goal = base.env.success_threshold if threshold is None else threshold
    results: dict[str, list[SolveResult]] = {name: [] for name in configs}
    for group in shape_groups(configs):
        agents = [(name, config) for name in group for config in configs[name]]
        size = max_agents or len(agents)
        for start in range(0, len(agents), size):
            batch = agents[start:start + size]
            heard: set[int] = set()

            def frozen(k: int, r: SolveResult, batch: list[tuple[str, Config]] = batch,
                       heard: set[int] = heard) -> None:
                heard.add(k)
                if on_result is not None:
                    on_result(batch[k][0], r)

            def evaluated(k: int, event: Evaluated, batch: list[tuple[str, Config]] = batch) -> None:
                if on_evaluated is not None:
                    on_evaluated(batch[k][0], batch[k][1].run.seed, event)

            solved = time_to_solve_agents([c for _, c in batch], max_steps, max_seconds, eval_every,
                                          eval_episodes, threshold=goal, on_frozen=frozen, on_evaluated=evaluated)
            for k, ((name, _), r) in enumerate(zip(batch, solved)):
                results[name].append(r)
                if on_result is not None and k not in heard:
                    on_result(name, r)
    return results


def summarize_levers(results: dict[str, list[SolveResult]], max_steps: int,
                     max_seconds: float) -> dict[str, dict[str, Any]]:
    """time-to-solve's statistics per lever."""
    return {name: summarize_solves(rs, max_steps, max_seconds) for name, rs in results.items()}
