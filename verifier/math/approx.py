"""Prove two plain-algebra answers different without SymPy: evaluate both at sample points.

A small recursive-descent evaluator over normalised answer text: numbers, single-letter variables
(case-insensitive, ``e`` is Euler's number, as latex2sympy reads them), ``+ - * ^``, implicit
products, ``\\frac``, ``\\sqrt`` (with an index), ``\\pi``, brackets. Complex floating point. It only
ever proves *difference*: two answers whose values at a sample point differ by far more than any
rounding error (measured against the largest intermediate value, so cancellation cannot fool it)
are different; anything else, and anything it cannot read the way latex2sympy would (decimals,
``/``, ``x(2)``, ``2(3)``, ``2 3``, ``2^10``, other commands), is left to the symbolic stage.
"""

from __future__ import annotations

import cmath
import math
import re

_TOKEN = re.compile(r"\s*(\d+|\\[a-zA-Z]+|[a-zA-Z]|[-+*^(){}\[\]])")
_COMMANDS = {"\\frac", "\\sqrt", "\\pi", "\\cdot", "\\times"}
# Sample values of the variables: unremarkable, positive, below 2 (so x^100 stays finite).
_POINTS = ((0.7318, 1.2614, 0.5483, 1.6927, 0.8851, 1.3379), (1.1213, 0.6142, 1.4871, 0.9313, 1.7764, 0.6629))
# A relative difference (to the largest intermediate value) above this is not rounding error.
_TOLERANCE = 1e-8
MAX_CHARS = 300


class Unreadable(ValueError):
    """Not something this evaluator reads the way latex2sympy does."""


class _Evaluator:
    def __init__(self, tokens: list[str], point: dict[str, float]):
        self.tokens, self.pos, self.point = tokens, 0, point
        self.largest = 0.0

    def _seen(self, value: complex) -> complex:
        size = abs(value)
        if not math.isfinite(size):
            raise Unreadable("not finite at the sample point")
        self.largest = max(self.largest, size)
        return value

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise Unreadable(f"expected {expected!r}, got {tok!r}")
        self.pos += 1
        return tok

    def expr(self) -> complex:
        value = self.term()
        while self.peek() in {"+", "-"}:
            op = self.take()
            rhs = self.term()
            value = self._seen(value + rhs if op == "+" else value - rhs)
        return value

    def term(self) -> complex:
        value = self.unary()
        while True:
            tok = self.peek()
            if tok in {"*", "\\cdot", "\\times"}:
                self.take()
                value = self._seen(value * self.unary())
            elif tok is not None and (tok[0].isalnum() or tok in {"\\frac", "\\sqrt", "\\pi", "(", "{"}):
                prev = self.tokens[self.pos - 1]
                if tok[0].isdigit() or (tok == "(" and (prev[0].isalnum() or prev == "\\pi")):
                    raise Unreadable("2 3, 2(3) and x(2) are not products for latex2sympy")
                value = self._seen(value * self.power())
            else:
                return value

    def unary(self) -> complex:
        if self.peek() in {"-", "+"}:
            sign = -1 if self.take() == "-" else 1
            return sign * self.unary()
        return self.power()

    def power(self) -> complex:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take("^")
        if self.peek() == "{":
            exponent = self.group("{", "}")
        else:
            tok = self.take()
            if len(tok) != 1 or not tok.isalnum():
                raise Unreadable("an exponent of several characters without braces")
            exponent = self._letter(tok) if tok.isalpha() else complex(int(tok))
        if self.peek() == "^":
            raise Unreadable("a power tower")
        if base == 0:
            raise Unreadable("a power of zero")
        if abs(exponent) > 200:
            raise Unreadable("a large exponent")
        return self._seen(base**exponent)

    def group(self, left: str, right: str) -> complex:
        self.take(left)
        value = self.expr()
        self.take(right)
        return value

    def _letter(self, tok: str) -> complex:
        name = tok.lower()
        return complex(math.e) if name == "e" else complex(self.point[name])

    def _argument(self) -> complex:
        """``{...}`` or one character (``\\frac12``, ``\\sqrt2``)."""
        if self.peek() == "{":
            return self.group("{", "}")
        tok = self.take()
        if tok.isdigit():
            if len(tok) != 1:
                raise Unreadable("\\frac123 and \\sqrt23")
            return complex(int(tok))
        if len(tok) == 1 and tok.isalpha():
            return self._letter(tok)
        raise Unreadable(f"argument {tok!r}")

    def atom(self) -> complex:
        tok = self.take()
        if tok == "(":
            value = self.expr()
            self.take(")")
            return value
        if tok == "{":
            value = self.expr()
            self.take("}")
            return value
        if tok == "\\pi":
            return complex(math.pi)
        if tok == "\\frac":
            num, den = self._argument(), self._argument()
            if den == 0:
                raise Unreadable("division by zero")
            return self._seen(num / den)
        if tok == "\\sqrt":
            index = self.group("[", "]") if self.peek() == "[" else complex(2)
            radicand = self._argument()
            if index == 0:
                raise Unreadable("a zeroth root")
            return self._seen(cmath.exp(cmath.log(radicand) / index) if radicand != 0 else 0j)
        if tok.isdigit():
            return complex(int(tok))
        if len(tok) == 1 and tok.isalpha():
            return self._letter(tok)
        raise Unreadable(f"unexpected {tok!r}")


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip():
                raise Unreadable(f"not plain algebra at {text[pos : pos + 10]!r}")
            break
        tok = m.group(1)
        if tok.startswith("\\") and tok not in _COMMANDS:
            raise Unreadable(f"command {tok}")
        if tok.isdigit() and len(tok) > 15:
            raise Unreadable("a long integer (floats would round it)")
        tokens.append(tok)
        pos = m.end()
    return tokens


def _value(tokens: list[str], point: dict[str, float]) -> tuple[complex, float]:
    ev = _Evaluator(tokens, point)
    value = ev.expr()
    if ev.peek() is not None:
        raise Unreadable(f"trailing {ev.peek()!r}")
    return value, max(ev.largest, abs(value))


def clearly_different(gold: str, pred: str) -> str | None:
    """A reason why the two normalised answers differ, when sampling proves it; else None."""
    if len(gold) > MAX_CHARS or len(pred) > MAX_CHARS or "." in gold or "." in pred:
        return None
    try:
        g_tokens, p_tokens = _tokens(gold), _tokens(pred)
        names = sorted({t.lower() for t in g_tokens + p_tokens if t.isalpha() and t.lower() != "e"})
        for values in _POINTS:
            if len(names) > len(values):
                return None
            point = dict(zip(names, values, strict=False))
            (a, a_size), (b, b_size) = _value(g_tokens, point), _value(p_tokens, point)
            if abs(a - b) > _TOLERANCE * max(a_size, b_size):
                where = f" at {', '.join(f'{k}={v}' for k, v in point.items())}" if point else ""
                return f"{pred!r} = {b:.6g} and {gold!r} = {a:.6g}{where}"
    except (Unreadable, ZeroDivisionError, OverflowError, ValueError, KeyError):
        return None
    return None
