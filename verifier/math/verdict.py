"""The math checker's result: a status enum, the extracted answer, the rule that decided, a reason."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class MathStatus(str, Enum):
    CORRECT = "correct"
    WRONG = "wrong"
    NO_ANSWER = "no_answer"
    UNPARSEABLE = "unparseable"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True)
class MathVerdict:
    status: MathStatus
    extracted: str | None
    rule: str | None
    reason: str

    @property
    def correct(self) -> bool:
        return self.status is MathStatus.CORRECT
