"""Fonts that exist on every install: a TTF shipped in assets/fonts, else pygame's bundled default.

System fonts are never used, because a fresh machine or a container may have none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FONT_DIR = Path(__file__).resolve().parents[2] / "assets" / "fonts"
_cache: dict[tuple[int, bool], Any] = {}


def shipped_font() -> Path | None:
    """The first TTF/OTF in assets/fonts, if the project ships one."""
    if not FONT_DIR.is_dir():
        return None
    found = sorted(p for p in FONT_DIR.iterdir() if p.suffix.lower() in (".ttf", ".otf"))
    return found[0] if found else None


def font(size: int, bold: bool = False) -> Any:
    """A pygame Font of about ``size`` pixels, cached because creating fonts is slow.

    The cache is dropped whenever pygame.font was shut down (a window closing calls
    pygame.quit), since fonts from before are then unusable.
    """
    import pygame

    if not pygame.font.get_init():
        pygame.font.init()
        _cache.clear()
    key = (max(6, int(size)), bool(bold))
    if key not in _cache:
        path = shipped_font()
        f = pygame.font.Font(str(path) if path else None, key[0])
        f.set_bold(key[1])
        _cache[key] = f
    return _cache[key]
