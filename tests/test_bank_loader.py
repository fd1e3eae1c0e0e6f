"""The bank schema and loader: every kind of bad line gives `file:line: field: what is wrong`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifier.banks.loader import load_bank
from verifier.errors import InputError

GOOD_MATH = {"id": "m1", "kind": "math", "question": "1+1?", "answer": "2"}
GOOD_CODE = {
    "id": "c1",
    "kind": "code",
    "prompt": "def f():\n",
    "tests": {"style": "call", "entry_point": "f", "cases": [{"args": [], "expected": 1}]},
}


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "bank.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_valid_bank_loads_both_kinds(tmp_path: Path) -> None:
    bank = load_bank(write(tmp_path, [json.dumps(GOOD_MATH), "", json.dumps(GOOD_CODE)]))
    assert [p.id for p in bank.problems] == ["m1", "c1"]
    assert bank.counts() == {"problems": 2, "math": 1, "code": 1}
    assert bank.problems[0].schema_version == 1


@pytest.mark.parametrize(
    "line,expected",
    [
        ("{not json", ":1: <json>: malformed JSON"),
        ("[1, 2]", ":1: <json>: expected an object, got list"),
        (json.dumps({**GOOD_MATH, "colour": "red"}), ":1: colour: unknown field"),
        (json.dumps({k: v for k, v in GOOD_MATH.items() if k != "answer"}), ":1: answer: missing field"),
        (json.dumps({**GOOD_MATH, "kind": "poetry"}), ":1: kind: must be one of"),
        (json.dumps({**GOOD_MATH, "answer": ""}), ":1: answer: String should have at least 1 character"),
        (json.dumps({**GOOD_MATH, "schema_version": 7}), ":1: schema_version: Input should be 1"),
        (
            json.dumps({**GOOD_CODE, "tests": {"style": "call", "entry_point": "f", "cases": []}}),
            ":1: tests.cases:",
        ),
        (json.dumps({**GOOD_CODE, "tests": {"style": "shell"}}), ":1: tests.style: must be one of"),
        (json.dumps({k: v for k, v in GOOD_MATH.items() if k != "kind"}), ":1: kind: missing field"),
    ],
)
def test_bad_line_names_file_line_and_field(tmp_path: Path, line: str, expected: str) -> None:
    path = write(tmp_path, [line])
    with pytest.raises(InputError) as info:
        load_bank(path)
    assert len(info.value.messages) == 1
    assert info.value.messages[0].startswith(str(path))
    assert expected in info.value.messages[0]


def test_duplicate_id_points_at_first_occurrence(tmp_path: Path) -> None:
    path = write(tmp_path, [json.dumps(GOOD_MATH), json.dumps(GOOD_CODE), json.dumps(GOOD_MATH)])
    with pytest.raises(InputError) as info:
        load_bank(path)
    assert info.value.messages == [f"{path}:3: id: duplicate id 'm1' (first on line 1)"]


def test_all_errors_are_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, ["{", json.dumps(GOOD_MATH), json.dumps({**GOOD_MATH, "id": "m2", "x": 1}), "{"])
    with pytest.raises(InputError) as info:
        load_bank(path)
    assert [m.split(": ")[0] for m in info.value.messages] == [f"{path}:1", f"{path}:3", f"{path}:4"]


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        load_bank(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="no problems"):
        load_bank(write(tmp_path, [""]))


@pytest.mark.parametrize("name,count", [("gsm8k-test.jsonl", 1319), ("gsm-style.jsonl", 15)])
def test_shipped_banks_are_valid(repo: Path, name: str, count: int) -> None:
    bank = load_bank(repo / "problem_banks" / name)
    assert len(bank.problems) == count
