"""Fonts that exist on every install: a TTF shipped in assets/fonts, else pygame's bundled default.

System fonts are never used, because a fresh machine or a container may have none.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

FONT_DIR = Path(__file__).resolve().parents[2] / "assets" / "fonts"


def shipped_font() -> Path | None:
    """The first TTF/OTF in assets/fonts, if the project ships one."""
    if not FONT_DIR.is_dir():
        return None
    found = sorted(p for p in FONT_DIR.iterdir() if p.suffix.lower() in (".ttf", ".otf"))
    return found[0] if found else None


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> Any:
    """A pygame Font of about ``size`` pixels; cached because creating fonts is slow."""
    import pygame

    if not pygame.font.get_init():
        pygame.font.init()
    path = shipped_font()
    f = pygame.font.Font(str(path) if path else None, max(6, int(size)))
    f.set_bold(bold)
    return f
