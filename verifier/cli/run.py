"""The main job: `verify --bank B [--responses R]` -> chains.jsonl, verified.jsonl, summary.json."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from verifier.banks.loader import load_bank
from verifier.cli.console import console
from verifier.distributed.ray_cluster import RayChecker, RayGenerator, RaySettings, connect
from verifier.generation.base import Generator
from verifier.generation.registry import BackendSettings
from verifier.pipeline.budget import Budget
from verifier.pipeline.execute import ExecutorSettings, LocalExecutor
from verifier.pipeline.prompt_file import PromptSet, load_prompts
from verifier.pipeline.run import RunResult, file_digest, run_pipeline
from verifier.pipeline.sources import GeneratedSource, ResponsesSource, Source
from verifier.resources import Resources, ResourceSettings


def default_out_dir() -> Path:
    return Path("runs") / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class JobOptions:
    bank: Path
    out: Path | None
    backend: BackendSettings
    budget: Budget
    seed: int = 0
    limit: int | None = None
    responses: Path | None = None
    prompt: Path | None = None
    sft_format: str = "messages"
    resources: ResourceSettings = ResourceSettings()
    executor: ExecutorSettings = ExecutorSettings()
    ray: RaySettings | None = None  # generation and checking actors on a Ray cluster


def _identity(options: JobOptions, generator_name: str | None) -> dict[str, Any]:
    """What makes two runs the same run; a directory refuses to resume with anything else. Options
    left at their defaults are not written, so directories made before they existed still resume."""
    identity: dict[str, Any] = {"bank": str(options.bank), "bank_sha256": file_digest(options.bank)}
    if options.prompt is not None:
        identity["prompt_sha256"] = file_digest(options.prompt)
    if options.responses is not None:
        return identity | {
            "mode": "responses",
            "responses": str(options.responses),
            "responses_sha256": file_digest(options.responses),
        }
    b, budget = options.backend, options.budget
    identity |= {
        "mode": "generate",
        "model": b.model or generator_name,
        "samples": budget.round_size,
        "seed": options.seed,
        "max_new_tokens": b.sampling.max_new_tokens,
        "temperature": b.sampling.temperature,
        "top_p": b.sampling.top_p,
        "dtype": b.dtype or ("bfloat16" if b.backend == "transformers" else "default"),
    }
    if b.backend != "transformers":
        identity |= {"backend": b.backend, "api_model": b.api_model, "endpoint": b.endpoint}
    if budget.until_verified is not None:
        identity |= {"until_verified": budget.until_verified, "max_samples": budget.max_samples}
    return identity


def make_source(options: JobOptions, prompts: PromptSet, bank_by_id: dict[str, Any]) -> Source:
    """The --responses file, or a loaded generator (InputError for bad backend settings)."""
    if options.responses is not None:
        return ResponsesSource(options.responses, bank_by_id, prompt=prompts.build)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub for a model: it is local
    from verifier.generation.registry import make_generator

    generator: Generator
    with console.status(f"loading the {options.backend.backend} generator"):
        if options.ray is not None:
            generator = RayGenerator(connect(options.ray), options.backend, options.ray)
        else:
            generator = make_generator(options.backend)
    # All samples of a problem share a batch; as many problems per call as fit in --batch-rows.
    per_call = max(1, options.backend.batch_rows // options.budget.round_size)
    if options.backend.backend != "transformers":  # engines batch for themselves: give them more
        per_call = max(per_call, 16)
    return GeneratedSource(generator, options.budget, options.seed, per_call, prompt=prompts.build)


def run_job(options: JobOptions) -> RunResult:
    """Raises InputError for bad input (the caller turns it into exit code 2)."""
    bank = load_bank(options.bank)
    prompts = load_prompts(options.prompt)
    out_dir = options.out or default_out_dir()
    resources = Resources(options.resources)
    if options.ray is None and any(p.kind == "code" for p in bank.problems[: options.limit]):
        resources.prestart_sandbox()  # the containers start while the model loads
    try:
        source = make_source(options, prompts, bank.by_id())
    except BaseException:
        resources.close()
        raise
    checker: RayChecker | None = None
    executor = options.executor
    try:
        identity = _identity(options, None if options.responses else source.model)
        if options.ray is not None:  # checks run on the cluster's nodes; the journal stays here
            checker = RayChecker(connect(options.ray), options.resources, options.ray)
            executor = replace(executor, check_threads=checker.concurrency)
    except BaseException:
        source.close()
        resources.close()
        raise
    console.print(f"writing to {out_dir}")
    with Progress(
        TextColumn("[bold]verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("units", total=None)
        total = 0

        def on_start(known: int, done: int) -> None:
            nonlocal total
            total = known
            progress.update(task, total=total, completed=done)

        def on_scheduled(n: int) -> None:
            nonlocal total
            total += n
            progress.update(task, total=total)

        try:
            result = run_pipeline(
                bank,
                source,
                out_dir,
                identity=identity,
                resources=resources,
                limit=options.limit,
                executor=LocalExecutor(executor),
                check=checker,
                sft_format=options.sft_format,
                on_start=on_start,
                on_progress=lambda n: progress.advance(task, n),
                on_scheduled=on_scheduled,
            )
        finally:
            if checker is not None:
                checker.close()
    print_summary(result)
    return result


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def print_summary(result: RunResult) -> None:
    s = result.summary
    table = Table(title=f"summary ({result.out_dir})", show_header=False)
    n = max((int(k) for k in s["pass@k"]), default=1)
    t = s.get("timing", {})
    rows = [
        ("problems", s["problems"]),
        ("samples", f"{s['samples']} ({result.resumed_units} resumed, {result.new_units} new)"),
        ("verified chains", s["verified"]),
        ("problems with a verified chain", s["problems_with_verified"]),
        ("pass@1", s["pass@1"]),
        *([(f"pass@{n}", s["pass@k"].get(str(n)))] if n > 1 else []),
        ("statuses", ", ".join(f"{k} {v}" for k, v in sorted(s["status_counts"].items()))),
        ("tokens/s", s["tokens_per_s"]),
        (
            "generating / checking (s)",
            f"{_fmt(t.get('generate_s'))} / {_fmt(t.get('check_s'))} "
            f"(generation waited {_fmt(t.get('generate_wait_s'))} on checking)",
        ),
        ("wall time (s)", s["wall_seconds"]),
    ]
    for name, value in rows:
        table.add_row(name, _fmt(value))
    console.print(table)
