"""What a reward call returns: a score in [0, 1], or None when the checker could not decide."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from verifier.verdicts import Outcome, outcome_of


class Missing(str, Enum):
    """Why a reward is missing. Neither says anything about the answer, so neither is ever a 0."""

    INFRA = "infra_error"  # the sandbox or a checker worker failed
    DEADLINE = "deadline"  # the checker's or the batch's deadline passed before this item was decided
    REFERENCE = "bad_reference"  # the gold answer or the problem's own tests cannot be used


@dataclass(frozen=True)
class RewardResult:
    """``score`` is None exactly when ``missing`` is set; ``status`` is the checker's verdict status."""

    score: float | None
    status: str
    reason: str
    kind: str
    extracted: str | None = None
    rule: str | None = None
    missing: Missing | None = None
    # OpenRLHF: the query did not contain its prompt, so the whole query was scored (flagged in
    # ``extra_logs["whole_query"]``; a few-shot answer in the prompt could then be read).
    whole_query: bool = False

    @property
    def correct(self) -> bool:
        return outcome_of(self.kind, self.status, self.rule) is Outcome.CORRECT


def missing_result(kind: str, why: Missing, reason: str, status: str | None = None) -> RewardResult:
    return RewardResult(score=None, status=status or why.value, reason=reason, kind=kind, missing=why)
