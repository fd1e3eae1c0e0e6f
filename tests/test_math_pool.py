"""The worker pool: concurrency gives the sequential verdicts, pathological inputs come back as
TIMEOUT/UNPARSEABLE (never a hang, never "correct"), workers are replaced and cleaned up."""

from __future__ import annotations

import asyncio
import errno
import queue
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from verifier.math import MathPool, MathStatus, check_math, check_math_many

MIXED = [
    ("18", "so 18.\n#### 18"),
    ("18", "#### 17"),
    (r"2\sqrt{2}", r"\boxed{\sqrt{8}}"),
    (r"2\sqrt{2}", r"\boxed{\sqrt{6}}"),
    (r"\frac{1}{3}", r"\boxed{0.333333}"),
    ("4a-2", r"\boxed{2(2a-1)}"),
    (r"(-\infty, 1) \cup (2, \infty)", r"\boxed{(2, \infty) \cup (-\infty, 1)}"),
    (r"\{1, 2\}", r"\boxed{\{2, 1\}}"),
    ("5", "no answer in sight"),
    (
        r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}",
        r"\boxed{\begin{pmatrix} \frac{2}{2} \\ \sqrt{4} \end{pmatrix}}",
    ),
]


@pytest.fixture(scope="module")
def pool():
    with MathPool(workers=2) as p:
        yield p


@pytest.mark.timeout(300)
def test_200_calls_from_16_threads_match_sequential(pool: MathPool) -> None:
    pairs = [MIXED[i % len(MIXED)] for i in range(200)]
    sequential = [check_math(gold=g, pred=p, pool=pool) for g, p in pairs]
    with ThreadPoolExecutor(max_workers=16) as ex:
        concurrent = list(ex.map(lambda gp: check_math(gold=gp[0], pred=gp[1], pool=pool), pairs))
    assert concurrent == sequential
    assert {v.status for v in sequential} == {MathStatus.CORRECT, MathStatus.WRONG, MathStatus.NO_ANSWER}


@pytest.mark.timeout(120)
def test_asyncio_tasks_match_sequential(pool: MathPool) -> None:
    async def run() -> list:
        return await asyncio.gather(
            *(asyncio.to_thread(check_math, gold=g, pred=p, pool=pool) for g, p in MIXED)
        )

    assert asyncio.run(run()) == [check_math(gold=g, pred=p, pool=pool) for g, p in MIXED]


PATHOLOGICAL = [
    r"\boxed{9^{9^9}}",
    r"\boxed{2^{2^{2^{2^{2^{2}}}}}}",
    r"\boxed{10^{10^{10}}}",
    r"\boxed{1000000!}",
    r"\boxed{(10^{100})!}",
    "\\boxed{" + "{" * 25_000 + "1" + "}" * 25_000 + "}",
    "\\boxed{" * 8_000 + "1" + "}" * 8_000,
    "\\boxed{" + "1+" * 20_000 + "1}",
    r"\boxed{\prod_{k=1}^{100000} (1+x^k)}",
    r"\boxed{(x+1)^{100000}}",
    "#### " + "9" * 5_000,
    "#### x " * 40_000,  # a quadratic regex would take minutes here
    "the answer is " * 20_000,  # 20,000 anchors: only the last few are compared, on one budget
    "".join(f"\\boxed{{x^{{{i}}}+\\sqrt{{{i}}}}}" for i in range(300)),
]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("pred", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_inputs_are_refused_or_timed_out(pred: str, pool: MathPool) -> None:
    verdict = check_math(gold="5", pred=pred, pool=pool, timeout_s=1.0)
    assert verdict.status in {
        MathStatus.TIMEOUT,
        MathStatus.UNPARSEABLE,
        MathStatus.WRONG,
        MathStatus.NO_ANSWER,
    }, verdict
    assert verdict.reason


@pytest.mark.timeout(120)
def test_worker_killed_at_deadline_is_replaced() -> None:
    with MathPool(workers=1).start() as pool:
        slow = pool.run({"op": "spin", "seconds": "30"}, timeout_s=0.5)
        assert slow.status is MathStatus.TIMEOUT and pool.timeouts == 1
        after = check_math(gold=r"2\sqrt{2}", pred=r"\boxed{\sqrt{8}}", pool=pool)
        assert after.status is MathStatus.CORRECT


@pytest.mark.timeout(120)
def test_busy_pool_gives_timeout_not_an_endless_wait() -> None:
    import threading
    import time

    with MathPool(workers=1).start() as pool:
        busy = threading.Thread(
            target=pool.run, args=({"op": "sleep", "seconds": "5"},), kwargs={"timeout_s": 30}
        )
        busy.start()
        while pool._idle.qsize():  # until the sleeper holds the only worker
            time.sleep(0.01)
        waiting = check_math(gold=r"2\sqrt{2}", pred=r"\boxed{\sqrt{8}}", pool=pool, timeout_s=0.3)
        busy.join()
    assert waiting.status is MathStatus.TIMEOUT and "no free worker" in waiting.reason


@pytest.mark.timeout(120)
def test_memory_cap_failure_is_an_error_not_a_wrong_answer() -> None:
    with MathPool(workers=1, memory_mb=30) as pool:  # too small even to import SymPy
        verdict = check_math(gold=r"2\sqrt{2}", pred=r"\boxed{\sqrt{8}}", pool=pool)
        assert verdict.status is MathStatus.ERROR and "worker" in verdict.reason


def test_cheap_stages_never_start_the_pool() -> None:
    pool = MathPool(workers=1)
    assert check_math(gold="18", pred="#### 18.00", pool=pool).correct
    assert check_math(gold="1/3", pred=r"\boxed{0.33}", pool=pool).status is MathStatus.WRONG
    assert not pool._all  # no worker process was ever started
    pool.close()


@pytest.mark.timeout(120)
def test_close_kills_workers() -> None:
    with MathPool(workers=2) as pool:
        check_math(gold=r"2\sqrt{2}", pred=r"\boxed{\sqrt{8}}", pool=pool)
        procs = [w.proc for w in pool._all]
    assert procs and all(p.poll() is not None for p in procs)
    with pytest.raises(RuntimeError):
        pool.compare("1", "1", timeout_s=1)


@pytest.mark.timeout(120)
def test_close_during_a_task_gives_error_and_starts_nothing() -> None:
    import threading
    import time

    pool = MathPool(workers=1).start()
    out = []
    worker = threading.Thread(
        target=lambda: out.append(pool.run({"op": "sleep", "seconds": "30"}, timeout_s=60))
    )
    worker.start()
    time.sleep(0.3)
    pool.close()
    worker.join()
    assert out[0].status is MathStatus.ERROR and pool._all == []


@pytest.mark.timeout(120)
def test_many_equals_one_by_one(pool: MathPool) -> None:
    preds = [r"\boxed{\sqrt{8}}", r"\boxed{2\sqrt{2}}", r"\boxed{\sqrt{8}}", "nothing", r"\boxed{3}"]
    many = check_math_many(gold=r"2\sqrt{2}", preds=preds, pool=pool)
    assert many == [check_math(gold=r"2\sqrt{2}", pred=p, pool=pool) for p in preds]
    assert [v.correct for v in many] == [True, True, True, False, False]


def test_verdict_is_picklable_and_empty_gold_is_an_error() -> None:
    import pickle

    verdict = check_math(gold="", pred="#### 5")
    assert verdict.status is MathStatus.ERROR
    missing = check_math(gold="5", pred=None)  # type: ignore[arg-type]
    assert (missing.status, missing.rule) == (MathStatus.NO_ANSWER, "not-text")  # not the bank's bug
    assert pickle.loads(pickle.dumps(verdict)) == verdict


@pytest.mark.timeout(120)
def test_workers_die_with_their_parent(tmp_path) -> None:
    """kill -9 of the process that owns the pool, while a worker is busy: the worker goes too."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "from verifier.math import MathPool\n"
        "pool = MathPool(workers=1).start()\n"
        "print(pool._all[0].proc.pid, flush=True)\n"
        "pool.run({'op': 'sleep', 'seconds': '100'}, timeout_s=200)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    worker_pid = int(owner.stdout.readline())
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    for _ in range(300):  # the worker checks its parent every second
        try:
            with open(f"/proc/{worker_pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return  # exited; only waiting for its new parent to reap it
        except FileNotFoundError:
            return
        time.sleep(0.1)
    pytest.fail(f"worker {worker_pid} outlived its parent")


class _CountingQueue(queue.Queue):
    """The pool's idle queue, counting callers that have reached it (to order a test without sleeps)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Semaphore(0)

    def get(self, block: bool = True, timeout: float | None = None):  # type: ignore[no-untyped-def]
        self.arrived.release()
        return super().get(block, timeout)


@pytest.mark.timeout(120)
def test_close_while_tasks_run_and_wait_gives_each_an_error_decision() -> None:
    """Regression: close() during another thread's run() raised ValueError in that thread."""
    pool = MathPool(workers=1)
    pool._idle = _CountingQueue()
    pool.start()
    arrived = pool._idle.arrived
    while arrived.acquire(blocking=False):  # start() borrowed every worker once
        pass
    out: list = []

    def sleeper() -> None:
        out.append(pool.run({"op": "sleep", "seconds": "60"}, timeout_s=120))

    threads = [threading.Thread(target=sleeper) for _ in range(3)]
    for t in threads:
        t.start()
        assert arrived.acquire(timeout=30)  # this caller holds the worker or waits for it
    closers = [threading.Thread(target=pool.close) for _ in range(2)]
    for t in closers:
        t.start()
    for t in closers + threads:
        t.join(timeout=60)
        assert not t.is_alive()
    pool.close()  # idempotent
    assert [(d.status, d.rule) for d in out] == [(MathStatus.ERROR, "closed")] * 3
    assert all("closed" in d.reason for d in out)
    assert pool._all == [] and pool.crashes == 0


@pytest.mark.timeout(120)
def test_a_worker_that_died_between_tasks_gives_an_error_then_is_replaced() -> None:
    """Regression: closing the dead worker's stdin re-raised BrokenPipeError out of run()."""
    import os
    import signal

    with MathPool(workers=1).start() as pool:
        dead = pool._all[0].proc
        os.kill(dead.pid, signal.SIGKILL)
        dead.wait()
        failed = pool.compare(r"2\sqrt{2}", r"\sqrt{8}", timeout_s=30)
        assert failed.status is MathStatus.ERROR and "worker failed" in failed.reason
        assert pool.compare(r"2\sqrt{2}", r"\sqrt{8}", timeout_s=30).status is MathStatus.CORRECT


def _never_ready(memory_mb: int) -> list[str]:
    """A worker command whose process starts but never says it is ready (a very slow start)."""
    return [sys.executable, "-c", "import time; time.sleep(120)"]


def _slow_start(memory_mb: int) -> list[str]:
    """The real worker, after a 3 s start (a loaded machine importing SymPy)."""
    run = "import runpy, sys, time; time.sleep(3); runpy.run_module('verifier.math.worker', run_name='__main__')"
    return [sys.executable, "-c", run, str(memory_mb)]


@pytest.mark.timeout(120)
def test_starting_a_worker_is_not_charged_to_the_answers_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (verl prime: a fresh process per batch): a correct answer that needs SymPy timed out
    while the worker was still starting. The start is waited for (up to start_timeout_s), then the
    task gets its whole timeout_s; a caller queued meanwhile is not charged for the start either."""
    monkeypatch.setattr("verifier.math.pool._worker_command", _slow_start)
    with MathPool(workers=1, start_timeout_s=60) as pool, ThreadPoolExecutor(2) as threads:
        first = threads.submit(check_math, gold="2", pred=r"\boxed{\sqrt{4}}", pool=pool, timeout_s=1.0)
        while not pool._all:  # the first caller has made its slot: the second queues behind it
            time.sleep(0.01)
        queued = threads.submit(
            check_math, gold=r"2\sqrt{2}", pred=r"\boxed{\sqrt{8}}", pool=pool, timeout_s=2.0
        )
        assert first.result().correct, first.result()
        assert queued.result().correct, queued.result()
        assert pool.startup_wait_s() >= 3.0  # the start was waited for, outside both deadlines
        assert len(pool._all) == 1 and pool.crashes == 0 and pool.timeouts == 0


@pytest.mark.timeout(120)
def test_the_deadline_is_the_workers_cpu_time_with_a_wall_clock_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker waiting for a CPU (here: asleep, using none) is not charged for the wait; one that
    computes past timeout_s is killed; wall time is capped all the same."""
    monkeypatch.setattr("verifier.math.pool.WALL_SLACK_S", 1.0)
    with MathPool(workers=1).start() as pool:
        waited = pool.run({"op": "sleep", "seconds": "1.5"}, timeout_s=0.5)
        assert (waited.status, waited.rule) == (MathStatus.CORRECT, "sleep"), waited
        began = time.monotonic()
        spun = pool.run({"op": "spin", "seconds": "30"}, timeout_s=0.5)
        assert (spun.status, spun.rule) == (MathStatus.TIMEOUT, "deadline"), spun
        assert time.monotonic() - began < 6.0  # killed at 0.5 s of CPU, long before 30 s
        capped = pool.run({"op": "sleep", "seconds": "60"}, timeout_s=0.1)  # cap: 0.1 * WALL_FACTOR + 1 s
        assert (capped.status, capped.rule) == (MathStatus.TIMEOUT, "deadline"), capped
        assert pool.timeouts == 2
        assert pool._all[0].cpu_seconds() is not None


def test_a_budget_does_not_run_while_workers_start() -> None:
    pool = MathPool(workers=1)
    budget = pool.budget(1.0)
    with pool._startup.waiting():
        time.sleep(0.3)
        with pool._startup.waiting():  # two waiters at once count once
            time.sleep(0.2)
    assert 0.45 <= budget.paused() < 1.0
    assert budget.remaining() > 0.9
    capped = MathPool(workers=1, start_timeout_s=0.1).budget(1.0)
    with capped._clock.waiting():  # type: ignore[attr-defined]
        time.sleep(0.3)
    assert capped.paused() == pytest.approx(0.1)  # at most start_timeout_s is left out


@pytest.mark.timeout(120)
def test_workers_start_on_demand() -> None:
    """A short-lived process that checks one answer at a time starts one worker, not ``size``."""
    with MathPool(workers=4) as pool:
        for _ in range(3):
            assert check_math(gold=r"2\sqrt{2}", pred=r"\boxed{\sqrt{8}}", pool=pool, timeout_s=60).correct
        assert len(pool._all) == 1
        pool.start()
        assert len(pool._all) == 4 and all(w.ready for w in pool._all)


@pytest.mark.timeout(120)
def test_a_respawned_worker_warms_up_within_the_callers_deadline() -> None:
    """One call times out (worker killed and respawned); the next call with a short deadline waits
    for the respawned worker's start outside its deadline, then is decided."""
    with MathPool(workers=1).start() as pool:
        slow = pool.run({"op": "spin", "seconds": "30"}, timeout_s=0.5)
        assert (slow.status, slow.rule) == (MathStatus.TIMEOUT, "deadline")
        quick = pool.compare(r"2\sqrt{2}", r"\sqrt{8}", timeout_s=0.5)
        assert (quick.status, quick.rule) == (MathStatus.CORRECT, "symbolic"), quick
        assert pool.compare(r"2\sqrt{2}", r"\sqrt{8}", timeout_s=60).status is MathStatus.CORRECT
        assert pool.timeouts == 1 and pool.crashes == 0


@pytest.mark.timeout(120)
def test_a_worker_never_ready_within_start_timeout_is_an_error_and_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("verifier.math.pool._worker_command", _never_ready)
    with MathPool(workers=1, start_timeout_s=1) as pool:
        verdict = pool.compare(r"2\sqrt{2}", r"\sqrt{8}", timeout_s=60)
        assert (verdict.status, verdict.rule) == (MathStatus.ERROR, "worker-start"), verdict
        assert "did not start" in verdict.reason and pool.crashes == 1


def _popen_fails(error: BaseException):  # type: ignore[no-untyped-def]
    """A stand-in for subprocess.Popen that cannot start anything."""

    def popen(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise error

    return popen


EMFILE = OSError(errno.EMFILE, "Too many open files")  # no descriptors left for the pipes
START_FAILURES = [
    EMFILE,
    BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable"),  # fork refused
    subprocess.SubprocessError("Exception occurred in preexec_fn."),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("error", START_FAILURES, ids=["emfile", "fork", "subprocess"])
def test_a_worker_process_that_cannot_start_gives_an_error_decision(
    error: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: an OSError from starting a worker process escaped run() and check_math()."""
    monkeypatch.setattr("verifier.math.pool.subprocess.Popen", _popen_fails(error))
    with MathPool(workers=1) as pool:
        assert pool.start() is pool  # start() reports through run(), it does not raise
        verdict = check_math(gold=r"2\sqrt{2}", pred=r"\boxed{\sqrt{8}}", pool=pool)
        assert (verdict.status, verdict.rule) == (MathStatus.ERROR, "worker-start"), verdict
        assert str(error) in verdict.reason and "cannot start a worker process" in verdict.reason
        assert pool.crashes == 2  # start()'s launch, this call's retry of the empty slot
        monkeypatch.undo()  # the machine recovers: the empty slot is started by the next borrower
        assert check_math(gold=r"2\sqrt{2}", pred=r"\boxed{\sqrt{8}}", pool=pool, timeout_s=60).correct


@pytest.mark.timeout(120)
def test_a_failed_respawn_after_a_timeout_or_a_crash_is_a_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal

    with MathPool(workers=1).start() as pool:
        monkeypatch.setattr("verifier.math.pool.subprocess.Popen", _popen_fails(EMFILE))
        slow = pool.run({"op": "spin", "seconds": "30"}, timeout_s=0.5)  # killed; its respawn fails
        assert (slow.status, slow.rule) == (MathStatus.TIMEOUT, "deadline")
        failed = pool.compare(r"2\sqrt{2}", r"\sqrt{8}", timeout_s=5)
        assert (failed.status, failed.rule) == (MathStatus.ERROR, "worker-start")
        assert pool.crashes == 2
        monkeypatch.undo()
        assert pool.compare(r"2\sqrt{2}", r"\sqrt{8}", timeout_s=60).status is MathStatus.CORRECT

        dead = pool._all[0].proc
        os.kill(dead.pid, signal.SIGKILL)  # a crash whose replacement cannot be started either
        dead.wait()
        monkeypatch.setattr("verifier.math.pool.subprocess.Popen", _popen_fails(EMFILE))
        crashed = pool.compare(r"2\sqrt{2}", r"\sqrt{8}", timeout_s=5)
        assert (crashed.status, crashed.rule) == (MathStatus.ERROR, "worker")  # the crash, reported
        assert "worker failed" in crashed.reason
        assert pool.crashes == 4
        monkeypatch.undo()
        assert pool.compare(r"2\sqrt{2}", r"\sqrt{8}", timeout_s=60).status is MathStatus.CORRECT
