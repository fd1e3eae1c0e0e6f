"""Counters of reward calls, so missing rewards are visible (logged and counted, never silent)."""

from __future__ import annotations

import threading
from collections import Counter

from verifier.rewards.result import RewardResult


class RewardStats:
    """Thread-safe totals since start (or the last ``reset``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches = 0
        self._status: Counter[str] = Counter()
        self._missing: Counter[str] = Counter()

    def add(self, results: list[RewardResult]) -> None:
        with self._lock:
            self._batches += 1
            self._status.update(r.status for r in results)
            self._missing.update(r.missing.value for r in results if r.missing is not None)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "batches": self._batches,
                "items": sum(self._status.values()),
                "missing": sum(self._missing.values()),
                "missing_by_reason": dict(self._missing),
                "status_counts": dict(self._status),
            }

    def reset(self) -> None:
        with self._lock:
            self._batches = 0
            self._status.clear()
            self._missing.clear()


STATS = RewardStats()
