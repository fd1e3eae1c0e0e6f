"""Extraction and normalisation, table-driven: which answer a model output states, and its spelling."""

from __future__ import annotations

import pytest

from verifier.math.extract import extract_answer
from verifier.math.normalize import normalize
from verifier.math.numbers import NumberTooLarge, parse_number


@pytest.mark.parametrize(
    "text,answers,anchor",
    [
        ("so 9*2=18\n#### 18", ("18",), "gsm"),
        ("#### 18\nQuestion: and then?\n#### 7", ("18",), "gsm"),
        ("###### noise ######\nThe answer is 4.", ("4",), "answer-is"),
        ("#### Step 1: add\n\\boxed{3}", ("3",), "boxed"),
        (r"we get \boxed{\frac{1}{\sqrt{2}}}.", (r"\frac{1}{\sqrt{2}}",), "boxed"),
        (r"\fbox{7}", ("7",), "boxed"),
        (r"\boxed{\boxed{5}}", (r"\boxed{5}",), "boxed"),
        (r"\boxed{4} then \boxed{5}", ("4", "5"), "boxed"),
        (r"\boxed{5} then \boxed{5}", ("5",), "boxed"),
        (r"\boxed{\phantom{2}} \boxed{4}", ("4",), "boxed"),
        ("The final answer is $\\frac{1}{2}$. I hope it is correct.", (r"\frac{1}{2}",), "final-answer"),
        ("Therefore the answer is 42.", ("42",), "answer-is"),
        ("The final answer is $\\$36$. I hope it is correct.", ("\\$36",), "final-answer"),
        ("Janet makes 18 dollars.\nA: 18", ("18",), "answer-is"),
        ("**Answer:** 12", ("12",), "answer-is"),
        ("Final Answer: The final answer is $8$. I hope it is correct.", ("8",), "final-answer"),
        ("Final Answer: The smallest $k$ is 12.", ("12",), "final-answer"),
        ("Final Answer: $k$ is 12.", ("12",), "final-answer"),
        ("Final Answer: The smallest $k$ is not 12.", ("The smallest $k$ is not 12",), "final-answer"),
        ("Final Answer: x is 3, and y is 4.", ("x is 3, and y is 4",), "final-answer"),
        ("Final Answer: The plane is $x + y = 1$.", ("$x + y = 1$",), "final-answer"),
        ("Final Answer: Therefore, the smallest $k$ is 12.", ("12",), "final-answer"),
        ("Final Answer: The answer is $7$, which is prime.", ("$7$",), "final-answer"),
        ("Final Answer: The solutions are $3$ and $-1$.", ("$3$ and $-1$",), "final-answer"),
        ("Step 1: add\nA: 5\nAnswer : 6", ("5", "6"), "answer-is"),
        ("Note: A: is not it\n  A: 7", ("7",), "answer-is"),
        ("no anchor here, 3 and 4", (), None),
        ("", (), None),
    ],
)
def test_extract(text: str, answers: tuple[str, ...], anchor: str | None) -> None:
    ext = extract_answer(text)
    assert (ext.answers, ext.anchor) == (answers, anchor)


@pytest.mark.parametrize(
    "text,answer",
    [("no anchor, 3 and then 4.", "4"), ("costs $1,200 in all", "1,200"), ("nothing", None)],
)
def test_last_number_only_without_anchor(text: str, answer: str | None) -> None:
    assert extract_answer(text, require_anchor=False).answer == answer
    assert extract_answer(text).answer is None


def test_unbalanced_and_huge_inputs_are_linear() -> None:
    text = "\\boxed{" * 20_000 + "1"
    assert extract_answer(text).answers == ()


@pytest.mark.parametrize(
    "raw,normal",
    [
        ("$18$", "18"),
        (r"\$18.50", "18.50"),
        (r"18 \text{ dollars}", "18"),
        (r"5\text{ cm}^2", "5"),
        (r"30^\circ", "30"),
        (r"10\%", "10"),
        (r"\dfrac{1}{2}", r"\frac{1}{2}"),
        (r"\left( 1, 2 \right)", "( 1, 2 )"),
        (r"10{,}000", "10,000"),
        ("x + 5 m", "x + 5 m"),
        (r"5.4\text{cents}", "5.4"),  # a unit is stripped only after a plain number
        ("4.", "4"),
        (r"5\textnormal{ km}", "5"),
        (r"5 {\rm km}", "5"),
        (r"50 pct", "50"),
        (r"12 \text{ km/h}", "12"),
        (r"12,\! 345", "12,345"),
        (r"12,\! 34", "12, 34"),  # not three digits: a list
        (r"3 \text{ or } -1", "3, -1"),
    ],
)
def test_normalize(raw: str, normal: str) -> None:
    assert normalize(raw) == normal


@pytest.mark.parametrize(
    "text,value,decimals",
    [
        ("42", "42", None),
        ("-0.50", "-1/2", 2),
        ("1,234,567", "1234567", None),
        ("3 1/2", "7/2", None),
        (r"-2\frac{1}{4}", "-9/4", None),
        (r"\frac12", "1/2", None),
        ("2.5e-3", "1/400", None),
        (r"2^{10} \cdot 3", "3072", None),
        (r"\frac{1}{2^{99}}", "1/633825300114114700748351602688", None),
        (r"\sqrt{2}", None, None),
        ("x+1", None, None),
        ("1,2", None, None),
    ],
)
def test_parse_number(text: str, value: str | None, decimals: int | None) -> None:
    from fractions import Fraction

    n = parse_number(text)
    if value is None:
        assert n is None
    else:
        assert n is not None and n.value == Fraction(value) and n.decimals == decimals


@pytest.mark.parametrize("text", [r"9^{9^9}", r"2^{100000000}", r"10^{10^{10}}"])
def test_parse_number_refuses_huge(text: str) -> None:
    with pytest.raises(NumberTooLarge):
        parse_number(text)
