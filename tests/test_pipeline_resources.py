"""The run's resources: one object with the math pool and the sandbox pool, closed by the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import REPO, read_jsonl
from verifier.banks.loader import load_bank
from verifier.pipeline.run import run_pipeline
from verifier.pipeline.sources import ResponsesSource
from verifier.resources import Resources, ResourceSettings


def test_runtime_reaches_the_sandbox_pool_without_any_environment_variable() -> None:
    with Resources(ResourceSettings(runtime="runsc", sandbox_size=1)) as resources:
        assert not resources.sandbox_started  # nothing started until a code check asks for it
        pool = resources.sandbox()
        assert pool.runtime == "runsc" and pool.size == 1
        assert resources.sandbox() is pool
    with pytest.raises(RuntimeError):
        resources.sandbox()


def test_an_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="runtime"):
        ResourceSettings(runtime="kata")


def test_the_pipeline_checks_with_the_resources_it_is_given_and_closes_them(tmp_path: Path) -> None:
    bank = load_bank(REPO / "problem_banks" / "gsm-style.jsonl")
    responses = tmp_path / "r.jsonl"
    rows = [
        {"problem_id": "gsm-style-00", "completion": "#### 8"},
        {"problem_id": "gsm-style-01", "completion": "#### 1"},
    ]
    responses.write_text("".join(json.dumps(r) + "\n" for r in rows))
    resources = Resources()
    result = run_pipeline(
        bank,
        ResponsesSource(responses, bank.by_id()),
        tmp_path / "run",
        identity={"t": 1},
        resources=resources,
    )
    assert result.summary["samples"] == 2 and result.summary["verified"] == 1
    assert resources.math_pool._closed  # closed by the pipeline, not left to an atexit hook
    timing = result.summary["timing"]
    assert set(timing) >= {"generate_s", "generate_wait_s", "check_s", "check_wait_s", "write_s", "wall_s"}
    assert [c["verdict"]["status"] for c in read_jsonl(tmp_path / "run" / "chains.jsonl")] in (
        ["correct", "wrong"],
        ["wrong", "correct"],
    )
