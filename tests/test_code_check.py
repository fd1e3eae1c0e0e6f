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


# ---------------------------------------------------------------- values crossing like the benchmarks' harnesses


def assert_problem(test_code: str, entry: str, setup: str = "") -> dict:
    return {
        "id": f"mbpp-like-{entry}",
        "kind": "code",
        "prompt": "Solve it.",
        "tests": {"style": "assert", "code": test_code, "entry_point": entry, "setup_code": setup},
    }


@pytest.mark.parametrize(
    "test_code,entry,solution",
    [
        (  # MBPP-style: a Counter / defaultdict return value compared with one the tests build
            "from collections import Counter\ndef check(candidate):\n    assert candidate('aab') == Counter({'a': 2, 'b': 1})\n",
            "count",
            "from collections import Counter\ndef count(s):\n    return Counter(s)\n",
        ),
        (
            "from collections import defaultdict\ndef check(candidate):\n"
            "    d = candidate([(1, 2), (1, 3)])\n    assert d == {1: [2, 3]} and type(d) is defaultdict\n",
            "group",
            "from collections import defaultdict\ndef group(pairs):\n    d = defaultdict(list)\n"
            "    for k, v in pairs:\n        d[k].append(v)\n    return d\n",
        ),
        (
            "from fractions import Fraction\nfrom decimal import Decimal\ndef check(candidate):\n"
            "    assert candidate(1, 3) == (Fraction(1, 3), Decimal('0.5'))\n",
            "frac",
            "from fractions import Fraction\nfrom decimal import Decimal\n"
            "def frac(a, b):\n    return Fraction(a, b), Decimal('0.5')\n",
        ),
        (  # a type object as an argument
            "def check(candidate):\n    assert candidate((1, 2), tuple) is True and candidate([1], tuple) is False\n",
            "is_of",
            "def is_of(x, t):\n    return isinstance(x, t)\n",
        ),
        (  # a class the solution defines, built by the tests and passed back (MBPP's Pair)
            "def check(candidate):\n    assert candidate([Pair(5, 24), Pair(15, 25), Pair(27, 40), Pair(50, 60)], 4) == 3\n",
            "max_chain_length",
            "class Pair:\n    def __init__(self, a, b):\n        self.a = a\n        self.b = b\n"
            "def max_chain_length(arr, n):\n    arr = sorted(arr, key=lambda p: p.b)\n    best, end = 0, float('-inf')\n"
            "    for p in arr:\n        if p.a > end:\n            best, end = best + 1, p.b\n    return best\n",
        ),
        (  # the solution's object returned and inspected by the tests
            "def check(candidate):\n    p = candidate(2)\n    assert p.value == 2 and len(p) == 2 and str(p) == 'P2'\n",
            "make",
            "class P:\n    def __init__(self, v):\n        self.value = v\n    def __len__(self):\n        return self.value\n"
            "    def __str__(self):\n        return f'P{self.value}'\ndef make(v):\n    return P(v)\n",
        ),
        (  # MBPP: the tests use a module only the solution imported (one shared namespace there)
            "def check(candidate):\n    assert math.isclose(candidate(2), 12.566370614359172)\n",
            "circle_area",
            "import math\ndef circle_area(r):\n    return math.pi * r * r\n",
        ),
    ],
    ids=[
        "counter",
        "defaultdict",
        "fraction_decimal",
        "type_argument",
        "solution_class",
        "solution_object",
        "solution_import",
    ],
)
def test_values_cross_as_in_plain_python(sandbox_pool, test_code: str, entry: str, solution: str) -> None:
    verdict = check_code(
        problem=assert_problem(test_code, entry), completion=fenced(solution), sandbox=sandbox_pool
    )
    assert verdict.correct, verdict.reason


def test_a_solution_object_never_equals_a_value_the_tests_made(sandbox_pool) -> None:
    always = "class A:\n    def __eq__(self, o):\n        return True\ndef f():\n    return A()\n"
    problem = assert_problem("def check(candidate):\n    assert candidate() == 1\n", "f")
    verdict = check_code(problem=problem, completion=fenced(always), sandbox=sandbox_pool)
    assert verdict.status is CodeStatus.WRONG, verdict.reason


def test_call_style_counter_equals_an_object(sandbox_pool) -> None:
    problem = {
        "id": "counter-call",
        "kind": "code",
        "prompt": "Count letters.",
        "tests": {
            "style": "call",
            "entry_point": "count",
            "cases": [{"args": ["aab"], "expected": {"a": 2, "b": 1}}],
        },
    }
    code = "from collections import Counter\ndef count(s):\n    return Counter(s)\n"
    verdict = check_code(problem=problem, completion=fenced(code), sandbox=sandbox_pool)
    assert verdict.correct, verdict.reason


CHECKER = (
    "import sys\nout = open(sys.argv[3]).read().split()\nexp = open(sys.argv[2]).read().split()\n"
    "ok = sorted(out) == sorted(exp)\nprint('same multiset' if ok else 'differs')\nsys.exit(0 if ok else 1)\n"
)


@pytest.mark.parametrize(
    "program,status",
    [("print('2 1')", CodeStatus.PASS), ("print('1 1')", CodeStatus.WRONG)],
    ids=["accepted", "rejected"],
)
def test_trusted_checker_runs_in_the_sandbox(sandbox_pool, program: str, status: CodeStatus) -> None:
    problem = {
        "id": "checker",
        "kind": "code",
        "prompt": "Print the two numbers in any order.",
        "tests": {"style": "stdio", "cases": [{"stdin": "1 2\n", "stdout": "1 2"}], "checker": CHECKER},
    }
    verdict = check_code(problem=problem, completion=fenced(program), sandbox=sandbox_pool)
    assert verdict.status is status, verdict.reason


def test_per_case_time_limit_inside_the_job_cap(sandbox_pool) -> None:
    """Each case has its own limit (an APPS-style 14-case problem needs more than one limit in total)."""
    problem = {
        "id": "slow",
        "kind": "code",
        "prompt": "Echo, slowly.",
        "tests": {"style": "stdio", "cases": [{"stdin": f"{i}\n", "stdout": f"{i}"} for i in range(4)]},
        "limits": {"timeout_s": 20.0, "case_timeout_s": 5.0},
    }
    slow_once = "import time\nn = int(input())\nif n == 3:\n    time.sleep(30)\nprint(n)"
    verdict = check_code(problem=problem, completion=fenced(slow_once), sandbox=sandbox_pool)
    assert verdict.status is CodeStatus.TIMEOUT and "case 3" in verdict.reason, verdict.reason
    fine = check_code(
        problem=problem,
        completion=fenced("import time\ntime.sleep(0.3)\nprint(input())"),
        sandbox=sandbox_pool,
    )
    assert fine.correct, fine.reason  # 4 x 0.3 s of sleep: within every limit


def test_check_code_many_never_raises(sandbox_pool) -> None:
    bad_problem = {"id": "x", "kind": "code"}  # does not validate
    verdicts = check_code_many(
        [(bad_problem, "print(1)"), (CALL, fenced("def double(x):\n    return x * 2"))], sandbox=sandbox_pool
    )
    assert verdicts[0].status is CodeStatus.SANDBOX_ERROR and verdicts[0].rule == "bad_input"
    assert verdicts[1].correct


def test_a_completion_that_is_not_text_is_no_code_not_a_bank_bug() -> None:
    """A failed generation (None) is the candidate's: never the bank's bad_input, never retried."""
    from verifier.verdicts import Outcome, judge

    [verdict] = check_code_many([(CALL, None)])  # type: ignore[list-item]
    assert (verdict.status, verdict.rule) == (CodeStatus.NO_CODE, "not-text")
    assert judge("code", verdict.status, verdict.rule).outcome is Outcome.CANDIDATE_FAULT
