"""`verify --bank ...` end to end on the real embedded model, and resume after a real kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import REPO, read_jsonl, run_verify, verify_cmd

pytestmark = pytest.mark.model

BANK = str(REPO / "problem_banks" / "gsm-style.jsonl")


def test_generate_and_verify_two_problems(tmp_path: Path, embedded_model_path: Path) -> None:
    out = tmp_path / "run"
    args = ("--bank", BANK, "--limit", "2", "--samples", "3", "--max-new-tokens", "48", "--out", str(out))
    result = run_verify(*args)
    assert result.returncode == 0, result.stderr
    chains = read_jsonl(out / "chains.jsonl")
    assert sorted((c["problem_id"], c["sample_index"]) for c in chains) == [
        (f"gsm-style-0{p}", i) for p in range(2) for i in range(3)
    ]
    for c in chains:
        assert c["model"] == "SmolLM2-135M-Instruct"
        assert c["prompt"][-1]["role"] == "user" and c["completion"] and 0 < c["tokens"] <= 48
        assert c["verdict"]["status"] in {"correct", "wrong", "no_answer", "unparseable"}
        assert isinstance(c["seed"], int)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problems"] == 2 and summary["samples"] == 6
    assert summary["verified"] == sum(c["verdict"]["correct"] for c in chains)
    assert set(summary["pass@k"]) == {"1", "2", "3"}
    assert summary["tokens"] == sum(c["tokens"] for c in chains) and summary["tokens_per_s"] > 0
    assert summary["versions"]["torch"] and summary["run"]["seed"] == 0
    verified = read_jsonl(out / "verified.jsonl")
    assert len(verified) == summary["verified"]
    assert "verifying" in result.stdout and "verified chains" in result.stdout

    # The same command again resumes: nothing new, same outputs.
    again = run_verify(*args)
    assert again.returncode == 0, again.stderr
    assert "6 resumed, 0 new" in again.stdout
    assert read_jsonl(out / "chains.jsonl") == chains


def test_kill_minus_nine_then_resume_gives_one_record_per_unit(
    tmp_path: Path, embedded_model_path: Path
) -> None:
    out = tmp_path / "run"
    chains_path = out / "chains.jsonl"
    # One problem per batch, so records land on disk one problem at a time while the run goes on.
    args = ("--bank", BANK, "--limit", "4", "--samples", "2", "--max-new-tokens", "40", "--batch-rows", "2")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        verify_cmd(*args, "--out", str(out)),
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if chains_path.exists() and chains_path.read_text().count("\n") >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, (
            f"run ended before it could be killed: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = read_jsonl(chains_path)
    assert 2 <= len(before) < 8, "the kill should land in the middle of the run"
    assert not (out / "summary.json").exists()

    result = run_verify(*args, "--out", str(out))
    assert result.returncode == 0, result.stderr
    after = read_jsonl(chains_path)
    keys = Counter((c["problem_id"], c["sample_index"]) for c in after)
    assert len(keys) == 8 and set(keys.values()) == {1}
    assert after[: len(before)] == before  # finished work was kept as it was
    assert json.loads((out / "summary.json").read_text())["samples"] == 8


def test_until_verified_samples_in_rounds_then_resumes_with_nothing_new(
    tmp_path: Path, embedded_model_path: Path
) -> None:
    """--until-verified 1 --max-samples 4 --samples 2: each problem gets one round of 2 when one of
    them verifies, else a second round; a rerun regenerates nothing."""
    out = tmp_path / "run"
    args: tuple[str, ...] = ("--bank", BANK, "--limit", "3", "--samples", "2", "--until-verified", "1")
    args += ("--max-samples", "4")
    args += ("--max-new-tokens", "64", "--dtype", "float32", "--out", str(out))
    result = run_verify(*args)
    assert result.returncode == 0, result.stderr
    chains = read_jsonl(out / "chains.jsonl")
    by_problem: dict[str, list[dict]] = {}
    for c in sorted(chains, key=lambda c: (c["problem_id"], c["sample_index"])):
        by_problem.setdefault(c["problem_id"], []).append(c)
    assert len(by_problem) == 3
    for rows in by_problem.values():
        indices = [c["sample_index"] for c in rows]
        first_round_verified = any(c["verdict"]["correct"] for c in rows[:2])
        assert indices == ([0, 1] if first_round_verified else [0, 1, 2, 3])
        assert all(c["finish_reason"] in {"stop", "length"} for c in rows)
    run = json.loads((out / "run.json").read_text())
    assert run["until_verified"] == 1 and run["max_samples"] == 4
    again = run_verify(*args)
    assert again.returncode == 0, again.stderr
    assert f"{len(chains)} resumed, 0 new" in again.stdout
    assert read_jsonl(out / "chains.jsonl") == chains


def test_ctrl_c_keeps_finished_work_and_prints_no_traceback(
    tmp_path: Path, embedded_model_path: Path
) -> None:
    out = tmp_path / "run"
    chains_path = out / "chains.jsonl"
    args = ("--bank", BANK, "--limit", "4", "--samples", "2", "--max-new-tokens", "40", "--batch-rows", "2")
    proc = subprocess.Popen(
        verify_cmd(*args, "--out", str(out)),
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if chains_path.exists() and chains_path.read_text().count("\n") >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "rerun the same command to resume" in stderr
    before = read_jsonl(chains_path)
    assert 2 <= len(before) < 8
    result = run_verify(*args, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"{len(before)} resumed, {8 - len(before)} new" in result.stdout


def test_openai_backend_end_to_end_against_a_local_server(tmp_path: Path, embedded_model_path: Path) -> None:
    """`--backend openai` through the CLI against llama.cpp's real server on 127.0.0.1 (it ignores
    n, so the backend asks once per seed); the usage the server reports lands in chains.jsonl."""
    from tests.conftest import require
    from verifier.generation.servers import SERVED_NAME, llamacpp_server

    require(
        (REPO / ".venvs" / "llamacpp" / "bin" / "python").exists(),
        "llama.cpp's server is not installed: bash scripts/llamacpp_env.sh",
    )
    out = tmp_path / "run"
    with llamacpp_server() as server:
        args: tuple[str, ...] = ("--bank", BANK, "--limit", "2", "--samples", "2", "--out", str(out))
        args += ("--max-new-tokens", "48")
        args += ("--backend", "openai", "--base-url", server.base_url, "--api-model", SERVED_NAME)
        result = run_verify(*args)
        assert result.returncode == 0, result.stderr
        chains = read_jsonl(out / "chains.jsonl")
        assert sorted((c["problem_id"], c["sample_index"]) for c in chains) == [
            (f"gsm-style-0{p}", i) for p in range(2) for i in range(2)
        ]
        for c in chains:
            assert c["finish_reason"] in {"stop", "length"} and 0 < c["tokens"] <= 48
            assert c["prompt_tokens"] and c["prompt_tokens"] > 0
        assert json.loads((out / "run.json").read_text())["backend"] == "openai"
        again = run_verify(*args)
        assert again.returncode == 0 and "4 resumed, 0 new" in again.stdout


def test_backend_options_are_checked_before_anything_loads(tmp_path: Path) -> None:
    result = run_verify("--bank", BANK, "--backend", "openai", "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--base-url: required with --backend openai" in result.stderr
    assert "--api-model: required with --backend openai" in result.stderr
    result = run_verify("--bank", BANK, "--until-verified", "2")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("--max-samples: required with --until-verified")
    result = run_verify("--bank", BANK, "--temperature", "9")
    assert result.returncode == 2 and "--temperature: 9.0 is not in 0..5.0" in result.stderr
