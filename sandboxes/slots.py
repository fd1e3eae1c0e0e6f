"""The pool's places for warm workers, and the wait for a free one, without Docker.

A slot is either free (holding a worker, or None when its worker is gone and none could be started
in its place yet) or out on a lease: to a job, or to the background while it replaces the worker.
Every lease says by when it is due back (the job's deadline plus slack plus a start-up allowance, or
the start-up allowance alone). So a caller waits for a free slot only while one can still come
back: with no slot out (a pool never started), with the last lease overdue (a stuck engine), or
once the pool is closed, ``take`` raises ``InfraError`` at once instead of waiting forever.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

from sandboxes.worker import InfraError

T = TypeVar("T")


class Lease:
    """A slot that is out, and the monotonic time by which it is due back."""

    __slots__ = ("due",)

    def __init__(self, due: float):
        self.due = due


class Slots(Generic[T]):
    """Thread-safe. ``add`` a slot per started worker; ``take`` one (waiting while all are out, and
    only while one can come back); ``give_back`` what is in it now; ``close`` wakes every waiter."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._free: deque[T | None] = deque()
        self._out: set[Lease] = set()
        self._closed = False
        self._waiting = 0

    def add(self, item: T) -> None:
        with self._cond:
            if self._closed:
                raise InfraError("the pool is closed")
            self._free.append(item)
            self._cond.notify()

    def take(self, due_in_s: float) -> tuple[Lease, T | None]:
        with self._cond:
            while True:
                if self._closed:
                    raise InfraError("the pool is closed")
                if self._free:
                    lease = Lease(time.monotonic() + due_in_s)
                    self._out.add(lease)
                    return lease, self._free.popleft()
                if not self._out:
                    raise InfraError("the pool has no runner container, running or starting (not started?)")
                wait_s = max(lease.due for lease in self._out) - time.monotonic()
                if wait_s <= 0:
                    raise InfraError(
                        f"no runner container came back in time ({len(self._out)} overdue): the pool is stuck"
                    )
                self._waiting += 1
                try:
                    self._cond.wait(wait_s)
                finally:
                    self._waiting -= 1

    def extend(self, lease: Lease, due_in_s: float) -> None:
        """The slot stays out longer, e.g. while the background replaces its worker."""
        with self._cond:
            lease.due = time.monotonic() + due_in_s
            self._cond.notify_all()  # waiters recompute how long they may wait

    def give_back(self, lease: Lease, item: T | None) -> bool:
        """Return the slot with ``item`` in it; False once closed (then ``item`` is the caller's to close)."""
        with self._cond:
            self._out.discard(lease)
            if self._closed:
                return False
            self._free.append(item)
            self._cond.notify()
            return True

    def close(self) -> list[T]:
        """No slot is handed out from now on; waiters get InfraError. Returns the free workers."""
        with self._cond:
            self._closed = True
            free = [item for item in self._free if item is not None]
            self._free.clear()
            self._cond.notify_all()
            return free

    @property
    def waiting(self) -> int:
        """How many callers are waiting in ``take`` now."""
        with self._cond:
            return self._waiting
