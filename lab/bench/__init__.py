"""Benchmarks (``python -m lab bench ...``): the top layer, which may import any part of the lab.

``solve`` (time to solve over seeds), ``screen`` (levers side by side), ``throughput`` (updates,
replay and training rates), ``population`` (K agents against one run) and ``analyzer``. Figures are
printed, never asserted in unit tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.train.engine import Engine


def fit_to_the_end(engine: Engine) -> None:
    """Fit, and raise the signal that stopped it: a benchmark must not time, count or save a cut-short run,
    and Ctrl-C must end the whole benchmark, not just the run it fell in."""
    engine.fit()
    if engine.interrupted is not None:
        raise engine.interrupted
