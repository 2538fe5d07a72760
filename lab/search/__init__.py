"""Hyperparameter search: grid and random sweeps, Optuna studies, population-based training.

Submodules load lazily (optuna and torch only when a search runs):
``space`` parses and validates search files, ``records`` compares a file with the one a
search stored, ``runner`` runs one configuration, ``sweep`` runs many with resume and
workers, ``tune`` drives Optuna, ``storage`` and ``lease`` hold trials on Optuna's storage,
``evolve`` does population-based training (``evolve_population`` trains, ``evolve_folder``
commits and resumes), ``dashboard`` serves optuna-dashboard read-only.
"""

from lab.search.space import Choice, Grid, Parameter, Range, RunPlan, SearchSpec, SpecError, load_spec, parse_spec

__all__ = ["Choice", "Grid", "Parameter", "Range", "RunPlan", "SearchSpec", "SpecError", "load_spec", "parse_spec"]
