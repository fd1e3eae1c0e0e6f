"""Arithmetic stage: drop a chain that writes a false calculation, even if its final answer verifies.

Every explicit step (verifier/filters/calculations.py) is checked exactly; one false step drops the
chain. Steps that cannot be evaluated are counted, never blamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from verifier.filters.base import Group, Scope, StageOutcome, drop, keep
from verifier.filters.calculations import StepStatus, check_text

MAX_EXAMPLES = 5  # false steps recorded per chain


class ArithmeticStage:
    name = "arithmetic"
    scope = Scope.CHAIN

    def settings(self) -> dict[str, Any]:
        return {"version": 1}  # bump when the step rules change, so old outcomes are re-judged

    def judge(self, groups: Sequence[Group]) -> list[list[StageOutcome]]:
        return [[judge_text(c.completion) for c in g.chains] for g in groups]

    def close(self) -> None:
        return None


def judge_text(text: str) -> StageOutcome:
    checks = check_text(text)
    false = [c for c in checks if c.status is StepStatus.FALSE]
    counts = {s.value: sum(c.status is s for c in checks) for s in StepStatus}
    if false:
        examples = [{"step": c.step.text, "source": c.step.source, "why": c.reason} for c in false]
        return drop(f"false step: {false[0].reason}", steps=counts, false_steps=examples[:MAX_EXAMPLES])
    return keep(f"{counts['true']} steps checked, none false", steps=counts)
