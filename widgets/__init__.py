"""The notebook GUI for Lander Lab, on ipywidgets and Plotly.

``TrainingPanel`` trains and tunes one agent, or K side by side, live; ``LiveCharts`` draws their events;
``EpisodeViewer`` replays recorded episodes inline. Imported lazily, so
``import widgets`` stays light until one is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainingPanel": "widgets.panel",
    "LiveCharts": "widgets.charts",
    "EpisodeViewer": "widgets.viewer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'widgets' has no attribute {name!r}")
