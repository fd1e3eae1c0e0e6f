"""Fork plumbing: the zygote, the spare job processes it forks, and a job process's set-up.

The zygote is forked at start-up, before any job existed, and forks every spare: so no job process
inherits memory that ever held another job. A spare is forked by a short-lived intermediate that
exits at once, so it is re-parented to the fork server (init), which reaps it as its own child.
A spare knows its two fresh uids (its own and its candidate's) from birth; it resets its state from
the profile, forks the candidate process, drops to its uid, says "ready", and waits for its job.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import sys
import traceback
from dataclasses import dataclass

from . import modes, procstate
from .candidate import CandidateProcess
from .framing import read_all
from .report import Reporter

RESULT_FD = 3
TOKEN_FD = 4
JOB_FD = 5
READY_FD = 6
JOB_LIMIT = 512 << 20


@dataclass(frozen=True)
class Spare:
    """A job process forked ahead of time, waiting for its job; the fork server's ends of its pipes."""

    pid: int
    out_r: int
    err_r: int
    res_r: int
    tok_w: int
    job_w: int
    uids: tuple[int, int]  # (job process, candidate process)
    made: tuple[int, ...]  # the pids its making used (intermediate, spare, candidate process)


class Zygote:
    """Requests are pipelined: ``request`` after an answer, ``collect`` when the next job arrives."""

    def __init__(self, cpus: set[int]) -> None:
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            ours.close()
            _zygote_main(theirs, cpus)  # never returns
        theirs.close()
        self.pid = pid
        self._sock = ours
        self._buf = b""
        self._pending: tuple[tuple[int, int], tuple[int, int, int, int, int, int]] | None = None

    def request(self, uids: tuple[int, int]) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        tok_r, tok_w = os.pipe()
        job_r, job_w = os.pipe()
        ready_r, ready_w = os.pipe()
        theirs = (out_w, err_w, res_w, tok_r, job_r, ready_w)
        try:
            socket.send_fds(self._sock, [b"%d %d\n" % uids], list(theirs))
        finally:
            for fd in theirs:
                os.close(fd)
        self._pending = (uids, (out_r, err_r, res_r, tok_w, job_w, ready_r))

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def collect(self) -> Spare:
        """The requested spare, once it is ready (its candidate process forked, privileges dropped)."""
        if self._pending is None:
            raise OSError("no spare was requested")
        while b"\n" not in self._buf:
            chunk = self._sock.recv(64)
            if not chunk:
                raise OSError("the zygote is gone")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        uids, (out_r, err_r, res_r, tok_w, job_w, ready_r) = self._pending
        self._pending = None
        ready = read_all(ready_r, limit=32).split()
        if ready[:1] != [b"r"] or len(ready) != 2:
            for fd in (out_r, err_r, res_r, tok_w, job_w):
                os.close(fd)
            raise OSError("a spare job process failed to start")
        spare, middle = (int(x) for x in line.split())
        return Spare(spare, out_r, err_r, res_r, tok_w, job_w, uids, (middle, spare, int(ready[1])))


def _zygote_main(sock: socket.socket, cpus: set[int]) -> None:
    try:
        procstate.set_name(b"verifier-zygote")
        while True:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 64, 6)
            if not msg:
                return  # the server is gone
            job_uid, candidate_uid = (int(x) for x in msg.split())
            r, w = os.pipe()
            middle = os.fork()
            if middle == 0:
                os.close(r)
                job = os.fork()
                if job == 0:
                    os.close(w)
                    _job_main(fds, job_uid, candidate_uid, cpus)  # never returns
                os.write(w, str(job).encode())
                os._exit(0)
            os.close(w)
            for fd in fds:
                os.close(fd)
            pid = read_all(r, limit=32)
            os.waitpid(middle, 0)  # now the spare is an orphan: re-parented to the server, PID 1
            sock.sendall(b"%s %d\n" % (pid, middle))
    finally:
        os._exit(0)


def _job_main(fds: list[int], job_uid: int, candidate_uid: int, cpus: set[int]) -> None:
    code = 71
    try:
        os.setsid()
        procstate.set_name(b"verifier-job")  # not the zygote's name
        # Move the received fds out of the way first: a low one could be clobbered by the dup2s.
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in fds]
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd, target in zip(moved, (1, 2, RESULT_FD, TOKEN_FD, JOB_FD, READY_FD), strict=True):
            os.dup2(fd, target)
        os.closerange(READY_FD + 1, 1 << 16)
        with open("/proc/self/oom_score_adj", "w") as fh:  # the OOM killer takes the job, not the server
            fh.write("1000")
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        procstate.reset_scheduling(cpus)
        candidate = CandidateProcess(candidate_uid, close_fds=(RESULT_FD, TOKEN_FD, JOB_FD, READY_FD))
        procstate.drop_to(job_uid)
        procstate.set_dumpable(0)
        home = procstate.make_private_dir("/tmp")
        os.chdir(home)
        procstate.reset_environment(home)
        os.write(READY_FD, b"r %d" % candidate.pid)
        os.close(READY_FD)
        job = json.loads(read_all(JOB_FD, limit=JOB_LIMIT))
        procstate.apply_rlimits(procstate.job_rlimits(float(job["timeout_s"]), int(job["memory_mb"])))
        # Made by the fork server only after it sent the job, so no earlier memory ever held it.
        token = read_all(TOKEN_FD, limit=64).decode()
        clean = modes.run_job(job, Reporter(token, RESULT_FD), candidate, home)
        candidate.close(wait=clean)
        sys.stdout.flush()
        sys.stderr.flush()
        code = 0
    except BaseException:  # noqa: BLE001 - the set-up failed: say why on the job's stderr
        os.write(2, f"forkserver: job set-up failed: {traceback.format_exc()}".encode())
    finally:
        os._exit(code)
