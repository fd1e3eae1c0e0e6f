"""How many samples a problem gets: a fixed number, or rounds until enough of them verify.

Sampling goes in rounds of ``round_size`` sample indices. After each round the problem stops when
``until_verified`` of its samples verified or ``max_samples`` indices are spent; otherwise the next
round follows. The decision is a pure function of the results per sample index, so a resumed run
walks the same rounds over the records on disk and asks for exactly the samples still missing,
and, seeds being per (problem, sample index), regenerates the same samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    round_size: int
    max_samples: int
    until_verified: int | None = None  # None: every round up to max_samples (a fixed budget)

    def __post_init__(self) -> None:
        if self.round_size < 1 or self.max_samples < 0:
            raise ValueError(f"round_size must be >= 1 and max_samples >= 0, got {self}")
        if self.until_verified is not None and self.until_verified < 1:
            raise ValueError(f"until_verified must be >= 1, got {self.until_verified}")

    @classmethod
    def fixed(cls, samples: int) -> Budget:
        return cls(round_size=max(1, samples), max_samples=samples)

    def next_indices(self, results: Mapping[int, bool]) -> tuple[int, ...]:
        """The sample indices to produce next, given ``results`` (sample index -> verified) of the
        samples known so far; () when the problem is done. The indices of the first round that is
        not complete are returned, so the caller waits for a round before the next is decided."""
        start = 0
        while start < self.max_samples:
            end = min(start + self.round_size, self.max_samples)
            missing = tuple(i for i in range(start, end) if i not in results)
            if missing:
                return missing
            if self.until_verified is not None:
                verified = sum(1 for i in range(end) if results.get(i))
                if verified >= self.until_verified:
                    return ()
            start = end
        return ()
