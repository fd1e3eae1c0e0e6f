"""Recognise compound answers in normalised text: sets, tuples, intervals, unions, matrices, lists,
``\\pm`` and ``var = value``. Pure string work; the elements are compared by the caller."""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = {"(": ")", "[": "]", "{": "}"}
_MATRIX = re.compile(r"\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}", re.DOTALL)
_SIMPLE_LHS = re.compile(r"[a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+|[a-zA-Z]\([a-zA-Z]\)")


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
        return Structure("set", tuple(split_top_level(inner, ",")) if inner else ())
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]" and _balanced_inside(s):
        items = tuple(split_top_level(s[1:-1], ","))
        if len(items) == 1:
            return None  # "(5)" is just 5 in brackets
        if len(items) == 2 and (s[0] + s[-1] != "()" or "\\infty" in s):
            return Structure("interval", items, brackets=s[0] + s[-1])
        # Three or more items cannot be an interval: (a, b, c) and [a, b, c] are the same triple.
        return Structure("tuple", items, brackets="()" if len(items) > 2 else s[0] + s[-1])
    items = tuple(split_top_level(s, ","))
    if len(items) > 1 and all(items):
        return Structure("list", items)
    return None


def expand_pm(text: str) -> tuple[str, str] | None:
    """``a \\pm b`` -> (``a + b``, ``a - b``) for a single top-level ``\\pm``."""
    parts = split_top_level(text, "\\pm")
    if len(parts) != 2 or not parts[1]:
        return None
    return f"{parts[0]}+{parts[1]}", f"{parts[0]}-{parts[1]}"


def strip_assignment(text: str) -> tuple[str, str] | None:
    """``x = 3`` -> (``x``, ``3``), ``x \\in [2, 5)`` -> (``x``, ``[2, 5)``) when the left side is a lone
    variable; None otherwise."""
    parts = split_top_level(text, "=")
    if len(parts) == 1:
        parts = split_top_level(text, "\\in ")
    if len(parts) != 2 or not parts[1] or not _SIMPLE_LHS.fullmatch(parts[0].replace(" ", "")):
        return None
    return parts[0], parts[1]
