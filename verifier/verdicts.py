"""What a checker's verdict means, in one place: correct, the candidate's fault, or undecided.

Every consumer asks here: pipeline resume (retry what is undecided), the summary and the CI gate
(undecided samples are not samples), the bank self-check (an undecided verdict is retried, never
reported as a wrong gold answer), the rewards (undecided is a missing reward, never 0) and the
preference pairs (only the candidate's fault is a rejected answer).

An undecided verdict has a cause: the checker's machinery (a sandbox or math worker failed), its
deadline (a math worker killed at the deadline; a guard's stop is the answer's doing, not a
deadline), or the reference (an empty gold answer, a code problem that does not validate or whose
own tests or checker are broken: the bank's bug, which no retry fixes). Only the first two are
``retryable``: pipeline resume checks them again, a reference's verdict is final (not verified).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from verifier.math.verdict import MathStatus


class Outcome(str, Enum):
    CORRECT = "correct"
    CANDIDATE_FAULT = "candidate_fault"  # wrong, no answer, its own crash, loop or memory use
    UNDECIDED = "undecided"  # says nothing about the answer


class Cause(str, Enum):
    """Why a verdict is undecided."""

    INFRASTRUCTURE = "infrastructure"  # a sandbox or math worker failed, or the pool was closed
    DEADLINE = "deadline"  # the checker ran out of time (not a guard's stop)
    REFERENCE = "reference"  # the gold answer or the problem's tests cannot be used


@dataclass(frozen=True)
class Judgement:
    outcome: Outcome
    cause: Cause | None = None  # set exactly when the outcome is UNDECIDED

    @property
    def retryable(self) -> bool:
        """Checking again may decide it (the machinery or the clock, not the bank, was at fault)."""
        return self.cause in (Cause.INFRASTRUCTURE, Cause.DEADLINE)


_CORRECT = Judgement(Outcome.CORRECT)
_FAULT = Judgement(Outcome.CANDIDATE_FAULT)

# Math TIMEOUT: only a guard's stop (an answer too big or too deep to compare) is the answer's
# doing; ``deadline`` and ``worker-start`` are the checker's clock.
# Math ERROR: rules of the pool's machinery; an ERROR with no rule is about the input (empty gold).
_MATH_INFRA_RULES = frozenset({"worker", "worker-start", "closed"})
_MATH_VALUES = frozenset(s.value for s in MathStatus)
_MATH: dict[MathStatus, Judgement] = {
    MathStatus.CORRECT: _CORRECT,
    MathStatus.WRONG: _FAULT,
    MathStatus.NO_ANSWER: _FAULT,
    MathStatus.UNPARSEABLE: _FAULT,
}
# Code (``CodeStatus`` values; spelled out so that math-only callers never import the sandbox):
# the program is judged by what it did in the sandbox; only a sandbox failure is undecided, and a
# problem whose own tests or checker fail to run is the bank's bug.
_CODE: dict[str, Judgement] = {
    "pass": _CORRECT,
    "wrong": _FAULT,
    "runtime_error": _FAULT,
    "timeout": _FAULT,  # the sandbox's limits hold for any correct program: its own loop
    "oom": _FAULT,
    "output_limit": _FAULT,
    "no_code": _FAULT,
}
_CODE_UNDECIDED = frozenset({"sandbox_error"})
# The problem's own tests (harness_error) or its trusted stdio checker (checker_error) failed, or the
# problem itself does not validate (bad_input): no retry can fix any of them.
_CODE_REFERENCE_RULES = frozenset({"harness_error", "checker_error", "bad_input"})


def _math(status: MathStatus, rule: str | None) -> Judgement:
    if status in _MATH:
        return _MATH[status]
    if status is MathStatus.TIMEOUT:
        return _FAULT if rule == "guard" else Judgement(Outcome.UNDECIDED, Cause.DEADLINE)
    # ERROR
    if rule in _MATH_INFRA_RULES:
        return Judgement(Outcome.UNDECIDED, Cause.INFRASTRUCTURE)
    return Judgement(Outcome.UNDECIDED, Cause.REFERENCE)


def _code(status: str, rule: str | None) -> Judgement:
    if status in _CODE:
        return _CODE[status]
    if status in _CODE_UNDECIDED and rule in _CODE_REFERENCE_RULES:
        return Judgement(Outcome.UNDECIDED, Cause.REFERENCE)
    return Judgement(Outcome.UNDECIDED, Cause.INFRASTRUCTURE)  # sandbox_error, or a status unknown here


def judge(kind: str, status: str | Enum, rule: str | None) -> Judgement:
    """The meaning of a verdict of ``kind`` ("math" or "code") with this status and rule.

    A status this module does not know (a record from a newer release) is undecided, infrastructure:
    it is retried and never scored as wrong."""
    value = str(getattr(status, "value", status))
    if kind == "code":
        return _code(value, rule or None)
    if kind == "math" and value in _MATH_VALUES:
        return _math(MathStatus(value), rule or None)
    return Judgement(Outcome.UNDECIDED, Cause.INFRASTRUCTURE)


def outcome_of(kind: str, status: str | Enum, rule: str | None) -> Outcome:
    return judge(kind, status, rule).outcome
