"""check_code end to end on the real sandbox pool: every test style, HumanEval, the bank self-check."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from verifier.banks.loader import load_bank
from verifier.code import (
    CodeStatus,
    check_code,
    check_code_many,
    selfcheck_code_problem,
    selfcheck_code_problems,
)
from verifier.schema import CodeProblem

pytestmark = pytest.mark.docker

BANK = Path(__file__).resolve().parent.parent / "problem_banks" / "code-style.jsonl"


@pytest.fixture(scope="module")
def humaneval() -> list[CodeProblem]:
    return [p for p in load_bank(BANK).problems if isinstance(p, CodeProblem)]


def fenced(code: str) -> str:
    return f"Let me think step by step.\n```python\n{code}\n```\nDone."


ADD = {
    "id": "add",
    "kind": "code",
    "prompt": 'def add(a, b):\n    """Return a + b."""\n',
    "tests": {
        "style": "assert",
        "code": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
        "entry_point": "add",
    },
}
CALL = {
    "id": "double",
    "kind": "code",
    "prompt": "Write double(x).",
    "tests": {
        "style": "call",
        "entry_point": "double",
        "cases": [
            {"args": [2], "expected": 4},
            {"args": [[1]], "expected": [1, 1]},
            {"kwargs": {"x": "a"}, "expected": "aa"},
        ],
    },
}
STDIO = {
    "id": "sum",
    "kind": "code",
    "prompt": "Print the sum of the integers on stdin.",
    "tests": {
        "style": "stdio",
        "cases": [{"stdin": "1 2 3\n", "stdout": "6\n"}, {"stdin": "10\n-4", "stdout": "6"}],
    },
}


@pytest.mark.parametrize(
    "problem,completion,status",
    [
        (ADD, fenced("def add(a, b):\n    return a + b"), CodeStatus.PASS),
        (ADD, "    return a + b\n", CodeStatus.PASS),  # a body continuing the prompt, no fence
        (ADD, fenced("def add(a, b):\n    return a - b"), CodeStatus.WRONG),
        (ADD, fenced("def add(a, b):\n    return a / 0"), CodeStatus.RUNTIME_ERROR),
        (ADD, fenced("def add(a, b) return"), CodeStatus.RUNTIME_ERROR),
        (ADD, "I cannot solve this. ```text\nno\n```", CodeStatus.NO_CODE),
        (CALL, fenced("def double(x):\n    return x * 2"), CodeStatus.PASS),
        (
            CALL,
            fenced("def double(x):\n    return x + x if not isinstance(x, int) else x * 2.0"),
            CodeStatus.WRONG,
        ),
        (CALL, fenced("def double(x):\n    return {'a': 1}[x]"), CodeStatus.RUNTIME_ERROR),
        (STDIO, fenced("import sys\nprint(sum(map(int, sys.stdin.read().split())))"), CodeStatus.PASS),
        (STDIO, fenced("n = sum(map(int, input().split()))\nprint(n, '')"), CodeStatus.WRONG),
        (STDIO, fenced("print(6)"), CodeStatus.PASS),
        (STDIO, fenced("import sys\nsys.exit(3)"), CodeStatus.RUNTIME_ERROR),
    ],
)
def test_check_code_statuses(sandbox_pool, problem: dict, completion: str, status: CodeStatus) -> None:
    verdict = check_code(problem=problem, completion=completion, sandbox=sandbox_pool)
    assert verdict.status is status, verdict.reason
    assert verdict.correct is (status is CodeStatus.PASS)


MEMORY = {**CALL, "limits": {"memory_mb": 256}}
# A real allocation over the address-space limit (256 MiB) for one input only.
ONE_CASE_OUT_OF_MEMORY = "def double(x):\n    if x == 2:\n        bytearray(10 ** 10)\n    return x * 2"


def test_a_memory_error_in_one_call_case_fails_only_that_case(sandbox_pool) -> None:
    verdict = check_code(problem=MEMORY, completion=fenced(ONE_CASE_OUT_OF_MEMORY), sandbox=sandbox_pool)
    assert verdict.status is CodeStatus.RUNTIME_ERROR, verdict.reason
    assert [t.passed for t in verdict.tests] == [False, True, True]
    assert "MemoryError" in verdict.tests[0].reason
    from verifier.rewards.core import code_reward

    assert code_reward(verdict, partial_credit=True).score == pytest.approx(2 / 3)  # the others count


@pytest.mark.parametrize(
    "problem,completion",
    [
        (MEMORY, "x = bytearray(10 ** 10)\ndef double(x):\n    return x * 2"),  # loading the program
        ({**ADD, "limits": {"memory_mb": 256}}, "def add(a, b):\n    return len(bytearray(10 ** 10))"),
    ],
    ids=["program", "assert_check"],
)
def test_a_memory_error_that_ends_the_job_is_oom(sandbox_pool, problem: dict, completion: str) -> None:
    verdict = check_code(problem=problem, completion=fenced(completion), sandbox=sandbox_pool)
    assert verdict.status is CodeStatus.OOM, verdict.reason


def test_verdict_carries_tests_outputs_and_timings(sandbox_pool) -> None:
    verdict = check_code(
        problem=CALL,
        completion=fenced("print('hello')\ndef double(x):\n    return x * 2"),
        sandbox=sandbox_pool,
    )
    assert verdict.correct
    assert [t.passed for t in verdict.tests] == [True, True, True]
    assert verdict.stdout == "hello\n"
    assert verdict.timings["sandbox_s"] > 0
    record = verdict.to_record()
    assert record["status"] == "pass" and record["correct"] is True


def test_humaneval_reference_and_canonical_body(sandbox_pool, humaneval) -> None:
    problem = humaneval[0]
    assert problem.reference_solution is not None
    body = problem.reference_solution[len(problem.prompt) :]
    assert check_code(problem=problem, completion=body, sandbox=sandbox_pool).correct  # body continuation
    assert check_code(
        problem=problem, completion=fenced(problem.reference_solution), sandbox=sandbox_pool
    ).correct
    wrong = fenced(f"def {problem.tests.entry_point}(*args):\n    return True")  # type: ignore[union-attr]
    assert check_code(problem=problem, completion=wrong, sandbox=sandbox_pool).status is CodeStatus.WRONG


def test_bank_selfcheck_all_references_pass_and_mutants_fail(sandbox_pool, humaneval) -> None:
    assert len(humaneval) == 164
    assert [p.id for p in humaneval[:2]] == ["humaneval-000", "humaneval-001"]
    recycled = sandbox_pool.stats["recycled"]
    started = time.perf_counter()
    messages = selfcheck_code_problems(humaneval, sandbox=sandbox_pool)
    print(f"checked in {time.perf_counter() - started:.2f} s")  # reported, never asserted
    assert [m for ms in messages for m in ms] == []
    # Clean jobs leave nothing behind, so the warm containers are reused, not replaced.
    assert sandbox_pool.stats["recycled"] == recycled


def test_selfcheck_reports_a_broken_reference(sandbox_pool, humaneval) -> None:
    broken = humaneval[2].model_copy(update={"reference_solution": humaneval[3].reference_solution})
    messages = selfcheck_code_problem(broken, sandbox=sandbox_pool)
    assert any("reference solution does not pass" in m for m in messages)


def test_many_keeps_order(sandbox_pool) -> None:
    items = [(ADD, fenced(f"def add(a, b):\n    return a + b + {k}")) for k in range(6)]
    verdicts = check_code_many(items, sandbox=sandbox_pool)
    assert [v.correct for v in verdicts] == [True] + [False] * 5
