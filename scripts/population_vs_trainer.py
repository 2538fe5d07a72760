"""A population of one against lab.Trainer, same config and seed, compared over seeds.

The two are not equal bit for bit (the population's Adam runs as _foreach ops and its actor as baddbmm,
so rounding drifts by an ulp and grows), so this checks they match in distribution: per seed, the first
training episode whose returns differ, the mean training return of the last 2,000 steps and the final
deterministic evaluation; then Wilcoxon signed-rank tests over seeds.

    PYTHONPATH=. python scripts/population_vs_trainer.py 12000 30,31,32,33,34
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
from scipy import stats

from lab.events import EpisodeEnded, Evaluated
from lab.presets import preset
from lab.train.population import AgentEvent, Population
from lab.train.trainer import Trainer


def run_both(seed: int, steps: int) -> dict[str, tuple[list[tuple[int, float]], list[float]]]:
    """Training episodes (env step, return) and evaluations of the Trainer and of a population of one."""
    cfg = preset("fast").with_overrides({"run.seed": seed, "run.total_steps": steps, "run.eval_every": steps,
                                         "run.checkpoint_every": 0, "run.analyze_episodes": False})
    curves: dict[str, tuple[list[tuple[int, float]], list[float]]] = {}
    for kind in ("trainer", "population"):
        episodes: list[tuple[int, float]] = []
        evaluations: list[float] = []

        def hear(event: Any, episodes: list[tuple[int, float]] = episodes,
                 evaluations: list[float] = evaluations) -> None:
            if isinstance(event, AgentEvent):
                event = event.event
            if isinstance(event, EpisodeEnded):
                episodes.append((event.env_step, event.raw_return))
            elif isinstance(event, Evaluated):
                evaluations.append(event.mean_return)

        runner: Trainer | Population = (Trainer(cfg, log_to_disk=False) if kind == "trainer"
                                        else Population(cfg, seeds=[seed], log_to_disk=False))
        runner.events.subscribe(hear)
        runner.fit()
        runner.close()
        curves[kind] = (episodes, evaluations)
    return curves


def late_return(episodes: list[tuple[int, float]], steps: int) -> float:
    return float(np.mean([r for s, r in episodes if s > steps - 2000] or [np.nan]))


def main(steps: int, seeds: list[int]) -> None:
    rows = []
    for seed in seeds:
        curves = run_both(seed, steps)
        (trainer_eps, trainer_evals), (pop_eps, pop_evals) = curves["trainer"], curves["population"]
        n = min(len(trainer_eps), len(pop_eps))
        first = next((i for i in range(n) if abs(trainer_eps[i][1] - pop_eps[i][1]) > 1e-3), None)
        row = {"seed": seed, "episodes": [len(trainer_eps), len(pop_eps)], "first_differing_episode": first,
               "late_train_return": [late_return(trainer_eps, steps), late_return(pop_eps, steps)],
               "final_eval": [trainer_evals[-1], pop_evals[-1]]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    for key in ("late_train_return", "final_eval"):
        trainer = np.array([r[key][0] for r in rows])
        population = np.array([r[key][1] for r in rows])
        p = stats.wilcoxon(trainer, population).pvalue if len(rows) > 1 else float("nan")
        print(f"{key}: trainer median {np.median(trainer):.1f}, population median {np.median(population):.1f}; "
              f"Wilcoxon signed-rank p = {p:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")])
