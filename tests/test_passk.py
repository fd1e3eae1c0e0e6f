from __future__ import annotations

import pytest

from verifier.pipeline.passk import mean_pass_at_k, pass_at_k


@pytest.mark.parametrize(
    "n,c,k,expected",
    [
        (10, 0, 1, 0.0),
        (10, 10, 1, 1.0),
        (10, 3, 1, 0.3),
        (10, 1, 10, 1.0),
        (10, 1, 5, 0.5),
        (4, 2, 2, 1 - 1 / 6),
        (5, 0, 5, 0.0),
    ],
)
def test_unbiased_estimator(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_k_larger_than_n_is_an_error() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_mean_skips_problems_with_too_few_samples() -> None:
    assert mean_pass_at_k([(10, 5), (2, 2)], 5) == pytest.approx(pass_at_k(10, 5, 5))
    assert mean_pass_at_k([], 1) is None
