"""Compare a stdio program's output with an expected output: one small helper per mode, one dispatcher.

Pure string work on the host; the expected outputs never enter the sandbox. Each helper returns
None when the outputs match, else a short reason saying where they first differ.

Modes (``IOTests.compare``):

- ``exact``: line by line, ignoring trailing whitespace on each line, CRLF vs LF and blank lines at
  the start and end (what most judges call an exact comparison);
- ``tokens``: the whitespace-separated tokens are equal (any amount and kind of whitespace);
- ``float``: tokens; where both tokens are numbers they match within an absolute *or* relative
  tolerance (relative to the expected value, as Codeforces' testlib checkers do), an integer
  against a real included (``1000000`` accepts ``1000000.9``, as ``rcmp6`` does). Only when both
  tokens are integers are they compared exactly (stricter than ``rcmp6``, which reads them as
  doubles), so a tolerance never accepts a wrong count printed as an integer; everything else is
  compared as text;
- ``case-insensitive``: tokens, compared after Unicode case folding ("YES" == "yes").
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import get_args

from verifier.schema import CompareMode, IOTests

MODES: tuple[CompareMode, ...] = get_args(CompareMode)

# The defaults of testlib's rcmp6: 1e-6 absolute or relative.
DEFAULT_ABS_TOL = 1e-6
DEFAULT_REL_TOL = 1e-6

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SHOW = 60
# Differences are rounded to 60 digits (far below any tolerance); no trap: a huge exponent is a value.
_DECIMAL = decimal.Context(prec=60, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[])


@dataclass(frozen=True)
class Comparison:
    """How outputs are compared; tolerances apply to ``float`` mode only."""

    mode: CompareMode = "exact"
    abs_tol: float = DEFAULT_ABS_TOL
    rel_tol: float = DEFAULT_REL_TOL

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown comparison mode {self.mode!r}; one of {', '.join(MODES)}")
        for name in ("abs_tol", "rel_tol"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value < 1):
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")


EXACT = Comparison()


def normalise_output(text: str) -> list[str]:
    """Lines without trailing whitespace, without leading/trailing blank lines, CRLF as LF."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def exact_eq(expected: str, actual: str, comparison: Comparison) -> str | None:
    want, got = normalise_output(expected), normalise_output(actual)
    for i, (w, g) in enumerate(zip(want, got, strict=False)):
        if w != g:
            return f"line {i + 1}: expected {_show(w)}, got {_show(g)}"
    if len(want) != len(got):
        return f"expected {len(want)} line(s), got {len(got)}"
    return None


def tokens_eq(expected: str, actual: str, comparison: Comparison) -> str | None:
    return _tokenwise(expected, actual, lambda w, g: w == g)


def casefold_eq(expected: str, actual: str, comparison: Comparison) -> str | None:
    return _tokenwise(expected, actual, lambda w, g: w.casefold() == g.casefold())


def float_eq(expected: str, actual: str, comparison: Comparison) -> str | None:
    return _tokenwise(
        expected, actual, lambda w, g: numbers_close(w, g, comparison.abs_tol, comparison.rel_tol)
    )


def numbers_close(expected: str, actual: str, abs_tol: float, rel_tol: float) -> bool:
    """One token pair in ``float`` mode: integers exactly, numbers within tolerance, else as text."""
    if expected == actual:
        return True
    if _INTEGER.fullmatch(expected) and _INTEGER.fullmatch(actual):
        return _canonical_integer(expected) == _canonical_integer(actual)
    if not (_NUMBER.fullmatch(expected) and _NUMBER.fullmatch(actual)):
        return False  # "nan", "inf", words: text only
    # Decimal, not float: exact at any size, so 1e400 != 1e401 and a 10,000-digit number is itself.
    with decimal.localcontext(_DECIMAL):
        want, got = Decimal(expected), Decimal(actual)
        if not (want.is_finite() and got.is_finite()):  # an exponent beyond any context: text only
            return False
        diff = abs(want - got)
        return diff <= Decimal(abs_tol) or diff <= Decimal(rel_tol) * abs(want)


_MODES: dict[CompareMode, Callable[[str, str, Comparison], str | None]] = {
    "exact": exact_eq,
    "tokens": tokens_eq,
    "float": float_eq,
    "case-insensitive": casefold_eq,
}


def mismatch(expected: str, actual: str, comparison: Comparison = EXACT) -> str | None:
    """None when ``actual`` matches ``expected`` under ``comparison``, else where they first differ."""
    return _MODES[comparison.mode](expected, actual, comparison)


def mismatch_any(expected: Sequence[str], actual: str, comparison: Comparison = EXACT) -> str | None:
    """None when ``actual`` matches one of the accepted outputs; else the first one's mismatch (the
    reason names how many were accepted, so a reader knows the others were tried too)."""
    reasons = [mismatch(e, actual, comparison) for e in expected]
    if any(r is None for r in reasons):
        return None
    first = reasons[0] or "differs"
    return (
        first if len(expected) == 1 else f"{first} (and none of {len(expected) - 1} other accepted outputs)"
    )


def _canonical_integer(token: str) -> str:
    # As text, not int(): Python refuses to convert integers of more than 4300 digits.
    digits = token.lstrip("+-").lstrip("0") or "0"
    return "-" + digits if token.startswith("-") and digits != "0" else digits


def _tokenwise(expected: str, actual: str, same: Callable[[str, str], bool]) -> str | None:
    want, got = expected.split(), actual.split()
    for i, (w, g) in enumerate(zip(want, got, strict=False)):
        if not same(w, g):
            return f"token {i + 1}: expected {_show(w)}, got {_show(g)}"
    if len(want) != len(got):
        return f"expected {len(want)} token(s), got {len(got)}"
    return None


def _show(text: str) -> str:
    return repr(text if len(text) <= _SHOW else text[: _SHOW - 3] + "...")


def comparison_for(tests: IOTests) -> Comparison:
    """The comparison a bank's stdio tests ask for (tolerances default to testlib's rcmp6)."""
    return Comparison(
        mode=tests.compare,
        abs_tol=DEFAULT_ABS_TOL if tests.abs_tol is None else tests.abs_tol,
        rel_tol=DEFAULT_REL_TOL if tests.rel_tol is None else tests.rel_tol,
    )
