"""After a job: kill every process but ours, empty the writable places, and say whether anything a
job could use to reach the next one is left (then the container is recycled)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from typing import Any

WRITABLE = ("/tmp", "/dev/shm")
SYSVIPC = ("/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg")
LAST_PID = "/proc/sys/kernel/ns_last_pid"
MEMORY_EVENTS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")


def sweep(keep: tuple[int, ...]) -> int:
    """Kill every process but us (PID 1) and ``keep`` (the zygote, the next spare and its candidate
    process); return how many there were.

    SIGSTOP to all first (``kill(-1)`` is atomic against forks, so a fork bomb cannot outrun it),
    then SIGKILL each, then wake the zygote again, then reap the dead (orphans are ours).
    """
    me = os.getpid()

    def others() -> list[int]:
        return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me and int(p) not in keep]

    found = others()
    if not found:
        return 0
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGSTOP)
    for pid in others():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in keep:  # kill(-1) stopped them too
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 5.0
    while others() and time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.001)
        except ChildProcessError:
            time.sleep(0.001)  # dying processes that are not ours yet
    return len(found)


def wipe(keep: tuple[int, ...] = ()) -> bool:
    """Empty the writable places but what the uids in ``keep`` own (the next spare's homes); True
    when something is left (recycle then). We are root with CAP_DAC_OVERRIDE and CAP_FOWNER, so
    the job's 0700 directories are no obstacle."""

    def leftovers(root: str) -> list[str]:
        if not os.path.isdir(root):
            return []
        paths = (os.path.join(root, name) for name in os.listdir(root))
        return [p for p in paths if _owner(p) not in keep]

    for root in WRITABLE:
        for path in leftovers(root):
            _remove(path)
    dirty = any(leftovers(root) for root in WRITABLE)
    for ipc in SYSVIPC:
        try:
            with open(ipc) as fh:
                dirty = dirty or len(fh.read().splitlines()) > 1
        except OSError:
            pass
    if os.path.isdir("/dev/mqueue") and os.listdir("/dev/mqueue"):
        dirty = True
    return dirty


def _owner(path: str) -> int:
    try:
        return os.lstat(path).st_uid
    except OSError:
        return -1


def _remove(path: str) -> None:
    def fix(func: Any, p: str, _exc: Any) -> None:
        os.chmod(os.path.dirname(p), 0o700)
        if os.path.isdir(p):
            os.chmod(p, 0o700)
        func(p)

    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            shutil.rmtree(path, onerror=fix)
        else:
            os.unlink(path)
    except OSError as e:
        print(f"forkserver: cannot remove {path}: {e}", file=sys.stderr, flush=True)


def last_pid() -> int:
    """The PID namespace's last allocated pid: tells whether a job forked (or made threads)."""
    try:
        with open(LAST_PID) as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return -1


def memory_events() -> str:
    """The container's memory events (OOM kills...); a change during a job recycles the container."""
    for path in MEMORY_EVENTS:
        try:
            with open(path) as fh:
                return fh.read()
        except OSError:
            continue
    return ""


def oom_kills(events: str) -> int:
    for line in events.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0
