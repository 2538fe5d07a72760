"""Argument types shared by the commands: a bad number is refused by argparse with its allowed range."""

from __future__ import annotations

import argparse
from collections.abc import Callable

MAX_SEED = 2**32 - 1
"""numpy and Gymnasium seeds are unsigned 32-bit integers."""
MAX_EPISODES = 100_000
"""More episodes than anyone waits for (about a day of simulation); 1e20 is a typo, not a plan."""


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type accepting a whole number in [low, high]; anything else names itself and the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is invalid: allowed an integer in [{low}, {high}]")
        return value

    parse.__name__ = f"integer in [{low}, {high}]"
    return parse


seed = int_in(0, MAX_SEED)
episodes = int_in(1, MAX_EPISODES)


def eval_seed() -> int:
    """The first evaluation seed: RunConfig.eval_seed's default, so eval, watch, play and gif fly by default the
    episodes every run's evaluations fly."""
    from lab.config import RunConfig

    return int(RunConfig().eval_seed)


def eval_episodes() -> int:
    """Episodes per evaluation: RunConfig.eval_episodes's default, so ``eval`` scores what a run's evaluations do."""
    from lab.config import RunConfig

    return int(RunConfig().eval_episodes)


def add_seed_argument(parser: argparse.ArgumentParser) -> None:
    """--seed of the first episode, defaulting to the evaluation seeds; shared by eval, watch, play and gif."""
    first = eval_seed()
    parser.add_argument("--seed", type=seed, default=first,
                        help=f"seed of the first episode, then +1 each (default: {first}, the first evaluation "
                             "seed, run.eval_seed: the episodes a run's evaluations score)")


def seeds_text(first: int, episodes: int | None) -> str:
    """'seeds 10000..10009 (the evaluation seeds)', 'seed 3', or 'seeds 3, 4, ... until you quit'."""
    kind = " (the evaluation seeds)" if first == eval_seed() else ""
    if episodes is None:
        return f"seeds {first}, {first + 1}, ...{kind} until you quit"
    if episodes == 1:
        return f"seed {first}{kind}"
    return f"seeds {first}..{first + episodes - 1}{kind}"
