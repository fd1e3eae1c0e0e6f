"""filters.jsonl: every stage's outcome per chain, keyed by (unit, stage, settings_key).

An append-only log written like chains.jsonl (verifier/pipeline/store.py): each batch is appended and
fsynced before the next starts, and a line cut short by kill -9 is dropped on the next load, so a
killed filter run loses at most the batch in flight and resumes where it stopped. The newest line of
a key wins.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from verifier.errors import InputError

FILTERS_FILE = "filters.jsonl"


class FilterRecord(BaseModel):
    """One line of filters.jsonl (interface I5, read by the report)."""

    model_config = ConfigDict(extra="forbid")

    problem_id: str
    sample_index: int = Field(ge=0)
    stage: str
    settings_key: str
    kept: bool
    reason: str
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int, str, str]:
        return (self.problem_id, self.sample_index, self.stage, self.settings_key)


class FilterLog:
    def __init__(self, path: Path):
        self.path = path
        self._fh: IO[str] | None = None

    def load(self) -> dict[tuple[str, int, str, str], FilterRecord]:
        """The newest record of each key; repairs a torn last line (the only damage a crash can do).

        Raises InputError naming the line when the file holds something that is not a record.
        """
        if not self.path.exists():
            return {}
        try:
            data = self.path.read_bytes()
        except OSError as e:
            raise InputError([f"{self.path}:0: <file>: cannot read: {e.strerror or e}"]) from None
        if data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]
            with self.path.open("r+b") as fh:
                fh.truncate(len(data))
        records: dict[tuple[str, int, str, str], FilterRecord] = {}
        for lineno, line in enumerate(data.split(b"\n")[:-1], start=1):
            try:
                record = FilterRecord.model_validate_json(line)
            except ValidationError as e:
                err = e.errors()[0]
                field = ".".join(str(p) for p in err["loc"]) or "<record>"
                raise InputError(
                    [f"{self.path}:{lineno}: {field}: not a filter record ({err['msg']})"]
                ) from None
            records[record.key] = record
        return records

    def append(self, records: list[FilterRecord]) -> None:
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

    def __enter__(self) -> FilterLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
