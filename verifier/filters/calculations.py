"""The explicit calculations written in a chain of thought, each checked exactly.

Pure text in, steps out. A *step* is two adjacent sides of an equality whose both sides are plain
arithmetic on numbers: ``16 - 3 - 4 = 9``, a GSM8K calculator note ``<<48/2=24>>``, each link of a
chain ``2 * 3 = 6 * 4 = 24``, percentages (``20% of 50 = 10``), fractions (``\\frac{3}{4} \\cdot 8 = 6``),
mixed numbers. Values are exact rationals (verifier/math/numbers.py), never floats.

The checker is lenient by design, because dropping a good human chain costs more than keeping a
sloppy one: a step is *false* only when no reasonable reading of it is true. Readings tried: ``%`` as
``/100`` or as a label; ``1 1/2`` as a mixed number or as two numbers; a running calculation
(``2 + 3 = 5 * 2 = 10``: the next side starts from the previous result); a written result rounded or
truncated to the digits it shows (``10/3 = 3.33``, ``25/4 = 6``). Anything touching a word, a variable
or a function (``f(2+1) = 9``, ``3 hours * 60 = 180``) is not a calculation and is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from functools import lru_cache
from itertools import product

from verifier.math.numbers import NumberTooLarge, parse_number

_NOTE = re.compile(r"<<([^<>\n]*)>>")
_AFTER_NOTE = re.compile(
    r"[ \t]*\\?\$?[ \t]*(-?(?:\d{1,3}(?:[, ]\d{3})+(?!\d)|\d+)?(?:\.\d+)?(?:/\d+)?%?)(?!\d|[/,.]\d)"
)
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}|\\[dt]?frac(\d)(\d)")
_TIMES = re.compile(r"\\cdot|\\times|[×·∙]")
_DIVIDE = re.compile(r"\\div|÷")
_LATEX_MIXED = re.compile(r"(\d+)\s*\\[dt]?frac\s*\{(\d+)\}\s*\{(\d+)\}")
_LATEX_NOISE = re.compile(r"\\left|\\right|\\[,;: ]|\\\(|\\\)|\\\[|\\\]")
_DOLLAR = re.compile(r"\\?\$")
_LETTER_TIMES = re.compile(r"(?<=[\d)])\s*[xX]\s*(?=[\d(])")
_PERCENT_OF = re.compile(r"%\s*(?:of\s+)?(?=[\d(])")
_BOLD = re.compile(r"\*\*")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))|(?<=\d)\{,\}(?=\d{3})")
_SPACED_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d/]|\.\d)")
_VULGAR = {"¼": "(1/4)", "½": "(1/2)", "¾": "(3/4)", "⅓": "(1/3)", "⅔": "(2/3)", "⅕": "(1/5)", "⅛": "(1/8)"}
_EN_DASH = re.compile(r"(?<=[\d)]) [–—] (?=[\d(])")
# "1/2 (68)", "(1/2) 278": a bracket next to a number multiplies.
_JUXTAPOSED = re.compile(r"(?<=[\d)])\s*\((?=\s*[-\d.(])|\)\s*(?=[\d.(])")
# Relations that contain "=" but are not equalities: never the seam between two sides.
_NOT_EQUALS = re.compile(r"[<>!:=]=|=[=>]")
# A run of arithmetic characters; its "="-separated parts with a digit are the sides. (One linear
# scan: a pattern with a digit between two starred classes backtracks cubically on long digit runs.)
_RUN = re.compile(r"[\d.+\-*/^(){}%\s=]+")
MAX_SIDE = 200  # characters; longer "sides" are float printouts or digit soup, never checked
_ATTACHED = re.compile(r"[A-Za-z_\\}\]'.]")
_LITERAL = re.compile(r"(?P<num>\d+(?:\.\d+)?|\.\d+)(?P<pct>%?)")
_BREAK = re.compile(r"(?<=[\d.%])\s+(?=[\d.])")
_MIXED = re.compile(r"(?<![\d./])(\d+) (\d+)/(\d+)(?![\d/]|\.\d)")
_SIMPLE_FRACTION = re.compile(r"(?<![\d.)/^])(\d+)/(\d+)(?![\d.(/^])")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)%")
_OPERATOR_WORD = re.compile(r"(?:^|\s)(?:x|X|times|of|by|per|plus|minus|over|and)$|[-+*/^]$")
_OPERATOR = re.compile(r"(?<=[\d)}%])\s*[-+*/^]")


FLOAT_DIGITS = 12  # a written result this long is a float printout, not a rounding choice


class StepStatus(str, Enum):
    TRUE = "true"
    FALSE = "false"
    UNDECIDED = "undecided"  # a side is too large or too odd to evaluate: neither kept nor blamed


@dataclass(frozen=True)
class Step:
    left: str
    right: str
    source: str  # "note" (a <<...>> calculator note), "copy" (the number written after it) or "text"

    @property
    def text(self) -> str:
        return f"{self.left} = {self.right}"


@dataclass(frozen=True)
class StepCheck:
    step: Step
    status: StepStatus
    reason: str


def _prepare(text: str) -> str:
    """One spelling for arithmetic: LaTeX and Unicode operators to ASCII, no currency, no thousands commas."""
    text = text.replace("\\!", "")  # "729,\!000"
    text = _LATEX_MIXED.sub(r"(\1+\2/\3)", text)  # "4\dfrac{5}{8}" is a mixed number in LaTeX
    text = _LATEX_NOISE.sub(" ", text)
    for _ in range(4):  # nested \frac, innermost first
        new = _FRAC.sub(
            lambda m: f"(({m.group(1) or m.group(3)})/({m.group(2) or m.group(4)}))",
            text,
        )
        if new == text:
            break
        text = new
    text = _TIMES.sub(" * ", text)
    text = _DIVIDE.sub(" / ", text)
    text = text.replace("−", "-")
    for glyph, fraction in _VULGAR.items():
        text = text.replace(glyph, f" {fraction}")
    text = _EN_DASH.sub(" - ", text)
    text = _DOLLAR.sub("", text)
    text = _BOLD.sub(" ", text)
    text = _THOUSANDS.sub("", text)
    text = _SPACED_THOUSANDS.sub(lambda m: m.group(0).replace(" ", ""), text)
    text = _JUXTAPOSED.sub(lambda m: m.group(0).rstrip() + " * " if ")" in m.group(0) else " * (", text)
    text = _LETTER_TIMES.sub(" * ", text)
    text = _PERCENT_OF.sub("% * ", text)
    return _NOT_EQUALS.sub(" ≠ ", text)


def _balanced(sides: list[str]) -> list[str]:
    """Sides with balanced brackets; '' for a side cut out of a larger bracket (a tuple, a list).

    A chain wrapped whole in one bracket, "(5 + 3 = 8)", loses that bracket.
    """
    sides = [s.strip().rstrip(".").strip() for s in sides]
    if sides and sides[0].startswith("(") and sides[-1].endswith(")"):
        head, tail = sides[0][1:], sides[-1][:-1]
        if head.count("(") == head.count(")") and tail.count("(") == tail.count(")"):
            sides = [head.strip(), *sides[1:-1], tail.strip()] if len(sides) > 1 else sides
    return [s if _nesting_ok(s) else "" for s in sides]


def _nesting_ok(side: str) -> bool:
    depth = 0
    for c in side:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


def _spans(line: str) -> Iterator[tuple[int, int, list[str]]]:
    """(start, end, sides) of each run of two or more "="-joined sides that contain a digit."""
    for m in _RUN.finditer(line):
        pos = m.start()
        group: list[str] = []
        start = pos
        for part in m.group(0).split("="):
            if any(c.isdigit() for c in part) and len(part) <= MAX_SIDE:
                if not group:
                    start = pos
                group.append(part)
            else:
                if len(group) >= 2:
                    yield start, pos - 1, group
                group = []
            pos += len(part) + 1
        if len(group) >= 2:
            yield start, pos - 1, group


def _chains(line: str) -> Iterator[list[str]]:
    """The sides of each equality chain of one line, cut where the text around touches them."""
    for span_start, span_end, sides in _spans(line):
        first = sides[0]
        lead = len(first) - len(first.lstrip())
        start = span_start + lead
        stripped = first.strip()
        before = line[:start].rstrip()
        attached = start > 0 and _ATTACHED.match(line[start - 1]) is not None
        cut = (
            stripped[:1] in {"*", "/", "^", ")", "}"}
            or (stripped[:1] in {"+", "-"} and before[-1:].isalnum())
            or _OPERATOR_WORD.search(before) is not None  # "15 pages x 1/3 = 5": the left side is cut
        )
        if attached or cut:
            sides = sides[1:]
        else:
            # "Step 1. 3 + 4 = 7": the calculation starts after the last break between two numbers.
            sides[0] = _BREAK.split(first.strip())[-1] if _MIXED.search(first) is None else first
        last = sides[-1] if sides else ""
        after = line[span_end : span_end + 1]
        if sides and (
            (after and (after.isalpha() or after in "\\_") and not last.endswith(" "))
            or re.search(r"[-+*/^(]\s*$", last)
        ):
            sides = sides[:-1]
        elif sides and _MIXED.search(last) is None:
            sides[-1] = _BREAK.split(last.strip())[0]
        sides = _balanced(sides)
        if len(sides) >= 2:
            yield sides


def find_steps(text: str) -> list[Step]:
    """Every step of the text, calculator notes first (each also checked where it sits in the text)."""
    steps: list[Step] = []
    for note in _NOTE.finditer(text):
        for sides in _chains(_prepare(note.group(1))):
            steps.extend(_pairs(sides, "note"))
            # The result the prose carries on with must be the note's: "<<4.20+9.45+1.35=15.0>>14.99".
            copied = _AFTER_NOTE.match(text, note.end())
            if copied and any(c.isdigit() for c in copied.group(1)):
                # "<<1800-2000=-200>>200 less": the sign may move into the words.
                written = copied.group(1).lstrip("-")
                negative = sides[-1].lstrip().startswith("-")
                steps.append(Step(sides[0], ("-" if negative else "") + _prepare(written).strip(), "copy"))
    # A note stands for the prose calculation it annotates ("364 / 4 = <<3/4*364=273>>273" means the
    # note's 3/4*364): the marker cuts that prose step, so only the note is checked.
    for line in _NOTE.sub(" ⟦ ", text).split("\n"):
        for sides in _chains(_prepare(line)):
            steps.extend(_pairs(sides, "text"))
    return steps


def _pairs(sides: list[str], source: str) -> list[Step]:
    # A bare "1 = 60" (units: "1 hour = 60 minutes" after the words are cut) is not a calculation.
    if not any(_OPERATOR.search(s) for s in sides):
        return []
    return [Step(a, b, source) for a, b in zip(sides, sides[1:], strict=False) if a and b]


@dataclass(frozen=True)
class _Value:
    exact: Fraction
    decimals: int | None  # digits written after the point when the side is one literal
    significant: int = 0  # significant digits written, idem


@lru_cache(maxsize=8192)  # sides repeat: a note's left side is also its copy step's, chains share links
def _readings(side: str) -> tuple[_Value, ...]:
    """The side's values under each reading of % and of mixed numbers (duplicates removed)."""
    values: list[_Value] = []
    literal = _LITERAL.fullmatch(side.replace(" ", ""))
    percent_literal = literal is not None and bool(literal.group("pct"))
    seen: set[tuple[str, bool]] = set()
    for pct, mixed, grouped in product((True, False), (False, True), (False, True)):
        text = _MIXED.sub(r"(\1+\2/\3)", side) if mixed else side
        # "1 1/2 / 1/2 = 3": a written fraction read as one number.
        text = _SIMPLE_FRACTION.sub(r"(\1/\2)", text) if grouped else text
        text = _PERCENT.sub(r"(\1/100)" if pct else r"\1", text)
        if (text, pct and percent_literal) in seen:  # this reading changes nothing here
            continue
        seen.add((text, pct and percent_literal))
        try:
            number = parse_number(text)
        except NumberTooLarge:
            continue
        if number is None:
            continue
        decimals = None
        if literal is not None:
            written = literal.group("num")
            decimals = len(written.partition(".")[2]) + (2 if pct and literal.group("pct") else 0)
            significant = len(written.replace(".", "").lstrip("0"))
        value = _Value(number.value, decimals, significant if literal is not None else 0)
        if value not in values:
            values.append(value)
    return tuple(values)


def _agree(a: _Value, b: _Value) -> bool:
    """Equal, or one side is the other's exact value rounded/truncated to the digits it shows."""
    if a.exact == b.exact:
        return True
    for shown, exact in ((a, b), (b, a)):
        # "<<0.5-0.4=0.09999999999999998>>": a calculator's float printout of the exact value.
        if shown.significant >= FLOAT_DIGITS and abs(shown.exact - exact.exact) <= abs(
            exact.exact
        ) * Fraction(1, 10**9):
            return True
        if shown.decimals is None or exact.decimals is not None:
            continue
        scale = 10**shown.decimals
        if (exact.exact * scale).denominator != 1 and abs(exact.exact - shown.exact) < Fraction(1, scale):
            return True
    return False


def _leading_number(side: str) -> str | None:
    m = re.match(r"\(?\s*(\d+(?:\.\d+)?%?|\.\d+%?)\s*[-+*/^]", side)
    return m.group(1) if m else None


def check_step(step: Step) -> StepCheck:
    if max(len(step.left), len(step.right)) > MAX_SIDE:  # a float printout of 1,500 digits
        return StepCheck(step, StepStatus.UNDECIDED, f"a side is longer than {MAX_SIDE} characters")
    lefts, rights = _readings(step.left), _readings(step.right)
    if not lefts or not rights:
        return StepCheck(step, StepStatus.UNDECIDED, "a side is not plain arithmetic")
    if any(_agree(a, b) for a in lefts for b in rights):
        return StepCheck(step, StepStatus.TRUE, "equal")
    lead = _leading_number(step.right)
    if lead is not None and any(_agree(a, b) for a in lefts for b in _readings(lead)):
        return StepCheck(step, StepStatus.TRUE, "running calculation: the next side starts from the result")
    left, right = lefts[0].exact, rights[0].exact
    return StepCheck(step, StepStatus.FALSE, f"{step.left} is {_show(left)}, not {_show(right)}")


def _show(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value} (~{float(value):.6g})"


def check_text(text: str) -> list[StepCheck]:
    return [check_step(s) for s in find_steps(text)]
