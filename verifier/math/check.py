"""Public entry points of the math checker: ``check_math`` and ``check_math_many``.

The flow: extract the anchored answer(s) from the model output, then compare each with the gold
answer through the cheap in-process stages (``compare``); only pairs they cannot decide pass the
guards and go to a pool worker for the symbolic stage.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from verifier.endtext import strip_end_tokens
from verifier.math.compare import Decision, compare
from verifier.math.extract import Extraction, extract_answer
from verifier.math.guards import guard, size_guard
from verifier.math.normalize import normalize
from verifier.math.pool import Budget, MathPool, default_pool
from verifier.math.structures import expand_pm, parse_structure
from verifier.math.verdict import MathStatus, MathVerdict

DEFAULT_TIMEOUT_S = 5.0


def _cheap(gold: str, answer: str) -> Decision | None:
    """The guards and the in-process stages (microseconds); None when only a worker can decide."""
    too_big = size_guard(answer) if answer.strip() != gold.strip() else None
    if too_big is not None:
        return Decision(too_big[0], "guard", too_big[1])
    decision = compare(gold, answer)
    if decision is not None:
        return decision
    stop = guard(normalize(answer))
    if stop is not None:
        return Decision(stop[0], "guard", stop[1])
    return None


def _decide(gold: str, answer: str, timeout_s: float, pool: MathPool | None) -> Decision:
    decision = _cheap(gold, answer)
    if decision is not None:
        return decision
    return (pool or default_pool()).compare(gold, answer, timeout_s=timeout_s)


def _verdict(ext: Extraction, decisions: list[Decision]) -> MathVerdict:
    """Combine the decisions on an output's answers (the final answer's first, then the others
    until one is not correct) into one verdict."""
    final, last = decisions[0], decisions[-1]
    if len(ext.answers) == 1:
        return MathVerdict(final.status, ext.answer, final.rule, final.reason)
    shown = " | ".join(ext.answers)
    if last.status is MathStatus.CORRECT:
        return MathVerdict(
            MathStatus.CORRECT, ext.answer, final.rule, f"all {len(ext.answers)} answers match: {shown}"
        )
    if last.status is MathStatus.WRONG:
        rule = final.rule if last is final else "conflicting-answers"
        return MathVerdict(
            MathStatus.WRONG, ext.answer, rule, f"{len(ext.answers)} different {ext.anchor} answers: {shown}"
        )
    return MathVerdict(
        last.status, ext.answer, last.rule, f"one of {len(ext.answers)} answers: {last.reason}"
    )


def _gold_values(gold: str) -> tuple[int, bool]:
    """How many values a gold answer lists (a set or list of n items, 2 for ``a \\pm b``, a point
    of n coordinates, else 1), and whether they are in order (a point)."""
    g = normalize(gold)
    if expand_pm(g) is not None:
        return 2, False
    s = parse_structure(g)
    if s is not None and s.kind in {"set", "list"}:
        return len(s.items), False
    if s is not None and s.kind == "tuple" and s.brackets == "()":
        return len(s.items), True
    return 1, False


def _boxes_as_one(gold: str, ext: Extraction) -> str | None:
    """``The solutions are \\boxed{3} and \\boxed{-1}`` for gold ``3, -1``: one answer in several
    boxes (for a point ``(3, -1)``, its coordinates boxed in order). Only when the gold lists exactly
    as many values as there are boxes, and each box holds one value (a number, a point), not a list
    of its own; the joined answer must then match as a whole."""
    if ext.anchor != "boxed" or len(ext.answers) < 2:
        return None
    count, ordered = _gold_values(gold)
    if count != len(ext.answers):
        return None
    for box in ext.answers:
        s = parse_structure(normalize(box))
        if s is not None and (ordered or s.kind not in {"tuple", "interval", "matrix"}):
            return None
    joined = ", ".join(ext.answers)
    return f"({joined})" if ordered else joined


class _NeedsWorker(Exception):
    """An output the in-process stages cannot decide: it waits for the second pass."""


def _check_output(
    gold: str,
    ext: Extraction,
    decided: dict[str, Decision],
    timeout_s: float,
    pool: MathPool | None,
    budget: Budget | None,
    in_process_only: bool = False,
) -> MathVerdict:
    """All of one output's answers share one time budget (the pool's, so that a worker's start is
    not charged), and each comparison gets what is left of it and of the caller's ``budget``: a
    verdict never takes much longer than ``timeout_s`` however many answers the output states. The
    in-process stages run even when no time is left (they take microseconds). ``in_process_only``:
    raise ``_NeedsWorker`` instead of asking a worker."""
    joined = _boxes_as_one(gold, ext)
    several = joined is not None or len(ext.answers) > 1
    mine = (pool or default_pool()).budget(timeout_s) if several and not in_process_only else None

    def decide(answer: str) -> Decision:
        decision = decided.get(answer)
        if decision is not None:
            return decision
        decision = _cheap(gold, answer)
        if decision is None and in_process_only:
            raise _NeedsWorker
        if decision is None:
            left = min([timeout_s, *(b.remaining() for b in (mine, budget) if b is not None)])
            if left <= 0:  # not remembered: another output of the batch may have time for it
                return Decision(MathStatus.TIMEOUT, "deadline", f"no time left within {timeout_s:g} s")
            decision = (pool or default_pool()).compare(gold, answer, timeout_s=left)
        decided[answer] = decision
        return decision

    if joined is not None:
        decision = decide(joined)
        if decision.status is MathStatus.CORRECT:
            return MathVerdict(
                MathStatus.CORRECT,
                joined,
                f"boxes-as-list/{decision.rule}",
                f"the {len(ext.answers)} boxes together match the gold: {decision.reason}",
            )
    decisions: list[Decision] = []
    for answer in (ext.answers[-1], *ext.answers[:-1]):
        decision = decide(answer)
        decisions.append(decision)
        if decision.status is not MathStatus.CORRECT:
            break
    return _verdict(ext, decisions)


def check_answer(
    *, gold: str, answer: str, timeout_s: float = DEFAULT_TIMEOUT_S, pool: MathPool | None = None
) -> MathVerdict:
    """Compare an already extracted ``answer`` (no anchor needed) with ``gold``."""
    if not normalize(gold):
        return MathVerdict(MathStatus.ERROR, None, None, "the gold answer is empty")
    d = _decide(gold, answer, timeout_s, pool)
    return MathVerdict(d.status, answer, d.rule, d.reason)


def check_math(
    *,
    gold: str,
    pred: str,
    require_anchor: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    pool: MathPool | None = None,
) -> MathVerdict:
    """Check a full model output ``pred`` against the gold final answer ``gold``.

    ``require_anchor`` (default True, for rewards and datasets alike): only an anchored answer
    (``#### N``, ``\\boxed{}``, "the answer is", ``Answer:``/``A:`` lines) counts; with False the last
    number of an unanchored output is taken. ``timeout_s`` bounds each symbolic comparison;
    ``pool`` defaults to a process-wide pool started on first need.
    """
    return check_math_many(
        gold=gold, preds=[pred], require_anchor=require_anchor, timeout_s=timeout_s, pool=pool
    )[0]


def check_math_many(
    *,
    gold: str,
    preds: Sequence[str],
    require_anchor: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    pool: MathPool | None = None,
    budget: Budget | None = None,
) -> list[MathVerdict]:
    """``check_math`` for several outputs of one problem; each distinct answer is compared once.

    ``budget`` (``MathPool.budget``): a deadline for all of them; each symbolic comparison gets at
    most ``timeout_s`` and what is left of it (TIMEOUT, rule ``deadline``, once it has run out)."""
    verdicts: list[MathVerdict | None] = [None] * len(preds)
    for i, verdict in iter_check_math_many(
        gold=gold,
        preds=preds,
        require_anchor=require_anchor,
        timeout_s=timeout_s,
        pool=pool,
        budget=budget,
    ):
        verdicts[i] = verdict
    return [v for v in verdicts if v is not None]


def iter_check_math_many(
    *,
    gold: str,
    preds: Sequence[str],
    require_anchor: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    pool: MathPool | None = None,
    budget: Budget | None = None,
) -> Iterator[tuple[int, MathVerdict]]:
    """``check_math_many`` as (index, verdict) pairs, as they are decided: first every output the
    in-process stages decide (microseconds each), then those that need a worker, in order. A caller
    with a deadline of its own keeps what was decided when it passed, whatever one slow answer does."""
    if not isinstance(gold, str) or not normalize(gold):
        for i in range(len(preds)):
            yield i, MathVerdict(MathStatus.ERROR, None, None, "the gold answer is empty")
        return
    decided: dict[str, Decision] = {}
    later: list[tuple[int, Extraction]] = []
    for i, pred in enumerate(preds):
        if not isinstance(pred, str):  # e.g. None from a failed generation: no answer, never a bank bug
            yield (
                i,
                MathVerdict(
                    MathStatus.NO_ANSWER, None, "not-text", f"pred is {type(pred).__name__}, not str"
                ),
            )
            continue
        ext = extract_answer(strip_end_tokens(pred), require_anchor=require_anchor)
        if not ext.answers:
            yield i, MathVerdict(MathStatus.NO_ANSWER, None, None, ext.reason)
            continue
        try:
            yield i, _check_output(gold, ext, decided, timeout_s, pool, budget, in_process_only=True)
        except _NeedsWorker:
            later.append((i, ext))
    for i, ext in later:
        yield i, _check_output(gold, ext, decided, timeout_s, pool, budget)
