"""Read a run directory for the report: run.json, summary.json, chains.jsonl, filters.jsonl and the
bank that run.json names. Read-only (a torn last line is skipped, not repaired), and every optional
piece that is missing or unreadable becomes a note on the page rather than an error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from verifier.banks.jsonl import read_jsonl
from verifier.banks.loader import Bank, load_bank
from verifier.errors import InputError
from verifier.filters.store import FILTERS_FILE, FilterRecord
from verifier.pipeline.run import file_digest
from verifier.schema import ChainRecord


@dataclass(frozen=True)
class RunDir:
    path: Path
    run: dict[str, Any]
    summary: dict[str, Any] | None
    chains: tuple[ChainRecord, ...]
    filters: tuple[FilterRecord, ...] | None  # None: the run has no filters.jsonl
    bank: Bank | None
    notes: tuple[str, ...]  # what is missing or odd, shown on the page

    @property
    def name(self) -> str:
        return self.path.resolve().name

    def filter_stages(self) -> dict[str, str | None]:
        """stage -> settings_key of the filter run that wrote verified.jsonl (summary.json "filters", in
        its order); without that, every stage of filters.jsonl in first-seen order, any settings."""
        declared = (self.summary or {}).get("filters")
        if isinstance(declared, dict) and declared:
            return {
                str(stage): (v.get("settings_key") if isinstance(v, dict) else None)
                for stage, v in declared.items()
            }
        return {f.stage: None for f in self.filters or ()}

    def filter_decisions(self) -> dict[str, dict[tuple[str, int], bool]]:
        """Per current stage, its kept/dropped decision on each chain it judged (the newest line wins)."""
        stages = self.filter_stages()
        out: dict[str, dict[tuple[str, int], bool]] = {stage: {} for stage in stages}
        for f in self.filters or ():
            if f.stage in stages and stages[f.stage] in (None, f.settings_key):
                out[f.stage][(f.problem_id, f.sample_index)] = f.kept
        return out

    def dropped_by(self) -> dict[tuple[str, int], str]:
        """The first current stage that dropped each chain. Stages judge independently, so a chain
        another stage also dropped is counted under the first one only (the breakdown adds up)."""
        out: dict[tuple[str, int], str] = {}
        for stage, decisions in self.filter_decisions().items():
            for key, kept in decisions.items():
                if not kept:
                    out.setdefault(key, stage)
        return out

    def kept(self) -> list[ChainRecord]:
        """The chains that made it into the data set: verified, and not dropped by a filter stage."""
        dropped = self.dropped_by()
        return [r for r in self.chains if r.verdict.correct and (r.problem_id, r.sample_index) not in dropped]


def _read_lines(path: Path, adapter: TypeAdapter[Any], notes: list[str]) -> list[Any]:
    """Validated records of a JSONL file; a torn last line (a run killed mid-write) is skipped."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError([f"{path}:0: <file>: cannot read: {e.strerror or e}"]) from None
    if data and not data.endswith(b"\n"):
        notes.append(f"{path.name}: the last line is cut short (the run was killed mid-write); skipped")
    torn = data.count(b"\n") + 1 if data and not data.endswith(b"\n") else None  # its line number
    records, errors = [], []
    for lineno, record, errs in read_jsonl(path, adapter):
        if lineno == torn:
            break
        errors.extend(errs)
        if record is not None:
            records.append(record)
    if errors:
        raise InputError(errors)
    return records


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError([f"{path}:0: <file>: cannot read: {e.strerror or e}"]) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError([f"{path}:1: <json>: not JSON ({e})"]) from None
    if not isinstance(data, dict):
        raise InputError([f"{path}:1: <json>: expected an object, got {type(data).__name__}"])
    return data


def _bank_candidates(run_dir: Path, bank: str) -> list[Path]:
    """run.json stores the bank path as typed: relative to wherever `verify` ran. Try the current
    directory, then each directory above the run (runs/<name> under the project root)."""
    p = Path(bank)
    if p.is_absolute():
        return [p]
    return [p, *(parent / p for parent in run_dir.resolve().parents)]


def _load_bank(run_dir: Path, run: dict[str, Any], notes: list[str]) -> Bank | None:
    name = run.get("bank")
    if not isinstance(name, str) or not name:
        notes.append("run.json names no bank: coverage and drift against human solutions are skipped")
        return None
    found = next((c for c in _bank_candidates(run_dir, name) if c.is_file()), None)
    if found is None:
        notes.append(f"bank {name} not found: coverage and drift against human solutions are skipped")
        return None
    try:
        bank = load_bank(found)
    except InputError as e:
        notes.append(f"bank {found} does not load ({e.messages[0]}): coverage and drift are skipped")
        return None
    want = run.get("bank_sha256")
    if isinstance(want, str) and want and file_digest(found) != want:
        notes.append(f"bank {found} changed since the run (sha256 {file_digest(found)} != {want})")
    return bank


def load_run(path: Path) -> RunDir:
    """Raises InputError (file:line: field) when the run directory or one of its records is bad."""
    if not path.is_dir():
        raise InputError([f"{path}:0: RUN_DIR: not a run directory"])
    chains_path = path / "chains.jsonl"
    if not chains_path.is_file():
        raise InputError([f"{chains_path}:0: <file>: missing: not a run directory made by `verify`"])
    notes: list[str] = []
    run = _read_json(path / "run.json") if (path / "run.json").is_file() else {}
    if not run:
        notes.append("run.json is missing: the bank is unknown")
    summary = _read_json(path / "summary.json") if (path / "summary.json").is_file() else None
    if summary is None:
        notes.append("summary.json is missing (the run did not finish): numbers come from chains.jsonl")
    chains = _read_lines(chains_path, TypeAdapter(ChainRecord), notes)
    # A resumed run may log a unit twice (a retried infrastructure failure): the newest line wins.
    latest = {(r.problem_id, r.sample_index): r for r in chains}
    filters_path = path / FILTERS_FILE
    filters = (
        tuple(_read_lines(filters_path, TypeAdapter(FilterRecord), notes)) if filters_path.is_file() else None
    )
    return RunDir(
        path=path,
        run=run,
        summary=summary,
        chains=tuple(latest.values()),
        filters=filters,
        bank=_load_bank(path, run, notes),
        notes=tuple(notes),
    )
