"""Distribution arithmetic for the report: entropy, smoothed KL divergence, shared histogram bins,
and the text features compared between chains (words, steps). Pure functions, bits throughout."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

# Additive smoothing for KL (Krichevsky-Trofimov, 1/2 per outcome): an outcome the reference never
# shows then costs a finite, comparable amount instead of making the divergence infinite.
SMOOTHING = 0.5

_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?|[^\sa-z\d]", re.IGNORECASE)


def words(text: str) -> list[str]:
    """Lower-cased word, number and single-symbol tokens: a tokenizer that does not depend on a model,
    so chains from different backends are compared on the same units."""
    return [w.lower() for w in _WORD.findall(text)]


def steps(text: str) -> int:
    """Reasoning steps, counted as non-empty lines (GSM8K and most chain-of-thought put one per line)."""
    return sum(1 for line in text.splitlines() if line.strip())


def entropy(counts: Mapping[Any, float] | Sequence[float]) -> float:
    """Shannon entropy in bits of the distribution proportional to ``counts``; 0 for an empty one."""
    values = np.asarray(list(counts.values()) if isinstance(counts, Mapping) else list(counts), dtype=float)
    total = values.sum()
    if total <= 0:
        return 0.0
    p = values[values > 0] / total
    return float(-(p * np.log2(p)).sum())


def normalised_entropy(counts: Mapping[Any, float] | Sequence[float], outcomes: int) -> float | None:
    """Entropy over log2(outcomes): 1 is uniform over every outcome, 0 all in one; None below 2."""
    return entropy(counts) / math.log2(outcomes) if outcomes >= 2 else None


def kl_divergence(p: Mapping[Any, float], q: Mapping[Any, float]) -> float:
    """KL(P || Q) in bits over the union of outcomes, both smoothed with SMOOTHING per outcome."""
    support = set(p) | set(q)
    if not support:
        return 0.0
    keys = sorted(support, key=repr)
    pc = np.array([p.get(k, 0.0) for k in keys], dtype=float) + SMOOTHING
    qc = np.array([q.get(k, 0.0) for k in keys], dtype=float) + SMOOTHING
    pp, qq = pc / pc.sum(), qc / qc.sum()
    return float((pp * np.log2(pp / qq)).sum())


def shared_bins(*samples: Sequence[float], max_bins: int = 20) -> np.ndarray:
    """Bin edges covering every sample, integer-aligned (lengths and step counts are integers)."""
    values = [v for s in samples for v in s]
    if not values:
        return np.array([0.0, 1.0])
    lo, hi = math.floor(min(values)), math.ceil(max(values)) + 1
    width = max(1, math.ceil((hi - lo) / max_bins))
    return np.arange(lo, hi + width, width, dtype=float)


def binned(sample: Sequence[float], edges: np.ndarray) -> dict[int, float]:
    """Counts per bin index, for entropy/KL over the same bins."""
    counts, _ = np.histogram(np.asarray(sample, dtype=float), bins=edges)
    return {i: float(c) for i, c in enumerate(counts)}


def unigrams(texts: Iterable[str]) -> Counter[str]:
    c: Counter[str] = Counter()
    for t in texts:
        c.update(words(t))
    return c
