"""``--seeds`` lists: ``0-9``, ``0 1 2`` or mixes like ``0-2 5``, each seed once.

Shared by every command that runs one job per seed (``bench time-to-solve``,
``train --seeds``), so they accept and refuse the same things with the same words.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

MAX_SEED = 2**31 - 1
"""The largest seed ``run.seed`` accepts."""
MAX_COUNT = 10_000
"""More seeds than this is a typo (``0-100000``), not an experiment."""
ALLOWED = f"allowed: seeds 0 to {MAX_SEED} as integers (3) or upward ranges (0-9), each seed once"

_SEED = re.compile(r"\d+")
_RANGE = re.compile(r"(\d+)-(\d+)")


class SeedsError(ValueError):
    """A ``--seeds`` value that is not a list of distinct non-negative seeds."""


def parse_seeds(values: str | Sequence[str | int], option: str = "--seeds") -> list[int]:
    """Expand seeds and ranges, in the order given; refuse the first bad value by name."""
    tokens = values.replace(",", " ").split() if isinstance(values, str) else \
        [t for v in values for t in str(v).replace(",", " ").split()]
    if not tokens:
        raise SeedsError(f"{option} is empty: {ALLOWED}")
    seeds: list[int] = []
    first_seen: dict[int, str] = {}
    for token in tokens:
        for seed in _expand(token, option):
            if seed in first_seen:
                where = "" if first_seen[seed] == token == str(seed) else f" (in {first_seen[seed]!r} and {token!r})"
                raise SeedsError(f"{option}: seed {seed} is given twice{where}; {ALLOWED}")
            first_seen[seed] = token
            seeds.append(seed)
            if len(seeds) > MAX_COUNT:
                raise SeedsError(f"{option}: more than {MAX_COUNT:,} seeds; {ALLOWED}")
    return seeds


def _expand(token: str, option: str) -> range:
    if _SEED.fullmatch(token):
        _check_bound(int(token), token, option)
        return range(int(token), int(token) + 1)
    match = _RANGE.fullmatch(token)
    if match:
        start, stop = int(match[1]), int(match[2])
        _check_bound(stop, token, option)
        if start > stop:
            raise SeedsError(f"{option}: range {token!r} runs downward; write it as {stop}-{start}; {ALLOWED}")
        if stop - start + 1 > MAX_COUNT:
            raise SeedsError(f"{option}: range {token!r} holds {stop - start + 1:,} seeds, more than {MAX_COUNT:,}; "
                             f"{ALLOWED}")
        return range(start, stop + 1)
    if re.fullmatch(r"-\d+(-\d+)?", token):
        raise SeedsError(f"{option}: {token!r} is negative; {ALLOWED}")
    hint = " (a KEY=VALUE override? put overrides before the option)" if "=" in token else ""
    raise SeedsError(f"{option}: {token!r} is not a seed or a range{hint}; {ALLOWED}")


def _check_bound(seed: int, token: str, option: str) -> None:
    if seed > MAX_SEED:
        raise SeedsError(f"{option}: {token!r} is above {MAX_SEED}; {ALLOWED}")


def take_overrides(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split KEY=VALUE overrides that argparse swept into ``--seeds`` (they followed it) from the seeds."""
    return [t for t in tokens if "=" not in t], [t for t in tokens if "=" in t]


def add_seeds_argument(parser: argparse.ArgumentParser, default: str = "0-4", help_text: str = "one run per seed",
                       ) -> None:
    """Add ``--seeds`` as raw strings; commands call ``parse_seeds(args.seeds)`` so errors are one line."""
    parser.add_argument("--seeds", nargs="+", default=[default], metavar="SEEDS",
                        help=f"{help_text}: seeds and ranges, e.g. 0-9 or 0 1 2 or 0-2 5 (default: {default})")
