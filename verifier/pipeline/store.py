"""Append-only JSONL logs: each batch of records is written and fsynced at once, a line cut short by
kill -9 is dropped on the next load, and a rerun on the same directory resumes from what is there.

``JsonlLog`` is the mechanism for any record model; ``ChainStore`` is chains.jsonl (the filters'
``filters.jsonl`` uses the same mechanism with its own record).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from verifier.errors import InputError
from verifier.schema import ChainRecord

R = TypeVar("R", bound=BaseModel)
L = TypeVar("L", bound="JsonlLog[Any]")


class JsonlLog(Generic[R]):
    """An append-only log of ``model`` records; ``what`` names a record in error messages."""

    def __init__(self, path: Path, model: type[R], what: str):
        self.path = path
        self.model = model
        self.what = what
        self._fh: IO[str] | None = None

    def load(self) -> list[R]:
        """Records already on disk; repairs a torn last line (the only damage a crash can do).

        Raises InputError naming the line and field when the file holds something that is not a record.
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
                records.append(self.model.model_validate_json(line))
            except ValidationError as e:
                err = e.errors()[0]
                field = ".".join(str(p) for p in err["loc"]) or "<record>"
                raise InputError(
                    [f"{self.path}:{lineno}: {field}: not a {self.what} ({err['msg']})"]
                ) from None
        return records

    def rewrite(self, records: list[R]) -> None:
        """Replace the log by exactly these records (atomically), e.g. after retried units."""
        self.close()
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
        os.replace(tmp, self.path)

    def append(self, records: list[R]) -> None:
        if not records:
            return
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

    def __enter__(self: L) -> L:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChainStore(JsonlLog[ChainRecord]):
    """chains.jsonl: one line per finished (problem, sample) unit."""

    def __init__(self, path: Path):
        super().__init__(path, ChainRecord, "chain record")
