"""What `verify --baseline/--junit/--pairs` do once a run has finished: report files and the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from verifier.cli.console import EXIT_FAILED, console, err_console
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
) -> int:
    """Write the requested reports; the exit code (1 on a regression against the baseline)."""
    comparison = compare_summaries(baseline, result.summary, max_drop=max_drop) if baseline else None
    records = _records(result) if (junit or pairs) else []
    if pairs is not None:
        n = write_pairs(pairs, records)
        console.print(f"wrote {n} preference pairs to {pairs}")
    if junit is not None:
        write_junit(junit, result.summary, records, suite=suite, comparison=comparison)
        console.print(f"wrote JUnit report to {junit}")
    if comparison is None:
        return 0
    for line in comparison.lines():
        (console if comparison.ok else err_console).print(line, markup=False, highlight=False)
    return 0 if comparison.ok else EXIT_FAILED
