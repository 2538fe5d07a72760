"""Benchmarks (``python -m lab bench ...``): the top layer, which may import any part of the lab.

``solve`` (time to solve over seeds), ``screen`` (levers side by side), ``throughput`` (updates,
replay and training rates), ``population`` (K agents against one run) and ``analyzer``. Figures are
printed, never asserted in unit tests.
"""
