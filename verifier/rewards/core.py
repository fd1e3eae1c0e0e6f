"""The reward core: one verdict per (problem, completion), as a score in [0, 1] or None.

Math items of one problem are checked together (``check_math_many`` parses the gold once and
compares each distinct answer once); code items run one sandbox job each. All of them run
concurrently in threads (math waits on the checker's process pool, code on the sandbox pool) under
one deadline for the whole batch: what is not finished by then is *missing* (None), never 0.

Starting the checker is not charged to that deadline: the sandbox pool is started before it begins,
and it does not run while math workers start (``MathPool.budget``), so the first batch of a fresh
process (verl's prime manager makes a new process pool per batch) is scored like any other.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from functools import partial
from typing import Any

from verifier.endtext import strip_end_tokens
from verifier.math import MathPool, MathVerdict, iter_check_math_many
from verifier.math.pool import Budget, default_pool
from verifier.rewards.inputs import AnyProblem, as_problem, completion_text
from verifier.rewards.result import Missing, RewardResult, missing_result
from verifier.rewards.stats import STATS
from verifier.schema import CodeProblem, MathProblem
from verifier.verdicts import Cause, judge

log = logging.getLogger("verifier.rewards")

# Well under the trainers' own limits (OpenRLHF's HTTP timeout 180 s, verl prime 300 s; TRL has none).
DEFAULT_DEADLINE_S = 60.0
# The most one symbolic comparison may take; shortened to what is left of the batch deadline.
MATH_TIMEOUT_S = 5.0
DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class RewardOptions:
    """How completions are scored. ``partial_credit``: a code reward is the fraction of tests passed
    (1.0 only if all pass either way). ``require_anchor``: only an anchored math answer counts."""

    deadline_s: float = DEFAULT_DEADLINE_S
    partial_credit: bool = False
    require_anchor: bool = True
    workers: int = DEFAULT_WORKERS
    math_pool: MathPool | None = None
    sandbox: Any = None  # a sandboxes.pool.Sandbox; None = the process-wide warm pool
    # Special tokens to strip from the end of completions besides the common chat templates' own
    # (verifier.endtext), e.g. ``verifier.endtext.tokens_of(tokenizer)``.
    end_tokens: tuple[str, ...] = ()
    # The most waiting for math workers to start that is left out of ``deadline_s`` (None: the pool's
    # start_timeout_s, 180 s). A caller behind a client timeout bounds it: ``verify serve`` answers
    # within deadline_s + this.
    max_startup_pause_s: float | None = None


_MISSING = {
    Cause.INFRASTRUCTURE: Missing.INFRA,
    Cause.DEADLINE: Missing.DEADLINE,
    Cause.REFERENCE: Missing.REFERENCE,
}


def _missing(kind: str, status: str, rule: str | None) -> Missing | None:
    """Why the reward is missing (``verifier.verdicts`` decides), None when the verdict is decided."""
    judgement = judge(kind, status, rule)
    return None if judgement.cause is None else _MISSING[judgement.cause]


def math_reward(verdict: MathVerdict) -> RewardResult:
    status = verdict.status.value
    missing = _missing("math", status, verdict.rule)
    score = None if missing else float(verdict.correct)
    return RewardResult(score, status, verdict.reason, "math", verdict.extracted, verdict.rule, missing)


def code_reward(verdict: Any, *, partial_credit: bool) -> RewardResult:
    status, rule = verdict.status.value, verdict.rule or None
    missing = _missing("code", status, rule)
    score: float | None
    if missing is not None:
        score = None
    elif verdict.correct:
        score = 1.0
    elif partial_credit and verdict.tests:
        score = sum(t.passed for t in verdict.tests) / len(verdict.tests)
    else:
        score = 0.0
    return RewardResult(score, status, verdict.reason, "code", verdict.extracted, rule, missing)


def _math_task(
    problem: MathProblem,
    texts: list[str],
    opts: RewardOptions,
    pool: MathPool,
    budget: Budget,
    done: list[RewardResult | None],
) -> Callable[[], list[RewardResult]]:
    """All completions of one problem (each distinct answer compared once). Each comparison gets
    what is left of the batch's budget, and each result goes to ``done`` (one slot per completion)
    as soon as it is known, those the in-process stages decide first: one slow answer of a group
    leaves the group's other, decided rewards in place at the deadline."""

    def run() -> list[RewardResult]:
        verdicts = iter_check_math_many(
            gold=problem.answer,
            preds=texts,
            require_anchor=opts.require_anchor,
            timeout_s=MATH_TIMEOUT_S,
            pool=pool,
            budget=budget,
        )
        for n, verdict in verdicts:
            done[n] = math_reward(verdict)  # one store: the caller may read it at the deadline
        return [r for r in done if r is not None]

    return run


def _code_task(problem: CodeProblem, text: str, opts: RewardOptions) -> Callable[[], list[RewardResult]]:
    def run() -> list[RewardResult]:
        from verifier.code import check_code  # lazily: math-only callers never import docker

        verdict = check_code(problem=problem, completion=text, sandbox=opts.sandbox)
        return [code_reward(verdict, partial_credit=opts.partial_credit)]

    return run


def _start_sandbox() -> None:
    """Start the process-wide sandbox pool before the batch's deadline begins (its containers take
    seconds to start). A failure is left to the checks, which report it per item (sandbox_error)."""
    from sandboxes.worker import InfraError
    from verifier.code import default_sandbox  # lazily: math-only callers never import docker

    try:
        default_sandbox()
    except InfraError as e:
        log.warning("the sandbox pool cannot start: %s", e)


def _guarded(task: Callable[[], list[RewardResult]], kind: str, n: int) -> list[RewardResult]:
    """Run a task; an unexpected exception is an infrastructure failure of those items, logged."""
    try:
        return task()
    except Exception as e:  # noqa: BLE001 - counted and logged as missing rewards, never swallowed
        log.exception("reward check failed (%s, %d items)", kind, n)
        return [missing_result(kind, Missing.INFRA, f"checker failed: {type(e).__name__}: {e}")] * n


def _run_in_daemon_threads(
    calls: list[Callable[[], list[RewardResult]]], threads: int
) -> list[Future[list[RewardResult]]]:
    """Run calls on ``threads`` daemon threads. Not a ThreadPoolExecutor: its threads are joined at
    interpreter exit, so one check hung past the deadline (an unreachable engine) would keep the
    trainer's process from exiting. A check still running at the deadline is left to finish alone."""
    futures: list[Future[list[RewardResult]]] = [Future() for _ in calls]
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(calls)):
        todo.put(i)

    def work() -> None:
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            if futures[i].set_running_or_notify_cancel():
                futures[i].set_result(calls[i]())

    for n in range(threads):
        threading.Thread(target=work, name=f"reward-{n}", daemon=True).start()
    return futures


def score_batch(
    items: Sequence[tuple[Any, Any]],
    *,
    options: RewardOptions | None = None,
    bank: Mapping[str, AnyProblem] | None = None,
) -> list[RewardResult]:
    """Score (problem, completion) pairs, in order, within ``options.deadline_s`` for the whole batch.

    ``problem``: a gold answer, a problem record or a bank id (see ``inputs.as_problem``);
    ``completion``: text or chat messages. Raises ``BadInput`` for references or completions that
    cannot be read (the caller's bug, not the model's).
    """
    opts = options or RewardOptions()
    problems = [as_problem(p, bank=bank) for p, _ in items]
    texts = [strip_end_tokens(completion_text(c), opts.end_tokens) for _, c in items]
    if opts.sandbox is None and any(isinstance(p, CodeProblem) for p in problems):
        _start_sandbox()
    pool = opts.math_pool or default_pool()
    # From here on; not running while math workers start (up to max_startup_pause_s of that).
    budget = pool.budget(opts.deadline_s, max_pause_s=opts.max_startup_pause_s)

    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    # (indexes, kind, task, the results it has finished so far: one slot per index)
    tasks: list[tuple[list[int], str, Callable[[], list[RewardResult]], list[RewardResult | None]]] = []
    for i, problem in enumerate(problems):
        if isinstance(problem, MathProblem):
            groups[(problem.answer, problem.id)].append(i)
        else:
            tasks.append(([i], "code", _code_task(problem, texts[i], opts), [None]))
    for indexes in groups.values():
        problem = problems[indexes[0]]
        assert isinstance(problem, MathProblem)
        done: list[RewardResult | None] = [None] * len(indexes)
        math = _math_task(problem, [texts[i] for i in indexes], opts, pool, budget, done)
        tasks.append((indexes, "math", math, done))

    results: list[RewardResult | None] = [None] * len(items)
    if tasks:
        futures = _run_in_daemon_threads(
            [partial(_guarded, task, kind, len(idx)) for idx, kind, task, _ in tasks],
            min(opts.workers, len(tasks)),
        )
        pending = set(futures)
        while pending and (remaining := budget.remaining()) > 0:
            _, pending = wait(pending, timeout=remaining)
        for future, (idx, kind, _task, done) in zip(futures, tasks, strict=True):
            if future not in pending:
                for i, r in zip(idx, future.result(), strict=True):
                    results[i] = r
            else:
                future.cancel()
                finished = done[:]  # a snapshot: the task may still be filling it
                late = f"not checked within {opts.deadline_s:g} s"
                for i, got in zip(idx, finished, strict=True):
                    results[i] = missing_result(kind, Missing.DEADLINE, late) if got is None else got
    final = [r for r in results if r is not None]
    assert len(final) == len(items)
    _account(final)
    return final


def _account(results: list[RewardResult]) -> None:
    STATS.add(results)
    missing = Counter(f"{r.missing.value}/{r.status}" for r in results if r.missing is not None)
    if missing:
        shown = ", ".join(f"{k} {v}" for k, v in sorted(missing.items()))
        log.warning("%d of %d rewards missing (None, not 0): %s", sum(missing.values()), len(results), shown)


async def score_batch_async(
    items: Sequence[tuple[Any, Any]],
    *,
    options: RewardOptions | None = None,
    bank: Mapping[str, AnyProblem] | None = None,
) -> list[RewardResult]:
    """``score_batch`` without blocking the event loop."""
    return await asyncio.to_thread(score_batch, items, options=options, bank=bank)


def score(
    *,
    problem: Any,
    completion: Any,
    options: RewardOptions | None = None,
    bank: Mapping[str, AnyProblem] | None = None,
) -> RewardResult:
    """Score one completion: 1.0 correct, 0.0 not, None when the checker could not decide in time."""
    return score_batch([(problem, completion)], options=options, bank=bank)[0]
