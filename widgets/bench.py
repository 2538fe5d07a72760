"""What the panel costs: training throughput with a live panel over throughput without one.

Both arms train the same config from the same seed in a background thread, so they
do identical work. In the panel arm the main thread plays the kernel's part: every
``refresh`` seconds it runs the panel's redraw (charts flushed inside
``batch_update``, status line, readout), exactly what the kernel's event loop runs
while a notebook shows the panel. In the plain arm the main thread only sleeps.
Arms alternate (A B, B A, ...) and each ratio is the median over repetitions, which
keeps a shared machine's drifting load from favouring either arm.

Three ratios are reported, each a median over repetitions:

* ``ratio`` (the headline): 1 - (CPU the panel itself used) / (CPU of the panel run).
  The panel's CPU is measured where it is spent: its event subscribers, timed with
  the training thread's CPU clock around each call, plus the main thread's CPU for
  the redraws. It counts every panel cycle as if it stalled training (the GIL),
  so it errs on the side of the panel costing more; and other processes on the
  machine cannot move it.
* ``wall_ratio``: steps/s with the panel over steps/s without it. What a person
  sees, but on a busy shared 2-core machine other processes move it by +-30%.
* ``cpu_ratio``: process CPU of the plain run over that of the panel run; also
  disturbed by contention (caches, frequency), reported for completeness.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lab.config import Config
from lab.presets import preset


def bench_config(preset_name: str = "tiny", steps: int = 3000, out_dir: str | Path | None = None) -> Config:
    """The preset, learning early, with no scheduled evaluation or checkpoint to blur the timing."""
    out = str(out_dir or tempfile.mkdtemp(prefix="lab-bench-"))
    return preset(preset_name).with_overrides({
        "run.total_steps": steps, "run.eval_every": 0, "run.checkpoint_every": 0, "run.out_dir": out,
        "training.learning_starts": min(500, steps // 4),
    })


class _Timed:
    """Wraps an event subscriber and adds up the CPU time of its calls (on the calling thread)."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, event: Any) -> None:
        started = time.thread_time()
        try:
            self.handler(event)
        finally:
            self.seconds += time.thread_time() - started
            self.calls += 1


def _train(config: Config, with_panel: bool, refresh: float, agents: int = 1) -> dict[str, Any]:
    from lab.train.population import Population
    from lab.train.trainer import Trainer
    from widgets.panel import TrainingPanel

    name = "bench-panel" if with_panel else "bench-plain"
    trainer = Trainer(config, name=name) if agents == 1 else \
        Population(config, seeds=[config.run.seed + k for k in range(agents)], name=name)
    timed: list[_Timed] = []
    if with_panel:  # the panel subscribes to the engine's agent_events and to each agent's own bus
        for bus in (trainer.agent_events, *(slot.events for slot in trainer.slots)):
            def timed_subscribe(handler: Any, event_type: type | None = None, subscribe: Any = bus.subscribe) -> Any:
                timed.append(_Timed(handler))
                return subscribe(timed[-1], event_type)

            bus.subscribe = timed_subscribe  # type: ignore[method-assign]
    panel = TrainingPanel(trainer, refresh=refresh) if with_panel else None
    started, cpu_started, main_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    trainer.start()
    while trainer.running:
        time.sleep(refresh)
        if panel is not None:
            panel.tick()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    main_cpu = time.thread_time() - main_cpu
    flushes = panel.charts.flushes if panel is not None else 0
    steps = sum(slot.env_step for slot in trainer.slots)
    if panel is not None:
        panel.close()
    trainer.close()
    subscriber_cpu = sum(t.seconds for t in timed)
    panel_cpu = subscriber_cpu + (main_cpu if with_panel else 0.0)
    return {"panel": with_panel, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "main_thread_cpu_seconds": round(main_cpu, 3), "subscriber_cpu_seconds": round(subscriber_cpu, 4),
            "subscriber_calls": sum(t.calls for t in timed), "panel_cpu_share": round(panel_cpu / cpu, 4),
            "steps": steps, "steps_per_second": round(steps / seconds, 1), "flushes": flushes}


def panel_overhead(steps: int = 3000, repeats: int = 3, preset_name: str = "tiny",
                   refresh: float | None = None, agents: int = 1) -> dict[str, Any]:
    """Throughput with the panel redrawing over throughput without it (1.0 means free); medians of repeats.

    agents: train that many agents side by side (a Population and the K-agent panel), each for ``steps``."""
    from widgets.panel import REFRESH_SECONDS

    refresh = REFRESH_SECONDS if refresh is None else refresh
    runs: list[dict[str, Any]] = []
    wall, cpu, cost = [], [], []
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as out_dir:
        config = bench_config(preset_name, steps, out_dir)
        for k in range(repeats):
            order = (False, True) if k % 2 == 0 else (True, False)
            pair = {mode: _train(config, mode, refresh, agents) for mode in order}
            runs += [pair[order[0]], pair[order[1]]]
            wall.append(pair[True]["steps_per_second"] / pair[False]["steps_per_second"])
            cpu.append(pair[False]["cpu_seconds"] / pair[True]["cpu_seconds"])
            cost.append(1.0 - pair[True]["panel_cpu_share"])
    return {"ratio": round(statistics.median(cost), 4), "wall_ratio": round(statistics.median(wall), 4),
            "cpu_ratio": round(statistics.median(cpu), 4), "ratios": [round(r, 4) for r in cost],
            "cpu_ratios": [round(r, 4) for r in cpu], "wall_ratios": [round(r, 4) for r in wall],
            "preset": preset_name, "steps": steps, "agents": agents, "refresh_seconds": refresh, "runs": runs}


if __name__ == "__main__":  # python -m widgets.bench [steps] [repeats] [preset] [agents]
    import json
    import sys

    args = sys.argv[1:]
    result = panel_overhead(int(args[0]) if args else 3000, int(args[1]) if len(args) > 1 else 3,
                            args[2] if len(args) > 2 else "tiny", agents=int(args[3]) if len(args) > 3 else 1)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    for run in result["runs"]:
        print(run)
