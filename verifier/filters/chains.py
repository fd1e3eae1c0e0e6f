"""Read a finished run's chains.jsonl without loading it whole and without ever writing it.

One pass records where each unit's newest line starts (a resumed run may have appended a retried
unit later in the file); groups are then read back one problem at a time by seeking to those
offsets, so memory holds the index and the groups in flight, never the corpus.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from verifier.errors import InputError
from verifier.schema import ChainRecord


@dataclass(frozen=True)
class ChainIndex:
    path: Path
    offsets: dict[str, list[tuple[int, int]]]  # problem id -> [(sample index, byte offset)], sample order
    total: int  # units in the run
    verified: int  # of which verified

    def problem_ids(self) -> list[str]:
        return list(self.offsets)


def index_chains(path: Path) -> ChainIndex:
    """Offsets of the newest verified record of each unit. A torn last line (a run killed mid-write)
    is ignored here; the pipeline's own resume repairs it. Raises InputError naming the line."""
    if not path.exists():
        raise InputError([f"{path}:0: <file>: no chains.jsonl: not a run directory"])
    newest: dict[tuple[str, int], tuple[int, bool]] = {}
    order: dict[str, None] = {}
    try:
        fh = path.open("rb")
    except OSError as e:
        raise InputError([f"{path}:0: <file>: cannot read: {e.strerror or e}"]) from None
    with fh:
        offset = 0
        for lineno, line in enumerate(fh, start=1):
            start, offset = offset, offset + len(line)
            if not line.endswith(b"\n"):
                break  # torn last line
            record = _parse(path, lineno, line)
            newest[(record.problem_id, record.sample_index)] = (start, record.verdict.correct)
            order.setdefault(record.problem_id, None)
    offsets: dict[str, list[tuple[int, int]]] = {pid: [] for pid in order}
    for (pid, index), (start, correct) in newest.items():
        if correct:
            offsets[pid].append((index, start))
    for rows in offsets.values():
        rows.sort()
    verified = sum(len(rows) for rows in offsets.values())
    return ChainIndex(path, {p: r for p, r in offsets.items() if r}, len(newest), verified)


def _parse(path: Path, lineno: int, line: bytes) -> ChainRecord:
    try:
        return ChainRecord.model_validate_json(line)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "<record>"
        raise InputError([f"{path}:{lineno}: {field}: not a chain record ({err['msg']})"]) from None


def read_groups(index: ChainIndex, problem_ids: list[str]) -> Iterator[tuple[str, tuple[ChainRecord, ...]]]:
    """The verified chains of each problem, in sample order, read back by offset."""
    with index.path.open("rb") as fh:
        for pid in problem_ids:
            chains = []
            for _, start in index.offsets.get(pid, []):
                fh.seek(start)
                chains.append(ChainRecord.model_validate_json(fh.readline()))
            yield pid, tuple(chains)
