#!/usr/bin/env bash
# One entry point for a fresh Debian/Ubuntu-like machine with Python 3.11, pip and apt.
#   bash bootstrap.sh start   set up, then open JupyterLab at the quickstart (the lab's main job)
#   bash bootstrap.sh test    set up (with test and docs tools; as root, Chromium, PostgreSQL, Xvfb), then run the tests
#   bash bootstrap.sh docs    set up with the docs tools, then serve the documentation site on 127.0.0.1:8000
#   bash bootstrap.sh setup   set up only
# Elsewhere (macOS, Linux without apt): python3.11 -m venv .venv && .venv/bin/pip install -e '.[dev]'
set -euo pipefail
cd "$(dirname "$0")"
mode="${1:-start}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV="${LAB_VENV:-.venv}"
TORCH_CPU_INDEX="${LAB_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
TORCH="torch>=2.2,<2.15"

apt_install() {
  # Only what is missing, and only as root (CI and these machines run as root).
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then echo "please install with apt: ${missing[*]}"; return 0; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

index_reachable() {
  # Does the PEP 503 index at $1 answer for torch within 10 s? Asks one page; installs and downloads nothing.
  "$PY" - "$1" <<'EOF'
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=10) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception:  # unreachable, refused, no such host, not an index: all mean "use the default index"
    sys.exit(1)
EOF
}

torch_source() {
  # Where PyTorch comes from: "gpu" (an NVIDIA GPU: the default index), "cpu-index URL" (PyTorch's CPU wheels,
  # no multi-GB CUDA download) or "default" (that index cannot be reached: the default index and pip's own config).
  if command -v nvidia-smi >/dev/null 2>&1; then echo "gpu"
  elif index_reachable "$1"; then echo "cpu-index $1"
  else echo "default"; fi
}

install_torch() {
  local source
  source="$(torch_source "$TORCH_CPU_INDEX")"
  case "$source" in
    gpu) "$VENV/bin/python" -m pip install -q "$TORCH" ;;
    cpu-index*) "$VENV/bin/python" -m pip install -q --index-url "$TORCH_CPU_INDEX" "$TORCH" ;;
    *) echo "PyTorch's CPU wheel index ($TORCH_CPU_INDEX) cannot be reached: installing torch from the default index"
       # this pin resolves to the +cpu wheel where pip's configuration provides it (as on the project's machines)
       "$VENV/bin/python" -m pip install -q "torch==2.13.0" ;;
  esac
}

setup() {
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -c "import torch" 2>/dev/null || install_torch
  "$VENV/bin/python" -m pip install -q -e ".[$1]"
}

case "$mode" in
  setup) setup dev ;;
  start)
    setup video
    exec "$VENV/bin/python" -m lab lab "${@:2}" ;;
  test)
    apt_install chromium postgresql xvfb
    setup "dev,bench,docs"
    exec bash scripts/run_tests.sh "${@:2}" ;;
  docs)
    setup docs
    exec "$VENV/bin/mkdocs" serve --dev-addr 127.0.0.1:8000 "${@:2}" ;;
  torch-source)  # what setup would do for PyTorch here, without installing anything (tests/test_bootstrap.py)
    torch_source "${2:-$TORCH_CPU_INDEX}" ;;
  *) echo "usage: bash bootstrap.sh [start|test|docs|setup]"; exit 2 ;;
esac
