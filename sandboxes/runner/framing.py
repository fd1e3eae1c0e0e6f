"""Byte plumbing on raw fds, one copy for the whole runner: write everything, read to EOF, lines."""

from __future__ import annotations

import json
import os
from typing import Any


def write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def read_all(fd: int, limit: int = 1 << 30) -> bytes:
    """Everything up to EOF (at most ``limit`` bytes), then close ``fd``."""
    parts = []
    size = 0
    try:
        while size < limit and (chunk := os.read(fd, min(1 << 20, limit - size))):
            parts.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return b"".join(parts)


def send_json(fd: int, record: dict[str, Any]) -> None:
    """One JSON object per line, compact."""
    write_all(fd, json.dumps(record, separators=(",", ":")).encode() + b"\n")


class LineTooLong(ValueError):
    """The peer sent a line over the reader's limit: it is broken (or hostile), stop reading it."""


class LineReader:
    """Newline-framed reads from a raw fd, each line at most ``limit`` bytes."""

    def __init__(self, fd: int, chunk: int = 1 << 16, limit: int = 256 << 20):
        self.fd = fd
        self._chunk = chunk
        self._limit = limit
        self._buf = b""

    def readline(self) -> bytes | None:
        """The next line without its newline; None at EOF."""
        while b"\n" not in self._buf:
            if len(self._buf) > self._limit:
                raise LineTooLong(f"a line of more than {self._limit} bytes")
            chunk = os.read(self.fd, self._chunk)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def buffered(self) -> bool:
        """Whether a whole line is already buffered (select() on the fd would not show it)."""
        return b"\n" in self._buf
