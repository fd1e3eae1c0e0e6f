"""Self-check of a bank's math problem: its gold answer must verify against itself, against
``\\boxed{gold}`` and against its own reference solution. A failure is a bug in the checker or in
the bank, never something to skip.

A verdict that says nothing about the answer (undecided by the checker's machinery or its clock, as
``verifier.verdicts`` judges it) is tried once more with a longer deadline;
if it is still one, the message starts with ``infrastructure:``, so that a loaded machine is not
mistaken for a wrong gold answer.
"""

from __future__ import annotations

from collections.abc import Callable

from verifier.math.check import DEFAULT_TIMEOUT_S, check_answer, check_math
from verifier.math.pool import MathPool
from verifier.math.verdict import MathVerdict
from verifier.schema import MathProblem
from verifier.verdicts import judge

RETRY_TIMEOUT_S = 30.0


def _infrastructure(verdict: MathVerdict) -> bool:
    """True when the verdict is about the checker's machinery or clock, not the answer
    (``verifier.verdicts`` decides, as everywhere else)."""
    return judge("math", verdict.status, verdict.rule).retryable


def _check(
    what: str, run: Callable[[float], MathVerdict], timeout_s: float, retry_timeout_s: float
) -> list[str]:
    verdict = run(timeout_s)
    # Retrying on a closed pool cannot help (and a call on it raises).
    if _infrastructure(verdict) and verdict.rule != "closed":
        verdict = run(max(retry_timeout_s, timeout_s))
    if verdict.correct:
        return []
    prefix = "infrastructure: " if _infrastructure(verdict) else ""
    return [
        f"{prefix}{what}: {verdict.status.value} (extracted {verdict.extracted!r}; {verdict.rule}: {verdict.reason})"
    ]


def selfcheck_math_problem(
    problem: MathProblem,
    *,
    pool: MathPool | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retry_timeout_s: float = RETRY_TIMEOUT_S,
) -> list[str]:
    """Failure messages for ``problem`` (empty when its gold answer verifies everywhere it must).
    A message that starts with ``infrastructure:`` is about the checker's machinery (retried once
    with ``retry_timeout_s``), not about the gold answer."""
    gold = problem.answer
    failures = _check(
        "gold vs itself",
        lambda t: check_answer(gold=gold, answer=gold, timeout_s=t, pool=pool),
        timeout_s,
        retry_timeout_s,
    )
    failures += _check(
        "gold vs \\boxed{gold}",
        lambda t: check_math(gold=gold, pred=f"\\boxed{{{gold}}}", timeout_s=t, pool=pool),
        timeout_s,
        retry_timeout_s,
    )
    solution = problem.solution
    if solution:
        failures += _check(
            "gold vs reference solution",
            lambda t: check_math(gold=gold, pred=solution, timeout_s=t, pool=pool),
            timeout_s,
            retry_timeout_s,
        )
    return failures
