"""A persistent pool of worker processes for the symbolic stage: deadline, memory cap, any thread.

Each worker is a ``python -m verifier.math.worker`` subprocess speaking JSON lines over pipes. A
caller borrows an idle worker (threads wait their turn on a queue), sends one task and waits for the
answer with ``select`` until the deadline. On expiry the worker is killed and a fresh one started in
its place; the caller gets a TIMEOUT decision. No signals are used, so any thread (and any asyncio
task, through ``asyncio.to_thread``) may call concurrently.

Workers start lazily on the first task; ``close()`` (or leaving the ``with`` block, or interpreter
exit for the default pool) kills them. ``close()`` may run while other threads' tasks are in flight:
those tasks get an ERROR decision ("the math pool was closed"), callers waiting for a worker too.

The deadline covers everything a call waits for: a free worker, a worker still starting (TIMEOUT,
rule ``worker-start``; it goes on starting for the next caller) and the work. A worker process that
cannot be started at all (no file descriptors left, fork refused) leaves its slot empty: the call
gets an ERROR decision, rule ``worker-start``, and the next borrower of the slot tries again.
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
from pathlib import Path
from types import TracebackType

from verifier.math.compare import Decision
from verifier.math.verdict import MathStatus

DEFAULT_MEMORY_MB = 1024
DEFAULT_START_TIMEOUT_S = 60.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])

log = logging.getLogger("verifier.math")


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
        self._started = False
        self._closed = False
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

    def _ensure_started(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the math pool is closed")
            if not self._started:
                for _ in range(self.size):
                    self._idle.put(self._spawn())
                self._started = True

    def start(self) -> MathPool:
        """Start every worker now and wait until each is ready (otherwise they start on first use)."""
        self._ensure_started()
        borrowed: list[_Worker | None] = []
        try:
            for _ in range(self.size):
                worker = self._idle.get()
                if worker is None:  # closed meanwhile
                    self._idle.put(None)
                    break
                borrowed.append(worker)
            for i, worker in enumerate(borrowed):
                if worker is not None and not worker.ready:
                    if worker.proc is None:  # its start failed (counted): retry once, else leave it to run()
                        with self._lock:
                            if self._closed or self._launch(worker) is not None:
                                continue
                    try:
                        self._await_ready(worker, time.monotonic() + self.start_timeout_s)
                    except (EOFError, OSError, ValueError):
                        if not self._closed:
                            with self._lock:
                                self.crashes += 1
                        borrowed[i] = self._replace(worker)
        finally:
            for worker in borrowed:
                self._give_back(worker)
        return self

    def _await_ready(self, worker: _Worker, deadline: float) -> bool:
        """Wait until ``worker`` says it is ready: False if ``deadline`` comes first (it goes on
        starting); EOFError if it died or is not ready ``start_timeout_s`` after it was started."""
        give_up = worker.started_at + self.start_timeout_s
        hello = worker.read(min(deadline, give_up))
        if hello is None:
            if time.monotonic() < give_up:
                return False
            raise EOFError(f"not ready within {self.start_timeout_s:g} s")
        if not hello.get("ready"):
            raise EOFError(f"unexpected first message {hello!r}")
        worker.ready = True
        return True

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

    def run(self, task: dict[str, str], *, timeout_s: float) -> Decision:
        """Send one task (``compare``, or ``sleep`` for tests of the deadline) to an idle worker.

        ``timeout_s`` covers the wait for a free worker, for a worker that is still starting and the
        work: the call returns by then with TIMEOUT (rule ``deadline``, or ``worker-start`` when the
        worker was still starting) instead of waiting without bound. A worker that cannot be started
        gives ERROR (rule ``worker-start``); one that dies gives ERROR (rule ``worker``). Never raises
        once the pool is open.
        """
        deadline = time.monotonic() + timeout_s
        self._ensure_started()
        try:
            borrowed = self._idle.get(timeout=max(deadline - time.monotonic(), 0.001))
        except queue.Empty:
            return _no_free_worker(timeout_s)
        if borrowed is None:
            self._idle.put(None)
            return _CLOSED
        worker: _Worker | None = borrowed
        stage = "worker-start"  # the rule of a failure: while starting, or once it is running
        try:
            if time.monotonic() >= deadline:  # got one only at the deadline: leave it alive for others
                return _no_free_worker(timeout_s)
            if borrowed.proc is None:  # an empty slot: its last start failed
                with self._lock:
                    cause = None if self._closed else self._launch(borrowed)
                if self._closed:
                    return _CLOSED
                if cause is not None:
                    return Decision(
                        MathStatus.ERROR, "worker-start", f"cannot start a worker process ({cause})"
                    )
            if not borrowed.ready and not self._await_ready(borrowed, deadline):
                return Decision(
                    MathStatus.TIMEOUT,
                    "worker-start",
                    f"the worker was still starting at the deadline ({timeout_s:g} s)",
                )
            stage = "worker"
            borrowed.send(task)
            result = borrowed.read(deadline)
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
