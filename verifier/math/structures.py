"""Recognise compound answers in normalised text: sets, tuples, intervals, unions, matrices, lists,
``\\pm`` and ``var = value``. Pure string work; the elements are compared by the caller."""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = {"(": ")", "[": "]", "{": "}"}
_MATRIX = re.compile(r"\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}", re.DOTALL)
# What may stand on the left of ``=`` in an answer and be dropped: a name, not an expression. A name
# is a letter (with a subscript) or a command (``\\alpha``); also a tuple of names ``(a, b)``, a
# length or modulus of names ``|PQ|``, ``\\overline{AB}``, an angle ``\\angle ABC``, an area
# ``[ABC]``, a segment ``AB``, and a function at a name or a number ``f(2)``, ``f^{-1}(3)``. A sum
# of names ``m+n = 17`` ("find m+n") or a word ``\\text{Area} = 12``, ``xy = 6`` only in a
# prediction: a gold ``x + y = 5`` or ``xy = 6`` is the equation of a curve, not the number.
# Anything with a digit outside a subscript or an argument is an equation to solve (``2x = 10``,
# ``x-5 = 0``) and is never dropped.
_NAME = r"(?:[a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+(?:\{[a-zA-Z]+\})?)"
_ARGUMENT = r"(?:-?\d+(?:\.\d+)?|\\frac\{-?\d+\}\{\d+\}|-?\d+/\d+|" + _NAME + r")"
_SIMPLE_LHS = re.compile(
    "|".join(
        (
            _NAME,
            r"[a-zA-Z](?:\^\{?-1\}?)?\(\s*" + _ARGUMENT + r"(?:\s*,\s*" + _ARGUMENT + r")*\s*\)",
            r"\(\s*" + _NAME + r"(?:\s*,\s*" + _NAME + r")+\s*\)",
            r"\|\s*(?:" + _NAME + r"\s*)+\|",
            r"\\overline\{[A-Z]+\}|(?:m\s*)?\\angle\s*[A-Z]{1,3}|\[[A-Z]{3,4}\]",
            r"[A-Z]{2}",
        )
    )
)
# Only in a prediction (a gold "xy = 6" or "x + y = 5" is a curve): sums of names and words.
_PREDICTION_LHS = re.compile(_NAME + r"(?:\s*[+]\s*" + _NAME + r")+|[A-Za-z]{2,20}")


@dataclass(frozen=True)
class Structure:
    """``kind`` is one of "set", "tuple", "interval", "union", "list", "matrix"."""

    kind: str
    items: tuple[str, ...]
    brackets: str = ""  # for intervals and tuples: the opening and closing bracket, e.g. "[)"
    shape: tuple[int, int] = (0, 0)  # for matrices


def split_top_level(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside any brackets (``\\{``, ``\\left(`` count as brackets)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            i += len(separator)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _balanced_inside(text: str) -> bool:
    """Whether the brackets strictly inside ``text`` (without its first and last char) balance."""
    depth = 0
    for ch in text[1:-1]:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def parse_structure(text: str) -> Structure | None:
    """The compound structure of a normalised answer, or None for a single value."""
    s = text.strip()
    m = _MATRIX.fullmatch(s)
    if m:
        rows = [r for r in split_top_level(m.group(2), "\\\\") if r]
        cells = [split_top_level(r, "&") for r in rows]
        width = len(cells[0]) if cells else 0
        if not cells or any(len(r) != width for r in cells):
            return None
        return Structure("matrix", tuple(c for r in cells for c in r), shape=(len(cells), width))
    union = split_top_level(s, "\\cup")
    if len(union) > 1:
        return Structure("union", tuple(union))
    if s.startswith("\\{") and s.endswith("\\}") and _balanced_inside(s[1:-1]):
        inner = s[2:-2].strip()
        return Structure("set", tuple(_items(inner)) if inner else ())
    if s.startswith("{") and s.endswith("}") and _balanced_inside(s) and len(_items(s[1:-1])) > 1:
        # "{-5, 5}": braces a writer meant as a set (LaTeX would print no braces: a list either way)
        return Structure("set", tuple(_items(s[1:-1])))
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _balanced_inside(s):
        items = tuple(_items(s[1:-1]))
        if len(items) == 1:
            return None  # "(5)" is just 5 in brackets
        if len(items) == 2 and (s[0] + s[-1] != "()" or "\\infty" in s):
            return Structure("interval", items, brackets=s[0] + s[-1])
        # Three or more items cannot be an interval: (a, b, c) and [a, b, c] are the same triple.
        return Structure("tuple", items, brackets="()" if len(items) > 2 else s[0] + s[-1])
    items = tuple(_items(s))
    if len(items) > 1 and all(items):
        return Structure("list", items)
    return None


def _items(text: str) -> list[str]:
    """Items separated by commas, or by semicolons when there is no comma at the top level
    (``(1, 2); (3, 4)``, ``(1; 4)``)."""
    parts = split_top_level(text, ",")
    if len(parts) == 1 and ";" in text:
        return split_top_level(text, ";")
    return parts


_LESS = r"(?:<|\\lt\b|\\leq?(?:slant)?\b|≤)"
_GREATER = r"(?:>|\\gt\b|\\geq?(?:slant)?\b|≥)"
_VARIABLE = r"[a-zA-Z](?:_\{?\w+\}?)?(?:\([a-zA-Z]\))?|\\[a-zA-Z]+"  # x, a_1, f(x), \theta
_CHAIN = {
    op: re.compile(
        rf"(?P<low>[^<>=]+?)\s*(?P<op1>{op})\s*(?:{_VARIABLE})\s*(?P<op2>{op})\s*(?P<high>[^<>=]+)"
    )
    for op in (_LESS, _GREATER)
}


def chained_interval(text: str) -> Structure | None:
    """``-3 \\leq x < 4`` (or ``4 > x \\geq -3``) -> the interval ``[-3, 4)``; None for anything else."""
    if "<" not in text and ">" not in text and "\\" not in text and "≤" not in text and "≥" not in text:
        return None
    for op, pattern in _CHAIN.items():
        m = pattern.fullmatch(text.strip())
        if m is None:
            continue
        low, high, op1, op2 = m.group("low").strip(), m.group("high").strip(), m.group("op1"), m.group("op2")
        if op is _GREATER:  # "4 \\geq x > -3": read from the right
            low, high, op1, op2 = high, low, op2, op1
        closed = (
            not op1.startswith(("<", ">", "\\lt", "\\gt")),
            not op2.startswith(("<", ">", "\\lt", "\\gt")),
        )
        brackets = ("[" if closed[0] else "(") + ("]" if closed[1] else ")")
        return Structure("interval", (low, high), brackets=brackets)
    return None


def expand_pm(text: str) -> tuple[str, str] | None:
    """``a \\pm b`` -> (``a + b``, ``a - b``) for a single top-level ``\\pm``."""
    parts = split_top_level(text, "\\pm")
    if len(parts) != 2 or not parts[1]:
        return None
    return f"{parts[0]}+{parts[1]}", f"{parts[0]}-{parts[1]}"


def strip_assignment(text: str, *, prediction: bool = False) -> tuple[str, str] | None:
    """``x = 3`` -> (``x``, ``3``), ``x \\in [2, 5)`` -> (``x``, ``[2, 5)``) when the left side is a name
    (``_SIMPLE_LHS``; in a ``prediction``, also a sum of names or a word); None otherwise."""
    parts = split_top_level(text, "=")
    if len(parts) == 1:
        parts = split_top_level(text, "\\in ")
    if len(parts) != 2 or not parts[1]:
        return None
    lhs = parts[0].replace(" ", "")
    if not (_SIMPLE_LHS.fullmatch(lhs) or (prediction and _PREDICTION_LHS.fullmatch(lhs))):
        return None
    return parts[0], parts[1]
