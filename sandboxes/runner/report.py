"""The result channel: ``<token> <json>`` lines on a pipe only the fork server reads."""

from __future__ import annotations

import json
import resource
import traceback
from typing import Any

from .framing import write_all


class Reporter:
    def __init__(self, token: str, fd: int):
        self._prefix = (token + " ").encode()
        self.fd = fd

    def emit(self, record: dict[str, Any]) -> None:
        write_all(self.fd, self._prefix + json.dumps(record, separators=(",", ":")).encode() + b"\n")


def describe(exc: BaseException) -> dict[str, Any]:
    """Exception name and a short message; the message comes from candidate code, so guard it.
    A ``MemoryError`` says whether this process was near its address-space limit (a real
    allocation failure) or not (the program raised it itself)."""
    try:
        message = str(exc)[:500]
    except BaseException:  # noqa: BLE001 - a candidate __str__ may raise anything
        message = "<unprintable>"
    record: dict[str, Any] = {"error": type(exc).__name__, "message": message}
    if isinstance(exc, MemoryError):
        flag = getattr(exc, "memory_limit", None)  # set where it was rebuilt from another process
        record["memory_limit"] = bool(flag) if flag is not None else near_memory_limit()
    return record


def near_memory_limit(fraction: float = 0.75) -> bool:
    """Whether this process's peak virtual size came within ``fraction`` of RLIMIT_AS."""
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft == resource.RLIM_INFINITY:
        return False
    try:
        with open("/proc/self/status") as fh:
            peak = next((line.split()[1] for line in fh if line.startswith("VmPeak:")), "0")
    except OSError:
        return False
    return int(peak) * 1024 >= fraction * soft


def tail_traceback() -> str:
    try:
        return "".join(traceback.format_exc())[-2000:]
    except BaseException:  # noqa: BLE001 - formatting candidate frames may raise anything
        return ""
