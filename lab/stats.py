"""Statistics over seeds that an RL reviewer accepts (Agarwal et al. 2021, "Deep RL at the Edge of the
Statistical Precipice").

A handful of seeds is too few for a mean to mean much: one lucky or unlucky seed moves
it. So each measure is reported as the median, the interquartile mean (IQM: the mean of
the middle half, robust to outliers yet using more data than the median) and a 95%
stratified-bootstrap confidence interval of the IQM. Time to solve is censored: a seed
that never solved is counted at the cap, so failures make the figures worse instead of
vanishing from them.

The resampling is scipy's (``scipy.stats.bootstrap``, percentile intervals as in the
paper's ``rliable`` library) and the IQM is ``scipy.stats.trim_mean(x, 0.25)``; both are
deterministic given ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

CONFIDENCE = 0.95
RESAMPLES = 10_000
"""Bootstrap resamples; 10,000 keeps the interval's ends stable to well under a percent."""


def iqm(values: Sequence[float] | np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Interquartile mean: drop the lowest and highest quarter, average the rest."""
    return scipy_stats.trim_mean(np.asarray(values, dtype=float), 0.25, axis=axis)


def stratified_bootstrap_ci(strata: Sequence[Sequence[float]], confidence: float = CONFIDENCE,
                            resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float] | None:
    """Percentile confidence interval of the IQM of all values pooled, resampling seeds within each stratum.

    A stratum is one task (one environment); resampling within it keeps every task's
    share fixed, as the paper prescribes. With one task this is the plain bootstrap over
    seeds. None when there are fewer than two values in all: one seed has no spread.
    """
    samples = [np.asarray(s, dtype=float) for s in strata if len(s)]
    _check_finite(samples)
    if sum(len(s) for s in samples) < 2:
        return None
    if all(np.all(s == samples[0][0]) for s in samples):
        value = float(samples[0][0])  # no spread: scipy would warn of degenerate data
        return value, value
    singletons = [s for s in samples if len(s) < 2]
    resampled = [s for s in samples if len(s) >= 2]
    fixed = np.concatenate(singletons) if singletons else np.zeros(0)
    if not resampled:  # one seed per task: every resample is the data itself
        value = float(iqm(fixed))
        return value, value

    def pooled_iqm(*groups: np.ndarray, axis: int = -1) -> np.ndarray:
        shape = groups[0].shape[:-1] + (len(fixed),)
        return np.asarray(iqm(np.concatenate([*groups, np.broadcast_to(fixed, shape)], axis=-1), axis=-1))

    result = scipy_stats.bootstrap(tuple(resampled), pooled_iqm, n_resamples=resamples, vectorized=True,
                                   confidence_level=confidence, method="percentile",
                                   rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


@dataclass(frozen=True)
class Spread:
    """One measure over seeds: how many, median, IQM and the IQM's confidence interval."""

    n: int
    median: float
    iqm: float
    ci_low: float | None
    ci_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self, digits: int = 0) -> str:
        """'IQM [low, high]' for tables; the interval is left out for a single seed."""
        if self.ci_low is None or self.ci_high is None:
            return f"{self.iqm:,.{digits}f}"
        return f"{self.iqm:,.{digits}f} [{self.ci_low:,.{digits}f}, {self.ci_high:,.{digits}f}]"


def spread(values: Sequence[float], confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
           seed: int = 0) -> Spread:
    """Median, IQM and bootstrap CI of one measure over the seeds of one task."""
    if len(values) == 0:
        raise ValueError("no values to summarize: pass one value per seed")
    ci = stratified_bootstrap_ci([values], confidence, resamples, seed)
    return Spread(n=len(values), median=float(np.median(values)), iqm=float(iqm(values)),
                  ci_low=None if ci is None else ci[0], ci_high=None if ci is None else ci[1])


def counted_at_cap(values: Sequence[float | None], cap: float) -> list[float]:
    """Per-seed cost to solve, with seeds that never solved (None) counted at the cap."""
    if not math.isfinite(cap):
        raise ValueError(f"the cap must be a finite number, got {cap!r}")
    return [cap if v is None else float(v) for v in values]


@dataclass(frozen=True)
class SolveStatistics:
    """Env steps and training seconds to solve, over seeds, unsolved seeds counted at the caps."""

    seeds: int
    solved: int
    step_cap: float
    seconds_cap: float
    env_steps: Spread
    train_seconds: Spread

    def to_dict(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "solved": self.solved, "step_cap": self.step_cap,
                "seconds_cap": self.seconds_cap, "env_steps": self.env_steps.to_dict(),
                "train_seconds": self.train_seconds.to_dict()}


def solve_statistics(env_steps: Sequence[float | None], train_seconds: Sequence[float | None], step_cap: float,
                     seconds_cap: float, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                     seed: int = 0) -> SolveStatistics:
    """Summarize time to solve; a seed is unsolved when its steps (and seconds) are None."""
    if len(env_steps) != len(train_seconds):
        raise ValueError(f"{len(env_steps)} env-step values but {len(train_seconds)} training-second values: "
                         "pass one of each per seed")
    solved = sum(s is not None for s in env_steps)
    return SolveStatistics(
        seeds=len(env_steps), solved=solved, step_cap=step_cap, seconds_cap=seconds_cap,
        env_steps=spread(counted_at_cap(env_steps, step_cap), confidence, resamples, seed),
        train_seconds=spread(counted_at_cap(train_seconds, seconds_cap), confidence, resamples, seed))


def bootstrap_band(curves: np.ndarray, confidence: float = CONFIDENCE, resamples: int = 2_000,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean curve over seeds and a pointwise bootstrap band of the mean.

    ``curves`` is seeds x points with NaN where a seed has no value (it stopped earlier).
    Points with fewer than two seeds get the mean but no band (NaN ends). Points with the
    same seeds present are resampled together, so a band costs one bootstrap per pattern.
    """
    curves = np.asarray(curves, dtype=float)
    if curves.ndim != 2:
        raise ValueError(f"curves must be a 2-D array of seeds x points, got shape {curves.shape}")
    present = ~np.isnan(curves)
    counts = present.sum(axis=0)
    mean = np.full(curves.shape[1], np.nan)
    mean[counts > 0] = np.nansum(curves[:, counts > 0], axis=0) / counts[counts > 0]
    low, high = np.full_like(mean, np.nan), np.full_like(mean, np.nan)
    patterns: dict[bytes, list[int]] = {}
    for j in np.flatnonzero(counts >= 2):
        patterns.setdefault(present[:, j].tobytes(), []).append(int(j))
    for columns in patterns.values():
        block = curves[:, columns][present[:, columns[0]]]
        flat = np.all(block == block[0], axis=0)
        low[columns], high[columns] = block[0], block[0]  # no spread where all seeds agree
        varied = [c for c, f in zip(columns, flat) if not f]
        if varied:
            data = curves[:, varied][present[:, varied[0]]]
            result = scipy_stats.bootstrap((data,), np.mean, n_resamples=resamples, axis=0, vectorized=True,
                                           confidence_level=confidence, method="percentile",
                                           rng=np.random.default_rng(seed))
            low[varied], high[varied] = result.confidence_interval.low, result.confidence_interval.high
    return mean, low, high


def _check_finite(samples: list[np.ndarray]) -> None:
    for s in samples:
        bad = s[~np.isfinite(s)]
        if len(bad):
            raise ValueError(f"values must be finite numbers, got {bad[0]!r}: count unsolved seeds at the cap")
