#!/usr/bin/env bash
# The test command: ruff, mypy (lab/ and widgets/, configured in pyproject.toml), the docs site
# (mkdocs build --strict into test-artifacts/site, whose pages tests/test_docs.py then reads), then pytest
# (unit, notebooks, browser, PostgreSQL). Arguments go to pytest: `scripts/run_tests.sh -m "not slow"`
# is the quick loop (no notebooks, browser, PostgreSQL or kernel tests); CI runs everything.
# pytest runs on LAB_TEST_WORKERS processes (pytest-xdist, default 2; `-n 0` in the arguments runs serially).
# `--dist loadgroup` hands out one test at a time, except tests marked xdist_group(NAME), which share a worker.
# Starts a throwaway PostgreSQL on loopback when Debian's server is installed.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${LAB_VENV:-.venv}"  # relative to the repo, or absolute
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
export PATH="$VENV/bin:$PATH"
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy MPLBACKEND=Agg
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's lab/ and widgets/, even from a shared venv

pg_stop() { :; }
if [ -z "${LAB_TEST_POSTGRES_URL:-}" ] && [ -f scripts/postgres.sh ] && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  source scripts/postgres.sh && pg_start && trap pg_stop EXIT
fi

ruff check . || exit 1
mypy || exit 1
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir test-artifacts/site || exit 1
export LAB_BUILT_SITE="$PWD/test-artifacts/site"
pytest -n "${LAB_TEST_WORKERS:-2}" --dist loadgroup "$@"
code=$?
if [ "$code" -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi
exit "$code"
