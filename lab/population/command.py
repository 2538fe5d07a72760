"""What ``python -m lab train --seeds ...`` runs: one population, one run folder per seed, one progress bar."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from lab.config import Config


def train_seeds(config: Config, seeds: Sequence[int], out: str | Path | None = None, name: str = "fast",
                progress: bool = True, resume: str | Path | None = None) -> int:
    """Train config once per seed in one process; prints the population's summary; returns an exit code."""
    from lab.population.progress import PopulationProgress
    from lab.population.trainer import Population

    population = Population(config, seeds=list(seeds), run_dir=out, name=name, resume=resume)
    if progress:
        total = sum(m.config.run.total_steps for m in population.members)
        initial = sum(m.env_step for m in population.members)
        population.events.subscribe(PopulationProgress(total, population.agents, initial=initial))
    print(f"population folder: {population.run_dir} ({population.agents} agents, seeds "
          f"{', '.join(str(s) for s in seeds)})")
    try:
        summary = population.fit()
    finally:
        population.close()
    print(json.dumps(summary, indent=2))
    return 0 if summary["state"] in ("finished", "stopped") else 1
