"""The fork server: PID 1 of a runner container. Reads one JSON job per line on stdin, runs it in a
job process forked ahead of time, answers one JSON line on stdout.

Standard library only (it runs in the runner image). Why PID 1: the kernel never delivers a signal
from inside a PID namespace to its init unless init installed a handler, and as init it reaps every
orphan. Why fork: modules are imported once, so a job starts in about a millisecond instead of a
fresh interpreter's tens of milliseconds. It runs as root with only the few capabilities of
``sandboxes/profile.py`` (uids, signals, cleaning up); every job gets two fresh uids from the container's own range
(``--uids BASE COUNT``), one for the job process and one for the candidate's, so no job can touch
this server, the zygote, another job or another container.

Per job: a wall-clock deadline enforced here (whatever the job does to its fds), an output byte
budget enforced while reading; after it every other process in the container is killed, the
writable places are wiped, and the answer says whether the container must be recycled: after a
kill, a crash, a leftover process or file, a fork or thread we did not make (the next job's pids
would show it), a change in the container's memory events, or when the uid range is used up.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import secrets
import signal
import sys
import time
from typing import Any

from . import cleanup, procstate
from .framing import LineReader, send_json, write_all
from .pump import pump
from .spawn import Spare, Zygote

EXCERPT = 8192

# Pre-imported so a forked job does not pay for them (what HumanEval-style tests use).
PRELOAD = [
    "abc",
    "argparse",
    "array",
    "bisect",
    "collections",
    "collections.abc",
    "copy",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "fractions",
    "functools",
    "hashlib",
    "heapq",
    "io",
    "itertools",
    "json",
    "math",
    "operator",
    "random",
    "re",
    "statistics",
    "string",
    "sys",
    "textwrap",
    "typing",
    "unicodedata",
]


def run(
    job: dict[str, Any], spare: Spare, zygote: Zygote, base_pid: int
) -> tuple[dict[str, Any], Spare | None]:
    """Run one job on ``spare``; the zygote makes the next spare meanwhile (if one was requested),
    which is collected before the pids are counted, so its forks are known and not the job's."""
    timeout_s = float(job["timeout_s"])
    budget = int(job["output_limit"])
    pid = spare.pid
    events_before = cleanup.memory_events()
    started = time.monotonic()
    try:
        write_all(spare.job_w, json.dumps(job).encode())
    except BrokenPipeError:
        pass  # the job process is gone: it reports nothing, and the answer says so
    finally:
        os.close(spare.job_w)
    # Made now, so no memory the job (or its candidate process) inherited ever held it.
    token = secrets.token_hex(16)
    with contextlib.suppress(BrokenPipeError):
        os.write(spare.tok_w, token.encode())
    os.close(spare.tok_w)
    pidfd = os.pidfd_open(pid)
    try:
        # The budget is for stdout + stderr. The result channel carries stdio outputs (already held
        # to the budget by the harness) and return values as JSON, whose escapes grow bytes up to 6x.
        pumped = pump(
            {"stdout": spare.out_r, "stderr": spare.err_r, "result": spare.res_r},
            budget=budget,
            deadline=started + timeout_s,
            done_fd=pidfd,
            caps={"result": 6 * budget + 65536},
        )
    finally:
        os.close(pidfd)
    if pumped.timed_out or pumped.over_budget or not pumped.done:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    _, st, usage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    following: Spare | None = None
    made: tuple[int, ...] = ()
    if zygote.pending:
        with contextlib.suppress(OSError):  # a failed spare shows as a pid count off: recycle
            following = zygote.collect()
            made = following.made
    end_pid = cleanup.last_pid()
    code = os.WEXITSTATUS(st) if os.WIFEXITED(st) else None
    sig = os.WTERMSIG(st) if os.WIFSIGNALED(st) else None
    t_job = time.monotonic()
    keep = (zygote.pid, following.pid if following else -1, made[2] if made else -1)
    strays = cleanup.sweep(keep)
    t_sweep = time.monotonic()
    events_after = cleanup.memory_events()
    ooms = cleanup.oom_kills(events_after) - cleanup.oom_kills(events_before)
    dirty = cleanup.wipe(keep=following.uids if following else ()) or not _alive(zygote.pid)
    t_wipe = time.monotonic()
    forks = end_pid - base_pid - sum(1 for p in made if base_pid < p <= end_pid)
    outcome = "exited"
    if pumped.timed_out:
        outcome = "timeout"
    elif pumped.over_budget:
        outcome = "output_limit"
    elif sig is not None:
        outcome = "signaled"
    # What the job may have left for the next one to read: anything at all means a fresh container.
    traces = []
    if forks not in (0, planned_forks(job)):  # 0: a stdio program that did not compile ran no case
        traces.append(f"pids used {forks}, expected {planned_forks(job)}")
    if events_after != events_before:
        traces.append("memory events changed")
    if strays:
        traces.append(f"{strays} leftover process(es)")
    if dirty:
        traces.append("leftover files or IPC objects")
    return {
        "id": job.get("id"),
        "token": token,
        "outcome": outcome,
        "exit_code": code,
        "signal": sig,
        "stdout": pumped.data["stdout"][:EXCERPT].decode("utf-8", "replace"),
        "stderr": pumped.data["stderr"][-EXCERPT:].decode("utf-8", "replace"),
        "stdout_bytes": len(pumped.data["stdout"]),
        "stderr_bytes": len(pumped.data["stderr"]),
        "result": pumped.data["result"].decode("utf-8", "replace"),
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "oom_kills": ooms,
        "strays": strays,
        "dirty": dirty,
        "traces": traces,
        "phases_ms": {  # where the time went (diagnostics; benchmarks/sandbox.py reports them)
            "job": round((t_job - started) * 1000, 2),
            "sweep": round((t_sweep - t_job) * 1000, 2),
            "wipe": round((t_wipe - t_sweep) * 1000, 2),
        },
        "recycle": outcome != "exited" or code != 0 or bool(traces),
    }, following


def planned_forks(job: dict[str, Any]) -> int:
    """Processes the harness itself forks during a job: a child per stdio case, and a checker."""
    if job.get("mode") != "stdio":
        return 0
    return len(job.get("cases", [])) * (2 if job.get("checker") else 1)


def _alive(child: int) -> bool:
    try:
        return os.waitpid(child, os.WNOHANG)[0] == 0
    except ChildProcessError:
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="forkserver")
    parser.add_argument("--uids", nargs=2, type=int, metavar=("BASE", "COUNT"), required=True)
    args = parser.parse_args(argv)
    base, count = args.uids
    if os.getuid() != 0:
        sys.exit(
            "forkserver: must start as root (with CAP_SETUID/CAP_SETGID): it gives every job its own uid"
        )
    if base < 65536 or count < 2:
        sys.exit("forkserver: --uids BASE COUNT: BASE >= 65536, COUNT >= 2")
    for name in PRELOAD:
        __import__(name)
    procstate.set_dumpable(0)
    cpus = os.sched_getaffinity(0)
    # Everything imported so far is shared with every job through fork. Freezing it keeps the jobs'
    # garbage collector from touching (and so copying) those pages: a job starts faster.
    gc.collect()
    gc.freeze()
    zygote = Zygote(cpus)
    seq = 0

    # The block's uid pairs in a random order: a job's uid says nothing about how many jobs ran here.
    order = list(range(count // 2))
    secrets.SystemRandom().shuffle(order)

    def uids(n: int) -> tuple[int, int]:
        return base + 2 * order[n], base + 2 * order[n] + 1

    zygote.request(uids(seq))
    ready: Spare | None = None
    reader = LineReader(0, chunk=1 << 20, limit=1 << 30)
    while True:
        line = reader.readline()
        if line is None:
            return  # the host went away (even by kill -9): exit, and the container goes with us
        try:
            job = json.loads(line)
        except ValueError as e:
            send_json(1, {"error": f"bad job line: {e}"})
            continue
        if job.get("op") == "ping":
            send_json(
                1,
                {
                    "op": "pong",
                    "id": job.get("id"),
                    "uid": os.getuid(),
                    "uids": [base, count],
                    "python": sys.version,
                },
            )
            continue
        try:
            waited = time.monotonic()
            spare = ready if ready is not None else zygote.collect()
            ready = None
            waited = time.monotonic() - waited
            base_pid = cleanup.last_pid()
            if seq + 1 < count // 2:
                zygote.request(uids(seq + 1))  # made while this job runs, on another core
            result, ready = run(job, spare, zygote, base_pid)
            result["phases_ms"]["spare_wait"] = round(waited * 1000, 2)
        except (OSError, KeyError, ValueError, TypeError) as e:
            result = {"id": job.get("id"), "error": f"{type(e).__name__}: {e}", "recycle": True}
        seq += 1
        job = line = None
        if seq >= count // 2 or ready is None:
            result["recycle"] = True  # the uid range is used up, or no next spare: no more jobs here
        send_json(1, result)
        del result
