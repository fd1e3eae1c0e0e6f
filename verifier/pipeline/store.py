"""chains.jsonl as an append-only log: each finished unit is written and flushed at once, and a rerun
on the same directory skips the units already there. A line cut short by kill -9 is dropped on resume."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from verifier.errors import InputError
from verifier.schema import ChainRecord


class ChainStore:
    def __init__(self, path: Path):
        self.path = path
        self._fh: IO[str] | None = None

    def load(self) -> list[ChainRecord]:
        """Records already on disk; repairs a torn last line (the only damage a crash can do).

        Raises InputError naming the line when the file holds something that is not a record.
        """
        if not self.path.exists():
            return []
        try:
            data = self.path.read_bytes()
        except OSError as e:
            raise InputError([f"{self.path}:0: <file>: cannot read: {e.strerror or e}"]) from None
        if data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]
            with self.path.open("r+b") as fh:
                fh.truncate(len(data))
        records = []
        # Split bytes on b"\n" only: str.splitlines() would also split on U+2028 inside a completion.
        for lineno, line in enumerate(data.split(b"\n")[:-1], start=1):
            try:
                records.append(ChainRecord.model_validate_json(line))
            except ValidationError as e:
                raise InputError(
                    [f"{self.path}:{lineno}: <record>: not a chain record ({e.errors()[0]['msg']})"]
                ) from None
        return records

    def rewrite(self, records: list[ChainRecord]) -> None:
        """Replace the log by exactly these records (atomically), e.g. after retried units."""
        self.close()
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
        os.replace(tmp, self.path)

    def append(self, records: list[ChainRecord]) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write("".join(r.model_dump_json() + "\n" for r in records))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> ChainStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
