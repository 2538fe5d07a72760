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
