"""The result channel: ``<token> <json>`` lines on a pipe only the fork server reads."""

from __future__ import annotations

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
    """Exception name and a short message; the message comes from candidate code, so guard it."""
    try:
        message = str(exc)[:500]
    except BaseException:  # noqa: BLE001 - a candidate __str__ may raise anything
        message = "<unprintable>"
    return {"error": type(exc).__name__, "message": message}


def tail_traceback() -> str:
    try:
        return "".join(traceback.format_exc())[-2000:]
    except BaseException:  # noqa: BLE001 - formatting candidate frames may raise anything
        return ""
