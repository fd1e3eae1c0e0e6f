"""Public entry points of the math checker: ``check_math`` and ``check_math_many``.

The flow: extract the anchored answer(s) from the model output, then compare each with the gold
answer through the cheap in-process stages (``compare``); only pairs they cannot decide pass the
guards and go to a pool worker for the symbolic stage.
"""

from __future__ import annotations

from collections.abc import Sequence

from verifier.math.compare import Decision, compare
from verifier.math.extract import Extraction, extract_answer
from verifier.math.guards import MAX_ANSWER_CHARS, guard
from verifier.math.normalize import normalize
from verifier.math.pool import MathPool, default_pool
from verifier.math.verdict import MathStatus, MathVerdict

DEFAULT_TIMEOUT_S = 5.0


def _decide(gold: str, answer: str, timeout_s: float, pool: MathPool | None) -> Decision:
    if len(answer) > MAX_ANSWER_CHARS and answer.strip() != gold.strip():
        return Decision(MathStatus.UNPARSEABLE, "guard", f"guard: answer is {len(answer)} characters")
    decision = compare(gold, answer)
    if decision is not None:
        return decision
    stop = guard(normalize(answer))
    if stop is not None:
        return Decision(stop[0], "guard", stop[1])
    return (pool or default_pool()).compare(gold, answer, timeout_s=timeout_s)


def _verdict(ext: Extraction, decisions: list[Decision]) -> MathVerdict:
    final = decisions[-1]
    if len(decisions) == 1:
        return MathVerdict(final.status, ext.answer, final.rule, final.reason)
    statuses = {d.status for d in decisions}
    shown = " | ".join(ext.answers)
    if statuses == {MathStatus.CORRECT}:
        return MathVerdict(
            MathStatus.CORRECT, ext.answer, final.rule, f"all {len(decisions)} answers match: {shown}"
        )
    if MathStatus.WRONG in statuses:
        rule = "conflicting-answers" if MathStatus.CORRECT in statuses else final.rule
        return MathVerdict(
            MathStatus.WRONG, ext.answer, rule, f"{len(decisions)} different {ext.anchor} answers: {shown}"
        )
    other = next(d for d in decisions if d.status is not MathStatus.CORRECT)
    return MathVerdict(other.status, ext.answer, other.rule, other.reason)


def check_answer(
    *, gold: str, answer: str, timeout_s: float = DEFAULT_TIMEOUT_S, pool: MathPool | None = None
) -> MathVerdict:
    """Compare an already extracted ``answer`` (no anchor needed) with ``gold``."""
    if not normalize(gold):
        return MathVerdict(MathStatus.ERROR, None, None, "the gold answer is empty")
    d = _decide(gold, answer, timeout_s, pool)
    return MathVerdict(d.status, answer, d.rule, d.reason)


def check_math(
    *,
    gold: str,
    pred: str,
    require_anchor: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    pool: MathPool | None = None,
) -> MathVerdict:
    """Check a full model output ``pred`` against the gold final answer ``gold``.

    ``require_anchor`` (default True, for rewards and datasets alike): only an anchored answer
    (``#### N``, ``\\boxed{}``, "the answer is", ``Answer:``/``A:`` lines) counts; with False the last
    number of an unanchored output is taken. ``timeout_s`` bounds each symbolic comparison;
    ``pool`` defaults to a process-wide pool started on first need.
    """
    return check_math_many(
        gold=gold, preds=[pred], require_anchor=require_anchor, timeout_s=timeout_s, pool=pool
    )[0]


def check_math_many(
    *,
    gold: str,
    preds: Sequence[str],
    require_anchor: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    pool: MathPool | None = None,
) -> list[MathVerdict]:
    """``check_math`` for several outputs of one problem; each distinct answer is compared once."""
    if not normalize(gold):
        return [MathVerdict(MathStatus.ERROR, None, None, "the gold answer is empty") for _ in preds]
    decided: dict[str, Decision] = {}
    verdicts: list[MathVerdict] = []
    for pred in preds:
        ext = extract_answer(pred, require_anchor=require_anchor)
        if not ext.answers:
            verdicts.append(MathVerdict(MathStatus.NO_ANSWER, None, None, ext.reason))
            continue
        decisions = []
        for answer in ext.answers:
            if answer not in decided:
                decided[answer] = _decide(gold, answer, timeout_s, pool)
            decisions.append(decided[answer])
        verdicts.append(_verdict(ext, decisions))
    return verdicts
