"""The pytest plugin, run as CI runs it: `pytest --verify-bank BANK [--verify-responses R]` in a subprocess
(which also proves the pytest11 entry point is registered)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers import REPO


def run_pytest(tmp_path: Path, *args: str) -> tuple[int, dict[str, str], str]:
    report = tmp_path / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
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
