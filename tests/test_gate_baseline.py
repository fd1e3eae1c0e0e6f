"""The regression gate: baseline comparison, JUnit XML, `verify --baseline/--max-drop/--junit/--pairs`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers import REPO, read_jsonl, run_verify
from verifier.errors import InputError
from verifier.gate import compare_summaries, load_summary
from verifier.gate.junit import build_junit
from verifier.schema import ChainRecord, VerdictRecord


def summary(**rows: tuple[int, int, int]) -> dict:
    return {
        "per_problem": {
            pid: {"samples": s, "correct": c, "infra_errors": e} for pid, (s, c, e) in rows.items()
        }
    }


@pytest.mark.parametrize(
    "before,after,max_drop,ok,regressed",
    [
        (summary(a=(1, 1, 0), b=(1, 0, 0)), summary(a=(1, 1, 0), b=(1, 0, 0)), 0.0, True, []),
        (summary(a=(1, 1, 0), b=(1, 1, 0)), summary(a=(1, 0, 0), b=(1, 1, 0)), 0.0, False, ["a"]),
        (summary(a=(1, 1, 0), b=(1, 1, 0)), summary(a=(1, 0, 0), b=(1, 1, 0)), 0.5, True, ["a"]),  # within
        (summary(a=(1, 1, 0), b=(1, 0, 0)), summary(a=(1, 0, 0), b=(1, 1, 0)), 0.0, True, ["a"]),  # a wash
        (summary(a=(4, 4, 0)), summary(a=(4, 3, 0)), 0.25, True, ["a"]),  # exactly the allowed drop
        (summary(a=(4, 4, 0)), summary(a=(4, 2, 0)), 0.25, False, ["a"]),
        (summary(a=(1, 1, 0)), summary(a=(0, 0, 1)), 1.0, False, []),  # unchecked: infra errors only
        (summary(a=(1, 1, 0), b=(1, 1, 0)), summary(a=(1, 1, 0), c=(1, 0, 0)), 0.0, True, []),  # bank changed
        (summary(a=(1, 1, 0)), summary(c=(1, 1, 0)), 1.0, False, []),  # no overlap: nothing compared
        (summary(a=(0, 0, 1)), summary(a=(1, 1, 0)), 1.0, False, []),  # the baseline checked nothing
    ],
)
def test_compare_table(before, after, max_drop, ok, regressed):
    c = compare_summaries(before, after, max_drop=max_drop)
    assert c.ok is ok
    assert [r.problem_id for r in c.regressed] == regressed


def test_comparison_report_lists_flipped_problems():
    c = compare_summaries(summary(a=(2, 2, 0), b=(2, 1, 0)), summary(a=(2, 0, 0), b=(2, 2, 0)), max_drop=0.0)
    text = "\n".join(c.lines())
    assert "a: 1.00 -> 0.00" in text and "improved: b" in text
    assert json.loads(json.dumps(c.to_json()))["regressed"][0]["problem_id"] == "a"


@pytest.mark.parametrize(
    "content,words", [(None, "no such"), ("{", "not JSON"), ('{"problems": 3}', "per_problem")]
)
def test_bad_baseline_files(tmp_path, content, words):
    path = tmp_path / "summary.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as e:
        load_summary(path)
    assert words in e.value.messages[0]


def _record(pid: str, i: int, status: str, correct: bool) -> ChainRecord:
    return ChainRecord(
        problem_id=pid,
        sample_index=i,
        kind="math",
        seed=None,
        model="m",
        prompt="p",
        completion="c",
        tokens=0,
        extracted="1",
        verdict=VerdictRecord(status=status, correct=correct, reason="because"),
    )


def test_junit_cases_per_problem():
    after = summary(a=(1, 1, 0), b=(1, 0, 0), c=(0, 0, 1), d=(1, 0, 0))
    records = [
        _record("a", 0, "correct", True),
        _record("b", 0, "wrong", False),
        _record("d", 0, "wrong", False),
    ]
    plain = build_junit(after, records, suite="bank")
    kinds = {
        case.get("name"): [child.tag for child in case if child.tag != "system-out"]
        for case in plain.iter("testcase")
    }
    assert kinds == {"a": [], "b": ["failure"], "c": ["error"], "d": ["failure"]}
    gated = build_junit(
        after,
        records,
        suite="bank",
        comparison=compare_summaries(summary(a=(1, 1, 0), b=(1, 1, 0), d=(1, 0, 0)), after, max_drop=0),
    )
    kinds = {
        case.get("name"): [child.tag for child in case if child.tag != "system-out"]
        for case in gated.iter("testcase")
    }
    assert kinds == {"a": [], "b": ["failure"], "c": ["error"], "d": ["skipped"]}  # d failed before too
    suite = gated.find("testsuite")
    assert suite is not None and (
        suite.get("tests"),
        suite.get("failures"),
        suite.get("errors"),
        suite.get("skipped"),
    ) == ("4", "1", "1", "1")


def _responses(path: Path, bank: Path, *, broken: set[int]) -> Path:
    rows = [json.loads(line) for line in bank.read_text().splitlines()]
    with path.open("w") as f:
        for i, row in enumerate(rows):
            f.write(
                json.dumps(
                    {"problem_id": row["id"], "completion": "#### 999999" if i in broken else row["solution"]}
                )
                + "\n"
            )
            f.write(json.dumps({"problem_id": row["id"], "completion": "I give up"}) + "\n")
    return path


def test_verify_baseline_gate_end_to_end(tmp_path):
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    good = _responses(tmp_path / "good.jsonl", bank, broken=set())
    bad = _responses(tmp_path / "bad.jsonl", bank, broken={0, 3})
    first = run_verify(
        "--bank",
        str(bank),
        "--responses",
        str(good),
        "--out",
        str(tmp_path / "r1"),
        "--pairs",
        str(tmp_path / "pairs.jsonl"),
    )
    assert first.returncode == 0, first.stderr
    baseline = tmp_path / "r1" / "summary.json"

    same = run_verify(
        "--bank",
        str(bank),
        "--responses",
        str(good),
        "--out",
        str(tmp_path / "r2"),
        "--baseline",
        str(baseline),
        "--max-drop",
        "0.01",
    )
    assert same.returncode == 0, same.stderr
    assert "baseline gate: ok" in same.stdout

    worse = run_verify(
        "--bank", str(bank), "--responses", str(bad), "--out", str(tmp_path / "r3"),
        "--baseline", str(baseline), "--max-drop", "0.01", "--junit", str(tmp_path / "report.xml"),
    )  # fmt: skip
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "REGRESSION" in worse.stderr
    assert "gsm-style-00: 0.50 -> 0.00" in worse.stderr and "gsm-style-03: 0.50 -> 0.00" in worse.stderr
    cases = ET.parse(tmp_path / "report.xml").getroot().iter("testcase")
    failed = sorted(c.get("name") for c in cases if c.find("failure") is not None)
    assert failed == ["gsm-style-00", "gsm-style-03"]

    tolerated = run_verify(
        "--bank",
        str(bank),
        "--responses",
        str(bad),
        "--out",
        str(tmp_path / "r3"),
        "--baseline",
        str(baseline),
        "--max-drop",
        "0.2",
    )
    assert tolerated.returncode == 0, tolerated.stderr

    pairs = read_jsonl(tmp_path / "pairs.jsonl")
    assert len(pairs) == len(bank.read_text().splitlines())
    assert all(
        p["chosen"][0]["role"] == "assistant" and p["rejected"][0]["content"] == "I give up" for p in pairs
    )


def test_no_overlap_is_a_failure_that_says_so():
    c = compare_summaries(summary(a=(1, 1, 0)), summary(b=(1, 1, 0)), max_drop=1.0)
    assert not c.ok and c.no_overlap and c.to_json()["no_overlap"]
    assert "nothing was compared" in c.lines()[0] and "another bank" in c.lines()[0]
    report = build_junit(summary(b=(1, 1, 0)), [_record("b", 0, "correct", True)], suite="s", comparison=c)
    failures = {case.get("name"): case.find("failure") for case in report.iter("testcase")}
    assert failures["b"] is None and failures["baseline overlap"] is not None


def test_a_baseline_from_another_bank_fails_the_gate_end_to_end(tmp_path):
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    first = run_verify(
        "--bank", str(bank), "--responses", str(_responses(tmp_path / "good.jsonl", bank, broken=set())),
        "--out", str(tmp_path / "r1"),
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    other = tmp_path / "other.jsonl"
    rows = [json.loads(line) for line in bank.read_text().splitlines()]
    other.write_text("".join(json.dumps({**r, "id": "other-" + r["id"]}) + "\n" for r in rows))
    gated = run_verify(
        "--bank", str(other), "--responses", str(_responses(tmp_path / "other-r.jsonl", other, broken=set())),
        "--out", str(tmp_path / "r2"), "--baseline", str(tmp_path / "r1" / "summary.json"),
        "--junit", str(tmp_path / "report.xml"),
    )  # fmt: skip
    assert gated.returncode == 1, gated.stdout + gated.stderr
    assert "nothing was compared" in gated.stderr
    cases = ET.parse(tmp_path / "report.xml").getroot().iter("testcase")
    assert [c.get("name") for c in cases if c.find("failure") is not None] == ["baseline overlap"]


def test_bad_baseline_is_exit_2_before_the_run(tmp_path):
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    result = run_verify(
        "--bank",
        str(bank),
        "--responses",
        str(tmp_path / "none.jsonl"),
        "--baseline",
        str(tmp_path / "missing.json"),
        "--out",
        str(tmp_path / "r"),
    )
    assert result.returncode == 2
    assert "no such baseline" in result.stderr
    assert not (tmp_path / "r").exists()


def test_bank_check_junit(tmp_path):
    rows = [
        json.loads(line) for line in (REPO / "problem_banks" / "gsm-style.jsonl").read_text().splitlines()[:3]
    ]
    rows[2]["answer"] = "424242"  # disagrees with its reference solution
    bank = tmp_path / "bank.jsonl"
    bank.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_verify("bank", "check", str(bank), "--junit", str(tmp_path / "bank.xml"))
    assert result.returncode == 1
    cases = {
        c.get("name"): c.find("failure") for c in ET.parse(tmp_path / "bank.xml").getroot().iter("testcase")
    }
    assert list(cases) == [r["id"] for r in rows]
    assert cases[rows[0]["id"]] is None and cases[rows[1]["id"]] is None
    failure = cases[rows[2]["id"]]
    assert failure is not None and failure.text
