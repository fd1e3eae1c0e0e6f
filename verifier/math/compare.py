"""Compare an extracted answer with the gold answer, cheapest stage first."""

from __future__ import annotations

import re

from sympy import Rational

_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)(/\d+)?$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(\D|$))")


def normalize(text: str) -> str:
    s = text.strip()
    s = s.replace("\\$", "").replace("$", "").replace("\\,", "").replace("\\!", "")
    s = _THOUSANDS.sub("", s)
    s = re.sub(r"\\text\{\s*([^{}]*)\}", r"\1", s)
    s = s.strip().rstrip(".").strip()
    return re.sub(r"\s+", " ", s)


def as_rational(text: str) -> Rational | None:
    s = text.replace(" ", "")
    frac = re.fullmatch(r"\\[dt]?frac\{([-+]?\d+)\}\{(\d+)\}", s)
    if frac:
        s = f"{frac.group(1)}/{frac.group(2)}"
    if not _NUMBER.match(s):
        return None
    try:
        return Rational(s)
    except (ValueError, TypeError, ZeroDivisionError):
        return None


def compare(gold: str, pred: str) -> tuple[bool, str, str]:
    """Return (equal, rule, reason)."""
    g, p = normalize(gold), normalize(pred)
    if g == p:
        return True, "exact-string", f"{p!r} equals the gold answer as text"
    rg, rp = as_rational(g), as_rational(p)
    if rg is not None and rp is not None:
        if rg == rp:
            return True, "rational", f"{p!r} and {g!r} are the same number"
        return False, "rational", f"{p!r} != {g!r}"
    return False, "exact-string", f"{p!r} does not match the gold answer {g!r}"
