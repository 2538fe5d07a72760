"""Hyperparameter search: grid and random sweeps, Optuna studies, population-based training.

Submodules load lazily (optuna and torch only when a search runs):
``space`` parses and validates search files, ``runner`` runs one configuration,
``sweep`` runs many with resume and workers, ``tune`` drives Optuna, ``evolve``
does population-based training.
"""

from lab.search.space import Choice, Grid, Parameter, Range, RunPlan, SearchSpec, SpecError, load_spec, parse_spec

__all__ = ["Choice", "Grid", "Parameter", "Range", "RunPlan", "SearchSpec", "SpecError", "load_spec", "parse_spec"]
