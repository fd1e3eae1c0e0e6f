"""Decide a verdict from what the sandbox reported. Pure: no Docker here.

Expected outputs never left the host: stdio outputs are compared here after normalising
whitespace, call-style return values (tagged values rebuilt here by ``sandboxes.runner.codec``,
bounded in depth) with ``json_equal``.

Memory: ``oom`` is the container's OOM kill, or a ``MemoryError`` that the runner saw at the
address-space limit (``"memory_limit": true``: the process's peak size was near it) and that ended
the whole job. A ``MemoryError`` the candidate raised itself, far from the limit, is an ordinary
exception (``runtime_error``). One raised by one call-style case fails only that case.
"""

from __future__ import annotations

import collections
import math
import signal
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sandboxes.protocol import JobResult
from sandboxes.runner.codec import decode
from verifier.code.stdio_compare import comparison_for, mismatch_any
from verifier.code.verdict import CodeStatus, CodeVerdict, TestResult
from verifier.schema import AssertTests, CallTests, CodeTests, IOCase, IOTests

EXCERPT = 2000
DICT_TYPES = (dict, collections.Counter, collections.OrderedDict, collections.defaultdict)


def json_equal(expected: Any, actual: Any) -> bool:
    """A JSON expected value against a rebuilt return value, as Python compares them but strict
    about scalar types (1 != 1.0 != True; floats within 1e-9 relative): JSON has no tuples, so a
    tuple equals a list, and a ``dict`` subclass from ``collections`` (Counter, OrderedDict,
    defaultdict) equals an object, as ``==`` says in Python. Anything else JSON cannot express
    (sets, bytes, deques, Fractions...) never equals a JSON value."""
    if isinstance(expected, list) and type(actual) is tuple:
        actual = list(actual)
    if isinstance(expected, dict) and type(actual) in DICT_TYPES:
        actual = dict(actual)
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, float):
        return (
            expected == actual
            or math.isclose(expected, actual, rel_tol=1e-9)
            or (math.isnan(expected) and math.isnan(actual))
        )
    if isinstance(expected, list):
        return len(expected) == len(actual) and all(
            json_equal(e, a) for e, a in zip(expected, actual, strict=True)
        )
    if isinstance(expected, dict):
        return expected.keys() == actual.keys() and all(json_equal(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


def judge(result: JobResult, tests: CodeTests, code: str) -> CodeVerdict:
    def verdict(
        status: CodeStatus, reason: str, rule: str, cases: tuple[TestResult, ...] = ()
    ) -> CodeVerdict:
        return CodeVerdict(
            status=status,
            reason=reason,
            code=code,
            tests=cases,
            stdout=result.stdout[:EXCERPT],
            stderr=result.stderr[-EXCERPT:],
            timings={"sandbox_s": result.wall_s, "cpu_s": result.cpu_s, "host_s": result.host_s},
            rule=rule,
        )

    early = _infrastructure_and_limits(result)
    if early is not None:
        return verdict(*early)
    errors = [r for r in result.records if r.get("phase") in ("compile", "program", "harness")]
    if errors:
        e = errors[0]
        if e.get("error") == "MemoryError" and (e.get("memory_limit") or e["phase"] == "harness"):
            where = "in the test harness" if e["phase"] == "harness" else "while defining the program"
            return verdict(CodeStatus.OOM, f"MemoryError (address-space limit) {where}", "memory_error")
        if e["phase"] == "harness":
            return verdict(
                CodeStatus.SANDBOX_ERROR, f"the problem's tests are broken: {_err(e)}", "harness_error"
            )
        return verdict(CodeStatus.RUNTIME_ERROR, f"{e['phase']} failed: {_err(e)}", f"{e['phase']}_error")
    if not result.finished:
        if any(r.get("error") == "MemoryError" and r.get("memory_limit") for r in result.records):
            return verdict(
                CodeStatus.OOM,
                "MemoryError (address-space limit), and the test harness could not finish",
                "memory_error",
            )
        forged = f"; {result.forged} result line(s) without the job token ignored" if result.forged else ""
        return verdict(
            CodeStatus.RUNTIME_ERROR,
            f"the test harness did not finish (exit code {result.exit_code}): the program exited or broke the "
            f"harness before the tests completed{forged}",
            "harness_unfinished",
        )
    if isinstance(tests, AssertTests):
        test = next((r for r in result.records if r.get("phase") == "test"), None)
        if test is not None and test.get("error") == "MemoryError" and test.get("memory_limit"):
            return verdict(
                CodeStatus.OOM, "MemoryError (address-space limit) during the tests", "memory_error"
            )
        return verdict(*_assert(result.records))
    if isinstance(tests, CallTests):
        cases = tuple(
            _first_pass([_call_case(i, e, _case_record(result, i)) for e in (c.expected, *c.alternatives)])
            for i, c in enumerate(tests.cases)
        )
    else:
        cases = tuple(_stdio_case(i, c, tests, _case_record(result, i)) for i, c in enumerate(tests.cases))
    return verdict(*_cases_status(cases), tuple(c.result for c in cases))


def _infrastructure_and_limits(result: JobResult) -> tuple[CodeStatus, str, str] | None:
    if result.outcome == "sandbox_error":
        return (
            CodeStatus.SANDBOX_ERROR,
            f"sandbox failure after {result.attempts} attempt(s): {result.error}",
            "infra",
        )
    if result.outcome == "container_broken":
        return (
            CodeStatus.RUNTIME_ERROR,
            f"the program broke its sandbox container, twice (each time a fresh one): {result.error[:300]}",
            "container_broken",
        )
    if result.outcome == "timeout":
        return CodeStatus.TIMEOUT, f"wall-clock deadline exceeded ({result.wall_s:.1f} s)", "wall_clock"
    late = next((r for r in result.records if r.get("timeout") is True), None)
    if late is not None:
        where = (
            f"case {late['case']}"
            if "case" in late
            else "the program"
            if late.get("phase") == "program"
            else "the tests"
        )
        seconds = late.get("seconds")
        took = f" ({seconds:.1f} s)" if isinstance(seconds, (int, float)) else ""
        return CodeStatus.TIMEOUT, f"{where} exceeded its time limit{took}", "case_time_limit"
    if result.outcome == "output_limit" or any(r.get("output_limit") for r in result.records):
        return CodeStatus.OUTPUT_LIMIT, "output byte budget exceeded; the job was killed", "output_budget"
    if result.outcome == "oom_killed":
        return CodeStatus.OOM, "the container ran out of memory", "container_oom"
    if result.oom_kills:
        return CodeStatus.OOM, "killed by the kernel's OOM killer (container memory limit)", "oom_kill"
    if result.outcome == "signaled":
        sig = result.signal or 0
        if sig == signal.SIGXCPU:
            return CodeStatus.TIMEOUT, "CPU-time limit exceeded", "cpu_rlimit"
        if sig == signal.SIGKILL and result.oom_kills:
            return CodeStatus.OOM, "killed by the kernel's OOM killer (container memory limit)", "oom_kill"
        return CodeStatus.RUNTIME_ERROR, f"killed by signal {_signame(sig)}", "signal"
    return None


def _assert(records: list[dict[str, Any]]) -> tuple[CodeStatus, str, str, tuple[TestResult, ...]]:
    test = next((r for r in records if r.get("phase") == "test"), None)
    if test is None:
        return CodeStatus.RUNTIME_ERROR, "no test result reported", "no_result", ()
    if test.get("ok"):
        return CodeStatus.PASS, "all asserts passed", "asserts", (TestResult(0, True),)
    reason = _err(test)
    if test.get("error") in ("AssertionError", "BadValue"):  # BadValue: a non-builtin return value
        return CodeStatus.WRONG, f"assertion failed: {reason}", "asserts", (TestResult(0, False, reason),)
    return (
        CodeStatus.RUNTIME_ERROR,
        f"error during the tests: {reason}",
        "test_error",
        (TestResult(0, False, reason),),
    )


class CaseKind(str, Enum):
    """What decided one stdio or call-style case. The verdict is built from these kinds, never from
    the wording of a case's reason."""

    PASSED = "passed"
    WRONG = "wrong"  # a wrong output or return value, or the checker's wrong-answer exit
    CRASH = "crash"  # the candidate's process failed during the case
    # The checker was killed (by our time limit or a signal): the candidate's output may be what
    # made it slow, so it is the candidate's wrong answer, not the problem's bug.
    CHECKER_KILLED = "checker_killed"
    CHECKER_FAILED = "checker_failed"  # the problem's checker is broken: nothing is decided


@dataclass(frozen=True)
class Case:
    result: TestResult
    kind: CaseKind


def _case(index: int, kind: CaseKind, reason: str = "", seconds: Any = None) -> Case:
    return Case(TestResult(index, kind is CaseKind.PASSED, reason, seconds), kind)


def _case_record(result: JobResult, index: int) -> dict[str, Any] | None:
    return next((r for r in result.records if r.get("case") == index), None)


def _call_case(index: int, expected: Any, record: dict[str, Any] | None) -> Case:
    if record is None:
        return _case(index, CaseKind.WRONG, "no result")
    seconds = record.get("seconds")
    if "error" in record:
        return _case(index, CaseKind.CRASH, f"raised {_err(record)}", seconds)
    if "bad_value" in record:
        return _case(index, CaseKind.WRONG, f"wrong type: {record['bad_value']}", seconds)
    try:
        actual = decode(record.get("value"))
    except (
        TypeError,
        ValueError,
        KeyError,
        IndexError,
        AttributeError,
        ArithmeticError,
        RecursionError,
    ) as e:
        return _case(index, CaseKind.WRONG, f"wrong type: malformed value ({str(e)[:100]})", seconds)
    if json_equal(expected, actual):
        return _case(index, CaseKind.PASSED, "", seconds)
    return _case(index, CaseKind.WRONG, f"expected {_short(expected)}, got {_short(actual)}", seconds)


def _first_pass(results: list[Case]) -> Case:
    """A case with several accepted values: the first that passed, else the primary's failure."""
    return next((r for r in results if r.kind is CaseKind.PASSED), results[0])


def _stdio_case(index: int, case: IOCase, tests: IOTests, record: dict[str, Any] | None) -> Case:
    if record is None:
        return _case(index, CaseKind.WRONG, "no result")
    seconds = record.get("seconds")
    if record.get("signal"):
        return _case(index, CaseKind.CRASH, f"raised killed by signal {_signame(record['signal'])}", seconds)
    if record.get("exit_code"):
        tail = str(record.get("stderr", "")).strip().splitlines()[-1:] or [""]
        return _case(
            index, CaseKind.CRASH, f"raised exit code {record['exit_code']}: {tail[0][:200]}", seconds
        )
    if "error" in record:  # no exit status: the candidate's process went away during the case
        return _case(index, CaseKind.CRASH, f"raised {_err(record)}", seconds)
    if tests.checker is not None:
        return _checked_case(index, record.get("checker"), seconds)
    output = str(record.get("stdout", ""))
    where = mismatch_any([case.stdout, *case.alternatives], output, comparison_for(tests))
    if where is None:
        return _case(index, CaseKind.PASSED, "", seconds)
    return _case(
        index, CaseKind.WRONG, f"expected {_short(case.stdout)}, got {_short(output)}: {where}", seconds
    )


# A status the runner gives a checker that a signal ended (128 + the signal): ours at its time
# limit (SIGKILL, 137), or the kernel's.
CHECKER_SIGNALLED = 128


def _checked_case(index: int, report: Any, seconds: Any) -> Case:
    """The trusted checker's verdict on one case: exit 0 accepted, 1 wrong answer, killed (>= 128)
    a wrong answer too (the output may be what made it slow), any other exit the checker itself
    failed (the problem's fault, not the candidate's: undecided, like broken tests)."""
    if not isinstance(report, dict) or type(report.get("exit")) is not int:
        return _case(
            index, CaseKind.CHECKER_FAILED, "checker failed: no checker result for this case", seconds
        )
    code, message = report["exit"], str(report.get("message", ""))[:200]
    if code == 0:
        return _case(index, CaseKind.PASSED, message, seconds)
    if code == 1:
        return _case(index, CaseKind.WRONG, f"wrong answer (checker): {message}".rstrip(": "), seconds)
    if code >= CHECKER_SIGNALLED:
        killed = f"checker killed by {_signame(code - CHECKER_SIGNALLED)} (exit {code}) on this output"
        return _case(
            index, CaseKind.CHECKER_KILLED, f"wrong answer ({killed}): {message}".rstrip(": "), seconds
        )
    return _case(
        index, CaseKind.CHECKER_FAILED, f"checker failed: exit {code}: {message}".rstrip(": "), seconds
    )


# The candidate's fault first: a crash or a wrong answer on any case decides the verdict, whatever
# a broken checker said on another; only when every failed case is the checker's own failure is
# nothing decided. (status, rule) per kind, in that order.
_DECIDING: tuple[tuple[CaseKind, CodeStatus, str], ...] = (
    (CaseKind.CRASH, CodeStatus.RUNTIME_ERROR, "cases"),
    (CaseKind.WRONG, CodeStatus.WRONG, "cases"),
    (CaseKind.CHECKER_KILLED, CodeStatus.WRONG, "checker_timeout"),
)


def _cases_status(cases: tuple[Case, ...]) -> tuple[CodeStatus, str, str]:
    failed = [c for c in cases if c.kind is not CaseKind.PASSED]
    passed = f"{len(cases) - len(failed)}/{len(cases)} cases passed"
    if not failed:
        return CodeStatus.PASS, passed, "cases"
    for kind, status, rule in _DECIDING:
        first = next((c.result for c in failed if c.kind is kind), None)
        if first is not None:
            return status, f"{passed}; case {first.index}: {first.reason}", rule
    broken = failed[0].result  # every failed case is CHECKER_FAILED
    return CodeStatus.SANDBOX_ERROR, f"case {broken.index}: the problem's {broken.reason}", "checker_error"


def _err(record: dict[str, Any]) -> str:
    message = str(record.get("message", ""))
    return f"{record.get('error', 'error')}: {message}" if message else str(record.get("error", "error"))


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # deep values; ints past the str-conversion limit
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 120 else text[:117] + "..."


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)
