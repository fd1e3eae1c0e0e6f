"""The fork server: PID 1 of a runner container. Reads one JSON job per line on stdin, runs it in a
forked process, answers one JSON line on stdout.

Standard library only (it runs in the runner image). Why PID 1: the kernel never delivers a signal
from inside a PID namespace to its init unless init installed a handler, so a candidate cannot kill
or stop the server; and as init it reaps every orphan. Why fork: modules are imported once, so a job
starts in about a millisecond instead of a fresh interpreter's tens of milliseconds. The job process
(and its candidate process) is forked *ahead* of its job, as a spare, right after the previous
answer: the forks leave the critical path, and the candidate process never holds the tests.

Per job: a fresh work directory, a new session (own process group), rlimits (CPU time, address
space, file size, open files), a wall-clock deadline enforced here, an output byte budget enforced
while reading. After the job every other process in the container is killed (``kill(-1)``), the
writable places are wiped, and the answer says whether the container should be recycled.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import time
import traceback
from typing import Any

try:  # imported as a package on the host (tests), as a sibling module inside the image
    from . import harness
except ImportError:
    import harness  # type: ignore[no-redef]

RESULT_FD = 3
TOKEN_FD = 4
JOB_FD = 5
PR_SET_NAME = 15
EXCERPT = 8192
WRITABLE = ("/tmp", "/dev/shm")
JOB_ROOT = "/tmp"

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


def preload() -> None:
    for name in PRELOAD:
        __import__(name)


def set_dumpable(flag: int) -> None:
    """Off for the server: same uid as the jobs, so a job could otherwise read our fds and memory via
    /proc. Back on in a job process, so it can raise its own oom_score_adj."""
    harness.set_dumpable(flag)


# ---------------------------------------------------------------- protocol


def answer(record: dict[str, Any]) -> None:
    harness._write_all(1, json.dumps(record, separators=(",", ":")).encode() + b"\n")


# ---------------------------------------------------------------- one job


class Spare:
    """A job process forked ahead of time (with its candidate process), waiting for its job on a
    pipe: the forks happen while the host is busy elsewhere, not on the job's critical path."""

    def __init__(self, pid: int, out_r: int, err_r: int, res_r: int, tok_w: int, job_w: int):
        self.pid, self.out_r, self.err_r, self.res_r, self.tok_w, self.job_w = (
            pid,
            out_r,
            err_r,
            res_r,
            tok_w,
            job_w,
        )


class Zygote:
    """A process forked at start-up, before any job existed, that forks every spare: so no job
    process inherits memory that ever held another job (not even freed heap). A spare is forked by
    a short-lived intermediate that exits at once, so the spare is re-parented to us (init) and we
    reap it as our own child. Requests are pipelined: ``request`` after an answer, ``collect``
    when the next job arrives."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            ours.close()
            _zygote_main(theirs)  # never returns
        theirs.close()
        self.pid = pid
        self._sock = ours
        self._buf = b""
        self._pending: tuple[int, int, int, int, int] | None = None

    def request(self) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        tok_r, tok_w = os.pipe()
        job_r, job_w = os.pipe()
        theirs = (out_w, err_w, res_w, tok_r, job_r)
        try:
            socket.send_fds(self._sock, [b"s"], list(theirs))
        finally:
            for fd in theirs:
                os.close(fd)
        self._pending = (out_r, err_r, res_r, tok_w, job_w)

    def collect(self) -> Spare:
        if self._pending is None:
            self.request()
        assert self._pending is not None
        while b"\n" not in self._buf:
            chunk = self._sock.recv(64)
            if not chunk:
                raise OSError("the zygote is gone")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        out_r, err_r, res_r, tok_w, job_w = self._pending
        self._pending = None
        return Spare(int(line), out_r, err_r, res_r, tok_w, job_w)


def _zygote_main(sock: socket.socket) -> None:
    try:
        harness._libc().prctl(PR_SET_NAME, b"verifier-zygote", 0, 0, 0)  # how it shows in /proc/PID/comm
        while True:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 16, 8)
            if not msg:
                return  # the server is gone
            r, w = os.pipe()
            middle = os.fork()
            if middle == 0:
                os.close(r)
                job = os.fork()
                if job == 0:
                    os.close(w)
                    _child(*fds)  # never returns
                os.write(w, str(job).encode())
                os._exit(0)
            os.close(w)
            for fd in fds:
                os.close(fd)
            pid = _read_all(r)
            os.waitpid(middle, 0)  # now the spare is an orphan: re-parented to the server, PID 1
            sock.sendall(pid + b"\n")
    finally:
        os._exit(0)


def run(job: dict[str, Any], seq: int, spare: Spare, keep: int) -> dict[str, Any]:
    timeout_s = float(job["timeout_s"])
    budget = int(job["output_limit"])
    workdir = os.path.join(JOB_ROOT, f"job-{seq}")
    os.mkdir(workdir, 0o700)
    pid = spare.pid
    oom_before = oom_kills()
    started = time.monotonic()
    try:
        _write_all(spare.job_w, json.dumps({**job, "workdir": workdir}).encode())
    finally:
        os.close(spare.job_w)
    # Made now, so no memory the job (or its candidate process) inherited ever held it.
    token = secrets.token_hex(16)
    with contextlib.suppress(BrokenPipeError):  # the job died before reading it: it can report nothing
        os.write(spare.tok_w, token.encode())
    os.close(spare.tok_w)
    out_r, err_r, res_r = spare.out_r, spare.err_r, spare.res_r
    status: dict[str, Any] = {}

    def exited() -> bool:
        return _reap(pid, status)

    # The budget is for stdout + stderr. The result channel carries stdio outputs (already held to
    # the budget by the harness) and return values as JSON, whose escapes can grow bytes up to 6x.
    pumped = harness.pump(
        {"stdout": out_r, "stderr": err_r, "result": res_r},
        budget=budget,
        deadline=started + timeout_s,
        exited=exited,
        caps={"result": 6 * budget + 65536},
    )
    over = pumped.over_budget
    if pumped.timed_out or over:
        _kill_group(pid)
    _wait_for(pid, status)
    wall = time.monotonic() - started
    ooms = oom_kills() - oom_before
    strays = sweep(keep)
    dirty = wipe() or not _alive(keep)  # a job that killed the zygote leaves no spares: recycle
    outcome = "exited"
    if pumped.timed_out:
        outcome = "timeout"
    elif over:
        outcome = "output_limit"
    elif status.get("signal") is not None:
        outcome = "signaled"
    return {
        "id": job.get("id"),
        "token": token,
        "outcome": outcome,
        "exit_code": status.get("code"),
        "signal": status.get("signal"),
        "stdout": pumped.data["stdout"][:EXCERPT].decode("utf-8", "replace"),
        "stderr": pumped.data["stderr"][-EXCERPT:].decode("utf-8", "replace"),
        "stdout_bytes": len(pumped.data["stdout"]),
        "stderr_bytes": len(pumped.data["stderr"]),
        "result": pumped.data["result"].decode("utf-8", "replace"),
        "wall_s": wall,
        "cpu_s": status.get("cpu_s", 0.0),
        "oom_kills": ooms,
        "strays": strays,
        "dirty": dirty,
        # Any kill, crash of the job process, leftover process or file: start from a fresh container.
        "recycle": outcome != "exited" or status.get("code") != 0 or dirty or strays > 0,
    }


def _child(out_w: int, err_w: int, res_w: int, tok_r: int, job_r: int) -> None:
    code = 71
    try:
        os.setsid()
        harness._libc().prctl(PR_SET_NAME, b"verifier-job", 0, 0, 0)  # not the zygote's name
        # Move the received fds out of the way first: a low one could be clobbered by the dup2s.
        out_w, err_w, res_w, tok_r, job_r = (
            fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in (out_w, err_w, res_w, tok_r, job_r)
        )
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.dup2(res_w, RESULT_FD)
        os.dup2(tok_r, TOKEN_FD)
        os.dup2(job_r, JOB_FD)
        os.closerange(JOB_FD + 1, 65536)
        set_dumpable(1)
        with open("/proc/self/oom_score_adj", "w") as fh:  # the OOM killer takes the job, not the server
            fh.write("1000")
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        candidate = harness.CandidateProcess(close_fds=(RESULT_FD, TOKEN_FD, JOB_FD))
        job = json.loads(_read_all(JOB_FD))
        os.chdir(job["workdir"])
        os.environ["HOME"] = job["workdir"]
        harness.apply_limits(job)
        harness.run_job(job, RESULT_FD, TOKEN_FD, candidate)
        sys.stdout.flush()
        sys.stderr.flush()
        code = 0
    except BaseException:  # noqa: BLE001 - the set-up failed: say why on the job's stderr
        os.write(2, f"forkserver: job set-up failed: {traceback.format_exc()}".encode())
    finally:
        os._exit(code)


def _read_all(fd: int) -> bytes:
    parts = []
    while chunk := os.read(fd, 1 << 20):
        parts.append(chunk)
    os.close(fd)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def oom_kills() -> int:
    """The container's count of kernel OOM kills (cgroup v1 or v2): tells an OOM kill from a plain SIGKILL."""
    for path in ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"):
        try:
            with open(path) as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except OSError:
            continue
    return 0


def _reap(pid: int, status: dict[str, Any]) -> bool:
    """Reap every dead child (we are init); True once ``pid`` itself has been reaped."""
    while True:
        try:
            done, st, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return "code" in status
        if done == 0:
            return "code" in status
        if done == pid:
            status["code"] = os.WEXITSTATUS(st) if os.WIFEXITED(st) else None
            status["signal"] = os.WTERMSIG(st) if os.WIFSIGNALED(st) else None
            status["cpu_s"] = usage.ru_utime + usage.ru_stime


def _wait_for(pid: int, status: dict[str, Any]) -> None:
    """Reap the job process. Its pipes are closed, which only its exit does (it runs our harness;
    the candidate has no access to them), or it was just killed: so block, no polling latency."""
    if "code" in status:
        return
    _, st, usage = os.wait4(pid, 0)
    status["code"] = os.WEXITSTATUS(st) if os.WIFEXITED(st) else None
    status["signal"] = os.WTERMSIG(st) if os.WIFSIGNALED(st) else None
    status["cpu_s"] = usage.ru_utime + usage.ru_stime


def _alive(child: int) -> bool:
    try:
        return os.waitpid(child, os.WNOHANG)[0] == 0
    except ChildProcessError:
        return False


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def sweep(keep: int) -> int:
    """Kill every process but us (PID 1) and ``keep`` (the zygote); return how many there were.

    SIGSTOP to all first (``kill(-1)`` is atomic against forks, so a fork bomb cannot outrun it),
    then SIGKILL each, then wake the zygote again, then reap the dead (orphans are ours).
    """
    me = os.getpid()

    def others() -> list[int]:
        return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (me, keep)]

    found = others()
    with contextlib.suppress(ProcessLookupError):
        os.kill(keep, signal.SIGCONT)  # a job may have stopped the zygote
    if not found:
        return 0
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGSTOP)
    for pid in others():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(keep, signal.SIGCONT)
    deadline = time.monotonic() + 5.0
    while others() and time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.001)
        except ChildProcessError:
            time.sleep(0.001)  # dying processes that are not ours yet
    return len(found)


def wipe() -> bool:
    """Empty the writable places; True when something could not be removed (recycle then)."""
    dirty = False
    for root in WRITABLE:
        if not os.path.isdir(root):
            continue
        for name in os.listdir(root):
            path = os.path.join(root, name)
            _remove(path)
            dirty = dirty or os.path.lexists(path)
    for ipc in ("/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg"):
        try:
            with open(ipc) as fh:
                dirty = dirty or len(fh.read().splitlines()) > 1
        except OSError:
            pass
    if os.path.isdir("/dev/mqueue") and os.listdir("/dev/mqueue"):
        dirty = True
    return dirty


def _remove(path: str) -> None:
    def fix(func: Any, p: str, _exc: Any) -> None:
        os.chmod(os.path.dirname(p), 0o700)
        os.chmod(p, 0o700) if os.path.isdir(p) else None
        func(p)

    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            shutil.rmtree(path, onerror=fix)
        else:
            os.unlink(path)
    except OSError as e:
        print(f"forkserver: cannot remove {path}: {e}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- main loop


def main() -> None:
    preload()
    set_dumpable(0)
    # Everything imported so far is shared with every job through fork. Freezing it keeps the jobs'
    # garbage collector from touching (and so copying) those pages: a job starts faster.
    gc.collect()
    gc.freeze()
    zygote = Zygote()
    zygote.request()
    reader = harness.LineReader(0, chunk=1 << 20)
    seq = 0
    while True:
        line = reader.readline()
        if line is None:
            return  # the host went away (even by kill -9): exit, and the container goes with us
        try:
            job = json.loads(line)
        except ValueError as e:
            answer({"error": f"bad job line: {e}"})
            continue
        if job.get("op") == "ping":
            answer(
                {
                    "op": "pong",
                    "id": job.get("id"),
                    "uid": os.getuid(),
                    "pid": os.getpid(),
                    "python": sys.version,
                }
            )
            continue
        seq += 1
        try:
            result = run(job, seq, zygote.collect(), zygote.pid)
        except (OSError, KeyError, ValueError, TypeError) as e:
            result = {"id": job.get("id"), "error": f"{type(e).__name__}: {e}", "recycle": True}
        job = line = None
        # The job's processes are all gone now: the zygote forks the next spare while we answer
        # and the host reads the answer. A dead zygote shows at the next collect(): recycle then.
        with contextlib.suppress(OSError):
            zygote.request()
        answer(result)
        result = None


if __name__ == "__main__":
    main()
