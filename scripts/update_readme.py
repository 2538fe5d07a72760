"""Rewrite the README's generated blocks from the data they show, or check that they are up to date.

    python scripts/update_readme.py           # rewrite the blocks in README.md
    python scripts/update_readme.py --check   # exit 1, naming the stale blocks, when README.md differs

A block sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``: ``presets`` (the presets table, from
the newest report-seed record of each preset in benchmarks/results/), ``pretrained`` (the pretrained agent's
score, from its newest evaluation record) and ``panels`` (the panel screenshots with their captions, from
assets/panels.json, which scripts/make_assets.py writes beside the images). tests/test_readme.py runs the check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
README = ROOT / "README.md"
PANELS = ROOT / "assets" / "panels.json"


def _presets() -> str:
    from lab.bench.record import load_all
    from lab.bench.tables import presets_table

    return presets_table(load_all())


def _pretrained() -> str:
    from lab.bench.record import load_all
    from lab.bench.tables import pretrained_line

    return pretrained_line(load_all())


def _panels() -> str:
    panels = json.loads(PANELS.read_text(encoding="utf-8"))
    return "\n\n".join(f"![{p['alt']}](assets/{name})\n\n*{p['caption']}*" for name, p in panels.items())


BLOCKS: dict[str, tuple[Callable[[], str], bool]] = {
    "presets": (_presets, False),
    "pretrained": (_pretrained, True),
    "panels": (_panels, False),
}
"""name -> (what the block holds, whether it sits inside a line)."""


def render(text: str) -> str:
    """The README with every generated block rewritten; a block missing from it is an error."""
    for name, (make, inline) in BLOCKS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->)(.*?)(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md has no <!-- {name}:start --> ... <!-- {name}:end --> block")
        body = make() if inline else f"\n{make()}\n"
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(3), text, count=1)
    return text


def stale_blocks(text: str) -> list[str]:
    """The names of the blocks whose text differs from what the data gives."""
    fresh = render(text)
    stale = []
    for name in BLOCKS:
        pattern = re.compile(rf"<!-- {name}:start -->(.*?)<!-- {name}:end -->", re.S)
        if pattern.search(text).group(1) != pattern.search(fresh).group(1):  # type: ignore[union-attr]
            stale.append(name)
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when a block is stale")
    args = parser.parse_args()
    text = README.read_text(encoding="utf-8")
    if args.check:
        stale = stale_blocks(text)
        if stale:
            print(f"error: README.md's generated block(s) {', '.join(stale)} differ from the data: run "
                  "python scripts/update_readme.py", file=sys.stderr)
            return 1
        return 0
    from lab.io import atomic_write_text

    atomic_write_text(README, render(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
