"""Which units to produce next: one round of sample indices per problem at a time, by its Budget.

The scheduler is plain bookkeeping owned by one thread (the writer's): it hands out rounds, takes
back each unit's verdict and, when a problem's round is complete, asks the Budget for the next one.
Executors (local threads today, Ray actors later) only move rounds and records around it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from verifier.pipeline.sources import Problem, Source
from verifier.pipeline.units import Unit
from verifier.schema import ChainRecord

Round = list[Unit]  # units of one problem; produced together, so they share one prompt prefill


class Scheduler:
    def __init__(self, source: Source, problems: Sequence[Problem], known: Mapping[str, Mapping[int, bool]]):
        """``known``: problem id -> sample index -> verified, for units already on disk (those the
        checker could not decide are left out, so they are produced again)."""
        self._source = source
        self._problems = {p.id: p for p in problems}
        self._results: dict[str, dict[int, bool]] = {p.id: dict(known.get(p.id, {})) for p in problems}
        self._in_flight: dict[str, set[int]] = {}
        self.scheduled = 0  # units handed out so far

    def start(self) -> list[Round]:
        """The first round of every problem that still needs samples, in bank order."""
        return [r for pid in self._problems if (r := self._next(pid))]

    def record(self, record: ChainRecord) -> Round:
        """Take a unit's result back; the problem's next round once its current one is complete."""
        pid = record.problem_id
        pending = self._in_flight.get(pid)
        if pending is None or record.sample_index not in pending:
            raise ValueError(f"unit {(pid, record.sample_index)} was not scheduled")
        pending.discard(record.sample_index)
        # An undecided check counts as not verified for this run (a resume retries it), so a broken
        # sandbox cannot make a problem ask for the same sample forever.
        self._results[pid][record.sample_index] = record.verdict.correct
        if pending:
            return []
        del self._in_flight[pid]
        return self._next(pid)

    @property
    def done(self) -> bool:
        return not self._in_flight

    def _next(self, pid: str) -> Round:
        problem = self._problems[pid]
        indices = self._source.budget(problem).next_indices(self._results[pid])
        if not indices:
            return []
        self._in_flight[pid] = set(indices)
        self.scheduled += len(indices)
        return [self._source.unit(problem, i) for i in indices]
