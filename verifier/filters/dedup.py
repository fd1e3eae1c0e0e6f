"""Dedup stage (per problem): exact duplicates, then near-duplicates, then the most distinct few.

1. Exact: chains equal after normalising whitespace and the spelling of numbers ("1,000.50" and
   "1000.5") are one chain; the first sample is kept.
2. Near: MinHash signatures of word 3-gram shingles, candidate pairs from datasketch's MinHash-LSH
   (no all-pairs comparison), confirmed by the signatures' estimated Jaccard similarity >= threshold.
   Each cluster of near-duplicates keeps its first sample.
3. With ``keep_per_problem``, the survivors are cut to the most distinct set: greedy farthest-point
   selection (start from the first sample, then always the chain least similar to those already kept).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

from verifier.filters.base import Group, Scope, StageOutcome, drop, keep

_SPACE = re.compile(r"\s+")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_TRAILING_ZEROS = re.compile(r"(\d+)\.(\d*?)0+\b")
_WORD = re.compile(r"\w+|[^\w\s]")


def normalise(text: str) -> str:
    """Whitespace collapsed, thousands separators and trailing decimal zeros removed."""
    text = _THOUSANDS.sub("", _SPACE.sub(" ", text).strip())
    return _TRAILING_ZEROS.sub(lambda m: m.group(1) + ("." + m.group(2) if m.group(2) else ""), text)


def shingles(text: str, n: int = 3) -> set[bytes]:
    words = _WORD.findall(normalise(text).lower())
    if len(words) < n:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


@dataclass(frozen=True)
class DedupStage:
    keep_per_problem: int | None = None
    threshold: float = 0.8  # estimated Jaccard similarity of shingles at or above which two chains are one
    num_perm: int = 128
    shingle: int = 3

    _bands: tuple[int, int] = field(init=False, repr=False, compare=False)
    _hashing: dict[str, Any] = field(init=False, repr=False, compare=False)

    name = "dedup"
    scope = Scope.PROBLEM

    def __post_init__(self) -> None:
        if self.keep_per_problem is not None and self.keep_per_problem < 1:
            raise ValueError(f"--keep-per-problem: must be at least 1, got {self.keep_per_problem}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"--near-threshold: must be in (0, 1], got {self.threshold}")
        # Once per stage, not per problem: choosing the LSH bands integrates numerically (~0.2 s) and
        # the hash permutations are random draws; both are the same for every problem.
        lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)
        template = MinHash(num_perm=self.num_perm)
        object.__setattr__(self, "_bands", (lsh.b, lsh.r))
        object.__setattr__(
            self, "_hashing", {"permutations": template.permutations, "scheme": template.scheme}
        )

    def settings(self) -> dict[str, Any]:
        return {
            "keep_per_problem": self.keep_per_problem,
            "threshold": self.threshold,
            "num_perm": self.num_perm,
            "shingle": self.shingle,
        }

    def judge(self, groups: Sequence[Group]) -> list[list[StageOutcome]]:
        return [
            self._judge_group([c.completion for c in g.chains], [c.sample_index for c in g.chains])
            for g in groups
        ]

    def close(self) -> None:
        return None

    def _judge_group(self, texts: list[str], samples: list[int]) -> list[StageOutcome]:
        outcomes: list[StageOutcome | None] = [None] * len(texts)
        first_of: dict[str, int] = {}
        for i, text in enumerate(texts):
            digest = hashlib.sha256(normalise(text).encode()).hexdigest()
            if digest in first_of:
                j = first_of[digest]
                outcomes[i] = drop(f"exact duplicate of sample {samples[j]}", duplicate_of=samples[j])
            else:
                first_of[digest] = i
        unique = [i for i in range(len(texts)) if outcomes[i] is None]
        hashes = MinHash.bulk(
            [shingles(texts[i], self.shingle) for i in unique], num_perm=self.num_perm, **self._hashing
        )
        signatures = np.stack([h.hashvalues for h in hashes]) if hashes else np.zeros((0, self.num_perm))
        lsh = MinHashLSH(num_perm=self.num_perm, params=self._bands)
        representatives: list[int] = []  # positions in ``unique``
        for pos, h in enumerate(hashes):
            near = [int(k) for k in lsh.query(h)]
            similarity = {k: float(np.mean(signatures[k] == signatures[pos])) for k in near}
            match = min((k for k, s in similarity.items() if s >= self.threshold), default=None)
            if match is None:
                lsh.insert(str(pos), h)
                representatives.append(pos)
            else:
                i, j = unique[pos], unique[match]
                outcomes[i] = drop(
                    f"near-duplicate of sample {samples[j]} (Jaccard ~{similarity[match]:.2f})",
                    duplicate_of=samples[j],
                    jaccard=round(similarity[match], 4),
                )
        chosen = self._most_distinct(representatives, signatures)
        for pos in representatives:
            i = unique[pos]
            if pos in chosen:
                outcomes[i] = keep("distinct", max_jaccard_to_kept=chosen[pos])
            else:
                outcomes[i] = drop(
                    f"over --keep-per-problem {self.keep_per_problem}: less distinct than the chains kept",
                    max_jaccard_to_kept=_nearest(signatures, pos, list(chosen)),
                )
        return [o for o in outcomes if o is not None]

    def _most_distinct(self, candidates: list[int], signatures: np.ndarray) -> dict[int, float]:
        """Greedy farthest-point choice: position -> its highest similarity to an earlier choice."""
        limit = self.keep_per_problem or len(candidates)
        if len(candidates) <= limit:
            return {c: _nearest(signatures, c, candidates[:k]) for k, c in enumerate(candidates)}
        chosen = {candidates[0]: 0.0}
        rest = np.array(candidates[1:])
        closest = (signatures[rest] == signatures[candidates[0]]).mean(axis=1)
        while len(chosen) < limit:
            k = int(np.argmin(closest))
            pick = int(rest[k])
            chosen[pick] = round(float(closest[k]), 4)
            rest, closest = np.delete(rest, k), np.delete(closest, k)
            if len(rest) == 0:
                break
            closest = np.maximum(closest, (signatures[rest] == signatures[pick]).mean(axis=1))
        return chosen


def _nearest(signatures: np.ndarray, pos: int, others: list[int]) -> float:
    if not others:
        return 0.0
    return round(float((signatures[others] == signatures[pos]).mean(axis=1).max()), 4)
