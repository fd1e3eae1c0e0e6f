"""k-means on L2-normalised embeddings (numpy only), a readable label per cluster, and a 2-D view.

Deterministic: k-means++ seeding from a fixed generator, so a report rebuilt on the same run draws the
same clusters."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from verifier.report.stats import words

_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "is",
        "are",
        "was",
        "were",
        "be",
        "by",
        "with",
        "at",
        "from",
        "as",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "how",
        "many",
        "much",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "does",
        "do",
        "did",
        "has",
        "have",
        "had",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "you",
        "your",
        "we",
        "our",
        "i",
        "if",
        "then",
        "than",
        "each",
        "per",
        "every",
        "all",
        "any",
        "some",
        "more",
        "most",
        "less",
        "there",
        "here",
        "into",
        "out",
        "up",
        "down",
        "over",
        "after",
        "before",
        "so",
        "not",
        "no",
        "can",
        "could",
        "will",
        "would",
        "should",
        "may",
        "might",
        "must",
        "let",
        "find",
        "given",
    ]
)


@dataclass(frozen=True)
class Clusters:
    labels: np.ndarray  # cluster index per row
    names: tuple[str, ...]  # per cluster: its most distinctive words
    xy: np.ndarray  # rows projected on the first two principal components, for the scatter plot


def auto_k(n: int) -> int:
    """About sqrt(n/2) clusters (a common rule of thumb), kept between 2 and 12."""
    return max(2, min(12, round(math.sqrt(n / 2))))


def _sq_distances(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Squared distances, rows by centres, without an n x k x d intermediate."""
    d2 = (x * x).sum(1)[:, None] - 2 * x @ c.T + (c * c).sum(1)[None, :]
    return np.maximum(d2, 0.0)


def kmeans(x: np.ndarray, k: int, *, iterations: int = 50, seed: int = 0) -> np.ndarray:
    """Cluster index per row (k-means++ seeding, Lloyd iterations until assignments stop changing)."""
    n = len(x)
    k = min(k, n)
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(n)]]
    for _ in range(1, k):
        d2 = _sq_distances(x, np.asarray(centres)).min(axis=1)
        total = d2.sum()
        pick = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
        centres.append(x[pick])
    c = np.asarray(centres)
    labels = np.full(n, -1)
    for _ in range(iterations):
        new = np.argmin(_sq_distances(x, c), axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                c[j] = members.mean(axis=0)
    return labels


def _names(texts: Sequence[str], labels: np.ndarray, k: int) -> tuple[str, ...]:
    """Per cluster, the 3 words most over-represented in it relative to all texts (document counts)."""
    docs = [set(w for w in words(t) if w.isalpha() and len(w) > 2 and w not in _STOP) for t in texts]
    overall: Counter[str] = Counter(w for d in docs for w in d)
    names = []
    for j in range(k):
        members = [d for d, lab in zip(docs, labels, strict=True) if lab == j]
        inside: Counter[str] = Counter(w for d in members for w in d)
        score = {w: (c / len(members)) * math.log(len(docs) / overall[w]) for w, c in inside.items() if c > 1}
        top = sorted(score, key=lambda w: (-score[w], w))[:3]
        names.append(", ".join(top) if top else f"cluster {j}")
    return tuple(names)


def _project(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=0)
    if len(x) < 2:
        return np.zeros((len(x), 2))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = centred @ vt[:2].T
    return out if out.shape[1] == 2 else np.pad(out, ((0, 0), (0, 2 - out.shape[1])))


def cluster(texts: Sequence[str], embeddings: np.ndarray, k: int | None = None) -> Clusters:
    k = min(auto_k(len(texts)) if k is None else k, len(texts))
    labels = kmeans(embeddings.astype(np.float64), k)
    return Clusters(labels=labels, names=_names(texts, labels, k), xy=_project(embeddings.astype(np.float64)))
