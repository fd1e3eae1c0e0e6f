# The two commands of the README: `make demo` and `make test`. Both set up what is missing first
# (idempotent), so each works on a fresh machine and costs seconds on a ready one.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONUNBUFFERED := 1

.PHONY: setup docker sandbox demo test lint

setup:
	@bash scripts/bootstrap.sh

docker:
	@bash scripts/docker_up.sh

# The runner image for code problems (builds a local base with debootstrap when no registry answers).
sandbox: setup docker
	@$(BIN)/verify sandbox build

demo: setup sandbox
	$(BIN)/verify --bank problem_banks/gsm-style.jsonl --out runs/demo

lint: setup
	$(BIN)/ruff check verifier sandboxes tests benchmarks
	$(BIN)/mypy

# pytest exits 5 when no test ran; make fails on any non-zero exit, so that never passes silently.
test: setup sandbox lint
	@bash scripts/chromium_up.sh
	@bash scripts/vllm_env.sh && bash scripts/llamacpp_env.sh  # the engines' own venvs (cached)
	$(BIN)/pytest -q --timeout=900 --durations=20 tests
