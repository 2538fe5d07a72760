"""Populations: K independent TD3 agents trained at once with stacked weights and batched updates.

Imported lazily, so the env worker process (which imports lab.population.envs) loads no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["AgentEvent", "Population"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("lab.population.trainer"), name)
    raise AttributeError(f"module 'lab.population' has no attribute {name!r}")
