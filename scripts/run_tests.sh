#!/usr/bin/env bash
# The test command: ruff, mypy (lab/ and widgets/, configured in pyproject.toml), then pytest
# (unit, notebooks, browser, PostgreSQL). Arguments go to pytest: `scripts/run_tests.sh -m "not slow"`
# is the quick loop (no notebooks, browser, PostgreSQL or kernel tests); CI runs everything.
# Starts a throwaway PostgreSQL on loopback when Debian's server is installed.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${LAB_VENV:-.venv}"
export PATH="$PWD/$VENV/bin:$PATH"
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy MPLBACKEND=Agg

pg_stop() { :; }
if [ -z "${LAB_TEST_POSTGRES_URL:-}" ] && [ -f scripts/postgres.sh ] && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  source scripts/postgres.sh && pg_start && trap pg_stop EXIT
fi

ruff check . || exit 1
mypy || exit 1
pytest "$@"
code=$?
if [ "$code" -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi
exit "$code"
