"""``python -m lab watch [CHECKPOINT]``: the pygame window with the telemetry HUD."""

from __future__ import annotations

import argparse
import os
from typing import Any

from lab.commands import arguments
from lab.render.window import KEYS_HELP

HELP = "Watch an agent land in a pygame window with a telemetry HUD."
DESCRIPTION = (f"{HELP} With --episodes N the window closes by itself after N episodes and the command "
               f"exits 0; without it, it plays until you quit. It flies the evaluation seeds by default, the "
               f"episodes eval scores. Without a display it says so and exits 2 (use xvfb-run, or gif). "
               f"Keys: {KEYS_HELP}.")
CHECKPOINT_HELP = ("a policy or checkpoint file, a run folder, 'heuristic' (Gymnasium's reference pilot) or 'random'; "
                   "default: the pretrained agent in assets/")


class NoDisplayError(OSError):
    """A window was asked for where none can be seen (exit code 2, like any other bad setting)."""


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


def describe_pilot(checkpoint: str | None, agent: int | None, policy: Any = None) -> str:
    """Which agent a command flies, in words: 'the pretrained agent, assets/pretrained_policy.pt', say."""
    from lab.io import shown
    from lab.policy import PRETRAINED_POLICY

    if checkpoint is None:
        return f"the pretrained agent, {shown(_near(PRETRAINED_POLICY))}"
    if checkpoint.lower() == "heuristic":
        return "Gymnasium's heuristic pilot (hand-written, no learning)"
    if checkpoint.lower() == "random":
        return "random actions"
    what = f"agent {agent} of {shown(checkpoint)}" if agent is not None else shown(checkpoint)
    step = (getattr(policy, "metadata", None) or {}).get("env_step")
    return what + (f", after {step:,} env steps of training" if isinstance(step, int) and step > 0 else "")


def _near(path: Any) -> Any:
    """path relative to the working folder when it lies below it (assets/... from the repository)."""
    from pathlib import Path

    try:
        return Path(path).relative_to(Path.cwd())
    except ValueError:
        return path


def check_display(episodes: int | None, command: str = "watch") -> None:
    """Refuse to open a window no one can see, in one line saying how to get one.

    lab.render.launcher.has_display() decides whether there is a display. Without one, SDL would print
    "XDG_RUNTIME_DIR is invalid" and fly an invisible window until killed. A headless run chosen on
    purpose (SDL_VIDEODRIVER set, as tests and scripts do) may fly, but only for a set number of --episodes.
    """
    from lab.render.launcher import has_display

    if has_display():
        return
    driver = os.environ.get("SDL_VIDEODRIVER", "")
    if driver and episodes is not None:
        return
    ways = [f"run it in a desktop session or under a virtual display (xvfb-run -a python -m lab {command} ...)"]
    if driver:
        ways.insert(0, "add --episodes N for a headless run that ends")
    if command == "watch":
        ways.append("write a GIF instead (python -m lab gif --out landing.gif)")
    why = (f"SDL_VIDEODRIVER={driver} draws no window and, without --episodes, it would fly unseen until killed"
           if driver else "there is no display here (DISPLAY and WAYLAND_DISPLAY are unset)")
    raise NoDisplayError(f"no window can open: {why}; {', or '.join(ways)}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", nargs="?", default=None, help=CHECKPOINT_HELP)
    add_agent_argument(parser)
    add_window_arguments(parser)


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by watch and play."""
    parser.add_argument("--episodes", type=arguments.episodes, default=None,
                        help="close after this many episodes and exit 0; omit to play until you quit")
    arguments.add_seed_argument(parser)
    parser.add_argument("--speed", type=float, default=1.0, help="simulation speed, 1.0 is real time (+/- keys)")
    parser.add_argument("--fps", type=float, default=50, help="frames drawn per second")
    parser.add_argument("--hud", action=argparse.BooleanOptionalAction, default=True,
                        help="show the telemetry HUD (H toggles it)")
    parser.add_argument("--gif-dir", default=".", help="where the G key saves GIFs")


def run(args: argparse.Namespace) -> int:
    from lab.render.window import WatchWindow, check_settings

    check_settings(args.episodes, args.speed, args.fps)  # before loading anything
    check_display(args.episodes)
    policy = pilot(args.checkpoint, args.agent)
    print(f"flying {describe_pilot(args.checkpoint, args.agent, policy)}, "
          f"{arguments.seeds_text(args.seed, args.episodes)}")
    window = WatchWindow(policy, episodes=args.episodes, seed=args.seed, speed=args.speed, fps=args.fps,
                         hud=args.hud, gif_dir=args.gif_dir, verbose=True)
    return window.run()
