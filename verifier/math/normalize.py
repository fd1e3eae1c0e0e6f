"""Normalise an answer's text: strip the LaTeX that never changes the value. Pure, no SymPy.

Units, ``^\\circ``, ``\\%`` and ``\\text{...}`` are stripped only when they follow a number at the end
of the answer (``18 \\text{ dollars}`` -> ``18``), from a closed list: stripping any trailing word
is how other graders end up calling ``x+m`` equal to ``x+c``.
"""

from __future__ import annotations

import re
from functools import lru_cache

_WRAPPERS = re.compile(
    r"\\(?:boxed|fbox|displaystyle|mathrm|mathbf|mathit|mathsf|mathnormal|textbf|textit|textrm|textsf|"
    r"texttt|textnormal|textup|emph|mbox|hbox|text|operatorname)\s*\{"
)
# Old-style font switches inside a group, as in "5 {\rm km}": the switch goes, the group stays.
_FONT_SWITCH = re.compile(r"\{\s*\\(?:rm|it|bf|sf|tt|textstyle)\b\s*")
_DROP = re.compile(
    r"\\left(?=[^a-zA-Z])|\\right(?=[^a-zA-Z])|(?<!\\)\\[;:> ]|\\q?quad(?:\b|(?=[a-z]))|\\displaystyle\b|~"
)
_THIN = re.compile(r"(?<!\\)\\[!,]")  # thin spaces, as in 1\,000 and 32,\!348: removed outright
# "12,\! 345": a thousands comma with a negative thin space, then a space the writer added. Only
# before exactly three digits, so "12,\! 34" stays a list.
_THOUSANDS_THIN = re.compile(r"(?<=\d),\s*\\!\s*(?=\d{3}(?!\d))")
_AND = re.compile(r"\s*,?\s+(?:and|or)\s+")  # "19, 46, and 82", "5 and 6" and "3 or -1" are lists
_UNICODE = (
    ("−", "-"),
    ("π", "\\pi "),
    ("∞", "\\infty "),
    ("×", "\\times "),
    ("·", "\\cdot "),
    ("√", "\\sqrt "),
)
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_PHANTOM = re.compile(r"\\phantom\{[^{}]*\}")
_SPACES = re.compile(r"\s+")
_COMMANDS = re.compile(r"\\[a-zA-Z]+")
_LETTERS = re.compile(r"[a-zA-Z]")
_UNITS = (
    "dollars|dollar|cents|cent|usd|units|unit|square units|sq units|cubic units|degrees|degree|"
    "cm|mm|km|m|meters|meter|metres|metre|inches|inch|in|feet|foot|ft|yards|yard|yd|miles|mile|mph|"
    "kg|g|grams|gram|mg|pounds|pound|lbs|lb|ounces|ounce|oz|liters|liter|litres|litre|l|ml|gallons|gallon|"
    "hours|hour|hrs|hr|h|minutes|minute|mins|min|seconds|second|secs|sec|s|days|day|weeks|week|"
    "months|month|years|year|people|persons|students|times|percentage|percent|per cent|pct|points|pages|"
    "km/h|kmph|km/hr|m/s|ft/s|sq ft|sq m|sq cm|sq in|square feet|square meters|square inches|"
    "square centimeters|square miles|cubic feet|cubic meters|cubic inches|cubic centimeters|"
    "centimeters|centimetres|millimeters|millimetres|kilometers|kilometres|kilograms|milliliters"
)
_NUMBER_TAIL = r"(?P<num>.*?\d\}?)"
# A number followed by a unit (optionally squared/cubed), degrees or percent, and nothing else.
_UNIT_TAIL = re.compile(
    _NUMBER_TAIL
    + r"\s*(?:(?:\s|^)(?:\\text\{\s*|\{\s*)?(?:"
    + _UNITS
    + r")\.?\s*\}?(?:\^\{?[23]\}?)?|\^\s*\{?\\circ\}?|\\circ|°|\\%|%|\\text\{\s*\\?%\s*\})\s*$",
    re.IGNORECASE,
)


def _unwrap(text: str, pattern: re.Pattern[str]) -> str:
    """Replace ``\\cmd{X}`` by ``X`` for every match, nested braces respected."""
    for _ in range(20):  # bounded: each pass removes at least one wrapper
        m = pattern.search(text)
        if not m:
            return text
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth:
            return text  # unbalanced: leave it for the parser to reject
        # Spaces around the content: "5.4\text{cents}" must read as a number and then a unit.
        text = text[: m.start()] + " " + text[m.end() : i - 1] + " " + text[i:]
    return text


def strip_delimiters(text: str) -> str:
    s = text.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left) : len(s) - len(right)].strip()
    return s


@lru_cache(maxsize=8192)  # the gold answer is normalised once, not once per sample
def normalize(text: str) -> str:
    """Canonical text of an answer: same value, fewer spellings. Keeps single spaces."""
    if _PLAIN_NUMBER.fullmatch(text):
        return text  # most GSM answers: nothing below would change them
    s = strip_delimiters(text)
    s = s.replace("\\$", "").replace("$", "")
    s = _PHANTOM.sub("", s)
    s = _FONT_SWITCH.sub("{", s)
    s = _unwrap(s, _WRAPPERS)
    s = _THOUSANDS_THIN.sub(",", s)
    s = _THIN.sub("", s)
    s = _DROP.sub(" ", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("{,}", ",")
    s = s.replace("\\lbrace", "\\{").replace("\\rbrace", "\\}")
    for plain, latex in _UNICODE:
        s = s.replace(plain, latex)
    s = s.replace("\\le ", "\\leq ").replace("\\ge ", "\\geq ").replace("\\ne ", "\\neq ")
    s = _SPACES.sub(" ", s).strip()
    s = _AND.sub(", ", s)
    s = s.rstrip(".").strip()
    for _ in range(3 if len(s) <= 120 else 0):  # "18 \text{ dollars}", "30^\circ", "10\%": short answers
        m = _UNIT_TAIL.fullmatch(s)
        if not m or _LETTERS.search(_COMMANDS.sub("", m.group("num"))):
            break  # only after a number: "x+5 m" keeps its "m"
        s = m.group("num").strip()
    return s


def compact(text: str) -> str:
    """The normalised text without any whitespace, for string equality."""
    return _SPACES.sub("", text)
