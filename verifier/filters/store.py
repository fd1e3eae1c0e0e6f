"""filters.jsonl: every stage's outcome per chain, keyed by (unit, stage, settings_key).

An append-only log on the same mechanism as chains.jsonl (verifier/pipeline/store.py): each batch is appended and
fsynced before the next starts, and a line cut short by kill -9 is dropped on the next load, so a
killed filter run loses at most the batch in flight and resumes where it stopped. The newest line of
a key wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from verifier.pipeline.store import JsonlLog

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


class FilterLog(JsonlLog[FilterRecord]):
    """filters.jsonl on the shared append-only mechanism; ``outcomes()`` is the newest line per key."""

    def __init__(self, path: Path):
        super().__init__(path, FilterRecord, "filter record")

    def outcomes(self) -> dict[tuple[str, int, str, str], FilterRecord]:
        return {r.key: r for r in self.load()}
