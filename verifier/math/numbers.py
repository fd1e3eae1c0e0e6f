"""Exact numbers from answer text, in-process and without SymPy.

A tiny recursive-descent parser over integers, decimals, scientific notation, ``a/b``, ``\\frac``,
mixed numbers, ``+ - * / ^`` with bounded integer exponents and brackets. Values are
``fractions.Fraction`` (exact rationals, the same arithmetic as SymPy's ``Rational`` at a fraction
of the cost), so ``1/2^99 != 1/2^98``. Anything else (``\\sqrt``, ``\\pi``, letters) is "not a plain
number" and left to the symbolic stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# Past these, exact arithmetic itself becomes the hang we guard against.
MAX_EXPONENT = 10_000
MAX_RESULT_BITS = 100_000

_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-+]?\d{1,3}(?: \d{3})+")
_DECIMAL = re.compile(r"(?P<sign>[-+]?)(?P<int>\d*)\.?(?P<frac>\d*)")
_SCIENTIFIC = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d{1,4}")
_MIXED = re.compile(
    r"(?P<sign>[-+]?)(?P<whole>\d+)\s*(?:\\frac\{(?P<a>\d+)\}\{(?P<b>\d+)\}|\s(?P<c>\d+)/(?P<d>\d+))"
)
_TOKEN = re.compile(r"\s*(\d+\.?\d*|\.\d+|\\frac|\\cdot|\\times|\\div|[-+*/^(){}\[\]])")


class NumberTooLarge(ValueError):
    """An exact value would be too large to compute (a power tower, a huge power)."""


@dataclass(frozen=True)
class Number:
    value: Fraction
    decimals: int | None  # digits printed after the point, when the text is one decimal literal
    significant: int | None  # significant digits printed, idem


def _decimal_literal(text: str) -> Number | None:
    m = _DECIMAL.fullmatch(text)
    if not m or not (m.group("int") or m.group("frac")):
        return None
    if "." not in text:  # an integer: int() is many times faster than Fraction's string parser
        return Number(Fraction(int(text) if text not in {"+", "-"} else 0), None, None)
    value = Fraction(text.lstrip("+") if text not in {"+", "-"} else "0")
    digits = (m.group("int") + m.group("frac")).lstrip("0")
    return Number(value, len(m.group("frac")), max(len(digits), 1))


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise ValueError(f"expected {expected!r}, got {tok!r}")
        self.pos += 1
        return tok

    def expr(self) -> Fraction:
        value = self.term()
        while self.peek() in {"+", "-"}:
            op = self.take()
            rhs = self.term()
            value = value + rhs if op == "+" else value - rhs
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while self.peek() in {"*", "/", "\\cdot", "\\times", "\\div"}:
            op = self.take()
            rhs = self.unary()
            if op in {"/", "\\div"}:
                if rhs == 0:
                    raise ValueError("division by zero")
                value /= rhs
            else:
                value *= rhs
        return value

    def unary(self) -> Fraction:
        if self.peek() in {"-", "+"}:
            sign = -1 if self.take() == "-" else 1
            return sign * self.unary()
        return self.power()

    def power(self) -> Fraction:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take("^")
        if self.peek() == "{":
            exponent = self.group("{", "}")
        else:
            tok = self.take()  # "2^10" in LaTeX is 2^1 followed by 0: only one digit binds
            if not tok.isdigit() or len(tok) != 1:
                raise ValueError("ambiguous exponent")
            exponent = Fraction(int(tok))
        if self.peek() == "^":
            raise NumberTooLarge("power tower")
        return _pow(base, exponent)

    def group(self, left: str, right: str) -> Fraction:
        self.take(left)
        value = self.expr()
        self.take(right)
        return value

    def atom(self) -> Fraction:
        tok = self.peek()
        if tok == "(":
            return self.group("(", ")")
        if tok == "{":
            return self.group("{", "}")
        if tok == "\\frac":
            self.take()
            num, den = self._frac_arg(), self._frac_arg()
            if den == 0:
                raise ValueError("division by zero")
            return num / den
        if tok is not None and (tok[0].isdigit() or tok[0] == "."):
            self.take()
            return Fraction(tok)
        raise ValueError(f"unexpected {tok!r}")

    def _frac_arg(self) -> Fraction:
        if self.peek() == "{":
            return self.group("{", "}")
        tok = self.take()  # "\frac12": single-digit arguments
        if not tok.isdigit():
            raise ValueError("bad \\frac argument")
        return Fraction(int(tok[0]))


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip():
                raise ValueError(f"not a plain number at {text[pos : pos + 10]!r}")
            break
        tok = m.group(1)
        if tokens and tokens[-1] == "\\frac" and tok.isdigit() and len(tok) >= 2 and "{" not in tok:
            tokens.extend(tok)  # "\frac12" -> \frac 1 2
        else:
            tokens.append(tok)
        pos = m.end()
    return tokens


def _pow(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        raise ValueError("fractional exponent")
    e = int(exponent)
    if abs(e) > MAX_EXPONENT:
        raise NumberTooLarge(f"exponent {e}")
    bits = max(abs(base.numerator).bit_length(), base.denominator.bit_length())
    if bits * abs(e) > MAX_RESULT_BITS:
        raise NumberTooLarge("power too large")
    if base == 0 and e < 0:
        raise ValueError("division by zero")
    return base**e


def parse_number(text: str) -> Number | None:
    """The exact value of ``text`` if it is a plain number or arithmetic on plain numbers.

    Raises ``NumberTooLarge`` when the value exists but is too large to compute.
    """
    s = text.strip()
    if not s or len(s) > 500:
        return None
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "").replace(" ", "")
    literal = _decimal_literal(s)
    if literal is not None:
        return literal
    if _SCIENTIFIC.fullmatch(s):
        mantissa, _, exponent = s.lower().partition("e")
        return Number(_pow_ten(Fraction(mantissa), int(exponent)), None, None)
    mixed = _MIXED.fullmatch(s)
    if mixed:
        num, den = (
            (mixed.group("a"), mixed.group("b")) if mixed.group("a") else (mixed.group("c"), mixed.group("d"))
        )
        if int(den) == 0:
            return None
        value = int(mixed.group("whole")) + Fraction(int(num), int(den))
        return Number(-value if mixed.group("sign") == "-" else value, None, None)
    try:
        parser = _Parser(s)
        value = parser.expr()
    except NumberTooLarge:
        raise
    except (ValueError, ZeroDivisionError, IndexError):
        return None
    if parser.peek() is not None:
        return None
    return Number(value, None, None)


def _pow_ten(mantissa: Fraction, exponent: int) -> Fraction:
    if abs(exponent) > MAX_EXPONENT:
        raise NumberTooLarge(f"exponent {exponent}")
    return mantissa * Fraction(10) ** exponent


def terminates(value: Fraction) -> bool:
    """Whether ``value`` has a finite decimal expansion (its denominator is 2^a 5^b)."""
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    return den == 1
