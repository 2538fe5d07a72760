"""The training layer: the one engine over K agent slots and its two faces, Trainer (K = 1) and Population.

``engine`` decides when to collect, learn, evaluate and checkpoint; ``slot`` is one agent's bookkeeping,
``learning`` pays update debts and watches for divergence, ``evaluations``, ``checkpoints`` (the one schema),
``live`` (live changes, read from the config fields' metadata), ``control`` (pause/resume/stop and requests
from other threads), ``members`` (which configs may train together), ``run_folder`` (the run-folder writer,
one run per folder, its lock) and ``progress`` (the progress bar).
"""
