#!/usr/bin/env bash
# The test command: ruff, then pytest (unit, notebooks, browser, PostgreSQL).
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
pytest "$@"
code=$?
if [ "$code" -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi
exit "$code"
