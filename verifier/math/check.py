"""Public entry point of the math checker."""

from __future__ import annotations

from verifier.math.compare import compare, normalize
from verifier.math.extract import extract_answer
from verifier.math.verdict import MathStatus, MathVerdict


def check_math(*, gold: str, pred: str) -> MathVerdict:
    """Check a full model output ``pred`` against the gold final answer ``gold``."""
    if not normalize(gold):
        return MathVerdict(MathStatus.ERROR, None, None, "the gold answer is empty")
    ext = extract_answer(pred)
    if ext.answer is None:
        return MathVerdict(MathStatus.NO_ANSWER, None, None, ext.reason)
    equal, rule, reason = compare(gold, ext.answer)
    status = MathStatus.CORRECT if equal else MathStatus.WRONG
    return MathVerdict(status, ext.answer, rule, reason)
