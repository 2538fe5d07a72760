"""Runs that differ only in seed, taken together: one group, its statistics over seeds, its mean curve.

Two runs belong together when their config.yaml files match once ``run.seed`` and
``run.out_dir`` are set aside. A group's figures are the ones ``bench time-to-solve``
prints (lab/stats.py): median, IQM and 95% bootstrap CI over seeds, with seeds that
never solved counted at the group's step budget.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lab.analysis.run_data import RunData
from lab.io import shown
from lab.stats import Spread, bootstrap_band, counted_at_cap, solve_statistics, spread

PER_SEED_KEYS = ("run.seed", "run.out_dir")
"""Config keys that differ between the seeds of one experiment and so do not split a group."""


@dataclass
class SeedGroup:
    """Runs of one configuration over several seeds."""

    label: str
    runs: list[RunData]
    settings: dict[str, Any] = field(default_factory=dict)
    """The shared config, flattened to dotted keys (empty when config.yaml was unreadable)."""

    @property
    def seeds(self) -> list[Any]:
        return [_flatten(run.config).get("run.seed", "?") for run in self.runs]


@dataclass(frozen=True)
class GroupStatistics:
    """Time to solve and final evaluation over a group's seeds; None where no run has the data."""

    solve_steps: Spread | None
    solve_seconds: Spread | None
    solved: int
    step_cap: float | None
    final_eval: Spread | None


def group_by_seed(runs: list[RunData]) -> list[SeedGroup]:
    """Group runs whose configs match apart from seed and output folder, in the order first seen.

    A run whose config.yaml is missing or unreadable cannot be matched and stays alone.
    """
    groups: dict[str, SeedGroup] = {}
    for run in runs:
        settings = {k: v for k, v in _flatten(run.config).items() if k not in PER_SEED_KEYS}
        key = json.dumps(settings, sort_keys=True, default=str) if settings else f"alone:{run.path}"
        groups.setdefault(key, SeedGroup(label="", runs=[], settings=settings)).runs.append(run)
    result = list(groups.values())
    for group, label in zip(result, _labels(result)):
        group.label = label
    return result


def group_statistics(group: SeedGroup) -> GroupStatistics:
    """Steps and seconds to solve (unsolved at the cap) and final evaluation mean, over the group's seeds.

    The step cap is the largest budget (``run.total_steps``, else the steps reached) in
    the group; the seconds cap is the longest any of its runs trained.
    """
    solves = [run.solved() for run in group.runs]
    steps = [step for step, _ in solves]
    budgets = [_number(_flatten(run.config).get("run.total_steps")) or float(run.env_steps()) for run in group.runs]
    step_cap = max(budgets, default=0.0)
    trained = [run.train_seconds() for run in group.runs]
    seconds_known = None not in trained and all(t is not None for step, t in solves if step is not None)
    steps_stats = solve_seconds = None
    if step_cap > 0 and seconds_known:
        solve = solve_statistics(steps, [t if step is not None else None for step, t in solves], step_cap=step_cap,
                                 seconds_cap=max(t for t in trained if t is not None))
        steps_stats, solve_seconds = solve.env_steps, solve.train_seconds
    elif step_cap > 0:
        steps_stats = spread(counted_at_cap(steps, step_cap))
    finals = [run.evaluations[-1]["mean_return"] for run in group.runs if run.evaluations]
    return GroupStatistics(solve_steps=steps_stats, solve_seconds=solve_seconds,
                           solved=sum(step is not None for step in steps), step_cap=step_cap or None,
                           final_eval=spread(finals) if finals else None)


def mean_curve(series: list[tuple[np.ndarray, np.ndarray]], exact_steps: bool,
               points: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, mean, and 95% bootstrap band of several seeds' curves on one env-step axis.

    Evaluation curves (``exact_steps``) keep every step any seed evaluated at; training
    curves are resampled onto ``points`` evenly spaced steps. Each seed counts only within
    the steps it reached, so a shorter run leaves the band rather than dragging the mean.
    """
    series = [(np.asarray(x, float), np.asarray(y, float)) for x, y in series if len(x)]
    if not series:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    if exact_steps:
        grid = np.unique(np.concatenate([x for x, _ in series]))
    else:
        grid = np.linspace(min(x[0] for x, _ in series), max(x[-1] for x, _ in series), points)
    curves = np.full((len(series), len(grid)), np.nan)
    for row, (x, y) in enumerate(series):
        inside = (grid >= x[0]) & (grid <= x[-1])
        curves[row, inside] = np.interp(grid[inside], x, y)
    mean, low, high = bootstrap_band(curves)
    return grid, mean, low, high


def _labels(groups: list[SeedGroup]) -> list[str]:
    """Name each group by the settings that set it apart, else by its runs' shared name."""
    known = [g for g in groups if g.settings]  # a run without a readable config is named after itself
    keys = sorted({k for g in known for k in g.settings})
    differing = [k for k in keys if len({json.dumps(g.settings.get(k), default=str) for g in known}) > 1]
    labels = []
    for index, group in enumerate(groups, start=1):
        if differing and group.settings:
            parts = [f"{k}={_short(group.settings.get(k))}" for k in differing[:3]]
            more = f" (+{len(differing) - 3} more)" if len(differing) > 3 else ""
            labels.append(", ".join(parts) + more)
        elif len(group.runs) == 1:
            labels.append(group.runs[0].name)
        else:
            prefix = os.path.commonprefix([run.name for run in group.runs]).rstrip("-_ .0123456789")
            prefix = prefix.removesuffix("seed").rstrip("-_ .")
            parents = {shown(run.path.resolve().parent.name) for run in group.runs}  # e.g. bench --out DIR/seedN
            labels.append(prefix or (parents.pop() if len(parents) == 1 else f"group {index}"))
    return labels


def _flatten(config: dict[str, Any]) -> dict[str, Any]:
    return {f"{section}.{key}": value for section, values in config.items() if isinstance(values, dict)
            for key, value in values.items()}


def _short(value: Any) -> str:
    text = "missing" if value is None else json.dumps(value, default=str) if isinstance(value, (list, dict)) \
        else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)
