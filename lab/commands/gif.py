"""``python -m lab gif [CHECKPOINT] --out PATH``: looping, captioned GIFs (or MP4s) of episodes."""

from __future__ import annotations

import argparse
import sys

from lab.commands import arguments
from lab.commands.watch import CHECKPOINT_HELP, add_agent_argument, describe_pilot, pilot

HELP = "Export evaluation episodes as looping GIFs (or MP4)."
DESCRIPTION = (f"{HELP} Each GIF loops forever and carries a caption (return, outcome). --out names what is "
               "written: a file PATH holds all --episodes N one after another (each ending on its verdict), or "
               "side by side with --grid; a folder gets one file per episode, FOLDER/lander-seedS.gif. It flies "
               "the evaluation seeds by default, the episodes eval scores. A .mp4 path writes H.264 video (needs "
               "imageio-ffmpeg). With --progression RUN_DIR it instead tiles the run's evaluation clips into one "
               "captioned montage of how the agent learned (under 3 MB).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", nargs="?", default=None, help=CHECKPOINT_HELP)
    add_agent_argument(parser)
    parser.add_argument("--out", required=True, help="output file (.gif or .mp4), holding every episode, or a "
                        "folder for one file per episode")
    parser.add_argument("--episodes", type=arguments.episodes, default=1,
                        help="episodes to record, seeds SEED, SEED+1, ...")
    parser.add_argument("--fps", type=float, default=30, help="playback frames per second (GIF: at most 50)")
    parser.add_argument("--every", type=int, default=2, help="keep every N-th simulation step")
    parser.add_argument("--scale", type=float, default=0.5, help="downscale factor of the 600x400 frames")
    parser.add_argument("--hud", action=argparse.BooleanOptionalAction, default=True, help="draw the telemetry HUD")
    arguments.add_seed_argument(parser)
    parser.add_argument("--grid", action="store_true", help="one montage of all episodes instead of one file each")
    parser.add_argument("--format", dest="fmt", choices=("gif", "mp4"), default=None,
                        help="output format (default: from the --out suffix)")
    parser.add_argument("--progression", metavar="RUN_DIR", default=None,
                        help="montage of a run's evaluation clips ('5k steps: crashed ... 35k steps: landed softly')")
    parser.add_argument("--max-clips", type=int, default=9, help="with --progression: clips in the montage: the "
                        "first, the last, each change of outcome, then evenly spread")


def run(args: argparse.Namespace) -> int:
    if args.progression is not None:
        return _progression(args)
    from lab.io import shown
    from lab.render.gif import export_gif

    policy = pilot(args.checkpoint, args.agent)
    print(f"flying {describe_pilot(args.checkpoint, args.agent, policy)}, "
          f"{arguments.seeds_text(args.seed, args.episodes)}")
    paths = export_gif(policy, args.out, episodes=args.episodes, fps=args.fps, every=args.every, scale=args.scale,
                       hud=args.hud, seed=args.seed, grid=args.grid, fmt=args.fmt)
    for path in paths:
        print(f"wrote {shown(path)} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def _progression(args: argparse.Namespace) -> int:
    from lab.render.clips import write_progression

    if args.checkpoint is not None:
        raise ValueError(f"give either a checkpoint ({args.checkpoint!r}) or --progression RUN_DIR, not both")
    if args.max_clips < 1:
        raise ValueError(f"--max-clips must be at least 1, got {args.max_clips}")
    from lab.io import shown

    path = write_progression(args.progression, args.out, max_clips=args.max_clips,
                             on_refused=lambda why: print(f"warning: {why}", file=sys.stderr))
    print(f"wrote {shown(path)} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0
