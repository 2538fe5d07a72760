"""Time to solve: how many env steps and seconds a config needs to land, over seeds.

Figures here are printed, never asserted in unit tests: these machines are noisy,
so quote medians and ratios measured in one invocation.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lab.config import Config
from lab.events import Evaluated
from lab.io import atomic_write_json
from lab.lander import SUCCESS_RETURN


# ---- time to solve ---------------------------------------------------------------------
@dataclass
class SolveResult:
    seed: int
    solved: bool
    env_steps: int
    train_seconds: float
    steps_per_second: float
    best_eval: float
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    """(env_step, train_seconds, eval mean) at each evaluation."""


def time_to_solve(config: Config, seed: int, max_steps: int, max_seconds: float, eval_every: int = 5_000,
                  eval_episodes: int = 10, threshold: float = SUCCESS_RETURN,
                  out_dir: str | None = None) -> SolveResult:
    """Train from scratch until the deterministic eval mean first reaches threshold, or a cap hits."""
    from lab.train.trainer import Trainer

    config = config.with_overrides({"run.seed": seed, "run.total_steps": max_steps, "run.eval_every": eval_every,
                                    "run.eval_episodes": eval_episodes, "run.checkpoint_every": 0})
    trainer = Trainer(config, run_dir=out_dir, name=f"bench-seed{seed}", log_to_disk=out_dir is not None)
    curve: list[tuple[int, float, float]] = []

    def on_eval(event: Evaluated) -> None:
        curve.append((event.env_step, event.train_seconds, event.mean_return))
        if event.mean_return >= threshold or event.train_seconds >= max_seconds:
            trainer.stop(wait=False)

    trainer.events.subscribe(on_eval, Evaluated)
    try:
        trainer.fit_or_raise()
    finally:
        trainer.close()
    solved = [c for c in curve if c[2] >= threshold]
    step, seconds = (solved[0][0], solved[0][1]) if solved else (trainer.env_step, trainer.train_seconds)
    return SolveResult(seed=seed, solved=bool(solved), env_steps=step, train_seconds=seconds,
                       steps_per_second=trainer.env_step / max(trainer.train_seconds, 1e-9),
                       best_eval=max((c[2] for c in curve), default=float("nan")), curve=curve)


def time_to_solve_seeds(config: Config, seeds: list[int], max_steps: int, max_seconds: float,
                        eval_every: int = 5_000, eval_episodes: int = 10, threshold: float = SUCCESS_RETURN,
                        out: str | None = None, parallel: int = 1,
                        on_result: Callable[[SolveResult], None] | None = None) -> list[SolveResult]:
    """``time_to_solve`` for each seed, ``parallel`` at a time in worker processes; results in seed order.

    Each seed trains exactly as it would alone (same config, one torch thread), so
    steps and returns match a sequential run; only the training seconds feel the
    neighbours. ``on_result`` hears each result as it finishes.
    """
    if not seeds:
        raise ValueError("no seeds given: allowed one or more seeds")
    if parallel < 1:
        raise ValueError(f"parallel={parallel} is invalid: allowed an integer >= 1")
    if parallel > 1 and config.run.torch_threads != 1:
        raise ValueError(f"run.torch_threads={config.run.torch_threads} cannot be used with parallel seeds: "
                         "each parallel seed trains on one torch thread (allowed: run.torch_threads=1)")
    jobs: list[dict[str, Any]] = [
        {"config": config.to_dict(), "seed": seed,
         "kwargs": {"max_steps": max_steps, "max_seconds": max_seconds, "eval_every": eval_every,
                    "eval_episodes": eval_episodes, "threshold": threshold,
                    "out_dir": None if out is None else f"{out}/seed{seed}"}} for seed in seeds]
    done: dict[int, SolveResult] = {}
    if parallel == 1 or len(seeds) == 1:
        for job in jobs:
            done[job["seed"]] = result = time_to_solve(config, job["seed"], **job["kwargs"])
            if on_result is not None:
                on_result(result)
    else:
        with tempfile.TemporaryDirectory(prefix="lab-bench-") as folder:
            for result in _run_workers(jobs, parallel, Path(folder)):
                done[result.seed] = result
                if on_result is not None:
                    on_result(result)
    return [done[s] for s in seeds]


def time_to_solve_population(config: Config, seeds: list[int], max_steps: int, max_seconds: float,
                             eval_every: int = 5_000, eval_episodes: int = 10, threshold: float = SUCCESS_RETURN,
                             out: str | None = None, on_result: Callable[[SolveResult], None] | None = None,
                             on_frozen: Callable[[SolveResult], None] | None = None) -> list[SolveResult]:
    """``time_to_solve`` for all seeds at once as one lab.Population; results in seed order.

    An agent that solves (or reaches max_seconds) is frozen: it stops acting and learning and
    leaves the batched work (its envs and its rows of the stacked update), so the others
    go on at the speed of a smaller population; ``on_frozen`` hears it. Its seconds are the
    population's shared training clock, so they are not comparable one to one with a seed
    trained alone.
    """
    if not seeds:
        raise ValueError("no seeds given: allowed one or more seeds")
    configs = [config.with_overrides({"run.seed": seed}) for seed in seeds]
    return time_to_solve_agents(configs, max_steps, max_seconds, eval_every, eval_episodes, threshold, out,
                                on_result, None if on_frozen is None else lambda _, r: on_frozen(r))


def time_to_solve_agents(configs: list[Config], max_steps: int, max_seconds: float, eval_every: int = 5_000,
                         eval_episodes: int = 10, threshold: float = SUCCESS_RETURN, out: str | None = None,
                         on_result: Callable[[SolveResult], None] | None = None,
                         on_frozen: Callable[[int, SolveResult], None] | None = None,
                         on_evaluated: Callable[[int, Evaluated], None] | None = None) -> list[SolveResult]:
    """``time_to_solve`` of agents that may differ in more than their seed (a lever screen), as one Population.

    The configs must be able to share a population (lab.train.members.SHARED_FIELDS); results
    come in the order of ``configs``; ``on_frozen`` hears an agent's index with its result, and
    ``on_evaluated`` with each of its evaluations (a long screen's sign of life).
    """
    from lab.train.engine import AgentEvent
    from lab.train.population import Population

    if not configs:
        raise ValueError("no agents given: allowed one or more configs")
    caps = {"run.total_steps": max_steps, "run.eval_every": eval_every, "run.eval_episodes": eval_episodes,
            "run.checkpoint_every": 0}
    configs = [c.with_overrides(caps) for c in configs]
    population = Population(configs=configs, run_dir=out, name="bench", log_to_disk=out is not None)
    curves: list[list[tuple[int, float, float]]] = [[] for _ in configs]
    frozen: dict[int, SolveResult] = {}

    def result(k: int) -> SolveResult:
        member, curve = population.members[k], curves[k]
        solved = [c for c in curve if c[2] >= threshold]
        step, seconds = (solved[0][0], solved[0][1]) if solved else (member.env_step, population.train_seconds)
        return SolveResult(seed=configs[k].run.seed, solved=bool(solved), env_steps=step, train_seconds=seconds,
                           steps_per_second=member.env_step / max(population.train_seconds, 1e-9),
                           best_eval=max((c[2] for c in curve), default=float("nan")), curve=list(curve))

    def on_agent_event(tagged: AgentEvent) -> None:
        event = tagged.event
        if not isinstance(event, Evaluated) or tagged.agent in frozen:
            return
        curves[tagged.agent].append((event.env_step, event.train_seconds, event.mean_return))
        if on_evaluated is not None:
            on_evaluated(tagged.agent, event)
        if event.mean_return >= threshold or event.train_seconds >= max_seconds:
            population.stop(agent=tagged.agent)  # frozen: its share of the work goes to the others
            frozen[tagged.agent] = result(tagged.agent)
            if on_frozen is not None:
                on_frozen(tagged.agent, frozen[tagged.agent])

    population.events.subscribe(on_agent_event, AgentEvent)
    try:
        population.fit_or_raise()  # a signal gives no result: its unsolved agents never reached the cap
    finally:
        population.close()
    results = [frozen.get(k) or result(k) for k in range(len(configs))]
    if on_result is not None:
        for r in results:
            on_result(r)
    return results


def _run_workers(jobs: list[dict[str, Any]], parallel: int, folder: Path) -> Iterator[SolveResult]:
    """Run each job as ``python -m lab.bench JOB RESULT``, at most ``parallel`` at once; yield as they finish.

    Plain subprocesses rather than a multiprocessing pool: nothing re-imports the caller's
    main module, and a failed seed stops its siblings, which are ours to end.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                       os.environ.get("PYTHONPATH")]))}
    waiting = list(jobs)
    running: dict[int, tuple[subprocess.Popen[bytes], Path, Path]] = {}
    try:
        while waiting or running:
            while waiting and len(running) < parallel:
                job = waiting.pop(0)
                seed = job["seed"]
                job_path, result_path, log_path = (folder / f"seed{seed}.{kind}" for kind in ("job.json",
                                                                                               "result.json", "log"))
                atomic_write_json(job_path, job)
                with open(log_path, "wb") as log:
                    process = subprocess.Popen([sys.executable, "-m", "lab.bench", str(job_path), str(result_path)],
                                               stdout=log, stderr=subprocess.STDOUT, env=env)
                running[seed] = (process, result_path, log_path)
            finished = [seed for seed, (process, _, _) in running.items() if process.poll() is not None]
            if not finished:
                time.sleep(0.05)
            for seed in finished:
                process, result_path, log_path = running.pop(seed)
                if process.returncode != 0 or not result_path.exists():
                    tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                    raise RuntimeError(f"seed {seed} failed in its worker process (exit {process.returncode}): "
                                       f"{tail[0]}")
                yield _result_from_json(json.loads(result_path.read_text()))
    finally:
        for process, _, _ in running.values():
            process.terminate()
        for process, _, _ in running.values():
            process.wait()


def _result_from_json(data: dict[str, Any]) -> SolveResult:
    return SolveResult(**{**data, "curve": [tuple(point) for point in data["curve"]]})


def _worker_main(job_path: str, result_path: str) -> None:
    """Entry point of one parallel seed: one torch thread, the job from JSON, the result to JSON."""
    from lab.signals import die_with_parent

    die_with_parent(os.getppid())  # a killed benchmark leaves no seed training on
    torch.set_num_threads(1)
    job = json.loads(Path(job_path).read_text())
    result = time_to_solve(Config.from_dict(job["config"]), job["seed"], **job["kwargs"])
    atomic_write_json(result_path, dataclasses.asdict(result))


def summarize_solves(results: list[SolveResult], max_steps: float, max_seconds: float,
                     seed: int = 0) -> dict[str, Any]:
    """Seeds solved, and median, IQM and 95% CI of steps and seconds to solve, unsolved counted at the caps."""
    from lab.stats import solve_statistics  # scipy: not needed by the seeds' worker processes

    if not results:
        raise ValueError("no time-to-solve results to summarize: run at least one seed")
    solve = solve_statistics([r.env_steps if r.solved else None for r in results],
                             [r.train_seconds if r.solved else None for r in results],
                             step_cap=max_steps, seconds_cap=max_seconds, seed=seed)
    return {**solve.to_dict(),
            "median_steps_per_second": statistics.median(r.steps_per_second for r in results),
            "max_train_seconds": max(r.train_seconds for r in results)}
