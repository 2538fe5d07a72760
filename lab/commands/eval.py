"""``python -m lab eval``."""

from __future__ import annotations

import argparse
import json

from lab.commands import arguments
from lab.commands.watch import add_agent_argument, describe_pilot, pilot

HELP = "Evaluate a checkpoint or policy deterministically on fixed seeds."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", nargs="?", default=None,
                        help="checkpoint.pt, policy.pt or a run folder (default: the pretrained agent); "
                             "'heuristic' evaluates Gymnasium's hand-written pilot")
    add_agent_argument(parser)
    parser.add_argument("--episodes", type=arguments.episodes, default=arguments.eval_episodes(),
                        help="number of episodes (default: %(default)s, as many as a run's evaluations fly, "
                             "run.eval_episodes)")
    arguments.add_seed_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON: agent, mean_return, std_return, "
                                                            "success_rate, returns, outcomes")
    parser.add_argument("--no-analysis", action="store_true", help="skip the behavior analyzer")


def run(args: argparse.Namespace) -> int:
    from lab.evaluation import evaluate
    from lab.lander import SUCCESS_RETURN

    policy = pilot(args.checkpoint, args.agent)
    agent = describe_pilot(args.checkpoint, args.agent, policy)
    result = evaluate(policy, episodes=args.episodes, seed=args.seed, analyze=not args.no_analysis)
    if args.json:
        print(json.dumps({"agent": agent, **result.to_dict()}))
        return 0
    print(f"agent:        {agent}")
    print(f"episodes:     {args.episodes} ({arguments.seeds_text(args.seed, args.episodes)})")
    print(f"mean return:  {result.mean_return:.1f}")
    print(f"std return:   {result.std_return:.1f}")
    print(f"success rate: {100 * result.success_rate:.0f}% (return >= {SUCCESS_RETURN:g})")
    if result.reports:
        mix = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items(), key=lambda kv: -kv[1]))
        print(f"outcomes:     {mix}")
    return 0
