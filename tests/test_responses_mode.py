"""`verify --responses`: verify completions made elsewhere, with the same outputs as a generating run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import REPO, read_jsonl, run_verify


def write_responses(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_gsm8k_reference_solutions_all_verify(tmp_path: Path) -> None:
    bank = REPO / "problem_banks" / "gsm8k-test.jsonl"
    problems = read_jsonl(bank)
    responses = write_responses(
        tmp_path / "refs.jsonl", [{"problem_id": p["id"], "completion": p["solution"]} for p in problems]
    )
    out = tmp_path / "run"
    result = run_verify("--bank", str(bank), "--responses", str(responses), "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problems"] == summary["samples"] == 1319
    assert summary["verified"] == summary["problems_with_verified"] == 1319
    assert summary["pass@1"] == 1.0
    chains = read_jsonl(out / "chains.jsonl")
    assert len(chains) == 1319 and all(c["verdict"]["status"] == "correct" for c in chains)
    verified = read_jsonl(out / "verified.jsonl")
    assert len(verified) == 1319
    assert verified[0]["messages"][-1] == {"role": "assistant", "content": problems[0]["solution"]}
    assert verified[0]["messages"][-2]["content"] == problems[0]["question"]


def test_several_responses_per_problem_and_pass_at_k(tmp_path: Path) -> None:
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    rows = [
        {"problem_id": "gsm-style-00", "completion": "3 + 5 = 8\n#### 8"},
        {"problem_id": "gsm-style-00", "completion": "3 * 5 = 15\n#### 15"},
        {"problem_id": "gsm-style-00", "completion": "I am not sure."},
        {"problem_id": "gsm-style-01", "completion": "The answer is 24."},
        {"problem_id": "gsm-style-01", "completion": "#### 25"},
    ]
    out = tmp_path / "run"
    result = run_verify(
        "--bank",
        str(bank),
        "--responses",
        str(write_responses(tmp_path / "r.jsonl", rows)),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    chains = read_jsonl(out / "chains.jsonl")
    assert [(c["problem_id"], c["sample_index"], c["verdict"]["status"]) for c in chains] == [
        ("gsm-style-00", 0, "correct"),
        ("gsm-style-00", 1, "wrong"),
        ("gsm-style-00", 2, "no_answer"),
        ("gsm-style-01", 0, "correct"),
        ("gsm-style-01", 1, "wrong"),
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problems"] == 2  # only problems with responses are in a responses run
    assert summary["verified"] == 2 and summary["problems_with_verified"] == 2
    assert summary["pass@k"]["1"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert summary["pass@k"]["2"] == pytest.approx((1 - 1 / 3 + 1.0) / 2)  # problem 01: 2 samples, 1 right
    assert summary["pass@k"]["3"] == pytest.approx(1.0)  # only problem 00 has 3 samples


def test_bad_responses_file_exits_2_naming_file_line_field(tmp_path: Path) -> None:
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    responses = tmp_path / "r.jsonl"
    responses.write_text(
        '{"problem_id": "gsm-style-00", "completion": "#### 8"}\n'
        '{"problem_id": "nope", "completion": "#### 8"}\n'
        '{"problem_id": "gsm-style-01"}\n'
        "{oops\n",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    result = run_verify("--bank", str(bank), "--responses", str(responses), "--out", str(out))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{responses}:2: problem_id: 'nope' is not in the bank",
        f"{responses}:3: completion: missing field",
        f"{responses}:4: <json>: malformed JSON: Expecting property name enclosed in double quotes (column 2)",
    ]


def test_bad_bank_exits_2_without_traceback(tmp_path: Path) -> None:
    bank = tmp_path / "bank.jsonl"
    bank.write_text('{"id": "a", "kind": "math", "question": "q"}\n', encoding="utf-8")
    result = run_verify("--bank", str(bank), "--responses", str(bank))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{bank}:1: answer: missing field"


def test_rerun_with_other_settings_is_refused(tmp_path: Path) -> None:
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    out = tmp_path / "run"
    first = write_responses(tmp_path / "a.jsonl", [{"problem_id": "gsm-style-00", "completion": "#### 8"}])
    second = write_responses(tmp_path / "b.jsonl", [{"problem_id": "gsm-style-00", "completion": "#### 9"}])
    assert run_verify("--bank", str(bank), "--responses", str(first), "--out", str(out)).returncode == 0
    again = run_verify("--bank", str(bank), "--responses", str(first), "--out", str(out))
    assert again.returncode == 0 and "1 resumed, 0 new" in again.stdout
    other = run_verify("--bank", str(bank), "--responses", str(second), "--out", str(out))
    assert other.returncode == 2
    assert "this directory holds a run with" in other.stderr
    assert len(read_jsonl(out / "chains.jsonl")) == 1


def test_usage_errors_exit_2() -> None:
    assert run_verify().returncode == 2
    assert run_verify("--bank", "x.jsonl", "--samples", "0").returncode == 2
    assert run_verify("bank", "import", "nope", "a", "-o", "b").returncode == 2


def test_code_bank_reference_solutions_pass_in_the_sandbox(tmp_path: Path, docker_client) -> None:
    """The pipeline's code path end to end: HumanEval references as model outputs, real Docker."""
    bank = REPO / "problem_banks" / "code-style.jsonl"
    problems = read_jsonl(bank)
    rows = [
        {"problem_id": p["id"], "completion": f"```python\n{p['reference_solution']}```"} for p in problems
    ]
    rows.append({"problem_id": problems[0]["id"], "completion": "```python\ndef nothing():\n    pass\n```"})
    out = tmp_path / "run"
    result = run_verify(
        "--bank",
        str(bank),
        "--responses",
        str(write_responses(tmp_path / "r.jsonl", rows)),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["problems"] == 164 and summary["samples"] == 165
    assert summary["verified"] == 164 and summary["problems_with_verified"] == 164
    assert summary["status_counts"]["pass"] == 164
    chains = read_jsonl(out / "chains.jsonl")
    failed = [c for c in chains if not c["verdict"]["correct"]]
    assert [(c["problem_id"], c["sample_index"]) for c in failed] == [(problems[0]["id"], 1)]
    assert failed[0]["verdict"]["status"] in {"wrong", "runtime_error"}


def test_resume_retries_units_the_checker_could_not_decide(tmp_path: Path) -> None:
    """A unit recorded as an infrastructure failure (math worker lost) is checked again on rerun,
    and the log is left with exactly one record per unit."""
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    rows = [
        {"problem_id": "gsm-style-00", "completion": "3 + 5 = 8\n#### 8"},
        {"problem_id": "gsm-style-01", "completion": "#### 24"},
    ]
    responses = write_responses(tmp_path / "r.jsonl", rows)
    out = tmp_path / "run"
    assert run_verify("--bank", str(bank), "--responses", str(responses), "--out", str(out)).returncode == 0
    chains_path = out / "chains.jsonl"
    chains = read_jsonl(chains_path)
    # What an earlier run would have logged had its math worker died on the first unit.
    chains[0]["verdict"] = {**chains[0]["verdict"], "status": "error", "correct": False, "rule": "worker"}
    chains_path.write_text("".join(json.dumps(c) + "\n" for c in chains), encoding="utf-8")

    again = run_verify("--bank", str(bank), "--responses", str(responses), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "1 resumed, 1 new" in again.stdout
    after = read_jsonl(chains_path)
    assert sorted((c["problem_id"], c["sample_index"]) for c in after) == [
        ("gsm-style-00", 0),
        ("gsm-style-01", 0),
    ]
    assert all(c["verdict"]["status"] == "correct" for c in after)
    assert json.loads((out / "summary.json").read_text())["verified"] == 2


def test_infrastructure_failures_are_not_scored_as_wrong(tmp_path: Path) -> None:
    from verifier.pipeline.summary import summarise
    from verifier.schema import ChainRecord

    def record(i: int, kind: str, status: str, rule: str | None) -> ChainRecord:
        verdict = {"status": status, "correct": status in ("correct", "pass"), "rule": rule, "reason": "r"}
        return ChainRecord.model_validate(
            {
                "problem_id": "p",
                "sample_index": i,
                "kind": kind,
                "seed": None,
                "model": "m",
                "prompt": "q",
                "completion": "c",
                "tokens": 0,
                "extracted": None,
                "verdict": verdict,
            }
        )

    records = [
        record(0, "math", "correct", "rational"),
        record(1, "math", "error", "worker"),
        record(2, "math", "timeout", "deadline"),
        record(3, "math", "timeout", "guard"),  # a pathological answer: the model's doing
        record(4, "code", "sandbox_error", None),
        record(5, "code", "timeout", "deadline"),  # a candidate that loops: the model's doing
    ]
    assert [r.infrastructure_failure for r in records] == [False, True, True, False, True, False]
    summary = summarise(records, problems=1, wall_seconds=0.0, run={})
    assert summary["infra_errors"] == 3
    assert summary["per_problem"]["p"] == {"samples": 3, "correct": 1, "infra_errors": 3}
    assert summary["pass@1"] == pytest.approx(1 / 3)


def test_unusable_inputs_and_run_directories_exit_2_without_traceback(tmp_path: Path) -> None:
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    good = write_responses(tmp_path / "r.jsonl", [{"problem_id": "gsm-style-00", "completion": "#### 8"}])
    not_utf8 = tmp_path / "latin1.jsonl"
    not_utf8.write_bytes(b'{"problem_id": "gsm-style-00", "completion": "caf\xe9"}\n')
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "run.json").write_text("{not json")
    cases = [
        (("--responses", str(not_utf8)), f"{not_utf8}:1: <encoding>: not UTF-8"),
        (
            ("--responses", str(good), "--out", str(a_file)),
            f"{a_file}:0: --out: cannot use as the run directory",
        ),
        (
            ("--responses", str(good), "--out", str(corrupt)),
            f"{corrupt / 'run.json'}:1: <json>: not a run description",
        ),
        (("--responses", str(tmp_path)), f"{tmp_path}:0: <file>: cannot open"),
    ]
    for args, expected in cases:
        result = run_verify("--bank", str(bank), *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(expected), (args, result.stderr)


def test_completion_with_unicode_line_separators_round_trips(tmp_path: Path) -> None:
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    text = "first\u2028second\u2029third\x85\n#### 8"
    responses = write_responses(tmp_path / "r.jsonl", [{"problem_id": "gsm-style-00", "completion": text}])
    out = tmp_path / "run"
    for _ in range(2):  # the second run reads the log back to resume
        result = run_verify("--bank", str(bank), "--responses", str(responses), "--out", str(out))
        assert result.returncode == 0, result.stderr
    [chain] = read_jsonl(out / "chains.jsonl")
    assert chain["completion"] == text and chain["verdict"]["status"] == "correct"


def test_runtime_option_reaches_the_sandbox_and_its_failure_is_infrastructure(
    tmp_path: Path, docker_client
) -> None:
    """--runtime runsc where gVisor is not installed: the engine refuses the container, which is a
    sandbox_error (counted, not scored), never a wrong answer."""
    if "runsc" in docker_client.info().get("Runtimes", {}):
        pytest.skip("gVisor is installed here: the refusal this test needs cannot happen")
    bank = REPO / "problem_banks" / "code-style.jsonl"
    first = read_jsonl(bank)[0]
    rows = [{"problem_id": first["id"], "completion": f"```python\n{first['reference_solution']}```"}]
    out = tmp_path / "run"
    responses = write_responses(tmp_path / "r.jsonl", rows)
    result = run_verify(
        "--bank", str(bank), "--responses", str(responses), "--out", str(out), "--runtime", "runsc"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status_counts"] == {"sandbox_error": 1}
    assert summary["infra_errors"] == 1 and summary["pass@1"] is None
