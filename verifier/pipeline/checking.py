"""Check one completion of one problem with the checker for its kind, as a VerdictRecord."""

from __future__ import annotations

import time
from typing import Any

from verifier.math import check_math
from verifier.schema import CodeProblem, MathProblem, VerdictRecord


def _record(verdict: Any, details: dict[str, Any] | None = None) -> VerdictRecord:
    status = verdict.status
    return VerdictRecord(
        status=getattr(status, "value", str(status)),
        correct=bool(verdict.correct),
        extracted=getattr(verdict, "extracted", None),
        rule=getattr(verdict, "rule", None),
        reason=verdict.reason,
        details=details or {},
    )


def check_completion(problem: MathProblem | CodeProblem, completion: str) -> tuple[VerdictRecord, float]:
    """(verdict, seconds spent checking). Code problems run in the Docker sandbox pool."""
    t0 = time.perf_counter()
    if isinstance(problem, MathProblem):
        record = _record(check_math(gold=problem.answer, pred=completion))
    else:
        from verifier.code import check_code  # imported lazily: math-only runs never touch Docker

        verdict = check_code(problem=problem, completion=completion)
        record = _record(verdict, verdict.details() if hasattr(verdict, "details") else None)
    return record, time.perf_counter() - t0
