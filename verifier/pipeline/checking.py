"""Check one completion of one problem with the checker for its kind, as a VerdictRecord.

The checkers run on the run's own pools (``Resources``): math on its SymPy worker pool, code in its
Docker sandbox pool.
"""

from __future__ import annotations

import time
from typing import Any

from verifier.math import check_math
from verifier.pipeline.units import Produced
from verifier.resources import Resources
from verifier.schema import ChainRecord, CodeProblem, MathProblem, VerdictRecord


def _record(verdict: Any, details: dict[str, Any] | None = None) -> VerdictRecord:
    status = verdict.status
    return VerdictRecord(
        status=getattr(status, "value", str(status)),
        correct=bool(verdict.correct),
        extracted=getattr(verdict, "extracted", None),
        rule=getattr(verdict, "rule", None),
        reason=verdict.reason,
        details=details or {},
    )


def check_completion(
    problem: MathProblem | CodeProblem, completion: str, resources: Resources
) -> tuple[VerdictRecord, float]:
    """(verdict, seconds spent checking)."""
    t0 = time.perf_counter()
    if isinstance(problem, MathProblem):
        record = _record(check_math(gold=problem.answer, pred=completion, pool=resources.math_pool))
    else:
        from verifier.code import check_code  # imported lazily: math-only runs never import Docker

        verdict = check_code(problem=problem, completion=completion, sandbox=resources.sandbox())
        record = _record(verdict, verdict.details() if hasattr(verdict, "details") else None)
    return record, time.perf_counter() - t0


def chain_record(item: Produced, resources: Resources) -> ChainRecord:
    """Check a produced completion: the line chains.jsonl gets for its unit."""
    verdict, seconds = check_completion(item.unit.problem, item.completion, resources)
    return record_of(item, verdict, seconds)


def record_of(item: Produced, verdict: VerdictRecord, check_seconds: float = 0.0) -> ChainRecord:
    """The chains.jsonl line of a produced unit with its verdict."""
    return ChainRecord(
        problem_id=item.unit.problem.id,
        sample_index=item.unit.sample_index,
        kind=item.unit.problem.kind,
        seed=item.unit.seed,
        model=item.model,
        prompt=item.prompt,
        completion=item.completion,
        tokens=item.tokens,
        extracted=verdict.extracted,
        verdict=verdict,
        gen_seconds=round(item.gen_seconds, 4),
        check_seconds=round(check_seconds, 4),
        finish_reason=item.finish_reason,
        prompt_tokens=item.prompt_tokens,
    )
