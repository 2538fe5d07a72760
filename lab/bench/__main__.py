"""``python -m lab.bench JOB RESULT``: one time-to-solve seed in its own process (lab.bench.solve's workers)."""

import sys

from lab.bench.solve import _worker_main

_worker_main(*sys.argv[1:3])
