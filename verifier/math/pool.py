"""A persistent pool of worker processes for the symbolic stage: deadline, memory cap, any thread.

Each worker is a ``python -m verifier.math.worker`` subprocess speaking JSON lines over pipes. A
caller borrows an idle worker (threads wait their turn on a queue), sends one task and waits for the
answer with ``select`` until the deadline. On expiry the worker is killed and a fresh one started in
its place; the caller gets a TIMEOUT decision. No signals are used, so any thread (and any asyncio
task, through ``asyncio.to_thread``) may call concurrently.

Workers start lazily on the first task; ``close()`` (or leaving the ``with`` block, or interpreter
exit for the default pool) kills them.
"""

from __future__ import annotations

import atexit
import json
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


class _Worker:
    """One worker process and the bytes read from it so far."""

    def __init__(self, memory_mb: int):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "verifier.math.worker", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.ready = False
        self._buf = b""

    def send(self, message: dict[str, str]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def read(self, deadline: float) -> dict[str, str] | None:
        """The next message, None if the deadline passes first; EOFError if the worker died."""
        assert self.proc.stdout is not None
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
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


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
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._owner_pid = os.getpid()
        self.timeouts = 0  # workers killed at their deadline
        self.crashes = 0  # workers that died or failed to start

    def __enter__(self) -> MathPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _spawn(self) -> _Worker:
        worker = _Worker(self.memory_mb)
        self._all.append(worker)
        return worker

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
        borrowed = [self._idle.get() for _ in range(self.size)]
        try:
            for i, worker in enumerate(borrowed):
                if not worker.ready:
                    try:
                        self._await_ready(worker)
                    except EOFError:
                        with self._lock:
                            self.crashes += 1
                        borrowed[i] = self._replace(worker)
        finally:
            for worker in borrowed:
                self._idle.put(worker)
        return self

    def _await_ready(self, worker: _Worker) -> None:
        hello = worker.read(time.monotonic() + self.start_timeout_s)
        if not hello or not hello.get("ready"):
            raise EOFError("worker did not start")
        worker.ready = True

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            if self._closed:
                return worker  # the pool is closing: start nothing new
            return self._spawn()

    def compare(self, gold: str, pred: str, *, timeout_s: float) -> Decision:
        """Run the full comparison of (gold, pred) in a worker, within ``timeout_s`` of work."""
        return self.run({"op": "compare", "gold": gold, "pred": pred}, timeout_s=timeout_s)

    def run(self, task: dict[str, str], *, timeout_s: float) -> Decision:
        """Send one task (``compare``, or ``sleep`` for tests of the deadline) to an idle worker.

        ``timeout_s`` covers the wait for a free worker and the work: when every worker stays busy
        the caller gets TIMEOUT instead of waiting without bound. (A worker that is still starting
        is waited for separately, up to ``start_timeout_s``.)
        """
        self._ensure_started()
        waited_from = time.monotonic()
        try:
            worker = self._idle.get(timeout=max(timeout_s, 0.001))
        except queue.Empty:
            return Decision(MathStatus.TIMEOUT, "deadline", f"no free worker within {timeout_s:g} s")
        left = max(0.001, timeout_s - (time.monotonic() - waited_from))
        try:
            if not worker.ready:
                self._await_ready(worker)
            worker.send(task)
            result = worker.read(time.monotonic() + left)
            if result is None:
                with self._lock:
                    self.timeouts += 1
                worker = self._replace(worker)
                return Decision(
                    MathStatus.TIMEOUT, "deadline", f"no result within {timeout_s:g} s; worker killed"
                )
            status = MathStatus(result["status"])
            if status is MathStatus.ERROR and "memory limit" in result.get("reason", ""):
                worker = self._replace(worker)
            return Decision(status, result.get("rule") or "worker", result.get("reason", ""))
        except (EOFError, BrokenPipeError, OSError, ValueError) as e:
            with self._lock:
                self.crashes += 1
            worker = self._replace(worker)
            return Decision(MathStatus.ERROR, "worker", f"worker failed ({type(e).__name__}: {e}); replaced")
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = self._all, []
        if os.getpid() != self._owner_pid:
            return  # a forked copy of this pool: the workers belong to the parent
        for worker in workers:
            worker.kill()


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
