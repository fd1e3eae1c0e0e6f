#!/usr/bin/env bash
# Idempotent set-up of llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) in its own
# virtualenv (.venvs/llamacpp). It is the reference server that ignores `n`, for the openai backend's
# one-request-per-seed fallback. Compiling llama.cpp takes ~6.5 minutes on 2 cores, so the wheel is
# built once with `pip wheel` into a cache directory and every later install reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venvs/llamacpp
VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
WHEELS=${VERIFIER_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/verifier/wheels}
STAMP=.stamps/llamacpp
mkdir -p .stamps .venvs "$WHEELS"

if [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ] && "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
  echo "[llamacpp_env] ready: $VENV (llama-cpp-python==$VERSION)"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "[llamacpp_env] creating $VENV"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
if ! ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl >/dev/null 2>&1; then
  echo "[llamacpp_env] building the llama-cpp-python==$VERSION wheel into $WHEELS (~6.5 minutes, once)"
  # Portable CPU code (no -march=native) so the cached wheel runs on any x86-64 machine it is copied to.
  CMAKE_ARGS=${CMAKE_ARGS:-"-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"} \
    CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
    "${PIP[@]}" wheel --no-deps -w "$WHEELS" "llama-cpp-python==$VERSION"
fi
echo "[llamacpp_env] installing llama-cpp-python[server]==$VERSION from $WHEELS"
"${PIP[@]}" install --find-links "$WHEELS" "llama-cpp-python[server]==$VERSION"
"$VENV/bin/python" -c "import llama_cpp, sys; sys.stdout.write('[llamacpp_env] llama_cpp ' + llama_cpp.__version__ + '\n')"
echo "$VERSION" > "$STAMP"
echo "[llamacpp_env] ready: $VENV (llama-cpp-python==$VERSION)"
