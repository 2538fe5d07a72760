"""Seeing the lander: the telemetry HUD, the pygame watch and play windows, GIF/MP4 export.

Nothing here imports pygame at package import time; each module loads it only
when it draws, so ``import lab`` and ``import lab.render.gif`` stay light.
"""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # keep pygame's banner out of CLI output and GIF logs
