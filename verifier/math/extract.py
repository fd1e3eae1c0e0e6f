"""Find the final answer(s) in a model output. Pure, linear-time string scanning; no SymPy.

Anchors, strongest first (the first kind present decides, weaker kinds are then ignored):

- ``gsm``: ``#### N``. GSM8K's terminator: only the first one counts and everything after it is
  ignored (small models often go on to invent the next question).
- ``boxed``: every outermost ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces balanced).
- ``final-answer``: "the final answer is X" / "final answer: X" (Minerva's "Final Answer: The final
  answer is $8$. I hope it is correct." is one anchor).
- ``answer-is``: "the answer is X", and answer lines ``Answer: X`` / ``A: X`` (the GSM8K example
  solutions end with ``A: N``; a line that starts with ``A:`` is as explicit as "Answer:").
- ``last-number``: the last number in the text, only when ``require_anchor=False``.

After a phrase anchor, a math span, else the sentence; in a sentence of prose ("The smallest $k$ is
12") the value after its last verb. All answers of the deciding kind are returned (distinct, in
order); the checker calls an output with several *different* anchored answers not correct, unless
together they are the gold's list of values (``check.py``).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

# Past this, an output is not a chain of thought but a runaway generation; scan only its tail,
# which is where a final answer sits.
MAX_SCAN_CHARS = 200_000

# "#### 42" but not "######" runs or Markdown headings ("#### Step 1: ..."). Bounded repeats keep
# every regex here linear in the length of the output.
_GSM = re.compile(r"(?<!#)####(?!#)[ \t]{0,20}([^\n]{0,300})")
_HEADING = re.compile(r"[A-Za-z]{3}")
# An output with more anchored answers than this is conflicting anyway; comparing them all is waste.
MAX_ANSWERS = 10
_BOX_CMD = re.compile(r"\\(?:boxed|fbox)\b\s*")
_FINAL = re.compile(r"final\s+answer\s*(?:is|:|=)\s*:?[ \t]*", re.IGNORECASE)
_ANSWER_IS = re.compile(r"\banswer\s+is\s*:?[ \t]*", re.IGNORECASE)
# An answer line, matched from the start of the line of each ':' (finding the colons is a C-speed
# str.find; a multiline "^" regex tries every position of the output).
_ANSWER_LINE = re.compile(r"[ \t]*(?:\*\*)?(?:A|Answer)(?:\*\*)?[ \t]*(?P<colon>:)(?:\*\*)?[ \t]*(?=\S)")
_ANSWER_LINE_HEAD = 24  # the most characters from the start of a line to its answer colon
_LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
# Minerva's few-shot format: "Final Answer: The final answer is $8$. I hope it is correct." One
# anchor, not two: the outer "Final Answer:" is skipped when the inner phrase follows it at once.
_INNER_FINAL = re.compile(r"[ \t]*(?:\*\*)?[ \t]*the\s+final\s+answer\s*(?:is|:|=)", re.IGNORECASE)
# "The smallest $k$ is 12": prose that names what the answer is about, a verb, then the answer.
_VERB = re.compile(r"\s(?:is|are|equals|was|would\s+be|will\s+be|becomes)\s+|\s=\s*", re.IGNORECASE)
_SPAN = re.compile(r"\$\$.*?\$\$|(?<!\\)\$.*?(?<!\\)\$|\\\(.*?\\\)|\\\[.*?\\\]")
_COMMAND = re.compile(r"\\[a-zA-Z]+")
_CLAUSE = re.compile(r"[,;]|\s(?:but|and|or|while|whereas)\s", re.IGNORECASE)
_LEAD = re.compile(
    r"^(?:so|thus|therefore|hence|finally|overall|in conclusion|in total)\b\s*,?\s*", re.IGNORECASE
)
_RELATIVE = re.compile(r",\s*(?:which|where|since|because)\b.*$", re.IGNORECASE)
_PROSE_WORD = re.compile(r"[A-Za-z]{2,}")
# Words that may follow a value without making it prose: list joiners and the units the normaliser
# strips after a number ("the distance is 5 km").
_NOT_PROSE = re.compile(
    r"(?:and|or|units?|square|sq|cubic|cm|mm|km|m|ft|feet|foot|in|inches|inch|yards?|miles?|meters?|"
    r"dollars?|cents?|degrees?|percent|percentage|pct|hours?|minutes?|seconds?|days?|kg|g|grams?|pounds?|lbs?)",
    re.IGNORECASE,
)
_MATH_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_MATH_OPENERS = frozenset("$\\")
_SENTENCE_END = re.compile(r"\.(?:\s|$)")
_EMPTY_BOX = re.compile(r"^(?:\\phantom\{[^{}]*\}|\s)*$")


@dataclass(frozen=True)
class Extraction:
    answers: tuple[str, ...]  # distinct answers of the deciding anchor kind, in order
    anchor: str | None  # "gsm", "boxed", "final-answer", "answer-is", "last-number" or None
    reason: str

    @property
    def answer(self) -> str | None:
        """The last answer, which is the one a reader takes as final."""
        return self.answers[-1] if self.answers else None


def matching_braces(text: str) -> dict[int, int]:
    """Index of every ``{`` -> index of its ``}``, in one pass (unbalanced ones are left out)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for i, ch in enumerate(text):
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            stack.append(i)
        elif ch == "}" and (i == 0 or text[i - 1] != "\\") and stack:
            pairs[stack.pop()] = i
    return pairs


def boxed_contents(text: str) -> list[str]:
    """Contents of every outermost \\boxed{...} / \\fbox{...}, in order. Linear in len(text)."""
    pairs: dict[int, int] | None = None
    found: list[str] = []
    covered_until = -1
    for m in _BOX_CMD.finditer(text):
        if m.start() < covered_until:
            continue  # a box inside a box: the outer one is the answer
        i = m.end()
        if i < len(text) and text[i] == "{":
            if pairs is None:
                pairs = matching_braces(text)
            close = pairs.get(i)
            if close is None:
                continue
            found.append(text[i + 1 : close])
            covered_until = close
        else:  # "\boxed 5"
            token = re.match(r"[^\s$.,;]+", text[i:])
            if token:
                found.append(token.group(0))
    return found


def _after_anchor(text: str, start: int) -> str:
    """The answer that follows an anchor phrase: a math span, else the rest of the sentence; in a
    sentence of prose ("The smallest $k$ is 12"), what follows its last verb."""
    rest = text[start : start + 2000]
    if rest[:1] in _MATH_OPENERS:
        for left, right in _MATH_DELIMS:
            if rest.startswith(left):
                end = rest.find(right, len(left))
                while end > 0 and right == "$" and rest[end - 1] == "\\":  # "\$36" is a dollar sign
                    end = rest.find(right, end + 1)
                if end > 0 and not _VERB.match(rest, end + len(right)):  # "$k$ is 12": $k$ is a name
                    return rest[len(left) : end]
    line = rest.split("\n", 1)[0]
    sentence = _SENTENCE_END.split(line, maxsplit=1)[0]
    return _value_of(sentence.strip().rstrip(".").strip())


def _answer_line_ends(text: str) -> list[int]:
    """Where the answer of every ``Answer: ...`` / ``A: ...`` line starts."""
    ends = []
    colon = text.find(":")
    while colon >= 0:
        line_start = text.rfind("\n", 0, colon) + 1
        if colon - line_start <= _ANSWER_LINE_HEAD:
            m = _ANSWER_LINE.match(text, line_start)
            if m is not None and m.start("colon") == colon:
                ends.append(m.end())
        colon = text.find(":", colon + 1)
    return ends


def _is_prose(text: str) -> bool:
    if not _PROSE_WORD.search(text):
        return False
    words = _PROSE_WORD.findall(_COMMAND.sub(" ", _SPAN.sub(" ", text)))
    return any(not _NOT_PROSE.fullmatch(w) for w in words)


def _value_of(sentence: str) -> str:
    """``The smallest $k$ is 12`` -> ``12``; a sentence whose last verb is followed by more prose
    (``12 is not the answer``, ``the answer is not 12``) is returned whole, and compares as wrong."""
    if not _is_prose(sentence):
        return sentence
    # "Therefore, the smallest $k$ is 12, which is even": the lead word and the trailing relative
    # clause are not part of the statement.
    sentence = _RELATIVE.sub("", _LEAD.sub("", sentence, count=1), count=1).strip()
    # Verbs outside math spans only: the "=" of "$5x + 4 = 0$" is the answer's, not the sentence's.
    masked = _SPAN.sub(lambda m: "$" + "_" * (len(m.group(0)) - 2) + "$", sentence)
    verbs = list(_VERB.finditer(masked))
    if not verbs:
        return sentence
    head, tail = sentence[: verbs[-1].start()], sentence[verbs[-1].end() :].strip()
    if not tail or _is_prose(tail) or _CLAUSE.search(_SPAN.sub(" ", head)):
        return sentence  # "12 is not it", or two clauses ("x is 3, and y is 4"): not one value
    return tail


def _distinct(items: list[str]) -> tuple[str, ...]:
    """Distinct non-empty answers in order; the last ``MAX_ANSWERS`` of them."""
    seen: dict[str, None] = {}
    for item in items:
        key = item.strip()
        if key and not _EMPTY_BOX.match(key):
            seen.setdefault(key, None)
    return tuple(seen)[-MAX_ANSWERS:]


def _gsm_answer(text: str) -> str | None:
    """The first ``#### N`` whose text has a digit and is not a heading."""
    for m in _GSM.finditer(text):
        answer = m.group(1).strip()
        if any(ch.isdigit() for ch in answer) and not _HEADING.match(answer):
            return answer
    return None


def _phrase_ends(pattern: re.Pattern[str], text: str, present: bool) -> list[int]:
    """Where the answer after each anchor phrase starts (the last ``4 * MAX_ANSWERS`` of them). The
    outer "Final Answer:" of "Final Answer: The final answer is $8$" is skipped: the inner phrase
    is the same anchor."""
    if not present:
        return []
    ends = deque((m.end() for m in pattern.finditer(text)), maxlen=4 * MAX_ANSWERS)
    return [end for end in ends if pattern is not _FINAL or not _INNER_FINAL.match(text, end)]


def extract_answer(text: str, *, require_anchor: bool = True) -> Extraction:
    """The anchored final answer(s) of a model output; see the module docstring for the rules."""
    if len(text) > MAX_SCAN_CHARS:
        text = text[-MAX_SCAN_CHARS:]
    # Plain substring tests first: they cost a fraction of a regex scan, and most outputs have only
    # one kind of anchor (GSM outputs end with "#### N" or "A: N").
    gsm = _gsm_answer(text) if "####" in text else None
    if gsm:
        return Extraction((gsm,), "gsm", "found '#### ...' (text after it ignored)")
    boxed = _distinct(boxed_contents(text)) if "box" in text else ()
    if boxed:
        return Extraction(boxed, "boxed", "found \\boxed{...}")
    low = text.lower()
    for anchor, what, ends in (
        ("final-answer", "'the final answer is ...'", _phrase_ends(_FINAL, text, "final" in low)),
        ("answer-is", "'the answer is ...'", _phrase_ends(_ANSWER_IS, text, "answer" in low)),
        ("answer-is", "an 'Answer: ...' / 'A: ...' line", _answer_line_ends(text) if ":" in text else []),
    ):
        said = _distinct([_after_anchor(text, end) for end in ends[-4 * MAX_ANSWERS :]])
        if said:
            return Extraction(said, anchor, f"found {what}")
    if not require_anchor:
        numbers = _LAST_NUMBER.findall(text)
        if numbers:
            return Extraction((numbers[-1],), "last-number", "no anchor; took the last number in the text")
    return Extraction((), None, "no '#### N', \\boxed{}, 'the answer is' or 'Answer:' in the output")
