"""maj@k: the exact mean over k-subsets of the majority vote, checked against brute-force enumeration."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import pytest

from verifier.pipeline.passk import (
    Votes,
    maj_at_k,
    mean_maj_at_k,
    mean_maj_curve,
    pass_at_k,
    votes_by_problem,
)
from verifier.schema import ChainRecord, VerdictRecord


def brute_force(votes: Votes, k: int) -> float:
    ballots = ["ok"] * votes.correct + [None] * votes.abstain
    for g, size in enumerate(votes.wrong_groups):
        ballots += [f"w{g}"] * size
    total = 0.0
    subsets = list(combinations(range(len(ballots)), k))
    for subset in subsets:
        tally = Counter(ballots[i] for i in subset if ballots[i] is not None)
        if not tally:
            continue
        top = max(tally.values())
        winners = [b for b, v in tally.items() if v == top]
        total += ("ok" in winners) / len(winners)
    return total / len(subsets)


@pytest.mark.parametrize(
    "votes",
    [
        Votes(3, (2, 1), 1),
        Votes(2, (2, 2), 0),
        Votes(1, (), 4),
        Votes(0, (3,), 2),
        Votes(4, (1, 1, 1, 1), 1),
        Votes(5, (), 0),
        Votes(2, (3,), 3),
    ],
)
def test_matches_enumeration_of_every_subset(votes: Votes) -> None:
    for k in range(1, votes.n + 1):
        assert maj_at_k(votes, k) == pytest.approx(brute_force(votes, k)), k


@pytest.mark.parametrize(
    "votes,k,expected",
    [
        (Votes(3, (2,), 0), 1, 0.6),  # maj@1 is pass@1
        (Votes(5, (), 0), 5, 1.0),
        (Votes(0, (4,), 1), 3, 0.0),
        (Votes(1, (1,), 0), 2, 0.5),  # a tie between two answers is a coin flip
        (Votes(1, (), 3), 4, 1.0),  # non-answers do not vote
    ],
)
def test_table(votes: Votes, k: int, expected: float) -> None:
    assert maj_at_k(votes, k) == pytest.approx(expected)


def test_maj_at_1_equals_pass_at_1() -> None:
    v = Votes(3, (4, 2), 1)
    assert maj_at_k(v, 1) == pytest.approx(pass_at_k(v.n, v.correct, 1))


def test_k_larger_than_n_is_an_error_and_mean_skips_small_problems() -> None:
    with pytest.raises(ValueError):
        maj_at_k(Votes(1, (1,)), 3)
    assert mean_maj_at_k([Votes(2, (1,)), Votes(1)], 2) == pytest.approx(maj_at_k(Votes(2, (1,)), 2))
    assert mean_maj_at_k([], 1) is None


def _record(pid: str, i: int, status: str, extracted: str | None, kind: str = "math") -> ChainRecord:
    return ChainRecord(
        problem_id=pid,
        sample_index=i,
        kind=kind,  # type: ignore[arg-type]
        seed=i,
        model="m",
        prompt="q",
        completion="c",
        tokens=1,
        extracted=extracted,
        verdict=VerdictRecord(status=status, correct=status == "correct", extracted=extracted),
    )


def test_votes_group_wrong_answers_and_leave_out_infrastructure() -> None:
    records = [
        _record("p", 0, "correct", "8"),
        _record("p", 1, "correct", "8.0"),
        _record("p", 2, "wrong", "15"),
        _record("p", 3, "wrong", " 15 "),
        _record("p", 4, "wrong", "7"),
        _record("p", 5, "no_answer", None),
        _record("p", 6, "error", None),  # the math worker was lost: not a vote
        _record("q", 0, "sandbox_error", None, kind="code"),
    ]
    assert votes_by_problem(records) == {"p": Votes(2, (2, 1), 1)}


def test_mean_curve_matches_mean_at_each_k() -> None:
    votes = [Votes(3, (2, 1), 1), Votes(1, (1,)), Votes(0, (2,))]
    curve = mean_maj_curve(votes, 8)
    for k in range(1, 9):
        expected = mean_maj_at_k(votes, k)
        assert (curve[k] is None) == (expected is None)
        if expected is not None:
            assert curve[k] == pytest.approx(expected)
