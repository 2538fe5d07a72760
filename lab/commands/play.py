"""``python -m lab play``: fly the lander yourself, optionally against a ghost agent."""

from __future__ import annotations

import argparse

from lab.commands.watch import add_window_arguments
from lab.render.play import PLAY_HELP

HELP = "Fly the lander yourself with the keyboard."
DESCRIPTION = (f"{HELP} The same HUD as watch, and the analyzer's verdict at the end. With --ghost, an agent flies "
               f"the same seed at the same time, drawn as a translucent lander. Keys: {PLAY_HELP}.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ghost", nargs="?", const="pretrained", default=None, metavar="CHECKPOINT",
                        help="race a ghost: the pretrained agent, or this checkpoint / 'heuristic'")
    add_window_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from lab.render.episode import resolve_pilot
    from lab.render.play import PlayWindow
    from lab.render.window import check_settings

    check_settings(args.episodes, args.speed, args.fps)
    ghost = None
    if args.ghost is not None:
        ghost = resolve_pilot(None if args.ghost == "pretrained" else args.ghost)
    window = PlayWindow(ghost=ghost, episodes=args.episodes, seed=args.seed, speed=args.speed, fps=args.fps,
                        hud=args.hud, gif_dir=args.gif_dir, verbose=True)
    return window.run()
