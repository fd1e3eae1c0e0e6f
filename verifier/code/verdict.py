"""The code checker's result: a status enum, per-test results, output excerpts, timings, a reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from verifier.verdicts import judge


class CodeStatus(str, Enum):
    PASS = "pass"
    WRONG = "wrong"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    OOM = "oom"
    OUTPUT_LIMIT = "output_limit"
    NO_CODE = "no_code"
    SANDBOX_ERROR = "sandbox_error"  # infrastructure: never counted as a wrong answer


@dataclass(frozen=True)
class TestResult:
    """One test case (stdio/call styles) or the whole ``check`` function (assert style)."""

    index: int
    passed: bool
    reason: str = ""
    seconds: float | None = None

    __test__ = False  # not a pytest class


@dataclass(frozen=True)
class CodeVerdict:
    status: CodeStatus
    reason: str
    code: str | None = None
    tests: tuple[TestResult, ...] = ()
    stdout: str = ""
    stderr: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    rule: str = ""

    @property
    def correct(self) -> bool:
        return self.status is CodeStatus.PASS

    @property
    def infrastructure_failure(self) -> bool:
        """Checking again may decide it (``verifier.verdicts`` says; a problem whose own tests or
        checker are broken is undecided too, but no retry fixes it)."""
        return judge("code", self.status, self.rule).retryable

    @property
    def extracted(self) -> str | None:
        """The program taken from the completion (the same name as the math verdict's field)."""
        return self.code

    def details(self) -> dict[str, Any]:
        """Per-test results, output excerpts and timings: ``VerdictRecord.details`` in chains.jsonl."""
        return {
            "tests": [
                {"index": t.index, "passed": t.passed, "reason": t.reason, "seconds": t.seconds}
                for t in self.tests
            ],
            "stdout": self.stdout,
            "stderr": self.stderr,
            "timings": self.timings,
        }

    def to_record(self) -> dict[str, Any]:
        """The shape of ``VerdictRecord`` (chains.jsonl)."""
        return {
            "status": self.status.value,
            "correct": self.correct,
            "extracted": self.code,
            "rule": self.rule or None,
            "reason": self.reason,
            "details": self.details(),
        }
