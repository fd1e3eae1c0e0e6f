"""The first regression check of a bank: every gold answer verifies against itself and its reference.

Math: gold vs gold, gold vs \\boxed{gold}, gold vs the reference solution. Code: the reference
solution passes its tests and a mutant of it (body replaced by ``return None``) fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verifier.schema import CodeProblem, MathProblem


@dataclass
class SelfCheckReport:
    checked: dict[str, int] = field(default_factory=lambda: {"math": 0, "code": 0})
    passed: dict[str, int] = field(default_factory=lambda: {"math": 0, "code": 0})
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def selfcheck(
    problems: list[MathProblem | CodeProblem], *, code: bool = True, sandbox: Any = None
) -> SelfCheckReport:
    """``sandbox``: a ``sandboxes.pool.Sandbox`` for the code references (None: the process-wide pool)."""
    from verifier.math.selfcheck import selfcheck_math_problem

    report = SelfCheckReport()
    for p in problems:
        if isinstance(p, MathProblem):
            report.checked["math"] += 1
            failures = selfcheck_math_problem(p)
            report.failures.extend(f"{p.id}: {f}" for f in failures)
            report.passed["math"] += not failures
    code_problems = [p for p in problems if isinstance(p, CodeProblem)]
    if code and code_problems:
        from verifier.code.selfcheck import selfcheck_code_problems  # needs Docker

        for p, failures in zip(
            code_problems, selfcheck_code_problems(code_problems, sandbox=sandbox), strict=False
        ):
            report.checked["code"] += 1
            report.failures.extend(f"{p.id}: {f}" for f in failures)
            report.passed["code"] += not failures
    return report
