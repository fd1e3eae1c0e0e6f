"""Sampling settings shared by every backend: how long, how hot, how wide the nucleus.

One frozen value with its bounds, so a bad ``--temperature`` is refused once, at the edge, with the
same message whichever backend would have used it.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_NEW_TOKENS_CAP = 32_768
TEMPERATURE_CAP = 5.0


@dataclass(frozen=True)
class Sampling:
    """``temperature == 0`` means greedy decoding (top_p is then irrelevant)."""

    max_new_tokens: int = 384
    temperature: float = 0.8
    top_p: float = 0.95

    def __post_init__(self) -> None:
        problems = sampling_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def sampling_problems(s: Sampling) -> list[str]:
    """What is out of bounds, as ``field: why`` strings (empty when the settings are usable)."""
    out = []
    if not 1 <= s.max_new_tokens <= MAX_NEW_TOKENS_CAP:
        out.append(f"max_new_tokens: {s.max_new_tokens} is not in 1..{MAX_NEW_TOKENS_CAP}")
    if not 0.0 <= s.temperature <= TEMPERATURE_CAP:
        out.append(f"temperature: {s.temperature} is not in 0..{TEMPERATURE_CAP}")
    if not 0.0 < s.top_p <= 1.0:
        out.append(f"top_p: {s.top_p} is not in (0, 1]")
    return out
