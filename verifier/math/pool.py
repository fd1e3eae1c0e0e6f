"""A persistent pool of worker processes for the symbolic stage: deadline, memory cap, any thread.

Each worker is a ``python -m verifier.math.worker`` subprocess speaking JSON lines over pipes. A
caller borrows an idle worker (threads wait their turn on a queue), sends one task and waits for the
answer with ``select`` until the deadline. On expiry the worker is killed and a fresh one started in
its place; the caller gets a TIMEOUT decision. No signals are used, so any thread (and any asyncio
task, through ``asyncio.to_thread``) may call concurrently.

Workers start on demand: the first task starts one, and another is started only when every worker
is busy and the pool has room (so a short-lived process, such as a verl prime reward process,
starts one worker, not ``size``). ``start()`` starts them all now. ``close()`` (or leaving the
``with`` block, or interpreter exit for the default pool) kills them. ``close()`` may run while
other threads' tasks are in flight: those tasks get an ERROR decision ("the math pool was closed"),
callers waiting for a worker too.

A task's ``timeout_s`` is the CPU time its worker spends on it (wall time is capped at
``WALL_FACTOR`` times that plus ``WALL_SLACK_S``): a correct answer is not timed out because the
machine is busy (64 reward processes on a few cores).

Starting the checker is never charged to an answer: a task's ``timeout_s`` does not run while its
caller waits for a worker to start (importing SymPy takes seconds, far longer on a loaded machine),
nor while a caller queued for a free worker waits because others are starting. A start is bounded
separately, by ``start_timeout_s`` from the worker's launch: a worker not ready by then is killed
and replaced, and the call gets an ERROR decision, rule ``worker-start``. ``budget()`` gives callers
(the reward core) the same clock for deadlines of their own. A worker process that cannot be
started at all (no file descriptors left, fork refused) leaves its slot empty: the call gets an
ERROR decision, rule ``worker-start``, and the next borrower of the slot tries again.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from verifier.math.compare import Decision
from verifier.math.verdict import MathStatus

DEFAULT_MEMORY_MB = 1024
# A fresh worker imports SymPy and warms its parser (~1.5 s of CPU); 64 of them starting at once on
# two cores (verl prime's fresh process pool) take about a minute.
DEFAULT_START_TIMEOUT_S = 180.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# A task's timeout is the worker's CPU time (waiting for a CPU on a loaded machine is not the
# answer's doing); wall time is capped at this multiple of it, plus WALL_SLACK_S: a worker that gets
# under about a third of a CPU is stopped at 3x + 5 s (20 s for the 5 s default), an undecided
# TIMEOUT (rule ``deadline``), so that one comparison never holds a worker (and a reward) for a minute.
WALL_FACTOR = 3.0
WALL_SLACK_S = 5.0

log = logging.getLogger("verifier.math")


class _StartupClock:
    """How long callers have waited for workers to start: the union of the waits, so that two
    callers waiting at once count once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting = 0
        self._since = 0.0
        self._total = 0.0

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        with self._lock:
            if self._waiting == 0:
                self._since = time.monotonic()
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1
                if self._waiting == 0:
                    self._total += time.monotonic() - self._since

    def total(self) -> float:
        with self._lock:
            return self._total + (time.monotonic() - self._since if self._waiting else 0.0)


class Budget:
    """``seconds`` of checking time that do not run while callers wait for the pool's workers to
    start (at most ``max_pause_s`` of such waiting is left out)."""

    def __init__(self, seconds: float, clock: _StartupClock, max_pause_s: float):
        self.seconds = seconds
        self._clock = clock
        self._max_pause_s = max_pause_s
        self._began = time.monotonic()
        self._paused_before = clock.total()

    def paused(self) -> float:
        """Seconds of start-up waiting left out so far."""
        return min(self._clock.total() - self._paused_before, self._max_pause_s)

    def remaining(self) -> float:
        return self.seconds - (time.monotonic() - self._began - self.paused())


def _worker_command(memory_mb: int) -> list[str]:
    return [sys.executable, "-m", "verifier.math.worker", str(memory_mb)]


class _Worker:
    """One slot of the pool: its worker process (None until started, or after a failed start) and
    the bytes read from it so far."""

    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready = False
        self._buf = b""

    def launch(self) -> None:
        """Start the process. Raises OSError (or SubprocessError) when it cannot be started."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            _worker_command(self.memory_mb),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.started_at = time.monotonic()

    def send(self, message: dict[str, str]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def read(self, deadline: float) -> dict[str, str] | None:
        """The next message, None if the deadline passes first; EOFError if the worker died."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("worker exited")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        message: dict[str, str] = json.loads(line)
        return message

    def cpu_seconds(self) -> float | None:
        """CPU time the process has used (Linux /proc), None where it cannot be read."""
        if self.proc is None:
            return None
        try:
            with open(f"/proc/{self.proc.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return None
        # utime and stime, fields 14 and 15 of stat(5); ``fields`` starts at field 3.
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def kill(self) -> None:
        """Kill the process; any thread may, any number of times. The pipes stay open: the thread
        that holds the worker may be reading them, and a closed descriptor's number can be reused."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        """Kill the process and close its pipes: only by the thread that holds the worker."""
        if self.proc is None:
            return
        self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.proc.stdin is not None:
            # Closing flushes what a failed send left in the buffer, for a process that is gone.
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()


class MathPool:
    """Worker processes for the symbolic stage. Thread-safe; usable as a context manager."""

    def __init__(
        self,
        workers: int | None = None,
        *,
        memory_mb: int = DEFAULT_MEMORY_MB,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
    ):
        self.size = workers or max(1, min(4, os.cpu_count() or 1))
        self.memory_mb = memory_mb
        self.start_timeout_s = start_timeout_s
        # None in the queue: the pool is closed; each waiter that takes it puts it back for the next.
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._closed = False
        self._startup = _StartupClock()
        self._owner_pid = os.getpid()
        self.timeouts = 0  # workers killed at their deadline
        self.crashes = 0  # workers that died, failed to start, or whose process could not be started

    def __enter__(self) -> MathPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _spawn(self) -> _Worker:
        """A new slot with its process started (self._lock held); an empty slot if it cannot be."""
        worker = _Worker(self.memory_mb)
        self._all.append(worker)
        self._launch(worker)
        return worker

    def _launch(self, worker: _Worker) -> str | None:
        """Start ``worker``'s process (self._lock held); the cause, counted and logged, if it cannot."""
        try:
            worker.launch()
        except (OSError, subprocess.SubprocessError) as e:  # e.g. EMFILE, EAGAIN from fork
            self.crashes += 1
            cause = f"{type(e).__name__}: {e}"
            log.warning("math pool: cannot start a worker process (%s)", cause)
            return cause
        return None

    def _ensure_open(self) -> None:
        if self._closed:
            raise RuntimeError("the math pool is closed")

    def budget(self, seconds: float, *, max_pause_s: float | None = None) -> Budget:
        """A deadline ``seconds`` from now that does not run while callers wait for workers to start
        (at most ``max_pause_s`` of such waiting, default ``start_timeout_s``, is left out: a caller
        with a client's timeout of its own bounds it, so ``seconds + max_pause_s`` is its worst case)."""
        pause = (
            self.start_timeout_s if max_pause_s is None else max(0.0, min(max_pause_s, self.start_timeout_s))
        )
        return Budget(seconds, self._startup, pause)

    def startup_wait_s(self) -> float:
        """Seconds callers have waited for workers to start since the pool was made (union of waits)."""
        return self._startup.total()

    def start(self) -> MathPool:
        """Start every worker now and wait until each is ready (otherwise they start on demand)."""
        with self._lock:
            self._ensure_open()
            while len(self._all) < self.size:
                slot = _Worker(self.memory_mb)
                self._all.append(slot)
                self._launch(slot)
                self._idle.put(slot)
        borrowed: list[_Worker | None] = []
        try:
            for _ in range(self.size):
                got = self._idle.get()
                if got is None:  # closed meanwhile
                    self._idle.put(None)
                    break
                borrowed.append(got)
            for i, starting in enumerate(borrowed):
                if starting is None or starting.ready or starting.proc is None:
                    continue  # a start that failed (counted) is retried by the next borrower in run()
                try:
                    with self._startup.waiting():
                        self._await_ready(starting)
                except (EOFError, OSError, ValueError):
                    if not self._closed:
                        with self._lock:
                            self.crashes += 1
                    borrowed[i] = self._replace(starting)
        finally:
            for each in borrowed:
                self._give_back(each)
        return self

    def _await_ready(self, worker: _Worker) -> None:
        """Wait until ``worker`` says it is ready. EOFError if it died, or is not ready
        ``start_timeout_s`` after it was launched."""
        hello = worker.read(worker.started_at + self.start_timeout_s)
        if hello is None:
            raise EOFError(f"not ready within {self.start_timeout_s:g} s of its start")
        if not hello.get("ready"):
            raise EOFError(f"unexpected first message {hello!r}")
        worker.ready = True

    def _borrow(self, budget: Budget) -> _Worker | None | Decision:
        """An idle worker, a new slot (not launched yet) if all are busy and the pool has room, None
        if the pool was closed, or a TIMEOUT decision once ``budget`` runs out waiting for one."""
        while True:
            with self._lock:
                if self._closed:
                    return None
                if self._idle.empty() and len(self._all) < self.size:
                    worker = _Worker(self.memory_mb)
                    self._all.append(worker)
                    return worker
            remaining = budget.remaining()
            if remaining <= 0:
                return _no_free_worker(budget.seconds)
            try:
                got = self._idle.get(timeout=remaining)
            except queue.Empty:
                continue  # the budget grows while others wait for starting workers: look again
            if got is None:
                self._idle.put(None)  # for the next waiter
            return got

    def _replace(self, worker: _Worker) -> _Worker | None:
        """A fresh worker in place of ``worker``; None once the pool is closed (it starts nothing new)."""
        worker.close()
        with self._lock:
            if worker in self._all:  # close() may have taken the list already
                self._all.remove(worker)
            if self._closed:
                return None
            return self._spawn()

    def _give_back(self, worker: _Worker | None) -> None:
        """Return a borrowed worker to the idle queue, or close it if the pool was closed meanwhile."""
        if worker is None:
            return
        with self._lock:  # atomic with close() setting the flag, so close() drains whatever got in
            if not self._closed:
                self._idle.put(worker)
                return
        worker.close()

    def compare(self, gold: str, pred: str, *, timeout_s: float) -> Decision:
        """Run the full comparison of (gold, pred) in a worker, within ``timeout_s`` of work."""
        return self.run({"op": "compare", "gold": gold, "pred": pred}, timeout_s=timeout_s)

    def run(self, task: dict[str, str], *, timeout_s: float, wait_s: float | None = None) -> Decision:
        """Send one task (``compare``; ``spin`` and ``sleep`` for tests of the deadline) to a worker.

        ``timeout_s`` covers the wait for a free worker and the work (its worker's CPU time), not
        the wait for a worker to start (bounded by ``start_timeout_s``): the call returns TIMEOUT
        (rule ``deadline``) when it runs out. With ``wait_s``, the wait for a free worker has a
        budget of its own and the work gets all of ``timeout_s`` (a shared pool serving many
        processes: waiting for a turn is not the answer's doing). A worker that cannot be started,
        or is not ready in time, gives ERROR (rule ``worker-start``); one that dies gives ERROR
        (rule ``worker``). Never raises once the pool is open.
        """
        budget = self.budget(timeout_s if wait_s is None else wait_s)
        self._ensure_open()
        got = self._borrow(budget)
        if got is None:
            return _CLOSED
        if isinstance(got, Decision):
            return got
        borrowed = got
        worker: _Worker | None = borrowed
        stage = "worker-start"  # the rule of a failure: while starting, or once it is running
        try:
            if not borrowed.ready:
                with self._startup.waiting():  # not charged to this task, nor to others queued
                    if borrowed.proc is None:  # a new slot, or one whose last start failed
                        with self._lock:
                            cause = None if self._closed else self._launch(borrowed)
                        if self._closed:
                            return _CLOSED
                        if cause is not None:
                            return Decision(
                                MathStatus.ERROR, "worker-start", f"cannot start a worker process ({cause})"
                            )
                    self._await_ready(borrowed)
            remaining = budget.remaining() if wait_s is None else timeout_s
            if remaining <= 0:  # got one only at the deadline: leave it alive for others
                return _no_free_worker(timeout_s)
            stage = "worker"
            cpu_before = borrowed.cpu_seconds()
            borrowed.send(task)
            result = _await_result(borrowed, remaining, cpu_before)
            if result is None:
                with self._lock:
                    self.timeouts += 1
                worker = self._replace(borrowed)
                return Decision(
                    MathStatus.TIMEOUT, "deadline", f"no result within {timeout_s:g} s; worker killed"
                )
            status = MathStatus(result["status"])
            if status is MathStatus.ERROR and "memory limit" in result.get("reason", ""):
                worker = self._replace(borrowed)
            return Decision(status, result.get("rule") or "worker", result.get("reason", ""))
        except (EOFError, OSError, ValueError) as e:
            if self._closed:  # close() killed the worker under us: not the worker's fault
                return _CLOSED
            with self._lock:
                self.crashes += 1
            worker = self._replace(borrowed)
            what = "did not start" if stage == "worker-start" else "failed"
            return Decision(MathStatus.ERROR, stage, f"worker {what} ({type(e).__name__}: {e}); replaced")
        finally:
            self._give_back(worker)

    def close(self) -> None:
        """Kill every worker. Idempotent, and safe while other threads run tasks: a task in flight
        gets an ERROR decision, and so does a caller waiting for a worker."""
        with self._close_lock:  # a second close() returns once the first is done
            with self._lock:
                if self._closed:
                    return
                self._closed = True
                workers, self._all = self._all, []
            if os.getpid() != self._owner_pid:
                return  # a forked copy of this pool: the workers belong to the parent
            for worker in workers:
                worker.kill()  # a busy worker's pipes are closed by the thread that holds it
            while True:
                try:
                    idle = self._idle.get_nowait()
                except queue.Empty:
                    break
                if idle is not None:
                    idle.close()
            self._idle.put(None)  # wakes the callers waiting for a worker


def _await_result(worker: _Worker, cpu_s: float, cpu_before: float | None) -> dict[str, str] | None:
    """The worker's answer, or None once it has used ``cpu_s`` of CPU on the task, or
    ``cpu_s * WALL_FACTOR + WALL_SLACK_S`` of wall time passed. Waiting ``left`` wall seconds can
    never overshoot the CPU budget: a single-threaded worker uses at most one CPU second a second."""
    began = time.monotonic()
    wall_deadline = began + cpu_s * WALL_FACTOR + WALL_SLACK_S
    while True:
        now = time.monotonic()
        cpu_now = worker.cpu_seconds()
        used = now - began if cpu_before is None or cpu_now is None else cpu_now - cpu_before
        left = cpu_s - used
        if left <= 0 or now >= wall_deadline:
            return None
        result = worker.read(min(now + left, wall_deadline))
        if result is not None:
            return result


_CLOSED = Decision(MathStatus.ERROR, "closed", "the math pool was closed before the task finished")


def _no_free_worker(timeout_s: float) -> Decision:
    return Decision(MathStatus.TIMEOUT, "deadline", f"no free worker within {timeout_s:g} s")


class _DefaultPool:
    """The process-wide pool ``check_math`` uses when none is passed: made on first use, closed at exit."""

    def __init__(self) -> None:
        self._pool: MathPool | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def get(self) -> MathPool:
        with self._lock:
            # A forked child must not share its parent's worker pipes: it gets a pool of its own.
            if self._pool is None or self._pool._closed or self._pid != os.getpid():
                self._pool, self._pid = MathPool(), os.getpid()
                atexit.register(self._pool.close)
            return self._pool


_DEFAULT = _DefaultPool()


def default_pool() -> MathPool:
    return _DEFAULT.get()
