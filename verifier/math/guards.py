"""Cheap guards run before any SymPy step: reject what cannot finish, without trying.

SymPy happily starts computing ``9^{9^9}`` or ``1000000!`` and never returns; the pool's deadline
would catch it, but a guard answers in microseconds and keeps the worker alive.
"""

from __future__ import annotations

import re

from verifier.math.numbers import MAX_EXPONENT, NumberTooLarge, parse_number
from verifier.math.verdict import MathStatus

MAX_ANSWER_CHARS = 1_000
MAX_NESTING = 30
MAX_FACTORIAL = 10_000

_FACTORIAL = re.compile(r"(\d+)\s*!")
_BIG_LITERAL = re.compile(r"\d{400,}")


def _nesting(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "})]":
            depth -= 1
    return deepest


def _exponents(text: str) -> list[str]:
    """The text of every exponent: ``^{...}`` (braces balanced) or the single token after ``^``."""
    found = []
    for m in re.finditer(r"\^\s*", text):
        i = m.end()
        if i < len(text) and text[i] == "{":
            depth, j = 1, i + 1
            while j < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            found.append(text[i + 1 : j - 1])
        else:
            token = re.match(r"\d+|[a-zA-Z]|\\[a-zA-Z]+", text[i:])
            found.append(token.group(0) if token else "")
    return found


def _exponent_problem(exponent: str) -> str | None:
    if "^" in exponent:
        try:
            value = parse_number(exponent)
        except NumberTooLarge:
            return "power tower"
        if value is None:
            return "power tower" if "^" in "".join(_exponents(exponent)) else None
        if abs(value.value) > MAX_EXPONENT:
            return "power tower"
    literal = re.fullmatch(r"\s*-?\s*(\d+)\s*", exponent)
    if literal and int(literal.group(1)[:12]) > 100_000:
        return f"exponent {literal.group(1)[:12]} is too large"
    return None


def size_guard(text: str) -> tuple[MathStatus, str] | None:
    """The guards that hold for every stage, even the in-process ones (which recurse on nesting)."""
    if len(text) > MAX_ANSWER_CHARS:
        return MathStatus.UNPARSEABLE, f"guard: answer is {len(text)} characters (max {MAX_ANSWER_CHARS})"
    if _nesting(text) > MAX_NESTING:
        return MathStatus.UNPARSEABLE, f"guard: brackets nested deeper than {MAX_NESTING}"
    return None


def guard(text: str) -> tuple[MathStatus, str] | None:
    """``(status, reason)`` when ``text`` must not reach SymPy; None when it may."""
    stop = size_guard(text)
    if stop is not None:
        return stop
    if _BIG_LITERAL.search(text):
        return MathStatus.UNPARSEABLE, "guard: a number with 400 or more digits"
    for exponent in _exponents(text):
        problem = _exponent_problem(exponent)
        if problem:
            return MathStatus.TIMEOUT, f"guard: {problem} cannot be evaluated in time"
    for m in _FACTORIAL.finditer(text):
        if int(m.group(1)[:12]) > MAX_FACTORIAL:
            return MathStatus.TIMEOUT, f"guard: {m.group(1)[:12]}! is too large to evaluate"
    if re.search(r"[)}]\s*!", text):
        return MathStatus.TIMEOUT, "guard: factorial of an expression"
    return None
