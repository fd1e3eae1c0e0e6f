"""The state every job process starts from, set in full from this profile and never inherited from
an earlier job: credentials (a fresh uid/gid that owns nothing else), every rlimit (soft and hard),
nice, CPU affinity, umask, environment, working directory, dumpable flag, OOM score.

The fork server and the zygote run as root with a few capabilities (sandboxes/profile.py); a job's
processes drop to their own uid (the harness and the candidate each get one, fresh per job), after
which they hold no capability at all, so ``prlimit``, ``kill``, ``ptrace``, ``setpriority`` and
``sched_setaffinity`` on anything outside the job fail with EPERM.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import resource
from typing import Any

PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
UMASK = 0o077
NICE = 0
ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONIOENCODING": "utf-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
}
MiB = 1 << 20
INF = resource.RLIM_INFINITY
RLIMIT_LOCKS = getattr(resource, "RLIMIT_LOCKS", 10)  # Linux: file locks; not in Python's module


def job_rlimits(timeout_s: float, memory_mb: int) -> dict[int, tuple[int, int]]:
    """Every rlimit of a job process: (soft, hard). CPU time and address space follow the job; the
    rest are fixed. NPROC counts the uid's processes, and the uid is the job's own."""
    cpu = math.ceil(timeout_s) + 1
    mem = memory_mb * MiB
    return {
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_AS: (mem, mem),
        resource.RLIMIT_DATA: (mem, mem),
        resource.RLIMIT_FSIZE: (16 * MiB, 16 * MiB),
        resource.RLIMIT_NOFILE: (256, 256),
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_NPROC: (64, 64),
        resource.RLIMIT_STACK: (8 * MiB, 64 * MiB),
        resource.RLIMIT_MEMLOCK: (64 << 10, 64 << 10),
        resource.RLIMIT_MSGQUEUE: (0, 0),
        resource.RLIMIT_SIGPENDING: (1024, 1024),
        RLIMIT_LOCKS: (1024, 1024),
        resource.RLIMIT_NICE: (0, 0),
        resource.RLIMIT_RTPRIO: (0, 0),
        resource.RLIMIT_RTTIME: (1_000_000, 1_000_000),
    }


def _capped(value: int, hard: int) -> int:
    if hard == INF:
        return value
    return hard if value == INF else min(value, hard)


def apply_rlimits(limits: dict[int, tuple[int, int]]) -> None:
    """Set every limit; never above the inherited hard limit (raising it needs CAP_SYS_RESOURCE),
    which is the fork server's own and no job can change it."""
    for which, (soft, hard) in limits.items():
        inherited = resource.getrlimit(which)[1]
        hard = _capped(hard, inherited)
        resource.setrlimit(which, (_capped(soft, hard), hard))


def reset_scheduling(cpus: set[int]) -> None:
    """Nice and CPU affinity as the profile says (the fork server's affinity at start-up)."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if current != NICE:
        os.setpriority(os.PRIO_PROCESS, 0, NICE)
    os.sched_setaffinity(0, cpus)
    os.umask(UMASK)


def reset_environment(home: str) -> None:
    os.environ.clear()
    os.environ.update(ENV)
    os.environ["HOME"] = home
    os.environ["TMPDIR"] = home


def drop_to(uid: int) -> None:
    """Become ``uid``/gid ``uid`` with no supplementary groups: every capability is gone after this
    (real, effective and saved uid all non-zero), and so is the way back."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid):
        raise OSError(f"could not drop to uid {uid}")


@functools.lru_cache(maxsize=1)
def libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def set_name(name: bytes) -> None:
    """How the process shows in /proc/PID/comm."""
    libc().prctl(PR_SET_NAME, name, 0, 0, 0)


def set_dumpable(flag: int) -> None:
    """prctl(PR_SET_DUMPABLE): when off, /proc/PID/{mem,fd,...} of this process are closed to its uid."""
    if libc().prctl(PR_SET_DUMPABLE, flag, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl(PR_SET_DUMPABLE, {flag}) failed")


def make_private_dir(root: str) -> str:
    """A fresh directory with a random name, owned by the caller, mode 0700."""
    path = os.path.join(root, os.urandom(12).hex())
    os.mkdir(path, 0o700)
    return path
