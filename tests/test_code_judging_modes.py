"""Judging like the benchmarks, host side, no Docker: stdio comparison modes, accepted alternatives,
a trusted checker's per-case verdict, the schema's new fields, and the job they make."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sandboxes.protocol import JobResult
from verifier.banks.loader import load_bank
from verifier.code.check import check_code
from verifier.code.judge import judge
from verifier.code.program import METHOD_SHIM, job_for, method_entry, with_challenge
from verifier.code.selfcheck import SILENT_PROGRAM, mutant_for, return_none_mutant, selfcheck_code_problem
from verifier.code.stdio_compare import Comparison, mismatch, mismatch_any, numbers_close
from verifier.code.verdict import CodeStatus
from verifier.schema import AssertTests, CodeLimits, CodeProblem, IOTests

FLOAT = Comparison(mode="float")


@pytest.mark.parametrize(
    "mode,expected,actual,match",
    [
        # exact: lines; trailing whitespace, CRLF and blank lines at the ends do not count
        ("exact", "1 2\n3\n", "1 2   \r\n3\n\n\n", True),
        ("exact", "1 2\n3\n", "\n1 2\n3", True),
        ("exact", "1 2\n3\n", "1  2\n3\n", False),
        ("exact", "1 2\n3\n", "1 2 3\n", False),
        ("exact", "YES\n", "yes\n", False),
        ("exact", "a\n\nb\n", "a\nb\n", False),  # a blank line inside the output counts
        # tokens: any whitespace between tokens
        ("tokens", "1 2\n3\n", "1\t2 3", True),
        ("tokens", "1 2\n3\n", "  1\n\n2\n   3  \n", True),
        ("tokens", "1 2 3", "1 2", False),
        ("tokens", "1.0", "1", False),
        ("tokens", "YES", "yes", False),
        # case-insensitive: tokens, case folded
        ("case-insensitive", "YES\nNO\n", "yes no", True),
        ("case-insensitive", "Straße", "STRASSE", True),  # Unicode case folding
        ("case-insensitive", "YES", "YE S", False),
        # float: numbers within 1e-6 absolute or relative, integers exactly, words as text
        ("float", "2.333333", "2.3333333333333335", True),
        ("float", "0.5 abc 2", "0.5000001 abc 2", True),
        ("float", "1.5", "1.6", False),
        ("float", "1000000.25", "1000000.2500009", True),  # relative to the expected value
        ("float", "1000000", "1000001", False),  # two integers: exact, whatever the tolerance
        ("float", "007", "7", True),
        ("float", "-0", "0", True),
        ("float", "2", "2.0000001", True),  # an integer expected, a real printed: numbers
        ("float", "1000000", "1000000.9", True),  # ... within the relative tolerance, as rcmp6
        ("float", "2.0000001", "2", True),  # a real expected, an integer printed: the same
        ("float", "1e-7", "0", True),  # absolute tolerance near zero
        ("float", "abc", "ABC", False),
        ("float", "nan", "nan", True),
        ("float", "inf", "1e400", False),  # words vs numbers: text only
        ("float", "1e400", "1e401", False),  # beyond double range: still exact
        ("float", "1e400", "1.0e400", True),
        ("float", "1e99999999999999999999999", "1e99999999999999999999999", True),  # equal text
        ("float", "1 2", "1 2 3", False),
    ],
)
def test_modes(mode: str, expected: str, actual: str, match: bool) -> None:
    assert (mismatch(expected, actual, Comparison(mode=mode)) is None) is match  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "expected,actual,abs_tol,rel_tol,close",
    [
        ("1.0", "1.1", 0.1 + 1e-12, 0.0, True),
        ("1.0", "1.1", 0.05, 0.0, False),
        ("100.0", "101.0", 0.0, 0.01, True),
        ("100.0", "101.0", 0.0, 0.009, False),
        ("100.0", "101.0", 0.0, 0.0, False),
    ],
)
def test_float_tolerances(expected: str, actual: str, abs_tol: float, rel_tol: float, close: bool) -> None:
    assert numbers_close(expected, actual, abs_tol, rel_tol) is close


def test_huge_integers_compare_as_text() -> None:
    # int() refuses more than 4300 digits: a candidate printing a huge number must not crash the judge.
    big = "9" * 10_000
    assert mismatch(big, big, FLOAT) is None
    assert mismatch(big, "9" * 9_999 + "8", FLOAT) is not None
    assert mismatch(big, big + ".0", FLOAT) is None  # numbers beyond double range, compared exactly
    assert mismatch(big + ".5", big + ".6", Comparison(mode="float", rel_tol=0.0)) is not None
    assert mismatch(big, "8" * 10_000 + ".0", FLOAT) is not None


@pytest.mark.parametrize(
    "mode,expected,actual,reason",
    [
        ("exact", "a\nb\nc\n", "a\nB\nc\n", "line 2: expected 'b', got 'B'"),
        ("exact", "a\nb\n", "a\n", "expected 2 line(s), got 1"),
        ("tokens", "1 2 3", "1 2 4", "token 3: expected '3', got '4'"),
        ("float", "1.5", "", "expected 1 token(s), got 0"),
    ],
)
def test_mismatch_says_where(mode: str, expected: str, actual: str, reason: str) -> None:
    assert mismatch(expected, actual, Comparison(mode=mode)) == reason  # type: ignore[arg-type]


def test_a_long_token_is_shortened_in_the_reason() -> None:
    reason = mismatch("x", "y" * 10_000, Comparison(mode="tokens"))
    assert reason is not None and len(reason) < 120


def test_alternatives() -> None:
    tokens = Comparison(mode="tokens")
    assert mismatch_any(["2", "3", "4"], "4\n", tokens) is None
    assert (
        mismatch_any(["2", "3"], "5", tokens)
        == "token 1: expected '2', got '5' (and none of 1 other accepted outputs)"
    )
    assert mismatch_any(["2"], "5", tokens) == "token 1: expected '2', got '5'"


@pytest.mark.parametrize(
    "kwargs", [{"mode": "fuzzy"}, {"abs_tol": -1.0}, {"rel_tol": 1.0}, {"abs_tol": float("nan")}]
)
def test_comparison_bounds(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Comparison(**kwargs)


# ---------------------------------------------------------------- schema


def _stdio(**tests: Any) -> dict[str, Any]:
    return {"style": "stdio", "cases": [{"stdin": "1\n", "stdout": "1\n"}], **tests}


@pytest.mark.parametrize(
    "tests,error",
    [
        (_stdio(compare="fuzzy"), "compare"),
        (_stdio(abs_tol=1e-3), "abs_tol and rel_tol apply only to compare: 'float'"),
        (_stdio(compare="tokens", rel_tol=1e-3), "apply only to compare: 'float'"),
        (_stdio(compare="float", abs_tol=2.0), "abs_tol"),
        (_stdio(checker="import sys", compare="tokens"), "a checker judges the output itself"),
        (
            {"style": "stdio", "checker": "x", "cases": [{"stdout": "1", "alternatives": ["2"]}]},
            "a checker judges the output itself",
        ),
        (_stdio(checker=""), "checker"),
    ],
)
def test_bad_stdio_tests_are_rejected(tests: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        IOTests.model_validate(tests)


def test_a_checker_problem_survives_a_round_trip() -> None:
    tests = IOTests.model_validate(_stdio(checker="import sys\nsys.exit(0)\n"))
    assert IOTests.model_validate_json(tests.model_dump_json()) == tests


def test_case_limit_within_the_job_cap() -> None:
    assert CodeLimits(timeout_s=30, case_timeout_s=2).case_timeout_s == 2
    with pytest.raises(ValidationError, match="case_timeout_s cannot exceed timeout_s"):
        CodeLimits(timeout_s=5, case_timeout_s=6)


def test_existing_banks_load_unchanged(repo: Any) -> None:
    bank = load_bank(repo / "problem_banks" / "code-style.jsonl")
    assert len(bank.problems) == 164
    first = bank.problems[0]
    assert isinstance(first, CodeProblem) and isinstance(first.tests, AssertTests)
    assert first.tests.setup_code == "" and first.tests.challenge is None
    assert first.limits.case_timeout_s is None


# ---------------------------------------------------------------- the job made from a problem


def _problem(tests: dict[str, Any], **extra: Any) -> CodeProblem:
    return CodeProblem.model_validate(
        {"id": "p", "kind": "code", "prompt": "Do it.", "tests": tests, **extra}
    )


def test_expected_outputs_enter_the_job_only_for_a_checker() -> None:
    plain = job_for(_problem(_stdio(compare="tokens")), "print(1)")
    assert plain.cases == [{"stdin": "1\n"}] and plain.checker is None
    checked = job_for(_problem(_stdio(checker="import sys")), "print(1)")
    assert checked.cases == [{"stdin": "1\n", "expected": "1\n"}] and checked.checker == "import sys"


def test_case_time_limit_reaches_the_job() -> None:
    job = job_for(_problem(_stdio(), limits={"timeout_s": 40, "case_timeout_s": 4}), "print(1)")
    assert (job.timeout_s, job.case_timeout_s) == (40, 4)
    assert job_for(_problem(_stdio()), "print(1)").case_timeout_s is None


MBPP_TESTS = {
    "style": "assert",
    "entry_point": "area",
    "setup_code": "import math\nSIDE = 3",
    "code": "def check(candidate):\n    assert math.isclose(area(SIDE), 9.0)\n",
    "challenge": "def check(candidate):\n    assert area(0) == 0\n    assert area(-1) == 'negative'\n",
}


def _run_tests(test_code: str, entry: Any) -> None:
    """Run trusted test code the way the harness does: its own namespace, entry bound by name."""
    namespace: dict[str, Any] = {"__name__": "tests", "__builtins__": builtins}
    exec(compile(test_code, "<tests>", "exec"), namespace)
    namespace["area"] = entry
    namespace["check"](entry)


def test_setup_code_runs_before_the_tests() -> None:
    job = job_for(_problem(MBPP_TESTS), "def area(s):\n    return s * s\n")
    assert job.test_code.startswith("import math\nSIDE = 3\n\n")
    _run_tests(job.test_code, lambda s: s * s)  # math and SIDE are defined for the asserts


def test_challenge_tests_run_only_when_selected() -> None:
    problem = _problem(MBPP_TESTS)
    square = lambda s: s * s  # noqa: E731 - fails only the challenge (area(-1) is not 'negative')
    _run_tests(job_for(problem, "").test_code, square)
    selected = with_challenge(problem)
    assert isinstance(selected.tests, AssertTests) and selected.tests.challenge is None
    with pytest.raises(AssertionError):
        _run_tests(job_for(selected, "").test_code, square)
    calls: list[int] = []

    def good(s: int) -> Any:
        calls.append(s)
        return "negative" if s < 0 else s * s

    _run_tests(job_for(selected, "").test_code, good)
    assert calls == [3, 0, -1]  # the main tests, then the challenge
    assert with_challenge(_problem(_stdio())) == _problem(_stdio())


def test_a_method_entry_point_calls_a_fresh_instance() -> None:
    program, entry = method_entry(
        "class Solution:\n    def twice(self, xs: List[int]) -> int:\n        return 2 * len(xs)\n",
        "Solution.twice",
    )
    assert entry == METHOD_SHIM
    namespace: dict[str, Any] = {}
    exec(program, namespace)  # List comes from LeetCode's implicit typing import
    assert namespace[entry]([1, 2, 3]) == 6
    assert method_entry("def f(): pass", "f") == ("def f(): pass", "f")


def test_mutants() -> None:
    method = "class Solution:\n    def f(self, x):\n        return x\n    def g(self):\n        return 1\n"
    mutant = return_none_mutant(method, "Solution.f")
    assert mutant is not None and "return x" not in mutant and "return 1" in mutant
    assert return_none_mutant(method, "Other.f") is None
    assert mutant_for(_problem(_stdio()), "print(1)") == SILENT_PROGRAM


# ---------------------------------------------------------------- judging what the sandbox reported


def _stdio_result(*records: dict[str, Any]) -> JobResult:
    cases = [
        {"case": i, "stdout": "", "stderr": "", "exit_code": 0, "signal": None, **r}
        for i, r in enumerate(records)
    ]
    return JobResult(outcome="exited", exit_code=0, records=cases, finished=True)


def _judge(tests: dict[str, Any], *records: dict[str, Any]) -> Any:
    return judge(_stdio_result(*records), IOTests.model_validate(tests), "code")


TWO_CASES = [{"stdin": "", "stdout": "0.5\n"}, {"stdin": "", "stdout": "2\n", "alternatives": ["3\n"]}]


@pytest.mark.parametrize(
    "compare,outputs,status,reason",
    [
        ("float", ["0.5000000001", "3"], CodeStatus.PASS, "2/2 cases passed"),
        (
            "float",
            ["0.5", "4"],
            CodeStatus.WRONG,
            "1/2 cases passed; case 1: expected '2\\n', got '4': token 1",
        ),
        (
            "exact",
            ["0.5000000001", "2"],
            CodeStatus.WRONG,
            "case 0: expected '0.5\\n', got '0.5000000001': line 1",
        ),
        ("tokens", ["0.5", "3"], CodeStatus.PASS, "2/2 cases passed"),
    ],
)
def test_judge_stdio_modes(compare: str, outputs: list[str], status: CodeStatus, reason: str) -> None:
    verdict = _judge(
        {"style": "stdio", "compare": compare, "cases": TWO_CASES}, *({"stdout": o} for o in outputs)
    )
    assert verdict.status is status
    assert reason in verdict.reason


CHECKED = {"style": "stdio", "checker": "import sys", "cases": [{"stdout": "1"}, {"stdout": "2"}]}


@pytest.mark.parametrize(
    "reports,status,rule,reason",
    [
        ([{"exit": 0, "message": "ok"}, {"exit": 0, "message": "ok"}], CodeStatus.PASS, "cases", "2/2"),
        (
            [{"exit": 0, "message": ""}, {"exit": 1, "message": "position 1 is fixed"}],
            CodeStatus.WRONG,
            "cases",
            "case 1: wrong answer (checker): position 1 is fixed",
        ),
        (
            [{"exit": 1, "message": ""}, {"exit": 0, "message": ""}],
            CodeStatus.WRONG,
            "cases",
            "wrong answer (checker)",
        ),
        (
            [{"exit": 0, "message": ""}, {"exit": 3, "message": "bad jury answer"}],
            CodeStatus.SANDBOX_ERROR,
            "checker_error",
            "case 1: the problem's checker failed: exit 3: bad jury answer",
        ),
        ([{"exit": 0, "message": ""}, None], CodeStatus.SANDBOX_ERROR, "checker_error", "no checker result"),
        ([{"exit": "0"}, {"exit": 0}], CodeStatus.SANDBOX_ERROR, "checker_error", "no checker result"),
        (["garbage", {"exit": 0}], CodeStatus.SANDBOX_ERROR, "checker_error", "no checker result"),
    ],
)
def test_judge_checker_reports(reports: list[Any], status: CodeStatus, rule: str, reason: str) -> None:
    records = [{"checker": r} if r is not None else {} for r in reports]
    verdict = _judge(CHECKED, *records)
    assert (verdict.status, verdict.rule) == (status, rule)
    assert reason in verdict.reason


WA = {"checker": {"exit": 1, "message": "no"}}
KILLED = {"checker": {"exit": 137, "message": ""}}  # the runner's kill at CHECKER_TIMEOUT_S
BROKEN = {"checker": {"exit": 3, "message": "bad jury answer"}}
CRASH = {"exit_code": 1, "stderr": "ValueError: x", "checker": {"exit": 0}}
OK = {"checker": {"exit": 0, "message": ""}}


@pytest.mark.parametrize(
    "records,status,rule,reason",
    [
        # The candidate's fault on any case decides, whatever a broken or killed checker said elsewhere.
        ([WA, KILLED], CodeStatus.WRONG, "cases", "1/3 cases passed; case 0: wrong answer (checker): no"),
        ([KILLED, WA], CodeStatus.WRONG, "cases", "case 1: wrong answer (checker): no"),
        ([BROKEN, WA], CodeStatus.WRONG, "cases", "case 1: wrong answer (checker): no"),
        ([WA, BROKEN], CodeStatus.WRONG, "cases", "case 0: wrong answer (checker): no"),
        ([BROKEN, CRASH], CodeStatus.RUNTIME_ERROR, "cases", "case 1: raised exit code 1: ValueError: x"),
        ([WA, CRASH], CodeStatus.RUNTIME_ERROR, "cases", "case 1: raised exit code 1"),
        ([{}, WA], CodeStatus.WRONG, "cases", "case 1: wrong answer (checker): no"),  # {}: no report
        # A killed checker is the candidate's wrong answer: its output may be what made it slow.
        (
            [KILLED],
            CodeStatus.WRONG,
            "checker_timeout",
            "case 0: wrong answer (checker killed by SIGKILL (exit 137) on this output)",
        ),
        ([BROKEN, KILLED], CodeStatus.WRONG, "checker_timeout", "case 1: wrong answer (checker killed"),
        ([{"checker": {"exit": 143}}], CodeStatus.WRONG, "checker_timeout", "killed by SIGTERM (exit 143)"),
        # Only when every failed case is the checker's own failure is nothing decided.
        (
            [BROKEN, {"checker": {"exit": 2, "message": "x"}}],
            CodeStatus.SANDBOX_ERROR,
            "checker_error",
            "case 0: the problem's checker failed: exit 3: bad jury answer",
        ),
        ([{}, BROKEN], CodeStatus.SANDBOX_ERROR, "checker_error", "case 0: the problem's checker failed: no"),
    ],
)
def test_the_candidates_fault_is_judged_before_the_checkers(
    records: list[dict[str, Any]], status: CodeStatus, rule: str, reason: str
) -> None:
    tests = {**CHECKED, "cases": [{"stdout": str(i)} for i in range(3)]}
    padded = [*records, *[OK] * (3 - len(records))]
    verdict = _judge(tests, *padded)
    assert (verdict.status, verdict.rule) == (status, rule)
    assert reason in verdict.reason, verdict.reason


def test_case_kinds_not_reason_texts_decide_the_verdict() -> None:
    # A wrong answer whose reason happens to read like a crash or a broken checker is still wrong.
    from verifier.code.judge import Case, CaseKind, _cases_status
    from verifier.code.verdict import TestResult

    wrong = Case(TestResult(0, False, "raised checker failed"), CaseKind.WRONG)
    crash = Case(TestResult(1, False, "wrong answer"), CaseKind.CRASH)
    broken = Case(TestResult(2, False, "raised"), CaseKind.CHECKER_FAILED)
    assert _cases_status((wrong,))[::2] == (CodeStatus.WRONG, "cases")
    assert _cases_status((broken, wrong))[::2] == (CodeStatus.WRONG, "cases")
    assert _cases_status((wrong, crash))[::2] == (CodeStatus.RUNTIME_ERROR, "cases")
    assert _cases_status((broken,))[::2] == (CodeStatus.SANDBOX_ERROR, "checker_error")


def test_a_crashing_candidate_is_judged_before_the_checker() -> None:
    verdict = _judge(
        CHECKED, {"exit_code": 1, "stderr": "ValueError: x", "checker": {"exit": 0}}, {"checker": {"exit": 0}}
    )
    assert verdict.status is CodeStatus.RUNTIME_ERROR


@pytest.mark.parametrize(
    "value,passed",
    [(6, True), ([6], True), (7, False), ([6, 6], False), (6.0, False)],
)
def test_call_case_alternatives(value: Any, passed: bool) -> None:
    # APPS stores some outputs as one-element lists: both the element and the list are accepted.
    from verifier.schema import CallTests

    tests = CallTests.model_validate(
        {"style": "call", "entry_point": "f", "cases": [{"args": [1], "expected": 6, "alternatives": [[6]]}]}
    )
    result = JobResult(outcome="exited", exit_code=0, records=[{"case": 0, "value": value}], finished=True)
    verdict = judge(result, tests, "code")
    assert verdict.correct is passed
    if not passed:
        assert "expected 6, got" in verdict.reason  # the primary value is the one named


def test_a_stdio_case_without_an_exit_status_fails() -> None:
    # The output may be complete, but the candidate's process went away before its exit status came.
    verdict = _judge(
        {"style": "stdio", "cases": [{"stdout": "1"}]},
        {"stdout": "1", "exit_code": None, "error": "ProcessExited", "message": "no exit status"},
    )
    assert verdict.status is CodeStatus.RUNTIME_ERROR
    assert "raised ProcessExited: no exit status" in verdict.reason


# ---------------------------------------------------------------- the real sandbox

JUDGING_BANK = Path(__file__).resolve().parent / "data" / "stdio_judging_bank.jsonl"


def _bank_problem(problem_id: str) -> CodeProblem:
    problem = load_bank(JUDGING_BANK).by_id()[problem_id]
    assert isinstance(problem, CodeProblem)
    return problem


@pytest.mark.docker
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "problem_id",
    ["judging-float-mean", "judging-any-divisor", "judging-yes-no-any-case", "judging-case-time-limit"],
)
def test_judging_bank_self_check(sandbox_pool: Any, problem_id: str) -> None:
    assert selfcheck_code_problem(_bank_problem(problem_id), sandbox=sandbox_pool) == []


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_checker_bank_self_check(sandbox_pool: Any) -> None:
    assert selfcheck_code_problem(_bank_problem("judging-checker-derangement"), sandbox=sandbox_pool) == []


@pytest.mark.docker
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "problem_id,program,status,reason",
    [
        (
            "judging-float-mean",
            "n = int(input()); xs = list(map(int, input().split())); print(f'{sum(xs) / n:.7f}')",
            CodeStatus.PASS,
            "3/3 cases passed",
        ),
        (
            "judging-float-mean",
            "input(); input(); print(2.34)",
            CodeStatus.WRONG,
            "token 1: expected '2.333333'",
        ),
        (
            "judging-any-divisor",
            "n = int(input()); print(next((n // d for d in range(2, n) if n % d == 0), -1))",
            CodeStatus.PASS,
            "4/4 cases passed",
        ),
        ("judging-any-divisor", "print(1)", CodeStatus.WRONG, "0/4 cases passed"),
        (
            "judging-yes-no-any-case",
            "print('yEs' if int(input()) % 2 == 0 else 'nO')",
            CodeStatus.PASS,
            "3/3",
        ),
        ("judging-yes-no-any-case", "print('Y' if int(input()) % 2 == 0 else 'N')", CodeStatus.WRONG, "0/3"),
    ],
)
def test_candidates_under_each_mode(
    sandbox_pool: Any, problem_id: str, program: str, status: CodeStatus, reason: str
) -> None:
    verdict = check_code(
        problem=_bank_problem(problem_id), completion=f"```python\n{program}\n```", sandbox=sandbox_pool
    )
    assert verdict.status is status, verdict.reason
    assert reason in verdict.reason


@pytest.mark.docker
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "program,status,reason",
    [
        (
            "n = int(input()); print(*range(n, 0, -1)) if n % 2 == 0 else print(*[*range(2, n + 1), 1])",
            CodeStatus.PASS,
            "3/3",
        ),
        (
            "print(*range(1, int(input()) + 1))",
            CodeStatus.WRONG,
            "wrong answer (checker): position 1 is fixed",
        ),
        ("print('hello')", CodeStatus.WRONG, "wrong answer (checker)"),
        (
            "raise SystemExit(3)",
            CodeStatus.RUNTIME_ERROR,
            "exit code 3",
        ),  # the candidate's exit, not the checker's
    ],
)
def test_checker_judges_candidates(sandbox_pool: Any, program: str, status: CodeStatus, reason: str) -> None:
    problem = _bank_problem("judging-checker-derangement")
    verdict = check_code(problem=problem, completion=f"```python\n{program}\n```", sandbox=sandbox_pool)
    assert verdict.status is status, verdict.reason
    assert reason in verdict.reason


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_a_broken_checker_is_undecided_not_wrong(sandbox_pool: Any) -> None:
    problem = _bank_problem("judging-checker-derangement")
    assert isinstance(problem.tests, IOTests)
    broken = problem.model_copy(
        update={
            "tests": problem.tests.model_copy(
                update={"checker": "print('jury answer unreadable')\nraise SystemExit(3)\n"}
            )
        }
    )
    verdict = check_code(problem=broken, completion="```python\nprint(2, 1)\n```", sandbox=sandbox_pool)
    assert (verdict.status, verdict.rule) == (CodeStatus.SANDBOX_ERROR, "checker_error")
    assert "checker failed: exit 3: jury answer unreadable" in verdict.reason


SLOW_CASES = {
    "id": "slow",
    "kind": "code",
    "prompt": "Echo the number.",
    "tests": {"style": "stdio", "cases": [{"stdin": f"{k}\n", "stdout": f"{k}\n"} for k in range(6)]},
    "limits": {"timeout_s": 20, "case_timeout_s": 2},
}
SLOW = "import time\nk = int(input())\ntime.sleep(3 if k == {slow} else 1)\nprint(k)\n"


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_per_case_limit_with_a_job_cap(sandbox_pool: Any) -> None:
    """Six cases of about 1 s each pass under a 2 s per-case limit and a 20 s cap, which a 2 s limit
    for the whole job would not allow; one case taking 3 s times out, named in the reason."""
    ok = check_code(
        problem=SLOW_CASES, completion=f"```python\n{SLOW.format(slow=-1)}\n```", sandbox=sandbox_pool
    )
    assert ok.status is CodeStatus.PASS, ok.reason
    whole = {**SLOW_CASES, "limits": {"timeout_s": 2}}
    assert (
        check_code(
            problem=whole, completion=f"```python\n{SLOW.format(slow=-1)}\n```", sandbox=sandbox_pool
        ).status
        is CodeStatus.TIMEOUT
    )
    one_slow = check_code(
        problem=SLOW_CASES, completion=f"```python\n{SLOW.format(slow=4)}\n```", sandbox=sandbox_pool
    )
    assert (one_slow.status, one_slow.rule) == (CodeStatus.TIMEOUT, "case_time_limit"), one_slow.reason
    assert one_slow.reason.startswith("case 4 exceeded its time limit")
