"""Compare an extracted answer with the gold answer: a dispatcher over small stages, cheapest first.

Each stage takes the two normalised answers and returns a ``Decision`` or None ("not mine, ask the
next stage"). Every stage here is pure string, ``Fraction`` or (``approx.py``) floating-point work
and runs in the caller's process.
When none decides, ``compare`` returns None and the checker sends the pair to the symbolic stage in
the worker pool; the worker runs this same dispatcher with ``symbolic`` set, so compound answers
(sets, tuples, ...) reach SymPy element by element.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from verifier.math.approx import clearly_different
from verifier.math.normalize import compact, normalize
from verifier.math.numbers import Number, NumberTooLarge, parse_number, terminates
from verifier.math.structures import (
    Structure,
    chained_interval,
    expand_pm,
    parse_structure,
    split_top_level,
    strip_assignment,
)
from verifier.math.verdict import MathStatus

# A decimal stands for an exact non-terminating value only if it shows at least this many
# significant digits: 0.3333 == 1/3, but 0.33 != 1/3 (and 3.14 != pi).
MIN_SIGNIFICANT_DIGITS = 4
_TEXT = re.compile(r"[A-Za-z][A-Za-z '\-]*")
# A single value in plain algebra: numbers, letters, arithmetic, |..| and the common functions.
# Such a value is never a set, a tuple, an interval, a matrix or an equation, so it never equals one
# (SymPy agrees: these pairs used to reach a worker only to be called wrong, after a slow parse).
_ALGEBRA = re.compile(r"[0-9A-Za-z+\-*/^_(){}.!|' \\]*")
_NOT_A_COMMAND = re.compile(r"\\(?![a-zA-Z])")
_COMMAND_NAME = re.compile(r"\\([a-zA-Z]+)")
_ALGEBRA_COMMANDS = frozenset(
    [
        "frac",
        "sqrt",
        "pi",
        "cdot",
        "log",
        "ln",
        "lg",
        "exp",
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "arcsin",
        "arccos",
        "arctan",
        "sinh",
        "cosh",
        "tanh",
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "varepsilon",
        "zeta",
        "eta",
        "theta",
        "vartheta",
        "lambda",
        "mu",
        "nu",
        "xi",
        "rho",
        "sigma",
        "tau",
        "phi",
        "varphi",
        "chi",
        "psi",
        "omega",
    ]
)
_WORD = re.compile(r"[A-Za-z]{3,}")
_DIGIT = re.compile(r"\d")
_CHOICE = re.compile(r"\(([A-Za-z])\)")


@dataclass(frozen=True)
class Decision:
    status: MathStatus
    rule: str
    reason: str

    @property
    def equal(self) -> bool:
        return self.status is MathStatus.CORRECT


Symbolic = Callable[[str, str], Decision]
Stage = Callable[[str, str, "Symbolic | None"], "Decision | None"]


def _yes(rule: str, reason: str) -> Decision:
    return Decision(MathStatus.CORRECT, rule, reason)


def _no(rule: str, reason: str) -> Decision:
    return Decision(MathStatus.WRONG, rule, reason)


def _plain_algebra(text: str) -> bool:
    """Whether ``text`` is one value in plain algebra (``_ALGEBRA``): not a structure or relation."""
    if not _ALGEBRA.fullmatch(text) or _NOT_A_COMMAND.search(text):
        return False
    return all(name in _ALGEBRA_COMMANDS for name in _COMMAND_NAME.findall(text))


def exact_string(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    if compact(g) == compact(p):
        return _yes("exact-string", f"{p!r} equals the gold answer as text")
    return None


_INTEGER = re.compile(r"-?\d{1,300}")


def integers(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    """Two plain integers (most GSM answers): compared as ints, before any other parsing."""
    if _INTEGER.fullmatch(g) and _INTEGER.fullmatch(p):
        if int(g) == int(p):
            return _yes("rational", f"{p!r} and {g!r} are the same number")
        return _no("rational", f"{p!r} != {g!r} (exact rationals)")
    return None


def text_answer(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    """Words and multiple-choice letters: case-insensitive, "(C)" == "C". Two-letter strings such as
    "xy" are left to the symbolic stage: they are more likely products than words."""
    g, p = _CHOICE.sub(r"\1", g), _CHOICE.sub(r"\1", p)
    g_text, p_text = _TEXT.fullmatch(g), _TEXT.fullmatch(p)
    if g_text is None and p_text is None:
        return None
    if g_text is None or p_text is None:
        word, other = (g, p) if g_text else (p, g)
        if _WORD.search(word) and _DIGIT.search(other):
            return _no("text", f"{p!r} and {g!r}: a word never equals a value with digits")
        return None
    if not ((len(g) == 1 and len(p) == 1) or (_WORD.search(g) and _WORD.search(p))):
        return None
    if g.casefold().split() == p.casefold().split():
        return _yes("text", f"{p!r} is the gold text answer up to case")
    return _no("text", f"text {p!r} differs from {g!r}")


def colon_text(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    """Times and ratios ("4:30", "1:2:3") are compared as text: a parser reads "12:00" as 12/0."""
    if ":" in g or ":" in p:
        return _no("text", f"{p!r} differs from {g!r} (times and ratios are compared as text)")
    return None


_DIGITS = re.compile(r"[0-9A-Fa-f]+")
_BASE = re.compile(r"([0-9A-Fa-f]*\d[0-9A-Fa-f]*)_\{?(\d{1,2})\}?")  # 52_8, 1A_{16}; not x_1


def base_number(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    """``52_8`` (a numeral in base 8): same digits, and the same base when both sides name one.
    The parser drops subscripts, which would make ``52_8`` equal ``52_9``."""
    gm, pm = _BASE.fullmatch(compact(g)), _BASE.fullmatch(compact(p))
    if gm is None and pm is None:
        return None
    if not (gm or _DIGITS.fullmatch(compact(g))) or not (pm or _DIGITS.fullmatch(compact(p))):
        if _plain_algebra(p if gm else g):
            return _no("base", f"{p!r} and {g!r}: a numeral in a base is not an expression")
        return None  # "x = 52_8": not a bare numeral, later stages decide
    g_digits, g_base = (gm.group(1).upper().lstrip("0"), gm.group(2)) if gm else (compact(g).upper(), None)
    p_digits, p_base = (pm.group(1).upper().lstrip("0"), pm.group(2)) if pm else (compact(p).upper(), None)
    if gm and pm and g_base != p_base:
        return _no("base", f"base {p_base} is not base {g_base}")
    if g_digits.lstrip("0") == p_digits.lstrip("0"):
        return _yes("base", f"the same digits {p_digits} in base {g_base or p_base}")
    return _no("base", f"digits {p_digits} differ from {g_digits}")


def _number(text: str) -> Number | None:
    try:
        return parse_number(text)
    except NumberTooLarge:
        return None


def decimal_matches(decimal: Number, exact: Fraction) -> bool:
    """A printed decimal stands for ``exact`` if it is ``exact`` rounded to the printed digits."""
    assert decimal.decimals is not None and decimal.significant is not None
    if decimal.significant < MIN_SIGNIFICANT_DIGITS:
        return False
    return abs(decimal.value - exact) <= Fraction(1, 2 * 10**decimal.decimals)


def exact_number(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    """Integers, decimals, fractions, mixed numbers... compared exactly, as rationals."""
    gn, pn = _number(g), _number(p)
    if gn is None or pn is None:
        return None
    if gn.value == pn.value:
        return _yes("rational", f"{p!r} and {g!r} are the same number")
    for dec, exact in ((pn, gn), (gn, pn)):
        if dec.decimals is not None and exact.decimals is None and not terminates(exact.value):
            if decimal_matches(dec, exact.value):
                return _yes(
                    "decimal-tolerance", f"{dec.value} is {exact.value} rounded to {dec.decimals} places"
                )
            return _no(
                "decimal-tolerance",
                f"{float(dec.value)!r} is not {exact.value} rounded to its {dec.decimals} decimal places "
                f"(or shows fewer than {MIN_SIGNIFICANT_DIGITS} significant digits)",
            )
    return _no("rational", f"{p!r} != {g!r} (exact rationals)")


def assignment(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    """``x = 3`` vs ``3``: a lone variable on the left of one side only is dropped."""
    ga, pa = strip_assignment(g), strip_assignment(p, prediction=True)
    if ga is not None and pa is not None:
        if compact(ga[0]) == compact(pa[0]):
            return _relabel(compare(ga[1], pa[1], symbolic), "equation")
        return None
    if ga is None and pa is None:
        return None
    if "=" in (p if pa is None else g):
        return None  # the other side is an equation of its own: the symbolic stage decides
    return _relabel(compare(ga[1] if ga else g, pa[1] if pa else p, symbolic), "equation")


def equation_vs_value(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    """An equation that is not an assignment (``5x - 7y + 11z + 4 = 0``, ``2x = 10``) against a
    single value in plain algebra: never equal (a value is not a relation)."""
    g_eq, p_eq = len(split_top_level(g, "=")) > 1, len(split_top_level(p, "=")) > 1
    if g_eq == p_eq:
        return None
    if strip_assignment(g) is not None if g_eq else strip_assignment(p, prediction=True) is not None:
        return None  # "y_1 = ..." is an assignment whose value needs the symbolic stage, not an equation
    if _plain_algebra(p if g_eq else g):
        return _no("equation", f"{p!r} and {g!r}: an equation and a value are never equal")
    return None


def plus_minus(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    """``1 \\pm \\sqrt2`` is the set {1+sqrt2, 1-sqrt2}."""
    gpm, ppm = expand_pm(g), expand_pm(p)
    if gpm is None and ppm is None:
        return None
    gs = "\\{" + ",".join(gpm) + "\\}" if gpm else g
    ps = "\\{" + ",".join(ppm) + "\\}" if ppm else p
    if gpm and ppm is None and parse_structure(p) is None:
        return _no("pm", f"{p!r} is one value; the gold {g!r} is two")
    return _relabel(compare(gs, ps, symbolic), "pm")


def _relabel(decision: Decision | None, rule: str) -> Decision | None:
    if decision is None or decision.rule.startswith(rule):
        return decision
    return Decision(decision.status, f"{rule}/{decision.rule}", decision.reason)


def _items_equal(g: str, p: str, symbolic: Symbolic | None) -> bool | None:
    d = compare(g, p, symbolic)
    if d is None:
        return None
    if d.status in (MathStatus.CORRECT, MathStatus.WRONG):
        return d.equal
    return None


def _ordered(gs: Structure, ps: Structure, symbolic: Symbolic | None) -> bool | None:
    verdicts = [_items_equal(a, b, symbolic) for a, b in zip(gs.items, ps.items, strict=True)]
    if False in verdicts:
        return False
    return None if None in verdicts else True


def _distinct_items(items: tuple[str, ...]) -> tuple[str, ...]:
    """A set or list of solutions says which values occur, not how often: ``1, 1, 2`` is ``1, 2``
    (roots listed with their multiplicity). Duplicates by text; equal values in different spellings
    within one answer stay (rare, and they can only make a correct answer wrong)."""
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(compact(normalize(item)), item)
    return tuple(seen.values())


def _unordered(g_items: tuple[str, ...], p_items: tuple[str, ...], symbolic: Symbolic | None) -> bool | None:
    unmatched = list(p_items)
    undecided = False
    for a in g_items:
        for b in unmatched:
            eq = _items_equal(a, b, symbolic)
            if eq:
                unmatched.remove(b)
                break
            undecided |= eq is None
        else:
            return None if undecided else False
    return True


_UNORDERED = {"set", "list", "union"}


def structure(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    """Sets and lists in any order; tuples, intervals (with their brackets) and matrices in order."""
    gs, ps = parse_structure(g), parse_structure(p)
    if gs is None and ps is None:
        return None
    if gs is None or ps is None:
        one, single = (gs, p) if ps is None else (ps, g)
        assert one is not None
        if one.kind == "set" and len(one.items) == 1:
            return _relabel(compare(one.items[0], single, symbolic), "set")
        if _number(single) is not None or _plain_algebra(single):
            return _no(one.kind, f"{_describe(one)} is never a single value such as {single!r}")
        return None
    rule = gs.kind
    if gs.kind in _UNORDERED and ps.kind in _UNORDERED and (gs.kind == "union") == (ps.kind == "union"):
        g_items, p_items = _distinct_items(gs.items), _distinct_items(ps.items)
        if len(g_items) != len(p_items):
            return _no(rule, f"{len(p_items)} distinct elements, the gold has {len(g_items)}")
        eq = _unordered(g_items, p_items, symbolic)
    elif gs.kind == ps.kind and gs.brackets == ps.brackets and gs.shape == ps.shape:
        if len(gs.items) != len(ps.items):
            return _no(rule, f"{len(ps.items)} elements, the gold has {len(gs.items)}")
        eq = _ordered(gs, ps, symbolic)
    elif (
        {gs.kind, ps.kind} <= {"tuple", "list"}
        and len(gs.items) == len(ps.items)
        and gs.brackets in {"", "()"}
        and ps.brackets in {"", "()"}
    ):
        eq = _ordered(gs, ps, symbolic)  # "(1, 2)" vs "1, 2": an ordered pair written without brackets
    else:
        return _no(rule, f"{_describe(ps)} is not {_describe(gs)}")
    if eq is None:
        return None
    if eq:
        return _yes(rule, f"same {rule}, element by element")
    return _no(rule, f"the {rule} differs from the gold {rule}")


def _interval_of(text: str, chained: Structure | None) -> Structure | None:
    """The interval a side states: a chained inequality, or two bracketed endpoints (``(1, 2)`` is an
    open interval when the other side is an inequality; alone it is a point)."""
    if chained is not None:
        return chained
    s = parse_structure(text)
    if s is not None and s.kind in {"interval", "tuple"} and len(s.items) == 2 and len(s.brackets) == 2:
        return Structure("interval", s.items, brackets=s.brackets)
    return None


def chained_inequality(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    """``-3 \\leq x \\leq 4`` is the interval ``[-3, 4]``, ``1 < x < 2`` is ``(1, 2)``: endpoints in order,
    brackets from the strictness of each side."""
    gc, pc = chained_interval(g), chained_interval(p)
    if gc is None and pc is None:
        return None
    gs, ps = _interval_of(g, gc), _interval_of(p, pc)
    if gs is None or ps is None:
        return None  # an inequality against something else: the symbolic stage decides
    if gs.brackets != ps.brackets:
        return _no("interval", f"the interval {ps.brackets} is not {gs.brackets} (open/closed ends)")
    eq = _ordered(gs, ps, symbolic)
    if eq is None:
        return None
    if eq:
        return _yes("interval", "the same interval, endpoints and ends")
    return _no("interval", "the endpoints differ from the gold interval's")


def sampled(g: str, p: str, symbolic: Symbolic | None) -> Decision | None:
    """Plain algebra proved different by evaluation at sample points (``approx.py``): the pairs a
    parser would otherwise be started for only to say "wrong". Never proves equality."""
    reason = clearly_different(g, p)
    return _no("numeric", reason) if reason is not None else None


def _describe(s: Structure) -> str:
    article = "an" if s.kind[0] in "aeiou" else "a"
    return f"{article} {s.kind} {s.brackets}".rstrip()


def _unparen(text: str) -> str:
    """``(1 \\pm \\sqrt{19})`` -> ``1 \\pm \\sqrt{19}``: brackets around one value change nothing."""
    if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        inner = text[1:-1].strip()
        if len(split_top_level(inner, ",")) == 1:
            return inner
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


CHEAP_STAGES: tuple[Stage, ...] = (
    exact_string,
    integers,
    text_answer,
    colon_text,
    base_number,
    exact_number,
    assignment,
    equation_vs_value,
    plus_minus,
    chained_inequality,
    structure,
    sampled,
)


def compare(gold: str, pred: str, symbolic: Symbolic | None = None) -> Decision | None:
    """Run the stages in order on the normalised answers; None means "needs the symbolic stage"."""
    g, p = _unparen(normalize(gold)), _unparen(normalize(pred))
    if not p:
        return Decision(MathStatus.NO_ANSWER, "empty", "the extracted answer is empty")
    for stage in CHEAP_STAGES:
        decision = stage(g, p, symbolic)
        if decision is not None:
            return decision
    return symbolic(g, p) if symbolic is not None else None
