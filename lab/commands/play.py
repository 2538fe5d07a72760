"""``python -m lab play``: fly the lander yourself, optionally against a ghost agent."""

from __future__ import annotations

import argparse

from lab.commands import arguments
from lab.commands.watch import add_window_arguments, check_display, describe_pilot
from lab.render.play import PLAY_HELP

HELP = "Fly the lander yourself with the keyboard."
DESCRIPTION = (f"{HELP} The same HUD as watch, and the analyzer's verdict at the end. With --ghost, an agent flies "
               f"the same seed at the same time, drawn as a translucent lander. Without a display it says so and "
               f"exits 2. Keys: {PLAY_HELP}.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ghost", nargs="?", const="pretrained", default=None, metavar="CHECKPOINT",
                        help="race a ghost: the pretrained agent, or this checkpoint / 'heuristic'")
    add_window_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from lab.render.episode import resolve_pilot
    from lab.render.play import PlayWindow
    from lab.render.window import check_settings

    check_settings(args.episodes, args.speed, args.fps)
    check_display(args.episodes, "play")
    ghost = None
    seeds = arguments.seeds_text(args.seed, args.episodes)
    if args.ghost is not None:
        checkpoint = None if args.ghost == "pretrained" else args.ghost
        ghost = resolve_pilot(checkpoint)
        print(f"you fly against {describe_pilot(checkpoint, None, ghost)}, {seeds}")
    else:
        print(f"you fly, {seeds}")
    window = PlayWindow(ghost=ghost, episodes=args.episodes, seed=args.seed, speed=args.speed, fps=args.fps,
                        hud=args.hud, gif_dir=args.gif_dir, verbose=True)
    return window.run()
