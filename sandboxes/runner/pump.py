"""Read a child's pipes under a byte budget until it is done or the deadline passes."""

from __future__ import annotations

import os
import select
import time
from dataclasses import dataclass, field


@dataclass
class Pumped:
    data: dict[str, bytes] = field(default_factory=dict)
    over_budget: bool = False
    timed_out: bool = False
    done: bool = False  # ``done_fd`` became readable (the child exited / its end was reported)


def pump(
    fds: dict[str, int],
    *,
    budget: int,
    deadline: float,
    done_fd: int,
    grace_s: float = 0.05,
    caps: dict[str, int] | None = None,
) -> Pumped:
    """Read the pipes until the child is done (``done_fd`` readable: a pidfd, or the socket that
    reports its end) and its pipes are drained, a byte budget is exceeded, or the deadline.

    ``budget`` bounds the bytes of all streams together, except those with their own limit in
    ``caps``. Bytes are counted as they arrive, so 1 GB of output is stopped at the budget, not
    buffered. Closing the pipes does not end the wait (the child may close its fds and sleep): only
    ``done_fd`` or the deadline does; a background process that keeps a pipe open after the child is
    done cannot stall us either: we stop reading ``grace_s`` later. Every fd in ``fds`` is closed.
    """
    caps = caps or {}
    res = Pumped(data={n: b"" for n in fds})
    parts: dict[str, list[bytes]] = {n: [] for n in fds}
    names = {fd: n for n, fd in fds.items()}
    open_fds = set(fds.values())
    total = 0
    own = dict.fromkeys(fds, 0)
    done_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if done_at is not None and (not open_fds or now - done_at > grace_s):
                break
            if now >= deadline:
                res.timed_out = True
                break
            wait = deadline - now if done_at is None else min(deadline - now, grace_s)
            watch = list(open_fds) if done_at is not None else [*open_fds, done_fd]
            ready, _, _ = select.select(watch, [], [], wait)
            if done_fd in ready and done_at is None:
                done_at = time.monotonic()
                res.done = True
            for fd in ready:
                if fd == done_fd:
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    open_fds.discard(fd)
                    continue
                name = names[fd]
                if name in caps:
                    own[name] += len(chunk)
                    used, limit = own[name], caps[name]
                else:
                    total += len(chunk)
                    used, limit = total, budget
                if used > limit:
                    parts[name].append(chunk[: max(0, len(chunk) - (used - limit))])
                    res.over_budget = True
                    break
                parts[name].append(chunk)
            if res.over_budget:
                break
    finally:
        for fd in fds.values():
            os.close(fd)
    res.data = {n: b"".join(p) for n, p in parts.items()}
    return res
