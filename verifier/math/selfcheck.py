"""Self-check of a bank's math problem: its gold answer must verify against itself, against
``\\boxed{gold}`` and against its own reference solution. A failure is a bug in the checker or in
the bank, never something to skip."""

from __future__ import annotations

from verifier.math.check import check_answer, check_math
from verifier.math.pool import MathPool
from verifier.math.verdict import MathVerdict
from verifier.schema import MathProblem


def _failure(what: str, verdict: MathVerdict) -> list[str]:
    if verdict.correct:
        return []
    return [
        f"{what}: {verdict.status.value} (extracted {verdict.extracted!r}; {verdict.rule}: {verdict.reason})"
    ]


def selfcheck_math_problem(problem: MathProblem, *, pool: MathPool | None = None) -> list[str]:
    """Failure messages for ``problem`` (empty when its gold answer verifies everywhere it must)."""
    gold = problem.answer
    failures = _failure("gold vs itself", check_answer(gold=gold, answer=gold, pool=pool))
    failures += _failure("gold vs \\boxed{gold}", check_math(gold=gold, pred=f"\\boxed{{{gold}}}", pool=pool))
    if problem.solution:
        failures += _failure(
            "gold vs reference solution", check_math(gold=gold, pred=problem.solution, pool=pool)
        )
    return failures
