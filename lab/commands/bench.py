"""``python -m lab bench``: time-to-solve, throughput, analyzer and panel benchmarks."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
from typing import Any

HELP = "Benchmarks: time-to-solve and throughput."
DESCRIPTION = ("Benchmarks that print figures. time-to-solve trains from scratch per seed until the deterministic "
               "10-episode evaluation mean reaches 200, and reports over seeds the number solved, the median and the "
               "interquartile mean (IQM) with a 95% stratified-bootstrap confidence interval of env steps and "
               "training seconds to solve, unsolved seeds counted at the cap; throughput times training, the bare "
               "TD3 update and PER. "
               "The notebook panel's cost is measured by python -m widgets.bench.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lab.presets import preset_names
    from lab.seeds import add_seeds_argument

    sub = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    tts = sub.add_parser("time-to-solve", help="env steps and training seconds until eval mean >= 200",
                         formatter_class=parser.formatter_class)
    tts.add_argument("--preset", default="fast", choices=preset_names(), help="configuration to train")
    add_seeds_argument(tts, default="0-4", help_text="one run per seed")
    _add_solve_arguments(tts, max_steps=300_000, max_seconds=None, per="seed")
    tts.add_argument("--parallel", type=int, default=1,
                     help="seeds trained side by side, each in its own process on one torch thread (one per core)")
    tts.add_argument("--population", action="store_true",
                     help="train all seeds at once as one lab.Population (one process); an agent that solves is "
                          "frozen (stops acting and learning) while the others go on")
    tts.add_argument("--out", default=None, help="keep each seed's run folder under this folder")
    tts.add_argument("--json", action="store_true", help="print JSON instead of a table")
    tts.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides")

    thr = sub.add_parser("throughput", help="training steps/s, update split, PER cost, bare-update rate",
                         formatter_class=parser.formatter_class)
    thr.add_argument("--hidden", type=int, nargs="+", default=[400, 300], help="hidden sizes of actor and critic")
    thr.add_argument("--batch-size", type=int, default=256, help="batch size")
    thr.add_argument("--updates-per-step", type=float, default=1.0, help="update-to-data ratio")
    thr.add_argument("--threads", type=int, default=1, help="torch threads")
    thr.add_argument("--steps", type=int, default=3_000, help="timed training env steps (after warm-up)")
    thr.add_argument("--per-capacity", type=int, default=1_000_000, help="PER tree size for the sampling figure")
    thr.add_argument("--against-sb3", action="store_true", help="also time Stable-Baselines3's TD3 (if installed)")
    thr.add_argument("--json", action="store_true", help="print JSON instead of a table")

    ovl = sub.add_parser("overlap", help="training env steps/s with run.overlap_collection against the "
                         "synchronous loop, alternating rounds in one invocation",
                         formatter_class=parser.formatter_class)
    ovl.add_argument("--preset", default="fast", choices=preset_names(), help="configuration to train")
    ovl.add_argument("--steps", type=int, default=3_000, help="timed training env steps per round and mode")
    ovl.add_argument("--rounds", type=int, default=3, help="alternating rounds (sync, then overlapped)")
    ovl.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ovl.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides")
    scr = sub.add_parser("screen", help="several levers (config changes) on the same seeds, trained as "
                         "populations, with time-to-solve's statistics per lever",
                         formatter_class=parser.formatter_class)
    _add_lever_arguments(scr)
    add_seeds_argument(scr, default="20-24", help_text="seeds every lever trains on (tuning seeds, not reported ones)")
    _add_solve_arguments(scr, max_steps=100_000, max_seconds=1e9, per="agent")
    scr.add_argument("--max-agents", type=int, default=0,
                     help="agents per population (0: every lever of one network shape in one population)")
    scr.add_argument("--verbose", action="store_true", help="print every evaluation to stderr as it happens")
    scr.add_argument("--json", action="store_true", help="print JSON instead of a table")
    upd = sub.add_parser("updates", help="milliseconds per update of each lever's learner (e.g. network sizes), "
                         "in alternating rounds in one invocation, as ratios to the first lever",
                         formatter_class=parser.formatter_class)
    _add_lever_arguments(upd)
    upd.add_argument("--updates", type=int, default=300, help="timed updates per lever and round")
    upd.add_argument("--rounds", type=int, default=5, help="alternating rounds over the levers")
    ana = sub.add_parser("analyzer", help="milliseconds to analyze one 1,000-step episode",
                         formatter_class=parser.formatter_class)
    ana.add_argument("--episodes", type=int, default=200, help="timed analyses")
    _add_population_arguments(sub, parser)
    vs = sub.add_parser("versus", help="this checkout's training env steps/s against another commit's (the engine "
                        "before this one: levers-2026-12), alternating rounds in one invocation, as ratios",
                        formatter_class=parser.formatter_class)
    vs.add_argument("--ref", default="levers-2026-12", help="the git ref to compare with (exported, never checked out)")
    vs.add_argument("--preset", default="fast", choices=preset_names(), help="configuration to train")
    vs.add_argument("--steps", type=int, default=3_000, help="timed training env steps per round and side")
    vs.add_argument("--learning-starts", type=int, default=1_000, help="random warm-up steps before the timing")
    vs.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    vs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    vs.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides (both sides)")
    from lab.bench.record import add_save_arguments

    add_save_arguments(sub)


SECONDS_PER_SEED = 600.0
"""time-to-solve's default cap on one seed's training seconds; a population's seeds share one clock, so each
gets this much per seed in the population."""


def _add_lever_arguments(parser: argparse.ArgumentParser) -> None:
    """A base preset and the levers (named config changes) compared on it."""
    from lab.presets import preset_names

    parser.add_argument("--preset", default="fast", choices=preset_names(), help="base configuration of every lever")
    parser.add_argument("--lever", nargs="+", action="append", required=True, metavar="NAME [KEY=VALUE]",
                        help="a lever: a name, then its dotted overrides (none: the baseline); repeat per lever")


def _add_solve_arguments(parser: argparse.ArgumentParser, max_steps: int, max_seconds: float | None,
                         per: str) -> None:
    """The caps and the evaluation rhythm that decide when a run counts as solved."""
    parser.add_argument("--max-steps", type=int, default=max_steps, help=f"cap on env steps per {per}")
    shared_clock = (f" (default: {SECONDS_PER_SEED:.0f}, times the number of seeds with --population, whose "
                    "seeds share one clock)") if max_seconds is None else ""
    parser.add_argument("--max-seconds", type=float, default=max_seconds,
                        help=f"cap on training seconds per {per}{shared_clock}")
    parser.add_argument("--eval-every", type=int, default=5_000, help="env steps between evaluations")
    parser.add_argument("--eval-episodes", type=int, default=10, help="fixed-seed episodes per evaluation")


def run(args: argparse.Namespace) -> int:
    from lab.bench.record import run_and_save

    handler = {"time-to-solve": _time_to_solve, "throughput": _throughput, "analyzer": _analyzer,
               "population": _population, "overlap": _overlap, "screen": _screen,
               "updates": _updates, "versus": _versus}[args.bench]
    return run_and_save(handler, args, kind=args.bench)


def _time_to_solve(args: argparse.Namespace) -> int:
    from lab.bench.solve import SolveResult, summarize_solves, time_to_solve_population, time_to_solve_seeds
    from lab.presets import preset
    from lab.seeds import parse_seeds, take_overrides

    seed_tokens, trailing = take_overrides(args.seeds)
    seeds, overrides = parse_seeds(seed_tokens), [*args.overrides, *trailing]
    if args.max_seconds is None:
        args.max_seconds = SECONDS_PER_SEED * (len(seeds) if args.population else 1)
    _at_least("--max-steps", args.max_steps, 1)
    _above_zero("--max-seconds", args.max_seconds)
    _at_least("--eval-every", args.eval_every, 1)
    _at_least("--eval-episodes", args.eval_episodes, 1)
    _at_least("--parallel", args.parallel, 1)
    if args.eval_every > args.max_steps:
        raise ValueError(f"--eval-every {args.eval_every} is above --max-steps {args.max_steps}: no evaluation "
                         "would run (allowed: at most --max-steps)")
    cores = os.cpu_count() or 1
    if args.parallel > cores:
        print(f"warning: --parallel {args.parallel} is more than the {cores} core(s) here: seeds share cores, "
              "so training seconds rise", file=sys.stderr)
    if args.population and args.parallel != 1:
        raise ValueError(f"--parallel {args.parallel} and --population both choose how seeds share the machine: "
                         "give one of them")
    config = preset(args.preset).with_overrides(overrides)

    def row(r: SolveResult) -> None:
        print(f"{r.seed:>4} {'yes' if r.solved else 'no':>6} {r.env_steps:>10,} {r.train_seconds:>8.1f} "
              f"{r.steps_per_second:>8.1f} {r.best_eval:>9.1f}", flush=True)

    if not args.json:
        mode = "all at once (population)" if args.population else f"{args.parallel} at a time"
        print(f"time-to-solve: preset {args.preset}, seeds {_seed_text(seeds)}, {mode}; eval "
              f"every {args.eval_every} steps on {args.eval_episodes} fixed seeds; caps {args.max_steps:,} steps / "
              f"{args.max_seconds:.0f} s per seed")
        print(f"{'seed':>4} {'solved':>6} {'env steps':>10} {'train s':>8} {'steps/s':>8} {'best eval':>9}")
    if args.population:
        def frozen(r: SolveResult) -> None:
            why = "solved" if r.solved else "hit --max-seconds"
            print(f"seed {r.seed} {why} at {r.env_steps:,} steps: frozen (stops acting and learning)",
                  file=sys.stderr, flush=True)

        results = time_to_solve_population(config, seeds, args.max_steps, args.max_seconds, args.eval_every,
                                           args.eval_episodes, out=args.out, on_result=None if args.json else row,
                                           on_frozen=frozen)
    else:
        results = time_to_solve_seeds(config, seeds, args.max_steps, args.max_seconds, args.eval_every,
                                      args.eval_episodes, out=args.out, parallel=args.parallel,
                                      on_result=None if args.json else row)
    summary = summarize_solves(results, args.max_steps, args.max_seconds)
    if args.json:
        print(json.dumps({"preset": args.preset, "overrides": overrides, "parallel": args.parallel,
                          "population": args.population,
                          "summary": summary, "seeds": [dataclasses.asdict(r) for r in results]}, indent=2))
        return 0
    for line in _summary_lines(summary):
        print(line)
    return 0


def _updates(args: argparse.Namespace) -> int:
    import torch

    from lab.bench.screen import check_lever_names, parse_lever
    from lab.bench.throughput import learner_update_ms
    from lab.presets import preset

    _at_least("--updates", args.updates, 1)
    _at_least("--rounds", args.rounds, 1)
    levers = [parse_lever(tokens) for tokens in args.lever]
    check_lever_names(levers)
    configs = {lever.name: preset(args.preset).with_overrides(list(lever.overrides)) for lever in levers}
    torch.set_num_threads(1)
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.rounds):
        for name, config in configs.items():
            times[name].append(learner_update_ms(config, args.updates))
    first = statistics.median(times[levers[0].name])
    print(f"updates: preset {args.preset}, {args.rounds} rounds of {args.updates} updates per lever, 1 torch thread")
    print(f"{'lever':>14} {'ms/update':>10} {'vs first':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:>14} {median:>10.3f} {median / first:>8.2f}x")
    return 0


def _screen(args: argparse.Namespace) -> int:
    from lab.bench.screen import parse_lever, screen_levers, summarize_levers
    from lab.bench.solve import SolveResult
    from lab.events import Evaluated
    from lab.presets import preset
    from lab.seeds import parse_seeds

    seeds = parse_seeds(args.seeds)
    levers = [parse_lever(tokens) for tokens in args.lever]
    _at_least("--max-steps", args.max_steps, 1)
    _above_zero("--max-seconds", args.max_seconds)
    _at_least("--eval-every", args.eval_every, 1)
    _at_least("--eval-episodes", args.eval_episodes, 1)
    _at_least("--max-agents", args.max_agents, 0)

    def row(name: str, r: SolveResult) -> None:
        print(f"{name:>14} {r.seed:>4} {'yes' if r.solved else 'no':>6} {r.env_steps:>10,} {r.best_eval:>9.1f}",
              flush=True)

    def evaluated(name: str, seed: int, event: Evaluated) -> None:
        print(f"{name} seed {seed}: {event.env_step:,} steps, eval {event.mean_return:.1f}", file=sys.stderr,
              flush=True)

    if not args.json:
        print(f"screen: preset {args.preset}, seeds {_seed_text(seeds)}, {len(levers)} levers; eval every "
              f"{args.eval_every} steps on {args.eval_episodes} fixed seeds; cap {args.max_steps:,} steps")
        print(f"{'lever':>14} {'seed':>4} {'solved':>6} {'env steps':>10} {'best eval':>9}")
    results = screen_levers(preset(args.preset), levers, seeds, args.max_steps, args.max_seconds,
                            args.eval_every, args.eval_episodes, args.max_agents,
                            on_result=None if args.json else row, on_evaluated=evaluated if args.verbose else None)
    summaries = summarize_levers(results, args.max_steps, args.max_seconds)
    if args.json:
        print(json.dumps({"preset": args.preset, "seeds": seeds,
                          "levers": [{"name": lever.name, "overrides": list(lever.overrides),
                                      "summary": summaries[lever.name],
                                      "seeds": [dataclasses.asdict(r) for r in results[lever.name]]}
                                     for lever in levers]}, indent=2))
        return 0
    print(f"{'lever':>14} {'solved':>6} {'median steps':>12}  IQM [95% CI] env steps to 200 (unsolved at the cap)")
    for lever in levers:
        s = summaries[lever.name]["env_steps"]
        ci = "" if s["ci_low"] is None else f" [{s['ci_low']:,.0f}, {s['ci_high']:,.0f}]"
        print(f"{lever.name:>14} {summaries[lever.name]['solved']:>3}/{len(seeds):<2} {s['median']:>12,.0f}  "
              f"{s['iqm']:,.0f}{ci}   {' '.join(lever.overrides) or '(base)'}")
    return 0


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    """The statistics under the per-seed rows: solved count, then median and IQM [95% CI] per measure."""
    lines = [f"solved {summary['solved']}/{summary['seeds']} (an unsolved seed counts at the cap: "
             f"{summary['step_cap']:,.0f} steps, {summary['seconds_cap']:.0f} s)",
             f"{'':<16} {'median':>10}  IQM [95% stratified-bootstrap CI]"]
    for key, label, digits in (("env_steps", "env steps", 0), ("train_seconds", "train seconds", 1)):
        s = summary[key]
        ci = "" if s["ci_low"] is None else f" [{s['ci_low']:,.{digits}f}, {s['ci_high']:,.{digits}f}]"
        lines.append(f"{label:<16} {s['median']:>10,.{digits}f}  {s['iqm']:,.{digits}f}{ci}")
    lines.append(f"median {summary['median_steps_per_second']:.1f} steps/s; slowest seed "
                 f"{summary['max_train_seconds']:.1f} s")
    return lines


def _seed_text(seeds: list[int]) -> str:
    contiguous = seeds == list(range(seeds[0], seeds[0] + len(seeds)))
    return f"{seeds[0]}-{seeds[-1]}" if contiguous and len(seeds) > 2 else " ".join(map(str, seeds))


def _at_least(flag: str, value: float, low: float) -> None:
    if value < low:
        raise ValueError(f"{flag} {value} is invalid: allowed {low} or more")


def _above_zero(flag: str, value: float) -> None:
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{flag} {value} is invalid: allowed a finite number above 0")


def _throughput(args: argparse.Namespace) -> int:
    import torch

    from lab.bench import throughput as bench
    from lab.config import Config

    for flag, value in (("--batch-size", args.batch_size), ("--threads", args.threads), ("--steps", args.steps)):
        _at_least(flag, value, 1)
    if min(args.hidden) < 1:
        raise ValueError(f"--hidden {' '.join(map(str, args.hidden))} is invalid: allowed layer sizes of 1 or more")
    _above_zero("--updates-per-step", args.updates_per_step)
    _at_least("--per-capacity", args.per_capacity, 256)
    torch.set_num_threads(args.threads)
    config = Config().with_overrides({
        "network.actor_hidden": args.hidden, "network.critic_hidden": args.hidden,
        "training.batch_size": args.batch_size, "training.updates_per_step": args.updates_per_step,
        "training.learning_starts": 2_000,
        "run.torch_threads": args.threads, "run.analyze_episodes": True,
        "noise.kind": "gaussian", "noise.sigma": 0.1})
    figures: dict[str, Any] = {}
    figures["bare_updates_per_s"] = statistics.median(bench.bare_update_rate(args.hidden, args.batch_size, 2.0)
                                                      for _ in range(3))
    figures["train_steps_per_s"] = bench.training_rate(config, args.steps)
    figures["efficiency"] = figures["train_steps_per_s"] * args.updates_per_step / figures["bare_updates_per_s"]
    split = bench.update_split(args.hidden, args.batch_size, per=True)
    figures.update({f"{k}_ms": v for k, v in split.items()})
    figures["per_sample_update_ms_1M"] = bench.per_sample_update_ms(args.per_capacity, 256)
    if args.against_sb3:
        sb3 = bench.sb3_training_rate(args.hidden, args.batch_size, args.updates_per_step, args.steps, 2_000,
                                      args.threads)
        figures["sb3_steps_per_s"] = sb3
        figures["speedup_vs_sb3"] = None if sb3 is None else figures["train_steps_per_s"] / sb3
    if args.json:
        print(json.dumps({"hidden": args.hidden, "batch_size": args.batch_size, "threads": args.threads,
                          "updates_per_step": args.updates_per_step, **figures}, indent=2))
        return 0
    print(f"throughput: hidden {args.hidden}, batch {args.batch_size}, {args.updates_per_step} updates/step, "
          f"{args.threads} torch thread(s)")
    labels = {
        "bare_updates_per_s": "bare TD3 updates/s (fixed batch)",
        "train_steps_per_s": "training env steps/s",
        "efficiency": "training efficiency (updates/s vs bare)",
        "sample_ms": "  update split: sample (PER) ms",
        "critic_ms": "  update split: critic ms",
        "actor_ms": "  update split: actor + targets ms",
        "priorities_ms": "  update split: priority update ms",
        "per_sample_update_ms_1M": f"PER sample+update, 256 of {args.per_capacity:,} ms",
        "sb3_steps_per_s": "SB3 TD3 env steps/s",
        "speedup_vs_sb3": "speed-up over SB3",
    }
    for key, label in labels.items():
        if key in figures:
            value = figures[key]
            text = "not installed" if value is None else (f"{value:.1%}" if key == "efficiency" else f"{value:.3g}")
            print(f"{label:<45} {text}")
    return 0


def _overlap(args: argparse.Namespace) -> int:
    from lab.bench import throughput as bench
    from lab.presets import preset

    _at_least("--steps", args.steps, 1)
    _at_least("--rounds", args.rounds, 1)
    config = preset(args.preset, **{"training.learning_starts": 1_000}).with_overrides(args.overrides)
    figures = bench.overlap_rates(config, args.steps, args.rounds)
    if args.json:
        print(json.dumps({"preset": args.preset, "steps": args.steps, **figures}, indent=2))
        return 0
    print(f"overlapped collection vs synchronous loop: preset {args.preset}, {args.steps} timed steps, "
          f"{args.rounds} alternating rounds")
    for k, (s, o, r) in enumerate(zip(figures["sync_steps_per_s"], figures["overlap_steps_per_s"], figures["ratios"])):
        print(f"  round {k + 1}: synchronous {s:7.1f} env steps/s, overlapped {o:7.1f}  ({r:.2f}x)")
    print(f"median: synchronous {figures['median_sync']:.1f}, overlapped {figures['median_overlap']:.1f}, "
          f"per-round ratio {figures['median_ratio']:.2f}x")
    return 0


def _versus(args: argparse.Namespace) -> int:
    from lab.bench.versus import as_json, describe, versus
    from lab.config import parse_override

    for flag, value in (("--steps", args.steps), ("--rounds", args.rounds), ("--learning-starts",
                                                                             args.learning_starts)):
        _at_least(flag, value, 1)
    result = versus(args.ref, args.preset, args.steps, args.rounds, args.learning_starts,
                    dict(parse_override(item) for item in args.overrides))
    print(as_json(result) if args.json else describe(result))
    return 0


def _analyzer(args: argparse.Namespace) -> int:
    from lab.bench.analyzer import benchmark_analyzer

    _at_least("--episodes", args.episodes, 1)
    result = benchmark_analyzer(episodes=args.episodes)
    print(json.dumps(result, indent=2))
    return 0


# ---- population (lab.Population) -------------------------------------------------------------
def _add_population_arguments(sub: argparse._SubParsersAction, parser: argparse.ArgumentParser) -> None:
    from lab.presets import preset_names

    pop = sub.add_parser("population", help="aggregate env steps/s of K agents trained at once vs one Trainer",
                         formatter_class=parser.formatter_class)
    pop.add_argument("--preset", default="fast", choices=preset_names(), help="configuration of every agent")
    pop.add_argument("--agents", type=int, nargs="+", default=[1, 8], help="population sizes to time")
    pop.add_argument("--threads", type=int, nargs="+", default=[1], help="torch threads of the population")
    pop.add_argument("--steps", type=int, default=2_000, help="timed training env steps per agent")
    pop.add_argument("--learning-starts", type=int, default=1_000, help="random warm-up steps per agent")
    pop.add_argument("--no-overlap", action="store_true", help="step the envs in this process, not a worker")
    pop.add_argument("--rounds", type=int, default=1,
                     help="time the Trainer and every population this many times, alternating; medians are reported")
    pop.add_argument("--memory", type=int, default=0, metavar="AGENTS",
                     help="also report resident memory of this many agents with full replay buffers")
    pop.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _population(args: argparse.Namespace) -> int:
    from lab.bench.population import population_table, resident_memory
    from lab.presets import preset

    for name, values in (("--agents", args.agents), ("--threads", args.threads)):
        bad = [v for v in values if not 1 <= v <= 256]
        if bad:
            raise ValueError(f"bench population {name} {bad[0]} is invalid: allowed integers from 1 to 256")
    for name, value in (("--steps", args.steps), ("--learning-starts", args.learning_starts),
                        ("--rounds", args.rounds)):
        if value < 1:
            raise ValueError(f"bench population {name} {value} is invalid: allowed a positive integer")
    config = preset(args.preset)
    import sys

    table = population_table(config, args.agents, args.threads, args.steps, args.learning_starts,
                             overlap=not args.no_overlap, rounds=args.rounds,
                             report=lambda row: print(json.dumps(row), file=sys.stderr, flush=True))
    table["preset"] = args.preset
    if args.memory:
        table["memory"] = {"agents": args.memory, **resident_memory(config, args.memory)}
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    print(f"population: preset {args.preset}, {args.steps} timed steps per agent after {args.learning_starts} "
          f"random ones; load average {table['load_average_before']} -> {table['load_average_after']}")
    rounds = f", median of {table['rounds']} alternating rounds" if table["rounds"] > 1 else ""
    print(f"one lab.Trainer (1 thread): {table['trainer_steps_per_s']:.0f} env steps/s{rounds}")
    print(f"{'threads':>7} {'agents':>6} {'steps/s':>8} {'vs Trainer':>10} {'vs 1 agent':>10} "
          f"{'update ms/agent':>15} {'update bound':>12}")
    for row in table["rows"]:
        ratio = "-" if row["vs_population_of_1"] is None else f"{row['vs_population_of_1']:.2f}x"
        print(f"{row['threads']:>7} {row['agents']:>6} {row['aggregate_steps_per_s']:>8.0f} "
              f"{row['vs_trainer']:>9.2f}x {ratio:>10} {row['update_ms_per_agent']:>15.2f} "
              f"{row['update_bound']:>11.2f}x")
    print(f"update bound: one agent's update ({table['update_ms_one_agent']:.2f} ms, 1 thread) over a batched "
          "update's cost per agent; with the envs in this process (--no-overlap) the steps/s ratio cannot go far "
          "past it, with the env worker the physics runs beside the update and it can")
    if "memory" in table:
        m = table["memory"]
        print(f"resident memory, {m['agents']} agents with full replay buffers: {m['total_mib']:.0f} MiB "
              f"(trainer {m['main_mib']:.0f} + env worker {m['env_worker_mib']:.0f}; replay {m['replay_mib']:.0f})")
    return 0
