"""What ``python -m lab train --seeds ...`` runs: one population, one run folder per seed, one progress bar.

Not a command of its own (lab.cli lists the commands): lab/commands/train.py calls it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from lab.config import Config


def train_seeds(config: Config, seeds: Sequence[int], out: str | Path | None = None, name: str = "fast",
                progress: bool = True, resume: str | Path | None = None, clips: bool = False) -> int:
    """Train config once per seed in one process; prints the population's summary; returns an exit code.

    ``clips`` keeps each agent's evaluation clips in its own run folder, as ``lab train`` does for one run.
    """
    from lab.train.population import Population
    from lab.train.progress import PopulationProgress

    population = Population(config, seeds=list(seeds), run_dir=out, name=name, resume=resume)
    if clips:
        from lab.render.clips import attach_clip_recorders

        attach_clip_recorders(population)
    if progress:
        total = sum(m.config.run.total_steps for m in population.members)
        initial = sum(m.env_step for m in population.members)
        population.events.subscribe(PopulationProgress(total, population.agents, initial=initial))
    print(f"population folder: {population.run_dir} ({population.agents} agents, seeds "
          f"{', '.join(str(s) for s in seeds)})")
    from lab.commands.train import print_resume_changes

    print_resume_changes(population.resume_changes)
    try:
        summary = population.fit()
    finally:
        population.close()
    print(json.dumps(summary, indent=2))
    for member in summary["members"]:
        if member["state"] == "failed":
            print(f"error: agent {member['agent']} (seed {member['seed']}) failed: {member['error']}", file=sys.stderr)
        for warning in member["warnings"]:
            print(f"warning: agent {member['agent']} (seed {member['seed']}): {warning}", file=sys.stderr)
    return 0 if summary["state"] in ("finished", "stopped") and not summary["failed"] else 1
