#!/usr/bin/env bash
# One entry point for a fresh machine with Python 3.11, pip and apt.
#   bash bootstrap.sh start   set up, then open JupyterLab at the quickstart (the lab's main job)
#   bash bootstrap.sh test    set up (with test tools: Chromium, PostgreSQL), then run the tests
#   bash bootstrap.sh setup   set up only
set -euo pipefail
cd "$(dirname "$0")"
mode="${1:-start}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV="${LAB_VENV:-.venv}"

apt_install() {
  # Only what is missing, and only as root (CI and these machines run as root).
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then echo "please install with apt: ${missing[*]}"; return 0; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

setup() {
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1; then
      "$VENV/bin/python" -m pip install -q "torch>=2.2,<2.15"
    else
      # No GPU: take the CPU build (this pin resolves to the +cpu wheel on these machines),
      # so the dependency resolver never pulls a multi-GB CUDA build.
      "$VENV/bin/python" -m pip install -q "torch==2.13.0"
    fi
  fi
  "$VENV/bin/python" -m pip install -q -e ".[$1]"
}

case "$mode" in
  setup) setup dev ;;
  start)
    setup video
    exec "$VENV/bin/python" -m lab lab "${@:2}" ;;
  test)
    apt_install chromium postgresql xvfb
    setup "dev,bench"
    exec bash scripts/run_tests.sh "${@:2}" ;;
  *) echo "usage: bash bootstrap.sh [start|test|setup]"; exit 2 ;;
esac
