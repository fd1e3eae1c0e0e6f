"""The pytest plugin, run as CI runs it: `pytest --verify-bank BANK [--verify-responses R]` in a subprocess
(which also proves the pytest11 entry point is registered)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers import REPO


def run_pytest(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    report = tmp_path / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=None if env is None else {**os.environ, **env},
    )
    if not report.exists():  # a usage error stops pytest before it writes the report
        return done.returncode, {}, done.stdout + done.stderr
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        children = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
        outcomes[case.get("name", "")] = children[0] if children else "passed"
    return done.returncode, outcomes, done.stdout + done.stderr


def small_bank(tmp_path: Path, n: int = 3) -> tuple[Path, list[dict]]:
    rows = [
        json.loads(line) for line in (REPO / "problem_banks" / "gsm-style.jsonl").read_text().splitlines()[:n]
    ]
    bank = tmp_path / "bank.jsonl"
    bank.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return bank, rows


def test_each_problem_is_a_selfcheck_item(tmp_path):
    bank, rows = small_bank(tmp_path)
    code, outcomes, out = run_pytest(tmp_path, "--verify-bank", str(bank))
    assert code == 0, out
    assert outcomes == {r["id"]: "passed" for r in rows}


def test_a_bank_with_a_wrong_gold_answer_fails_that_item(tmp_path):
    bank, rows = small_bank(tmp_path)
    rows[1]["answer"] = "12345"  # no longer matches its reference solution
    bank.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, outcomes, out = run_pytest(tmp_path, "--verify-bank", str(bank))
    assert code == 1
    assert outcomes == {rows[0]["id"]: "passed", rows[1]["id"]: "failure", rows[2]["id"]: "passed"}


def test_responses_mode(tmp_path):
    bank, rows = small_bank(tmp_path)
    responses = tmp_path / "responses.jsonl"
    lines = [
        {"problem_id": rows[0]["id"], "completion": rows[0]["solution"]},
        {"problem_id": rows[1]["id"], "completion": rows[1]["solution"]},
        {"problem_id": rows[1]["id"], "completion": "#### 999999"},
    ]
    responses.write_text("".join(json.dumps(x) + "\n" for x in lines))
    code, outcomes, out = run_pytest(
        tmp_path, "--verify-bank", str(bank), "--verify-responses", str(responses)
    )
    assert code == 1
    assert outcomes == {rows[0]["id"]: "passed", rows[1]["id"]: "failure", rows[2]["id"]: "skipped"}
    assert "1/2 responses do not verify" in out and "999999" in out


def test_a_response_for_a_problem_not_in_the_bank_is_a_usage_error(tmp_path):
    # It used to be dropped silently (the CLI rejects it with exit 2).
    bank, rows = small_bank(tmp_path)
    responses = tmp_path / "responses.jsonl"
    lines = [
        {"problem_id": rows[0]["id"], "completion": rows[0]["solution"]},
        {"problem_id": "gsm8k-test-0001", "completion": "#### 1"},
    ]
    responses.write_text("".join(json.dumps(x) + "\n" for x in lines))
    code, outcomes, out = run_pytest(
        tmp_path, "--verify-bank", str(bank), "--verify-responses", str(responses)
    )
    assert code == pytest.ExitCode.USAGE_ERROR, out
    assert f"{responses}:2: problem_id: 'gsm8k-test-0001' is not in the bank" in out
    assert outcomes == {}


@pytest.mark.docker
def test_an_undecided_response_is_an_error_not_a_failure(tmp_path, docker_client):
    """A real infrastructure failure: the engine refuses the runtime (gVisor is not installed), so
    every check is a sandbox_error. The item errors in setup; it does not fail."""
    require_no_runsc(docker_client)
    row = json.loads((REPO / "problem_banks" / "code-style.jsonl").read_text().splitlines()[0])
    bank = tmp_path / "code.jsonl"
    bank.write_text(json.dumps(row) + "\n")
    responses = tmp_path / "responses.jsonl"
    completion = "```python\n" + row["reference_solution"] + "\n```"
    responses.write_text(json.dumps({"problem_id": row["id"], "completion": completion}) + "\n")
    code, outcomes, out = run_pytest(
        tmp_path,
        "--verify-bank",
        str(bank),
        "--verify-responses",
        str(responses),
        "--verify-runtime",
        "runsc",
    )
    assert code == 1, out
    assert outcomes == {row["id"]: "error"}, out
    assert "ERROR at setup" in out and "the checker could not decide" in out and "sandbox_error" in out
    assert "FAILED" not in out


def require_no_runsc(docker_client) -> None:
    if "runsc" in (docker_client.info().get("Runtimes") or {}):
        pytest.skip("gVisor is installed here, so the runsc runtime does not fail")


def test_an_invalid_bank_is_a_collection_error(tmp_path):
    bank = tmp_path / "bank.jsonl"
    bank.write_text('{"id": "x", "kind": "math"}\n')
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--verify-bank", str(bank)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "question" in done.stdout + done.stderr


def test_plugin_is_inert_without_the_option(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    code, outcomes, out = run_pytest(tmp_path)
    assert code == 0 and outcomes == {"test_one": "passed"}, out


@pytest.mark.docker
def test_code_problems_run_their_reference_in_the_sandbox(tmp_path, docker_client):
    rows = [
        json.loads(line)
        for line in (REPO / "problem_banks" / "code-style.jsonl").read_text().splitlines()[:2]
    ]
    assert "return result" in rows[1]["reference_solution"]
    rows[1]["reference_solution"] = rows[1]["reference_solution"].replace("return result", "return []")
    bank = tmp_path / "code.jsonl"
    bank.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, outcomes, out = run_pytest(tmp_path, "--verify-bank", str(bank))
    assert code == 1, out
    assert outcomes == {rows[0]["id"]: "passed", rows[1]["id"]: "failure"}
