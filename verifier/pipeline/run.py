"""The pipeline: resume -> execute -> finalize.

- ``resume``: check the run directory holds this run (``run.json``), read ``chains.jsonl`` (repairing a
  line torn by kill -9) and say which units are finished.
- ``execute``: an executor produces, checks and appends the missing units (``execute.py``: threads
  and bounded queues on this machine); every record is fsynced as soon as it is checked.
- ``finalize``: one record per unit in ``chains.jsonl``, then ``verified.jsonl`` and ``summary.json``.

Rerunning the same command on the same directory resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from verifier.banks.loader import Bank
from verifier.errors import InputError
from verifier.pipeline.checking import chain_record
from verifier.pipeline.execute import Check, LocalExecutor, Steps, Timing
from verifier.pipeline.outputs import write_json, write_verified
from verifier.pipeline.scheduler import Scheduler
from verifier.pipeline.sources import Problem, Source
from verifier.pipeline.store import ChainStore
from verifier.pipeline.summary import summarise
from verifier.resources import Resources
from verifier.schema import ChainRecord


@dataclass(frozen=True)
class RunResult:
    out_dir: Path
    summary: dict[str, Any]
    new_units: int
    resumed_units: int


class Executor(Protocol):
    def run(
        self,
        scheduler: Scheduler,
        steps: Steps,
        *,
        on_progress: Callable[[int], None] = ...,
        on_scheduled: Callable[[int], None] = ...,
    ) -> tuple[list[ChainRecord], Timing]: ...


@dataclass(frozen=True)
class Resumed:
    """What is on disk already: the newest record of each unit, and how many lines the log holds."""

    latest: dict[tuple[str, int], ChainRecord]
    logged: int

    def known(self) -> dict[str, dict[int, bool]]:
        """problem id -> sample index -> verified, for the finished units. Only the retryable undecided
        ones (machinery, deadline) are retried; a bank bug is final, not verified."""
        out: dict[str, dict[int, bool]] = {}
        for (pid, i), r in self.latest.items():
            if not r.judgement().retryable:
                out.setdefault(pid, {})[i] = r.verdict.correct
        return out


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


def resume(out_dir: Path, identity: dict[str, Any], store: ChainStore) -> Resumed:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(
            [f"{out_dir}:0: --out: cannot use as the run directory: {e.strerror or e}"]
        ) from None
    _check_run_identity(out_dir, identity)
    logged = store.load()
    return Resumed({(r.problem_id, r.sample_index): r for r in logged}, len(logged))


def finalize(
    out_dir: Path,
    bank: Bank,
    problems: Sequence[Problem],
    source: Source,
    store: ChainStore,
    resumed: Resumed,
    new: list[ChainRecord],
    *,
    identity: dict[str, Any],
    timing: dict[str, Any],
    sft_format: str,
) -> dict[str, Any]:
    latest = dict(resumed.latest)
    for r in new:
        latest[(r.problem_id, r.sample_index)] = r
    if len(latest) < resumed.logged + len(new):  # retried units left superseded lines: keep one per unit
        store.rewrite(list(latest.values()))
    limits = {p.id: source.budget(p).max_samples for p in problems}
    records = [r for (pid, i), r in latest.items() if i < limits.get(pid, 0)]
    order = {p.id: i for i, p in enumerate(problems)}
    records.sort(key=lambda r: (order[r.problem_id], r.sample_index))
    write_verified(out_dir / "verified.jsonl", records, str(bank.path), sft_format=sft_format)
    problems_run = sum(1 for n in limits.values() if n > 0)
    summary = summarise(records, problems=problems_run, wall_seconds=timing["wall_s"], run=identity)
    summary["timing"] = timing
    write_json(out_dir / "summary.json", summary)
    return summary


def run_pipeline(
    bank: Bank,
    source: Source,
    out_dir: Path,
    *,
    identity: dict[str, Any],
    resources: Resources,
    limit: int | None = None,
    executor: Executor | None = None,
    check: Check | None = None,
    sft_format: str = "messages",
    on_start: Callable[[int, int], None] = lambda total, done: None,
    on_progress: Callable[[int], None] = lambda n: None,
    on_scheduled: Callable[[int], None] = lambda n: None,
) -> RunResult:
    """Run (or resume) the pipeline into ``out_dir``. Closes ``resources`` and the source at the end,
    also on an error or Ctrl-C, after every checked record is on disk. ``check`` replaces the local
    check step (checking actors on a Ray cluster); the journal stays this process's."""
    t0 = time.perf_counter()
    store = ChainStore(out_dir / "chains.jsonl")
    with resources, store:
        try:
            resumed = resume(out_dir, identity, store)
            problems = list(bank.problems[:limit] if limit else bank.problems)
            known = resumed.known()
            scheduler = Scheduler(source, problems, known)
            steps = Steps(
                produce=source.produce,
                check=check or (lambda item: chain_record(item, resources)),
                write=store.append,
                problems_per_call=source.problems_per_call,
            )
            done = sum(1 for p in problems for i in known.get(p.id, {}) if i < source.budget(p).max_samples)
            on_start(done, done)
            new, timing = (executor or LocalExecutor()).run(
                scheduler, steps, on_progress=on_progress, on_scheduled=on_scheduled
            )
        finally:
            source.close()
        summary = finalize(
            out_dir,
            bank,
            problems,
            source,
            store,
            resumed,
            new,
            identity=identity,
            timing=timing.as_dict(time.perf_counter() - t0),
            sft_format=sft_format,
        )
    return RunResult(out_dir, summary, new_units=len(new), resumed_units=done)
