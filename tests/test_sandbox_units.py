"""The fork server's reading loop, without Docker: budgets are enforced as bytes arrive."""

from __future__ import annotations

import os
import time

import pytest

from sandboxes.runner.harness import pump


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
    out = pump(fds, budget=budget, deadline=time.monotonic() + 5, exited=lambda: False, caps=caps)
    assert out.over_budget is over
    assert not out.timed_out
    if not over:
        assert (out.data["stdout"], out.data["stderr"], out.data["result"]) == (stdout, stderr, result)


def test_deadline_while_a_pipe_stays_open() -> None:
    r, w = os.pipe()
    try:
        out = pump({"stdout": r}, budget=100, deadline=time.monotonic() + 0.2, exited=lambda: False)
    finally:
        os.close(w)
    assert out.timed_out


def test_a_background_writer_cannot_stall_after_exit() -> None:
    r, w = os.pipe()  # the write end stays open, as if a daemon held it
    try:
        out = pump({"stdout": r}, budget=100, deadline=time.monotonic() + 30, exited=lambda: True)
    finally:
        os.close(w)
    assert not out.timed_out  # it stopped after the grace period, not at the deadline
