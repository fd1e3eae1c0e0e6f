"""``check_code``: extract the program from a completion, run all its tests in one sandbox job, judge.

Without an explicit ``sandbox``, a shared warm pool is started on first use and closed at exit.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

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
            # VERIFIER_SANDBOX_RUNTIME=runsc runs the pool under gVisor where it is installed.
            pool = SandboxPool(runtime=os.environ.get("VERIFIER_SANDBOX_RUNTIME") or None).start()
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
    """
    problems = [as_problem(p) for p, _ in items]
    codes = [c if raw_code else extract_code(strip_end_tokens(c), extraction) for _, c in items]
    pending = [
        (i, job_for(p, c)) for i, (p, c) in enumerate(zip(problems, codes, strict=True)) if c is not None
    ]
    results: dict[int, JobResult] = {}
    if pending:
        try:
            box = sandbox or default_sandbox()
        except InfraError as e:
            failed = JobResult(outcome="sandbox_error", error=str(e), attempts=0)
            results = {i: failed for i, _ in pending}
        else:
            jobs: list[Job] = [job for _, job in pending]
            results = dict(zip((i for i, _ in pending), box.run_many(jobs), strict=True))
    verdicts = []
    for i, (problem, code) in enumerate(zip(problems, codes, strict=True)):
        if code is None:
            verdicts.append(
                CodeVerdict(
                    status=CodeStatus.NO_CODE, reason="no code found in the completion", rule="extract"
                )
            )
        else:
            verdicts.append(judge(results[i], problem.tests, code))
    return verdicts
