"""The result channel: ``<token> <json>`` lines on a pipe only the fork server reads."""

from __future__ import annotations

import dis
import json
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
    A ``MemoryError`` says whether an allocation failed (the address-space limit) or the program
    raised it itself."""
    try:
        message = str(exc)[:500]
    except BaseException:  # noqa: BLE001 - a candidate __str__ may raise anything
        message = "<unprintable>"
    record: dict[str, Any] = {"error": type(exc).__name__, "message": message}
    if isinstance(exc, MemoryError):
        flag = getattr(exc, "memory_limit", None)  # set where it was rebuilt from another process
        record["memory_limit"] = bool(flag) if flag is not None else not raised_explicitly(exc)
    return record


def raised_explicitly(exc: BaseException) -> bool:
    """Whether the innermost Python frame raised ``exc`` with a ``raise`` statement (the program
    said MemoryError itself) rather than an allocation failing under it."""
    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code.co_code
    return 0 <= tb.tb_lasti < len(code) and code[tb.tb_lasti] == dis.opmap["RAISE_VARARGS"]


def tail_traceback() -> str:
    try:
        return "".join(traceback.format_exc())[-2000:]
    except BaseException:  # noqa: BLE001 - formatting candidate frames may raise anything
        return ""
