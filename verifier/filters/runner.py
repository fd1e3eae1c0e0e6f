"""Apply filter stages to a finished run directory, resumably, and rewrite verified.jsonl.

chains.jsonl is only read. Each stage judges the verified chains it has no record for (under its
current settings), in batches appended to filters.jsonl; stages never see each other's outcomes, so
adding a stage later never redoes the others. A per-problem stage re-judges a problem whose set of
verified chains changed since (a resumed run added samples). verified.jsonl then keeps a chain only
if it verified and every chosen stage kept it; summary.json gains the per-stage counts.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.banks.loader import Bank
from verifier.errors import InputError
from verifier.filters.base import Group, Scope, Stage, settings_key
from verifier.filters.chains import ChainIndex, index_chains, read_groups
from verifier.filters.store import FILTERS_FILE, FilterLog, FilterRecord
from verifier.pipeline.outputs import write_json, write_verified
from verifier.schema import ChainRecord

Unit = tuple[str, int]


@dataclass(frozen=True)
class StageReport:
    name: str
    settings_key: str
    kept: int
    dropped: int
    judged: int  # judged in this call (the rest were on record)
    seconds: float
    distribution: dict[str, Any] | None = None  # quantiles of the stage's score (cosine, confidence...)

    def as_json(self) -> dict[str, Any]:
        out = {
            "kept": self.kept,
            "dropped": self.dropped,
            "judged": self.judged,
            "settings_key": self.settings_key,
            "seconds": round(self.seconds, 3),
        }
        return out | ({"distribution": self.distribution} if self.distribution else {})


QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)


def distribution(values: list[float]) -> dict[str, Any] | None:
    """Quantiles of a stage's score over the run's verified chains (exact: sorted values)."""
    if not values:
        return None
    ordered = sorted(values)
    pick = [ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] for q in QUANTILES]
    return {
        "score_quantiles": {f"p{round(q * 100)}": round(v, 4) for q, v in zip(QUANTILES, pick, strict=True)}
    }


@dataclass(frozen=True)
class FilterResult:
    run_dir: Path
    verified: int  # verified chains before the filters
    kept: int  # written to verified.jsonl: verified and kept by every stage
    stages: tuple[StageReport, ...]


def _group_digest(index: ChainIndex, problem_id: str) -> str:
    samples = ",".join(str(i) for i, _ in index.offsets[problem_id])
    return hashlib.sha256(samples.encode()).hexdigest()[:12]


def _pending(
    stage: Stage, key: str, index: ChainIndex, done: dict[tuple[str, int, str, str], FilterRecord]
) -> dict[str, set[int]]:
    """Problem id -> the samples to judge: those with no record under this key; for a per-problem
    stage, every sample of a problem where any is missing or the problem's set of chains changed."""
    out: dict[str, set[int]] = {}
    for pid, rows in index.offsets.items():
        samples = [i for i, _ in rows]
        missing = {i for i in samples if (pid, i, stage.name, key) not in done}
        if stage.scope is Scope.PROBLEM:
            digest = _group_digest(index, pid)
            stale = any(
                done[(pid, i, stage.name, key)].details.get("group_digest") != digest
                for i in samples
                if i not in missing
            )
            if missing or stale:
                out[pid] = set(samples)
        elif missing:
            out[pid] = missing
    return out


def _batches(pending: dict[str, set[int]], batch_chains: int) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for pid, samples in pending.items():
        n = len(samples)
        if batch and size + n > batch_chains:
            yield batch
            batch, size = [], 0
        batch.append(pid)
        size += n
    if batch:
        yield batch


def _run_stage(
    stage: Stage,
    index: ChainIndex,
    bank: Bank | None,
    log: FilterLog,
    done: dict[tuple[str, int, str, str], FilterRecord],
    batch_chains: int,
    on_progress: Callable[[str, int, int], None],
) -> StageReport:
    t0 = time.perf_counter()
    key = settings_key(stage)
    problems = bank.by_id() if bank is not None else {}
    pending = _pending(stage, key, index, done)
    total = sum(len(samples) for samples in pending.values())
    judged = 0
    on_progress(stage.name, 0, total)
    for batch in _batches(pending, batch_chains):
        groups = [
            Group(pid, problems.get(pid), tuple(c for c in chains if c.sample_index in pending[pid]))
            for pid, chains in read_groups(index, batch)
        ]
        outcomes = stage.judge(groups)
        records = []
        for group, group_outcomes in zip(groups, outcomes, strict=True):
            if len(group_outcomes) != len(group.chains):
                raise RuntimeError(
                    f"stage {stage.name} returned {len(group_outcomes)} outcomes for "
                    f"{len(group.chains)} chains of {group.problem_id}"
                )
            extra = (
                {"group_digest": _group_digest(index, group.problem_id)}
                if stage.scope is Scope.PROBLEM
                else {}
            )
            for chain, outcome in zip(group.chains, group_outcomes, strict=True):
                records.append(
                    FilterRecord(
                        problem_id=chain.problem_id,
                        sample_index=chain.sample_index,
                        stage=stage.name,
                        settings_key=key,
                        kept=outcome.kept,
                        reason=outcome.reason,
                        details={**outcome.details, **extra},
                    )
                )
        log.append(records)
        for r in records:
            done[r.key] = r
        judged += len(records)
        on_progress(stage.name, judged, total)
    kept = dropped = 0
    score = getattr(stage, "score", None)  # the detail a stage ranks chains by, when it has one
    values: list[float] = []
    for pid, rows in index.offsets.items():
        for i, _ in rows:
            record = done[(pid, i, stage.name, key)]
            if record.kept:
                kept += 1
            else:
                dropped += 1
            value = record.details.get(score) if score else None
            if isinstance(value, int | float):
                values.append(float(value))
    seconds = time.perf_counter() - t0
    return StageReport(stage.name, key, kept, dropped, judged, seconds, distribution(values))


def run_filters(
    run_dir: Path,
    stages: Sequence[Stage],
    *,
    bank: Bank | None,
    bank_label: str,
    sft_format: str = "messages",
    batch_chains: int = 256,
    on_progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> FilterResult:
    """Raises InputError for a directory that is not a finished run or a corrupt filters.jsonl."""
    if not stages:
        raise InputError(["--filters: name at least one stage"])
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise InputError([f"--filters: a stage is named twice ({', '.join(names)})"])
    index = index_chains(run_dir / "chains.jsonl")
    reports = []
    with FilterLog(run_dir / FILTERS_FILE) as log:
        done = log.outcomes()
        for stage in stages:
            try:
                reports.append(_run_stage(stage, index, bank, log, done, batch_chains, on_progress))
            finally:
                stage.close()
    keys = {(s.name, r.settings_key) for s, r in zip(stages, reports, strict=True)}
    survivors = {
        (pid, i)
        for pid, rows in index.offsets.items()
        for i, _ in rows
        if all(done[(pid, i, name, key)].kept for name, key in keys)
    }
    del done
    verified: list[ChainRecord] = [c for _, chains in read_groups(index, index.problem_ids()) for c in chains]
    kept = write_verified(
        run_dir / "verified.jsonl",
        verified,
        bank_label,
        keep=lambda r: (r.problem_id, r.sample_index) in survivors,
        sft_format=sft_format,
    )
    _update_summary(run_dir / "summary.json", reports, kept)
    return FilterResult(run_dir, index.verified, kept, tuple(reports))


def _update_summary(path: Path, reports: list[StageReport], kept: int) -> None:
    """summary.json gains ``filters`` (per stage) and ``kept_after_filters``; other keys untouched."""
    summary: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError([f"{path}:1: <json>: not a run summary ({e})"]) from None
        if isinstance(loaded, dict):
            summary = loaded
    summary["filters"] = {r.name: r.as_json() for r in reports}
    summary["kept_after_filters"] = kept
    write_json(path, summary)
