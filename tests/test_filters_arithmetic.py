"""Arithmetic steps: what counts as a calculation, what is false, and the real references and
labelled model solutions (GSM8K test bank, MATH-500 style bank, a committed labelled sample)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO
from verifier.filters.arithmetic import ArithmeticStage, judge_text
from verifier.filters.base import Group
from verifier.filters.calculations import StepStatus, check_text, find_steps


def statuses(text: str) -> list[str]:
    return [c.status.value for c in check_text(text)]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("She has 16 - 3 - 4 = 9 eggs.", ["true"]),
        ("She has 16 - 3 - 4 = 10 eggs.", ["false"]),
        ("He pays 9 * 2 = $18 a day.", ["true"]),
        ("$80,000+$50,000=$130,000", ["true"]),
        ("<<48/2=24>>", ["true"]),
        ("<<48/2=25>>", ["false"]),
        ("3 x 4 = 12 apples", ["true"]),
        ("2 * 3 = 6 * 4 = 24", ["true", "true"]),  # a running calculation
        ("2 + 3 = 5 * 2 = 11", ["true", "false"]),
        ("20% of 50 = 10", ["true"]),
        ("100% - 20% = 80%", ["true"]),
        ("1/4 = 25%", ["true"]),
        ("1/3 = 33%", ["true"]),  # rounded to the digits shown
        ("10/3 = 3.33", ["true"]),
        ("10/3 = 3.5", ["false"]),
        ("7/2 = 3.5", ["true"]),
        ("1 1/2 / 1/2 = 3 episodes", ["true"]),  # a mixed number, a written fraction
        ("1/2 (68) + 10 = 44", ["true"]),  # a bracket next to a number multiplies
        (r"$\frac{3}{4} \cdot 8 = 6$", ["true"]),
        (r"$2^{10} = 1024$", ["true"]),
        (r"$4\dfrac{5}{8} = \dfrac{37}{8}$", ["true"]),
        ("0.5 - 0.4 = 0.09999999999999998", ["true"]),  # a calculator's float printout
        ("12 - 15 = -3", ["true"]),
        ("ages 2 + 3 = 5 x 2 = 10 years", ["true", "true"]),
    ],
)
def test_steps_table(text, expected):
    assert statuses(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1 hour = 60 minutes",  # a unit conversion, no operator
        "3 hours * 60 = 180 minutes",  # the left side is cut by a word
        "15 pages x 1/3 = 5 pages",  # idem, 'x' after a word
        "f(2+1) = 9",  # a function, not arithmetic
        "2x + 3 = 7",  # a variable
        "x = 5, so y = 10",
        "(3,6,9,...,99)=(1*3,2*3,3*3,...,33*3)",  # tuples
        "If a <= 3 + 4 then",
        "Step 1. Nothing to compute.",
    ],
)
def test_not_calculations_are_never_blamed(text):
    assert StepStatus.FALSE.value not in statuses(text)


def test_note_is_checked_and_the_prose_carries_its_result():
    steps = find_steps("She has 4.20 + 9.45 + 1.35 = <<4.20+9.45+1.35=14.999999999999998>>14.99 dollars.")
    by_source = {s.source: s for s in steps}
    assert set(by_source) == {"note", "copy"}  # the prose step is the note's, checked once
    checks = {c.step.source: c.status for c in check_text(steps[0].left + "=" + steps[0].right)}
    assert checks == {"text": StepStatus.TRUE}
    outcome = judge_text("Total $4.20 + $9.45 + $1.35 = $<<4.20+9.45+1.35=14.999999999999998>>14.99.")
    assert not outcome.kept and outcome.details["false_steps"][0]["source"] == "copy"


def test_sign_moved_into_words_is_not_false():
    assert statuses("$1800 - $2000 = $<<1800-2000=-200>>200 less") == ["true", "true"]


def _bank(name: str) -> list[dict]:
    with (REPO / "problem_banks" / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_gsm8k_references_one_false_step_a_real_typo():
    """1,318 of the 1,319 GSM8K test references have no false step; the one dropped writes
    '$32 - $20 = $300' for $320 - $20 (a typo in the reference itself, docs/filters.md)."""
    problems = _bank("gsm8k-test.jsonl")
    assert len(problems) == 1319
    dropped = [p["id"] for p in problems if not judge_text(p["solution"]).kept]
    assert dropped == ["gsm8k-test-1024"]
    steps = sum(len(check_text(p["solution"])) for p in problems[:200])
    assert steps > 1000  # it does look at the calculations, not just pass everything


def test_math_style_bank_references_one_real_typo():
    """MATH-500 references (LaTeX): the one dropped computes the discriminant of y^2 - 4y - 1 as
    '(-4)^2 + 4 * 1 * (-1) = 20' (the sign is wrong in the reference; 16 + 4 = 20 is meant)."""
    problems = [p for p in _bank("math-style.jsonl") if p.get("solution")]
    dropped = {p["id"]: judge_text(p["solution"]) for p in problems if not judge_text(p["solution"]).kept}
    assert len(problems) > 20
    assert list(dropped) == ["math500-174"]
    assert dropped["math500-174"].details["false_steps"][0]["step"].startswith("(-4)^2 + 4")


def test_labelled_correct_model_solutions_with_false_steps_are_caught():
    """Every solution of the committed sample is labelled correct (final answer right) by GSM8K's
    grader, yet writes a false calculation; each one is dropped, at the step we found."""
    with (REPO / "tests" / "data" / "gsm8k_false_steps.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    assert len(rows) == 10 and all(r["is_correct"] for r in rows)
    for r in rows:
        outcome = judge_text(r["solution"])
        assert not outcome.kept
        assert r["false_step"] in [s["step"] for s in outcome.details["false_steps"]]


def test_labelled_sample_correct_solutions_mostly_clean():
    """The 40-question labelled sample: no correct-labelled solution there has a false step."""
    with (REPO / "tests" / "data" / "gsm8k_example_model_solutions_40.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    correct = [v["solution"] for r in rows for v in r.values() if isinstance(v, dict) and v["is_correct"]]
    assert len(correct) > 20
    assert all(judge_text(s).kept for s in correct)


def test_stage_protocol_one_outcome_per_chain():
    from verifier.schema import ChainRecord, VerdictRecord

    def chain(i: int, text: str) -> ChainRecord:
        verdict = VerdictRecord(status="correct", correct=True)
        return ChainRecord(
            problem_id="p",
            sample_index=i,
            kind="math",
            seed=i,
            model="m",
            prompt="q",
            completion=text,
            tokens=1,
            extracted="9",
            verdict=verdict,
        )

    stage = ArithmeticStage()
    out = stage.judge([Group("p", None, (chain(0, "16 - 7 = 9"), chain(1, "16 - 7 = 8")))])
    assert [o.kept for o in out[0]] == [True, False]
    assert out[0][1].reason.startswith("false step: 16 - 7 is 9, not 8")
