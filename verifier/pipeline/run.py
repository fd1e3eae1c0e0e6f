"""The pipeline: units -> completions -> verdicts -> chains.jsonl, then verified.jsonl and summary.json.

Every finished unit is on disk before the next batch starts, so a crash loses at most the batch in
flight, and rerunning the same command on the same directory resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from verifier.banks.loader import Bank
from verifier.errors import InputError
from verifier.pipeline.checking import check_completion
from verifier.pipeline.outputs import write_json, write_verified
from verifier.pipeline.store import ChainStore
from verifier.pipeline.summary import summarise
from verifier.pipeline.units import Produced, Unit
from verifier.schema import ChainRecord, CodeProblem, MathProblem


class Source(Protocol):
    @property
    def model(self) -> str: ...

    def units(self, problems: list[MathProblem | CodeProblem]) -> list[Unit]: ...

    def produce(self, todo: list[Unit]) -> Iterator[list[Produced]]: ...


@dataclass(frozen=True)
class RunResult:
    out_dir: Path
    summary: dict[str, Any]
    new_units: int
    resumed_units: int


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _check_run_identity(out_dir: Path, identity: dict[str, Any]) -> None:
    """A directory holds one run: resuming with other settings would mix two runs' samples."""
    path = out_dir / "run.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError([f"{path}:1: <json>: not a run description ({e}); use another --out"]) from None
        if not isinstance(old, dict):
            raise InputError([f"{path}:1: <json>: not a run description; use another --out"])
        diff = [k for k in identity if old.get(k) != identity[k]]
        if diff:
            raise InputError(
                [
                    f"{path}:1: {k}: this directory holds a run with {k}={old.get(k)!r}, not {identity[k]!r}; "
                    "use another --out"
                    for k in diff
                ]
            )
    else:
        write_json(path, identity)


def _verify(item: Produced) -> ChainRecord:
    verdict, seconds = check_completion(item.unit.problem, item.completion)
    return ChainRecord(
        problem_id=item.unit.problem.id,
        sample_index=item.unit.sample_index,
        kind=item.unit.problem.kind,
        seed=item.unit.seed,
        model=item.model,
        prompt=item.prompt,
        completion=item.completion,
        tokens=item.tokens,
        extracted=verdict.extracted,
        verdict=verdict,
        gen_seconds=round(item.gen_seconds, 4),
        check_seconds=round(seconds, 4),
    )


def run_pipeline(
    bank: Bank,
    source: Source,
    out_dir: Path,
    *,
    identity: dict[str, Any],
    limit: int | None = None,
    check_workers: int = 8,
    on_start: Callable[[int, int], None] = lambda total, done: None,
    on_progress: Callable[[int], None] = lambda n: None,
) -> RunResult:
    t0 = time.perf_counter()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(
            [f"{out_dir}:0: --out: cannot use as the run directory: {e.strerror or e}"]
        ) from None
    _check_run_identity(out_dir, identity)
    problems = list(bank.problems[:limit] if limit else bank.problems)
    units = source.units(problems)
    store = ChainStore(out_dir / "chains.jsonl")
    logged = store.load()
    # The newest record of a unit wins; one the checker could not decide (infrastructure) is retried.
    latest = {(r.problem_id, r.sample_index): r for r in logged}
    done_keys = {key for key, r in latest.items() if not r.infrastructure_failure}
    todo = [u for u in units if u.key not in done_keys]
    on_start(len(units), len(units) - len(todo))
    new: list[ChainRecord] = []
    # Checks run in threads: code checks wait on the sandbox pool, math checks on the checker's pool.
    with store, ThreadPoolExecutor(max_workers=check_workers, thread_name_prefix="check") as pool:
        for produced in source.produce(todo):
            records = list(pool.map(_verify, produced))
            store.append(records)
            new.extend(records)
            on_progress(len(records))
    for r in new:
        latest[(r.problem_id, r.sample_index)] = r
    if len(latest) < len(logged) + len(new):  # retried units left superseded lines: keep one per unit
        store.rewrite(list(latest.values()))
    wanted = {u.key for u in units}
    records = [r for key, r in latest.items() if key in wanted]
    order = {p.id: i for i, p in enumerate(problems)}
    records.sort(key=lambda r: (order[r.problem_id], r.sample_index))
    write_verified(out_dir / "verified.jsonl", records, str(bank.path))
    problems_run = len({u.problem.id for u in units})
    summary = summarise(records, problems=problems_run, wall_seconds=time.perf_counter() - t0, run=identity)
    write_json(out_dir / "summary.json", summary)
    return RunResult(out_dir, summary, new_units=len(new), resumed_units=len(units) - len(todo))
