"""The report's pure arithmetic: entropy, smoothed KL, bins, text features, k-means, coverage facets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from verifier.report.clusters import auto_k, cluster, kmeans
from verifier.report.stats import (
    SMOOTHING,
    binned,
    entropy,
    kl_divergence,
    normalised_entropy,
    shared_bins,
    steps,
    words,
)


@pytest.mark.parametrize(
    "counts,expected",
    [
        ([1, 1], 1.0),
        ([4], 0.0),
        ([1, 1, 1, 1], 2.0),
        ([0, 0], 0.0),
        ({"a": 3, "b": 1}, -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))),
        ([], 0.0),
    ],
)
def test_entropy_in_bits(counts, expected) -> None:
    assert entropy(counts) == pytest.approx(expected)


def test_normalised_entropy() -> None:
    assert normalised_entropy([5, 5, 5], 3) == pytest.approx(1.0)
    assert normalised_entropy([5, 0, 0], 3) == pytest.approx(0.0)
    assert normalised_entropy([5], 1) is None


def test_kl_is_zero_for_the_same_distribution_and_grows_with_difference() -> None:
    p = {"a": 10, "b": 10}
    assert kl_divergence(p, {"a": 20, "b": 20}) == pytest.approx(0.0)
    near = kl_divergence({"a": 11, "b": 9}, p)
    far = kl_divergence({"a": 19, "b": 1}, p)
    assert 0 < near < far


def test_kl_is_finite_for_outcomes_the_reference_never_shows() -> None:
    value = kl_divergence({"x": 4}, {"y": 4})
    # smoothed: P = (4.5, .5)/5, Q = (.5, 4.5)/5
    pp, qq = np.array([4 + SMOOTHING, SMOOTHING]) / 5, np.array([SMOOTHING, 4 + SMOOTHING]) / 5
    assert value == pytest.approx(float((pp * np.log2(pp / qq)).sum()))
    assert math.isfinite(value)


def test_shared_bins_cover_both_samples_and_bin_counts_add_up() -> None:
    a, b = [3, 5, 8], [40, 41]
    edges = shared_bins(a, b)
    assert edges[0] <= 3 and edges[-1] > 41 and len(edges) <= 22
    assert sum(binned(a, edges).values()) == 3 and sum(binned(b, edges).values()) == 2
    assert list(shared_bins()) == [0.0, 1.0]


@pytest.mark.parametrize(
    "text,tokens,n_steps",
    [
        (
            "She has 3 + 5 = 8 apples.\n#### 8",
            ["she", "has", "3", "+", "5", "=", "8", "apples", ".", "#", "#", "#", "#", "8"],
            2,
        ),
        ("One line only", ["one", "line", "only"], 1),
        ("a\n\n\nb\n", ["a", "b"], 2),
        ("Pay $2.50", ["pay", "$", "2.50"], 1),
    ],
)
def test_words_and_steps(text: str, tokens: list[str], n_steps: int) -> None:
    assert words(text) == tokens
    assert steps(text) == n_steps


def test_kmeans_separates_blobs_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[5.0, 0.0], [0.0, 5.0], [-5.0, -5.0]])
    x = np.concatenate([c + rng.normal(scale=0.3, size=(30, 2)) for c in centres])
    labels = kmeans(x, 3)
    for start in (0, 30, 60):
        assert len(set(labels[start : start + 30])) == 1
    assert len(set(labels)) == 3
    assert np.array_equal(labels, kmeans(x, 3))


def test_cluster_names_and_auto_k() -> None:
    texts = ["train speed miles hour"] * 5 + ["apples oranges fruit basket"] * 5
    emb = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 5)
    found = cluster(texts, emb, 2)
    names = {found.names[int(found.labels[0])], found.names[int(found.labels[-1])]}
    assert any("miles" in n for n in names) and any("apples" in n for n in names)
    assert found.xy.shape == (10, 2)
    assert auto_k(8) == 2 and auto_k(1319) == 12 and auto_k(200) == 10
