"""The symbolic stage: LaTeX -> SymPy with latex2sympy2_extended, then equivalence.

Runs only inside a pool worker (``verifier.math.worker``), under the pool's deadline and memory cap;
importing this module in the caller's process is harmless, calling it there is not the design.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import Any

import sympy
from latex2sympy2_extended import latex2sympy
from latex2sympy2_extended.math_normalization import NormalizationConfig

from verifier.math.compare import MIN_SIGNIFICANT_DIGITS, Decision, compare
from verifier.math.guards import guard
from verifier.math.numbers import Number, NumberTooLarge, parse_number
from verifier.math.verdict import MathStatus

_NORMALIZATION = NormalizationConfig(
    basic_latex=True, units=False, malformed_operators=True, nits=True, boxed="none", equations=False
)
_PRECISION = 60  # digits for numeric checks; far above any printed decimal we compare with
# The numeric equality test works at 60 digits plus three per digit of possible cancellation, and
# is not tried past 3,000 digits (an answer that large is left to simplify and the deadline).
NUMERIC_MIN_DIGITS = 60
NUMERIC_MAX_DIGITS = 3_000
_APPROXIMATED = (sympy.Integral, sympy.Sum, sympy.Product, sympy.Limit, sympy.Derivative)


class ParseFailure(ValueError):
    """latex2sympy could not read the text."""


@lru_cache(maxsize=4096)
def parse_latex(text: str) -> Any:
    """SymPy object for ``text``; cached so a gold answer is parsed once per worker."""
    try:
        return latex2sympy(text, normalization_config=_NORMALIZATION)
    except (RecursionError, MemoryError):
        raise
    except Exception as e:  # latex2sympy raises bare Exception and ANTLR errors; all mean "cannot read"
        raise ParseFailure(f"{type(e).__name__}: {str(e)[:200]}") from None


def _is_zero(expr: Any) -> bool:
    """Exactly zero: SymPy simplifies it to 0, or evaluates it to an exact 0. No tolerance here:
    ``1/2004! - 1/2006!`` is tiny but not zero (Math-Verify issue #14)."""
    if expr == 0:
        return True
    simplified = sympy.simplify(expr)
    if simplified == 0:
        return True
    if simplified.is_Rational or simplified.free_symbols or not simplified.is_number:
        return False
    return bool(sympy.N(simplified, _PRECISION).is_zero)


def _decimal_vs_exact(decimal: Number, exact: Any) -> bool:
    """The printed decimal is ``exact`` rounded to its printed digits (with enough of them)."""
    assert decimal.decimals is not None and decimal.significant is not None
    if decimal.significant < MIN_SIGNIFICANT_DIGITS:
        return False
    diff = abs(
        sympy.N(sympy.Rational(decimal.value.numerator, decimal.value.denominator) - exact, _PRECISION)
    )
    return bool(diff <= sympy.Rational(1, 2 * 10**decimal.decimals))


def _decimal_side(ge: Any, pe: Any, g_text: str, p_text: str) -> tuple[Number, Any] | None:
    """(printed decimal, exact irrational value) when one side is each; else None."""
    for dec_text, exact in ((p_text, ge), (g_text, pe)):
        dec = _number(dec_text)
        exact_irrational = isinstance(exact, sympy.Expr) and exact.is_number and not exact.is_Rational
        if dec is not None and dec.decimals is not None and exact_irrational and not exact.has(sympy.Float):
            return dec, exact
    return None


def _exprs_equal(g: Any, p: Any, g_text: str, p_text: str) -> bool:
    if g == p:
        return True
    if isinstance(g, sympy.MatrixBase) or isinstance(p, sympy.MatrixBase):
        if not (isinstance(g, sympy.MatrixBase) and isinstance(p, sympy.MatrixBase)) or g.shape != p.shape:
            return False
        return all(_exprs_equal(a, b, "", "") for a, b in zip(g, p, strict=True))
    if not (isinstance(g, sympy.Expr) and isinstance(p, sympy.Expr)):
        return False
    decimal = _decimal_side(g, p, g_text, p_text)
    if decimal is not None:
        return _decimal_vs_exact(*decimal)
    if g.has(sympy.Float) or p.has(sympy.Float):
        g, p = sympy.nsimplify(g, rational=True), sympy.nsimplify(p, rational=True)
    if _clearly_different(g, p):
        return False
    if _numerically_equal(g, p):
        return True
    return _is_zero(g - p)


def _sample_point(symbols: set[Any]) -> dict[Any, Any]:
    """A fixed, unremarkable point (17/13, 19/15, ...) at which to evaluate both sides."""
    ordered = sorted(symbols, key=str)
    return {s: sympy.Rational(17 + 2 * i, 13 + 2 * i) for i, s in enumerate(ordered)}


def _clearly_different(g: Any, p: Any) -> bool:
    """A cheap proof of inequality before ``simplify``: both sides evaluated (at one sample point if
    they have variables) to 30 significant digits differ in the leading 20. Never proves equality."""
    symbols = g.free_symbols | p.free_symbols
    point = _sample_point(symbols) if symbols else {}
    a = sympy.N(g.subs(point) if point else g, 30)
    b = sympy.N(p.subs(point) if point else p, 30)
    if not (a.is_number and b.is_number) or a.has(sympy.zoo, sympy.nan) or b.has(sympy.zoo, sympy.nan):
        return False
    if not (a.is_Float or a.is_Integer) or not (b.is_Float or b.is_Integer):
        return False  # complex or unevaluated: leave it to simplify
    scale = max(abs(a), abs(b))
    return bool(scale > 0 and abs(a - b) > scale * sympy.Float("1e-20"))


def _cancellation_budget(expr: Any) -> int:
    """How many digits of cancellation an expression of this size could hide, generously: the
    digits of its integers, plus for every power with an integer exponent the digits of its value
    (``(1+\\sqrt2)^{50}`` is within 10^-19 of an integer), all times one plus the number of radicals
    and functions (each can square the degree of an algebraic number)."""
    digits, nested = 0, 1
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Rational):
            digits += len(str(abs(node.p))) + len(str(node.q))
        elif isinstance(node, sympy.Pow) and node.exp.is_Rational:
            if node.exp.is_Integer:
                base = sympy.N(abs(node.base), 15)
                size = float(sympy.log(base + 2, 10)) if base.is_Number else 10.0
                digits += int(abs(int(node.exp)) * (size + 1))
            else:
                nested += 1
        elif isinstance(node, sympy.Function | sympy.exp):
            nested += 1
        if digits * nested > NUMERIC_MAX_DIGITS:
            break
    return digits * nested


def _numerically_equal(g: Any, p: Any) -> bool:
    """Two constants equal to all of ``P`` significant digits, where ``P`` is far beyond any
    cancellation their literals and powers could hide (``_cancellation_budget``): decides at once
    what ``simplify`` may not finish within the deadline (nested radicals, terms in another order).
    Only for constants that are not both rational (those are compared exactly), and only proves
    equality: a difference anywhere in the ``P`` digits leaves the decision to ``simplify``."""
    if g.free_symbols or p.free_symbols or (g.is_Rational and p.is_Rational) or g == 0 or p == 0:
        return False
    if g.has(*_APPROXIMATED) or p.has(*_APPROXIMATED):
        return False  # evaluated by quadrature or series: their digits are estimates, not exact
    digits = NUMERIC_MIN_DIGITS + 3 * (_cancellation_budget(g) + _cancellation_budget(p))
    if digits > NUMERIC_MAX_DIGITS:
        return False
    try:
        a = g.evalf(digits, strict=True)
        b = p.evalf(digits, strict=True)
    except (sympy.core.evalf.PrecisionExhausted, ValueError, TypeError, ArithmeticError):
        return False  # cannot evaluate to that precision: simplify decides
    parts = [_float_parts(a), _float_parts(b)]
    if parts[0] is None or parts[1] is None:
        return False  # not evaluated to plain floats (an unevaluated Abs, an infinity): simplify decides
    (ar, ai), (br, bi) = parts[0], parts[1]
    scale = max(abs(ar) + abs(ai), abs(br) + abs(bi))
    if not scale > 0:
        return False
    return bool(abs(ar - br) + abs(ai - bi) <= scale * sympy.Float(10, digits) ** (-(digits - 10)))


def _float_parts(value: Any) -> tuple[Any, Any] | None:
    """(real, imaginary) of an evaluated constant as SymPy numbers, or None if it is anything else."""
    if not isinstance(value, sympy.Expr) or value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        return None
    real, imag = value.as_real_imag()
    if not (real.is_Number and imag.is_Number):
        return None
    return real, imag


def _number(text: str) -> Number | None:
    if not text:
        return None
    try:
        return parse_number(text)
    except NumberTooLarge:
        return None


def _relations_equal(g: Any, p: Any) -> bool:
    """Equations equal when one is a non-zero constant multiple of the other; inequalities when
    they say the same thing, possibly written the other way round."""
    if isinstance(g, sympy.Eq) and isinstance(p, sympy.Eq):
        dg, dp = g.lhs - g.rhs, p.lhs - p.rhs
        if _is_zero(dg - dp):
            return True
        if dp == 0:
            return False
        ratio = sympy.simplify(dg / dp)
        return bool(ratio.is_number and ratio != 0 and not ratio.free_symbols)
    if isinstance(g, sympy.core.relational.Relational) and isinstance(p, sympy.core.relational.Relational):
        p_same = p if p.rel_op == g.rel_op else p.reversed if p.reversed.rel_op == g.rel_op else None
        if p_same is None:
            return False
        dg, dp = g.lhs - g.rhs, p_same.lhs - p_same.rhs
        if _is_zero(dg - dp):
            return True
        if dp == 0:
            return False
        ratio = sympy.simplify(dg / dp)  # 2x > 4 is x > 2: a positive constant multiple
        return bool(ratio.is_number and not ratio.free_symbols and ratio.is_positive)
    return False


def _sets_equal(g: Any, p: Any) -> bool:
    if isinstance(g, sympy.FiniteSet) and isinstance(p, sympy.FiniteSet):
        if len(g) != len(p):
            return False
        rest = list(p)
        for a in g:
            match = next((b for b in rest if _exprs_equal(a, b, "", "")), None)
            if match is None:
                return False
            rest.remove(match)
        return True
    if isinstance(g, sympy.Interval) and isinstance(p, sympy.Interval):
        return (
            g.left_open == p.left_open
            and g.right_open == p.right_open
            and _exprs_equal(g.start, p.start, "", "")
            and _exprs_equal(g.end, p.end, "", "")
        )
    return bool(g == p)


def _as_set(expr: Any, other: Any) -> Any:
    """An inequality in one variable, compared with an interval, becomes its solution set."""
    relational = isinstance(expr, sympy.core.relational.Relational) and not isinstance(expr, sympy.Eq)
    if relational and isinstance(other, sympy.Set) and len(expr.free_symbols) == 1:
        return expr.as_set()
    return expr


def symbolic_equal(g: str, p: str) -> Decision:
    """The last stage: parse both with latex2sympy2_extended and test equivalence with SymPy."""
    for side, text in (("gold", g), ("prediction", p)):
        stop = guard(text)
        if stop is not None:
            return Decision(stop[0], "guard", f"{side}: {stop[1]}")
    try:
        ge = parse_latex(g)
    except ParseFailure as e:
        return Decision(
            MathStatus.WRONG, "exact-string", f"the gold {g!r} is not math SymPy reads ({e}); texts differ"
        )
    try:
        pe = parse_latex(p)
    except ParseFailure as e:
        return Decision(MathStatus.UNPARSEABLE, "symbolic", f"cannot parse {p!r}: {e}")
    for side, expr in (("gold", ge), ("prediction", pe)):
        if isinstance(expr, sympy.Basic) and expr.has(sympy.zoo, sympy.nan):
            return Decision(
                MathStatus.UNPARSEABLE, "symbolic", f"the {side} is undefined (division by zero?)"
            )
    ge, pe = _as_set(ge, pe), _as_set(pe, ge)
    decimal = _decimal_side(ge, pe, g, p)
    if decimal is not None:
        rule, equal = "decimal-tolerance", _decimal_vs_exact(*decimal)
    elif isinstance(ge, sympy.core.relational.Relational) or isinstance(pe, sympy.core.relational.Relational):
        rule, equal = "equation", _relations_equal(ge, pe)
    elif isinstance(ge, sympy.Set) or isinstance(pe, sympy.Set):
        rule, equal = "set", _sets_equal(ge, pe)
    elif isinstance(ge, sympy.MatrixBase) or isinstance(pe, sympy.MatrixBase):
        rule, equal = "matrix", _exprs_equal(ge, pe, g, p)
    elif isinstance(ge, tuple | sympy.Tuple) or isinstance(pe, tuple | sympy.Tuple):
        same_len = len(ge) == len(pe) if hasattr(ge, "__len__") and hasattr(pe, "__len__") else False
        rule, equal = (
            "tuple",
            same_len and all(_exprs_equal(a, b, "", "") for a, b in zip(ge, pe, strict=False)),
        )
    else:
        rule, equal = "symbolic", _exprs_equal(ge, pe, g, p)
    if equal:
        return Decision(MathStatus.CORRECT, rule, f"{p!r} is equivalent to {g!r} (SymPy)")
    return Decision(MathStatus.WRONG, rule, f"{p!r} is not equivalent to {g!r} (SymPy)")


# Parsed once when a worker starts: ANTLR fills its prediction cache (DFA) lazily, so a fresh
# worker's first parses are several times slower than later ones.
WARM_UP = (
    r"\frac{\sqrt{3}}{2}",
    r"x^2+2x+1",
    r"(1, 2)",
    r"\{1,2\}",
    r"[2, 5)",
    r"x = 3",
    r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}",
    r"2\pi",
    r"\sin x + \cos^2\theta",
    r"\log_2 8",
    r"3 + 4i",
    r"\frac{1}{2}x - 3y",
    r"x \geq 2",
    r"(-\infty, 1) \cup (2, \infty)",
    r"\sqrt[3]{2}",
    r"a^{b}",
    r"10!",
    r"\binom{5}{2}",
    r"-\frac{\pi}{4}",
    r"|x-1|",
    r"f(x)=2x+1",
    r"0.5",
)


def warm_up() -> None:
    for text in WARM_UP:
        with contextlib.suppress(ParseFailure):  # a text the parser rejects still warmed it up
            parse_latex(text)


def compare_full(gold: str, pred: str) -> Decision:
    """All stages, the symbolic one included: what a pool worker runs for one pair."""
    decision = compare(gold, pred, symbolic_equal)
    assert decision is not None  # with a symbolic stage, compare always decides
    return decision


__all__ = ["compare_full", "parse_latex", "symbolic_equal"]
