"""Population throughput: aggregate env steps/s of K agents against one lab.Trainer, in one invocation.

Figures are printed, never asserted: the machine is shared and noisy, so the
ratios (population rate over the single Trainer's, measured minutes apart at
most) are what to quote.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lab.config import Config
from lab.train.population import Population


def bench_config(config: Config, steps: int, learning_starts: int, threads: int) -> Config:
    """The measured config: no evaluations or checkpoints, a short random warm-up."""
    return config.with_overrides({"run.total_steps": learning_starts + steps, "run.eval_every": 0,
                                  "run.checkpoint_every": 0, "training.learning_starts": learning_starts,
                                  "run.torch_threads": threads})


def cpu_seconds(worker_pid: int | None = None) -> float:
    """CPU time (user + system) of this process and, given its pid, of the env worker.

    On a loaded machine wall time measures the neighbours too; CPU time per env step is
    what the population itself costs.
    """
    total = time.process_time()
    stat = Path(f"/proc/{worker_pid}/stat")
    if worker_pid is not None and stat.exists():
        fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command name: state is field 0
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class _Clocked(Population):
    """A Population that notes time, CPU time and step count once every training agent is past its warm-up."""

    warm_steps = 0
    mark: tuple[float, float, int] | None = None

    def _step(self) -> None:
        super()._step()
        training = [m.env_step for m in self.members if m.state == "training"]
        if self.mark is None and min(training) >= self.warm_steps:
            self.mark = (time.perf_counter(), self.cpu_seconds(), self._total_steps())

    def cpu_seconds(self) -> float:
        assert self.collector is not None
        return cpu_seconds(getattr(self.collector.envs, "pid", None))


def population_cost(config: Config, agents: int, steps: int, learning_starts: int, threads: int,
                    overlap: bool = True, frozen: int = 0) -> dict[str, float]:
    """Aggregate training env steps/s of agents agents (1 update per env step each) after warm-up, and the
    CPU milliseconds (main process and env worker) each of those env steps took.

    With frozen, the last frozen agents are stopped before the first step (as solved agents are), so
    the figures show what they still cost the others.
    """
    if not 0 <= frozen < agents:
        raise ValueError(f"frozen={frozen} is invalid: allowed 0 to {agents - 1} (at least one agent trains)")
    cfg = bench_config(config, steps, learning_starts, threads).with_overrides({"run.overlap_collection": overlap})
    population = _Clocked(cfg, seeds=list(range(agents)), log_to_disk=False)
    population.warm_steps = learning_starts
    for k in range(agents - frozen, agents):
        population.stop(agent=k)
    try:
        population.fit_or_raise()
        end, cpu_end = time.perf_counter(), population.cpu_seconds()
    finally:
        population.close()
    assert population.mark is not None
    started, cpu_start, at = population.mark
    taken = population._total_steps() - at
    return {"steps_per_s": taken / (end - started), "cpu_ms_per_step": 1000 * (cpu_end - cpu_start) / taken}


def population_rate(config: Config, agents: int, steps: int, learning_starts: int, threads: int,
                    overlap: bool = True, frozen: int = 0) -> float:
    """Aggregate training env steps/s of agents agents (1 update per env step each), after warm-up."""
    return population_cost(config, agents, steps, learning_starts, threads, overlap, frozen)["steps_per_s"]


def trainer_rate(config: Config, steps: int, learning_starts: int) -> float:
    """One agent trained as today (lab.Trainer, one torch thread), env steps/s after warm-up."""
    from lab.bench.throughput import training_rate

    torch.set_num_threads(1)
    cfg = config.with_overrides({"training.learning_starts": learning_starts, "run.torch_threads": 1})
    return training_rate(cfg, steps)


def update_ms_per_agent(config: Config, agents: int, threads: int, updates: int = 200) -> float:
    """Median ms of one batched TD3 update of agents agents, divided by agents: learning's cost per agent.

    The update is most of an env step's cost, so one agent's figure over K agents' bounds what
    batching can give on this machine with the envs in process (an env worker's physics runs beside it).
    """
    from lab.bench.throughput import learner_update_ms

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return learner_update_ms(config, updates, agents=agents) / agents
    finally:
        torch.set_num_threads(previous)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def _resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _measure_memory(config: Config, agents: int, out: Any) -> None:
    cfg = bench_config(config, 200, 100, 1).with_overrides({"run.overlap_collection": True})
    population = Population(cfg, seeds=list(range(agents)), log_to_disk=False)
    try:
        buffer = population.buffer
        rng = np.random.default_rng(0)
        for column in buffer.COLUMNS:  # touch every page, as a full buffer would
            array = getattr(buffer, column)
            array[...] = rng.random(array.shape) if array.dtype.kind == "f" else 1
        buffer.size[:] = buffer.capacity
        population.fit_or_raise()
        assert population.collector is not None
        worker = getattr(population.collector.envs, "pid", None)
        out.put({"main_mib": _resident_mib(os.getpid()),
                 "env_worker_mib": _resident_mib(worker) if worker is not None else 0.0,
                 "replay_mib": buffer.nbytes / 2**20})
    finally:
        population.close()


def resident_memory(config: Config, agents: int) -> dict[str, float]:
    """Resident memory (MiB) of a fresh process training agents agents whose replay buffers are full."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_measure_memory, args=(config, agents, queue))
    child.start()
    result = queue.get(timeout=300)
    child.join(60)
    result["total_mib"] = result["main_mib"] + result["env_worker_mib"]
    return {k: round(v, 1) for k, v in result.items()}


def population_table(config: Config, agent_counts: list[int], thread_counts: list[int], steps: int,
                     learning_starts: int, overlap: bool = True, rounds: int = 1,
                     report: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The Trainer baseline, then every (threads, agents) rate and its ratios, all in this process.

    Each round times the Trainer and every row again, and each row's ratio is taken against its own round's
    Trainer; with several rounds the medians are reported (this machine's speed drifts by 10% within minutes,
    so a baseline timed once, minutes before a row, moves the ratio by as much).

    Each row also has update_bound: one agent's update cost (one thread) over a batched update's cost per agent,
    the speed-up batching gives the update alone. With the envs in this process the aggregate ratio cannot go far
    past it; with the env worker the physics runs on the other core beside the update, and it can.

    report, when given, sees each figure as soon as it is measured (a slow, shared machine may cut a run short).
    """
    load_before = load_average()
    cells = [(threads, agents) for threads in thread_counts for agents in agent_counts]
    baselines: list[float] = []
    rates: dict[tuple[int, int], list[float]] = {cell: [] for cell in cells}
    for round_ in range(rounds):
        baselines.append(trainer_rate(config, steps, learning_starts))
        if report:
            report({"round": round_ + 1, "trainer_steps_per_s": round(baselines[-1], 1),
                    "load_average": load_average()})
        for threads, agents in cells:
            rates[threads, agents].append(population_rate(config, agents, steps, learning_starts, threads, overlap))
            if report:
                report({"round": round_ + 1, "agents": agents, "threads": threads,
                        "aggregate_steps_per_s": round(rates[threads, agents][-1], 1),
                        "vs_trainer": round(rates[threads, agents][-1] / baselines[-1], 2)})
    single_update = update_ms_per_agent(config, 1, 1)
    rows: list[dict[str, Any]] = []
    for threads, agents in cells:
        vs_trainer = [rate / base for rate, base in zip(rates[threads, agents], baselines)]
        one = rates.get((threads, 1))
        per_agent = single_update if (threads, agents) == (1, 1) else update_ms_per_agent(config, agents, threads)
        rows.append({"agents": agents, "threads": threads,
                     "aggregate_steps_per_s": round(float(np.median(rates[threads, agents])), 1),
                     "vs_trainer": round(float(np.median(vs_trainer)), 2),
                     "vs_population_of_1": None if one is None else round(float(np.median(
                         [rate / base for rate, base in zip(rates[threads, agents], one)])), 2),
                     "update_ms_per_agent": round(per_agent, 3),
                     "update_bound": round(single_update / per_agent, 2),
                     "load_average": load_average()})
        if rounds > 1:
            rows[-1]["vs_trainer_by_round"] = [round(v, 2) for v in vs_trainer]
    return {"trainer_steps_per_s": round(float(np.median(baselines)), 1),
            "update_ms_one_agent": round(single_update, 3), "rows": rows, "rounds": rounds, "steps_per_agent": steps,
            "learning_starts": learning_starts, "overlap": overlap,
            "load_average_before": load_before, "load_average_after": load_average()}
