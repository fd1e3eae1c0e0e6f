"""The in-process sampling stage (verifier/math/approx.py): it may prove two answers different, never
equal, and it must stay silent on everything it does not read exactly as latex2sympy does."""

from __future__ import annotations

import pytest

from verifier.math.approx import clearly_different
from verifier.math.compare import compare
from verifier.math.verdict import MathStatus


@pytest.mark.parametrize(
    "gold,pred",
    [
        ("p - q", r"\frac{14}{3}"),
        ("x^5 - x^4 + x^3 - x^2 + x - 1", "12"),
        (r"\frac{11+9a}{20}", "-128"),
        ("(a+5)(b+2)", "850"),
        (r"\sqrt{51}", "6 - 5i"),
        ("-50", r"\pi"),
        ("x^{100}", "x^{100}+1"),
        (r"\sqrt[3]{2}", r"\sqrt{2}"),
        ("2x+1", "2x-1"),
    ],
)
def test_proves_different(gold: str, pred: str) -> None:
    assert clearly_different(gold, pred) is not None


@pytest.mark.parametrize(
    "gold,pred",
    [
        ("x^2+2x+1", "(x+1)^2"),  # equal: the sampler never decides equality
        (r"\sqrt{8}", r"2\sqrt{2}"),
        (r"\frac{\sqrt{3}}{2}", r"\frac{1}{2}\sqrt{3}"),
        ("X+y", "x+Y"),  # latex2sympy lowercases symbols
        ("10^{12}+x-10^{12}", "x"),  # cancellation: measured against the largest intermediate value
        (r"\sqrt{2}", "1.41421"),  # decimals: the decimal-tolerance rule decides, not the sampler
        ("1024", "2^10"),  # latex2sympy reads 2^10 as 2**10, numbers.py refuses: so does the sampler
        ("2x+2", "2(x+1)"),  # "2(3)" is 5 for latex2sympy: a number before "(" is not read
        ("2x", "x(2)"),  # a function application for latex2sympy
        ("5", "2 3"),  # a mixed number for latex2sympy
        (r"\sin x", "x"),  # commands other than \frac, \sqrt, \pi, \cdot, \times
        ("x_1", "x_2"),
        ("1/2x", "x"),  # "/" is ambiguous next to implicit products
    ],
)
def test_silent(gold: str, pred: str) -> None:
    assert clearly_different(gold, pred) is None


def test_decides_in_process_as_wrong() -> None:
    decision = compare("x^5 - x^4 + x^3 - x^2 + x - 1", "12")
    assert decision is not None and decision.status is MathStatus.WRONG and decision.rule == "numeric"
    assert compare("x^2+2x+1", "(x+1)^2") is None  # left to the symbolic stage, which says correct
