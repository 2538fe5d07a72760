"""``python -m lab watch [CHECKPOINT]``: the pygame window with the telemetry HUD."""

from __future__ import annotations

import argparse
from typing import Any

from lab.commands import arguments
from lab.render.window import KEYS_HELP

HELP = "Watch an agent land in a pygame window with a telemetry HUD."
DESCRIPTION = (f"{HELP} With --episodes N the window closes by itself after N episodes and the command "
               f"exits 0; without it, it plays until you quit. Keys: {KEYS_HELP}.")
CHECKPOINT_HELP = ("a policy or checkpoint file, a run folder, 'heuristic' (Gymnasium's reference pilot) or 'random'; "
                   "default: the pretrained agent in assets/")


def add_agent_argument(parser: argparse.ArgumentParser) -> None:
    """--agent K: which policy of a population checkpoint (population.pt) to fly; shared by eval, watch, gif."""
    parser.add_argument("--agent", type=int, default=None, metavar="K",
                        help="with a population checkpoint (population.pt or its folder): fly agent K's policy")


def pilot(checkpoint: str | None, agent: int | None) -> Any:
    """The Policy to fly: --agent picks one member of a population checkpoint, else as resolve_pilot."""
    from lab.policy import load_policy
    from lab.render.episode import PILOT_NAMES, resolve_pilot

    if agent is None:
        return resolve_pilot(checkpoint)
    if checkpoint is None or checkpoint.lower() in PILOT_NAMES:
        raise ValueError(f"--agent {agent} needs a population checkpoint (population.pt or its folder), "
                         f"got {checkpoint or 'the pretrained agent'}")
    return load_policy(checkpoint, agent=agent)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", nargs="?", default=None, help=CHECKPOINT_HELP)
    add_agent_argument(parser)
    add_window_arguments(parser)


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by watch and play."""
    parser.add_argument("--episodes", type=arguments.episodes, default=None,
                        help="close after this many episodes and exit 0; omit to play until you quit")
    parser.add_argument("--seed", type=arguments.seed, default=0,
                        help="seed of the first episode; the next ones count up")
    parser.add_argument("--speed", type=float, default=1.0, help="simulation speed, 1.0 is real time (+/- keys)")
    parser.add_argument("--fps", type=float, default=50, help="frames drawn per second")
    parser.add_argument("--hud", action=argparse.BooleanOptionalAction, default=True,
                        help="show the telemetry HUD (H toggles it)")
    parser.add_argument("--gif-dir", default=".", help="where the G key saves GIFs")


def run(args: argparse.Namespace) -> int:
    from lab.render.window import WatchWindow, check_settings

    check_settings(args.episodes, args.speed, args.fps)  # before loading anything
    policy = pilot(args.checkpoint, args.agent)
    window = WatchWindow(policy, episodes=args.episodes, seed=args.seed, speed=args.speed, fps=args.fps,
                         hud=args.hud, gif_dir=args.gif_dir, verbose=True)
    return window.run()
