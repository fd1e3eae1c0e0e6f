"""What `verify --baseline/--junit/--pairs` do once a run has finished: report files and the gate.

No import of the CLI here (the CLI imports the gate): lines go to ``say`` / ``warn`` callables, by
default standard output and standard error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verifier.gate.baseline import compare_summaries
from verifier.gate.junit import write_junit
from verifier.pipeline.run import RunResult
from verifier.pipeline.store import ChainStore
from verifier.rewards.pairs import write_pairs
from verifier.schema import ChainRecord


def _records(result: RunResult) -> list[ChainRecord]:
    wanted = set(result.summary["per_problem"])
    return [r for r in ChainStore(result.out_dir / "chains.jsonl").load() if r.problem_id in wanted]


def after_run(
    result: RunResult,
    *,
    baseline: dict[str, Any] | None,
    max_drop: float,
    junit: Path | None,
    pairs: Path | None,
    suite: str = "verify",
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """Write the requested reports; the exit code: 1 when the gate fails (a regression against the
    baseline, a problem left unchecked, nothing compared), else 0."""
    comparison = compare_summaries(baseline, result.summary, max_drop=max_drop) if baseline else None
    records = _records(result) if (junit or pairs) else []
    if pairs is not None:
        n = write_pairs(pairs, records)
        say(f"wrote {n} preference pairs to {pairs}")
    if junit is not None:
        write_junit(junit, result.summary, records, suite=suite, comparison=comparison)
        say(f"wrote JUnit report to {junit}")
    if comparison is None:
        return 0
    for line in comparison.lines():
        (say if comparison.ok else warn)(line)
    return 0 if comparison.ok else 1
