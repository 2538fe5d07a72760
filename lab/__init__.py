"""Lander Lab: train TD3 to land LunarLanderContinuous, tune it live, watch it land.

The public surface is imported lazily so ``import lab`` stays light (no torch or
pygame until you use them).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "lab.config",
    "ConfigError": "lab.config",
    "TrainingConfig": "lab.config",
    "NoiseConfig": "lab.config",
    "NetworkConfig": "lab.config",
    "EnvironmentConfig": "lab.config",
    "RunConfig": "lab.config",
    "preset": "lab.presets",
    "preset_names": "lab.presets",
    "Trainer": "lab.train.trainer",
    "Population": "lab.train.population",
    "Policy": "lab.policy",
    "load_policy": "lab.policy",
    "heuristic_policy": "lab.policy",
    "evaluate": "lab.evaluation",
    "export_gif": "lab.render.gif",
    "watch": "lab.render.launcher",
    "BehaviorAnalyzer": "lab.lander.behavior",
    "DiagnosticsTracker": "lab.analysis.diagnostics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lab' has no attribute {name!r}")
