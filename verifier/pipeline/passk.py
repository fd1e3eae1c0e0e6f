"""pass@k with the unbiased estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k), and maj@k
estimated the same way: the exact mean, over every k-subset of a problem's n samples, of "the
majority vote of the subset is an answer the checker accepted"."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from math import comb

import numpy as np

from verifier.schema import ChainRecord


def pass_at_k(n: int, c: int, k: int) -> float:
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def mean_pass_at_k(counts: list[tuple[int, int]], k: int) -> float | None:
    """Mean over problems of pass@k; only problems with at least k samples count."""
    values = [pass_at_k(n, c, k) for n, c in counts if n >= k]
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class Votes:
    """One problem's samples as a vote: ``correct`` samples the checker accepted (one answer, whatever
    its spelling), groups of equal wrong answers, and ``abstain`` samples with no answer (no vote)."""

    correct: int
    wrong_groups: tuple[int, ...] = ()
    abstain: int = 0

    def __post_init__(self) -> None:
        if self.correct < 0 or self.abstain < 0 or any(g <= 0 for g in self.wrong_groups):
            raise ValueError(f"vote counts must be non-negative (groups positive): {self}")

    @property
    def n(self) -> int:
        return self.correct + sum(self.wrong_groups) + self.abstain


def maj_curve(votes: Votes) -> tuple[float, ...]:
    """maj@k for k = 1..n: P(a uniformly drawn k-subset of the samples elects the accepted answer);
    a tie with t other answers counts 1/(t+1), as a random tie-break would. maj@1 equals pass@1.

    Counts subsets by how often the accepted answer is drawn (j): the wrong groups must each be drawn
    at most j times (t of them exactly j), non-answers any number of times. One pass per j gives every k.
    """
    n, groups = votes.n, votes.wrong_groups
    won = np.zeros(n + 1)  # won[k]: winning k-subsets, weighted by the tie-break
    abstain = np.array([comb(votes.abstain, i) for i in range(n + 1)], dtype=float)
    tie_weight = 1.0 / np.arange(1, len(groups) + 2)
    for j in range(1, votes.correct + 1):
        ways = np.zeros((n + 1, len(groups) + 1))  # ways[s, t]: s wrong samples drawn, t groups tied
        ways[0, 0] = 1.0
        for size in groups:
            nxt = np.zeros_like(ways)
            for x in range(min(size, j) + 1):
                if x == j:
                    nxt[x:, 1:] += comb(size, x) * ways[: n + 1 - x, :-1]
                else:
                    nxt[x:, :] += comb(size, x) * ways[: n + 1 - x, :]
            ways = nxt
        drawn = np.convolve(ways @ tie_weight, abstain)[: n + 1 - j]  # by number of other samples drawn
        won[j:] += comb(votes.correct, j) * drawn
    return tuple(float(won[k] / comb(n, k)) for k in range(1, n + 1))


def maj_at_k(votes: Votes, k: int) -> float:
    if k > votes.n or k < 1:
        raise ValueError(f"maj@{k} needs at least {k} samples, got {votes.n}")
    return maj_curve(votes)[k - 1]


def mean_maj_at_k(votes: Iterable[Votes], k: int) -> float | None:
    """Mean over problems of maj@k; only problems with at least k samples count."""
    values = [maj_at_k(v, k) for v in votes if v.n >= k]
    return sum(values) / len(values) if values else None


def mean_maj_curve(votes: Iterable[Votes], k_max: int) -> dict[int, float | None]:
    """mean_maj_at_k for every k up to k_max, each problem's curve computed once."""
    curves = [maj_curve(v) for v in votes if v.n > 0]
    out: dict[int, float | None] = {}
    for k in range(1, k_max + 1):
        values = [c[k - 1] for c in curves if len(c) >= k]
        out[k] = sum(values) / len(values) if values else None
    return out


def _ballot(extracted: str | None) -> str | None:
    if extracted is None:
        return None
    return " ".join(extracted.split()) or None


def votes_by_problem(records: Iterable[ChainRecord]) -> dict[str, Votes]:
    """Each problem's votes; a sample the checker could not decide (infrastructure) is left out, as in
    pass@k, and wrong answers are grouped by their extracted text with whitespace collapsed."""
    correct: Counter[str] = Counter()
    abstain: Counter[str] = Counter()
    wrong: dict[str, Counter[str]] = defaultdict(Counter)
    seen: dict[str, None] = {}  # first-seen order of the problems
    for r in records:
        if r.infrastructure_failure:
            continue
        seen.setdefault(r.problem_id)
        ballot = _ballot(r.extracted)
        if r.verdict.correct:
            correct[r.problem_id] += 1
        elif ballot is None:
            abstain[r.problem_id] += 1
        else:
            wrong[r.problem_id][ballot] += 1
    return {
        pid: Votes(correct[pid], tuple(sorted(wrong[pid].values(), reverse=True)), abstain[pid])
        for pid in seen
    }
