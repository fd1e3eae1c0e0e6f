"""The sampling budget: which sample indices a problem gets next, given what verified so far."""

from __future__ import annotations

import pytest

from verifier.pipeline.budget import Budget

ADAPTIVE = Budget(round_size=2, max_samples=6, until_verified=2)


@pytest.mark.parametrize(
    "budget,results,expected",
    [
        (Budget.fixed(3), {}, (0, 1, 2)),
        (Budget.fixed(3), {0: True, 2: False}, (1,)),  # a resume asks only for the missing one
        (Budget.fixed(3), {0: False, 1: False, 2: False}, ()),
        (Budget.fixed(0), {}, ()),
        (ADAPTIVE, {}, (0, 1)),
        (ADAPTIVE, {0: True}, (1,)),  # the round is not complete: finish it first
        (ADAPTIVE, {0: True, 1: True}, ()),  # K verified after round 1
        (ADAPTIVE, {0: True, 1: False}, (2, 3)),
        (ADAPTIVE, {0: False, 1: False, 2: True, 3: True}, ()),
        (ADAPTIVE, {0: False, 1: False, 2: False, 3: True}, (4, 5)),
        (ADAPTIVE, {i: False for i in range(6)}, ()),  # M spent
        (Budget(round_size=4, max_samples=6, until_verified=1), {i: False for i in range(4)}, (4, 5)),
        # A verified sample past the round being decided does not end an earlier round early.
        (ADAPTIVE, {0: False, 1: False, 3: True}, (2,)),
    ],
)
def test_next_indices(budget: Budget, results: dict[int, bool], expected: tuple[int, ...]) -> None:
    assert budget.next_indices(results) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"round_size": 0, "max_samples": 3},
        {"round_size": 1, "max_samples": -1},
        {"round_size": 1, "max_samples": 3, "until_verified": 0},
    ],
)
def test_bad_budgets_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Budget(**kwargs)
