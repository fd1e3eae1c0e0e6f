"""Find the final answer in a model output. Pure functions, no SymPy."""

from __future__ import annotations

import re
from dataclasses import dataclass

_GSM = re.compile(r"####\s*([^\n]*)")
_ANSWER_IS = re.compile(
    r"(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*[:\-]?\s*(.+?)(?:\.\s|\.?\s*$|\n)", re.IGNORECASE
)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    anchor: str | None  # "gsm", "boxed", "answer-is", or None
    reason: str


def boxed_contents(text: str) -> list[str]:
    """Contents of every \\boxed{...} / \\fbox{...}, with nested braces balanced."""
    found = []
    for m in _BOXED.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
            i += 1
        if depth == 0:
            found.append(text[m.end() : i - 1])
    return found


def extract_answer(text: str) -> Extraction:
    """The anchored final answer: ``#### N``, then ``\\boxed{}``, then "the answer is N"."""
    gsm = [a.strip() for a in _GSM.findall(text) if a.strip()]
    if gsm:
        return Extraction(gsm[-1], "gsm", "found '#### ...'")
    boxed = [b.strip() for b in boxed_contents(text) if b.strip()]
    if boxed:
        return Extraction(boxed[-1], "boxed", "found \\boxed{...}")
    said = [a.strip() for a in _ANSWER_IS.findall(text) if a.strip()]
    if said:
        return Extraction(said[-1], "answer-is", "found 'the answer is ...'")
    return Extraction(None, None, "no '#### N', \\boxed{} or 'the answer is' in the output")
