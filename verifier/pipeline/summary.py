"""Summarise chain records: counts, pass@k, throughput. Pure: records in, a dict out."""

from __future__ import annotations

import platform
from collections import Counter, defaultdict
from importlib import metadata
from typing import Any

from verifier.pipeline.passk import mean_maj_curve, mean_pass_at_k, votes_by_problem
from verifier.schema import ChainRecord


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    dists = ("verifier", "torch", "transformers", "sympy", "latex2sympy2_extended", "pydantic", "docker")
    return {"python": platform.python_version(), **{d: _version(d) for d in dists}}


def per_problem(records: list[ChainRecord]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = defaultdict(lambda: {"samples": 0, "correct": 0, "infra_errors": 0})
    for r in records:
        row = table[r.problem_id]
        if r.infrastructure_failure:  # says nothing about the answer: counted, never scored as wrong
            if r.judgement().retryable:
                row["infra_errors"] += 1
            else:  # the bank's own bug (empty gold, broken tests): a key only where there is one
                row["bank_errors"] = row.get("bank_errors", 0) + 1
            continue
        row["samples"] += 1
        row["correct"] += int(r.verdict.correct)
    return dict(table)


def summarise(
    records: list[ChainRecord], *, problems: int, wall_seconds: float, run: dict[str, Any]
) -> dict[str, Any]:
    table = per_problem(records)
    counts = [(row["samples"], row["correct"]) for row in table.values()]
    n_max = max((n for n, _ in counts), default=0)
    generated = [r for r in records if r.seed is not None]
    gen_seconds = sum(r.gen_seconds for r in generated)
    tokens = sum(r.tokens for r in generated)
    pass_k = {str(k): mean_pass_at_k(counts, k) for k in range(1, n_max + 1)}
    maj_k = mean_maj_curve(votes_by_problem(records).values(), n_max)
    return {
        "problems": problems,
        "samples": len(records),
        "verified": sum(r.verdict.correct for r in records),
        "problems_with_verified": sum(1 for row in table.values() if row["correct"] > 0),
        "pass@1": pass_k.get("1"),
        "pass@k": pass_k,
        # majority vote over the extracted answers, same estimator as pass@k (see passk.py)
        "maj@k": {str(k): v for k, v in maj_k.items()},
        "status_counts": dict(Counter(r.verdict.status for r in records)),
        "infra_errors": sum(row["infra_errors"] for row in table.values()),
        "bank_errors": sum(row.get("bank_errors", 0) for row in table.values()),
        "tokens": tokens,
        "generation_seconds": round(gen_seconds, 3),
        "tokens_per_s": round(tokens / gen_seconds, 2) if gen_seconds > 0 else None,
        "check_seconds": round(sum(r.check_seconds for r in records), 3),
        "wall_seconds": round(wall_seconds, 3),
        "run": run,
        "versions": versions(),
        "per_problem": table,
    }
