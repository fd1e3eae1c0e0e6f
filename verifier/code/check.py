"""``check_code``: extract the program from a completion, run all its tests in one sandbox job, judge.

Without an explicit ``sandbox``, a shared warm pool is started on first use and closed at exit.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from sandboxes.pool import Sandbox, SandboxPool
from sandboxes.protocol import Job, JobResult
from sandboxes.worker import InfraError
from verifier.code.extract import DEFAULT_EXTRACTION, CodeExtraction, extract_code
from verifier.code.judge import judge
from verifier.code.program import job_for
from verifier.code.verdict import CodeStatus, CodeVerdict
from verifier.endtext import strip_end_tokens
from verifier.schema import CodeProblem

_default_pool: SandboxPool | None = None
_default_lock = threading.Lock()


def default_sandbox() -> SandboxPool:
    """The process-wide warm pool, started on first use (one container per core)."""
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            pool = SandboxPool().start()  # a runtime of choice: pass sandbox=SandboxPool(runtime=...)
            atexit.register(pool.close)
            _default_pool = pool
        return _default_pool


def as_problem(problem: CodeProblem | Mapping[str, Any]) -> CodeProblem:
    return problem if isinstance(problem, CodeProblem) else CodeProblem.model_validate(dict(problem))


def check_code(
    *,
    problem: CodeProblem | Mapping[str, Any],
    completion: str,
    extraction: CodeExtraction = DEFAULT_EXTRACTION,
    sandbox: Sandbox | None = None,
) -> CodeVerdict:
    """Verify a model's completion against a code problem's tests in the hardened sandbox."""
    return check_code_many([(problem, completion)], extraction=extraction, sandbox=sandbox)[0]


def check_code_many(
    items: Sequence[tuple[CodeProblem | Mapping[str, Any], str]],
    *,
    extraction: CodeExtraction = DEFAULT_EXTRACTION,
    sandbox: Sandbox | None = None,
    raw_code: bool = False,
) -> list[CodeVerdict]:
    """Many (problem, completion) pairs at once, run concurrently on the pool; order is kept.

    ``raw_code``: the completions are programs already (reference solutions), not model output.
    Never raises: a problem that does not validate, or a failure of our own while preparing or
    judging one item, is that item's ``sandbox_error`` verdict (undecided, never the answer's fault).
    """
    verdicts: list[CodeVerdict | None] = [None] * len(items)
    pending: list[tuple[int, CodeProblem, str, Job]] = []
    for i, (raw_problem, completion) in enumerate(items):
        if not isinstance(completion, str):  # a missing generation is the candidate's, not the bank's
            verdicts[i] = CodeVerdict(
                status=CodeStatus.NO_CODE, reason="the completion is not text", rule="not-text"
            )
            continue
        try:
            problem = as_problem(raw_problem)
            code = completion if raw_code else extract_code(strip_end_tokens(completion), extraction)
            if code is None:
                verdicts[i] = CodeVerdict(
                    status=CodeStatus.NO_CODE, reason="no code found in the completion", rule="extract"
                )
                continue
            pending.append((i, problem, code, job_for(problem, code)))
        except (ValidationError, TypeError, ValueError, AttributeError) as e:
            verdicts[i] = _undecided(
                f"cannot prepare the job: {type(e).__name__}: {str(e)[:500]}", "bad_input"
            )
    results = _run_all([job for *_, job in pending], sandbox)
    for (i, problem, code, _job), result in zip(pending, results, strict=True):
        try:
            verdicts[i] = judge(result, problem.tests, code)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError) as e:
            verdicts[i] = _undecided(
                f"cannot judge the sandbox's report: {type(e).__name__}: {e}", "judge_error"
            )
    return [v if v is not None else _undecided("no verdict", "internal") for v in verdicts]


def _run_all(jobs: list[Job], sandbox: Sandbox | None) -> list[JobResult]:
    if not jobs:
        return []
    try:
        box = sandbox or default_sandbox()
        results = box.run_many(jobs)
    except InfraError as e:
        return [JobResult(outcome="sandbox_error", error=str(e), attempts=0)] * len(jobs)
    if len(results) != len(jobs):
        failed = JobResult(outcome="sandbox_error", error=f"{len(results)} results for {len(jobs)} jobs")
        return [failed] * len(jobs)
    return results


def _undecided(reason: str, rule: str) -> CodeVerdict:
    return CodeVerdict(status=CodeStatus.SANDBOX_ERROR, reason=reason[:1000], rule=rule)
