"""Without Docker: the fork server's reading loop (budgets are enforced as bytes arrive) and the
default pool size (the CPUs this process may use)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time

import pytest

from sandboxes.runner.pump import pump


def pipe_with(data: bytes) -> int:
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    return r


@pytest.mark.parametrize(
    "stdout,stderr,result,budget,caps,over",
    [
        (b"a" * 10, b"b" * 10, b"", 20, None, False),
        (b"a" * 11, b"b" * 10, b"", 20, None, True),  # stdout + stderr share the budget
        (b"a" * 10, b"", b"r" * 100, 20, {"result": 100}, False),  # the result channel has its own cap
        (b"a" * 10, b"", b"r" * 101, 20, {"result": 100}, True),
    ],
)
def test_budget(
    stdout: bytes, stderr: bytes, result: bytes, budget: int, caps: dict | None, over: bool
) -> None:
    fds = {"stdout": pipe_with(stdout), "stderr": pipe_with(stderr), "result": pipe_with(result)}
    done_r, done_w = os.pipe()
    os.write(done_w, b"x")  # the child is done; its pipes hold what it wrote
    try:
        out = pump(fds, budget=budget, deadline=time.monotonic() + 5, done_fd=done_r, caps=caps)
    finally:
        os.close(done_r)
        os.close(done_w)
    assert out.over_budget is over
    assert not out.timed_out
    if not over:
        assert (out.data["stdout"], out.data["stderr"], out.data["result"]) == (stdout, stderr, result)


def test_deadline_while_a_pipe_stays_open() -> None:
    r, w = os.pipe()
    done_r, done_w = os.pipe()
    try:
        out = pump({"stdout": r}, budget=100, deadline=time.monotonic() + 0.2, done_fd=done_r)
    finally:
        for fd in (w, done_r, done_w):
            os.close(fd)
    assert out.timed_out


def test_closed_pipes_do_not_end_the_wait_before_the_child_is_done() -> None:
    """A child that closes its fds and sleeps: the deadline still stops it (nothing ends early)."""
    done_r, done_w = os.pipe()
    try:
        started = time.monotonic()
        out = pump({"stdout": pipe_with(b"x")}, budget=100, deadline=started + 0.3, done_fd=done_r)
    finally:
        os.close(done_r)
        os.close(done_w)
    assert out.timed_out and not out.done and time.monotonic() - started >= 0.3


def test_a_background_writer_cannot_stall_after_exit() -> None:
    r, w = os.pipe()  # the write end stays open, as if a daemon held it
    done_r, done_w = os.pipe()
    os.write(done_w, b"x")  # the child is done
    try:
        out = pump({"stdout": r}, budget=100, deadline=time.monotonic() + 30, done_fd=done_r)
    finally:
        for fd in (w, done_r, done_w):
            os.close(fd)
    assert not out.timed_out and out.done  # it stopped after the grace period, not at the deadline


@pytest.mark.parametrize(
    "affinity,cpu_max,expected",
    [
        ({0, 1, 2}, None, 3),  # taskset / cpuset: the affinity mask, not the machine's 64 cores
        ({0, 1, 2}, "max 100000\n", 3),  # no quota
        (set(range(32)), "150000 100000\n", 2),  # docker --cpus 1.5: rounded up
        (set(range(32)), "50000 100000\n", 1),
        ({0}, "400000 100000\n", 1),  # the smaller of the two
        (None, None, 64),  # no sched_getaffinity (macOS): os.cpu_count()
        (set(range(64)), "garbage\n", 64),  # an unreadable quota is ignored (and logged)
    ],
)
def test_usable_cpus(monkeypatch, tmp_path, affinity, cpu_max, expected) -> None:
    from sandboxes import pool

    monkeypatch.setattr(pool.os, "cpu_count", lambda: 64)
    if affinity is None:
        monkeypatch.delattr(pool.os, "sched_getaffinity", raising=False)
    else:
        monkeypatch.setattr(pool.os, "sched_getaffinity", lambda _pid: affinity)
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    monkeypatch.setattr(pool, "_cgroup_cpu_quota", functools.partial(pool._cgroup_cpu_quota, str(path)))
    assert pool.usable_cpus() == expected
    assert pool.SandboxPool().size == min(expected, pool.MAX_DEFAULT_SIZE)
    assert pool.SandboxPool(size=5).size == 5


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_default_pool_size_follows_the_real_affinity_mask() -> None:
    """In a process pinned to one CPU (as taskset or a cpuset does), the default pool has one container."""
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from sandboxes.pool import SandboxPool; print(SandboxPool().size)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "1"
