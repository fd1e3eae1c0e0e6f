"""The main job: `verify --bank B [--responses R]` -> chains.jsonl, verified.jsonl, summary.json."""

from __future__ import annotations

import os
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
from verifier.pipeline.run import RunResult, file_digest, run_pipeline
from verifier.pipeline.sources import GeneratedSource, ResponsesSource


def default_out_dir() -> Path:
    return Path("runs") / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def run_job(
    *,
    bank_path: Path,
    responses: Path | None,
    model: str | None,
    samples: int,
    limit: int | None,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int,
    out: Path | None,
    batch_rows: int,
    dtype: str,
) -> RunResult:
    """Raises InputError for bad input (the caller turns it into exit code 2)."""
    bank = load_bank(bank_path)
    out_dir = out or default_out_dir()
    identity: dict[str, Any] = {"bank": str(bank_path), "bank_sha256": file_digest(bank_path)}
    if responses is not None:
        source: GeneratedSource | ResponsesSource = ResponsesSource(responses, bank.by_id())
        identity |= {
            "mode": "responses",
            "responses": str(responses),
            "responses_sha256": file_digest(responses),
        }
    else:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from verifier.generation.transformers_backend import SamplingConfig, TransformersGenerator

        config = SamplingConfig(
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            dtype=dtype,
            batch_rows=batch_rows,
        )
        with console.status("loading the model"):
            generator = TransformersGenerator(model, config)
        source = GeneratedSource(generator, samples, seed, problems_per_call=max(1, batch_rows // samples))
        identity |= {
            "mode": "generate",
            "model": model or generator.name,
            "samples": samples,
            "seed": seed,
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "dtype": dtype,
        }
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

        def on_start(total: int, done: int) -> None:
            progress.update(task, total=total, completed=done)

        result = run_pipeline(
            bank,
            source,
            out_dir,
            identity=identity,
            limit=limit,
            on_start=on_start,
            on_progress=lambda n: progress.advance(task, n),
        )
    print_summary(result)
    return result


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def print_summary(result: RunResult) -> None:
    s = result.summary
    table = Table(title=f"summary ({result.out_dir})", show_header=False)
    n = max((int(k) for k in s["pass@k"]), default=1)
    rows = [
        ("problems", s["problems"]),
        ("samples", f"{s['samples']} ({result.resumed_units} resumed, {result.new_units} new)"),
        ("verified chains", s["verified"]),
        ("problems with a verified chain", s["problems_with_verified"]),
        ("pass@1", s["pass@1"]),
        *([(f"pass@{n}", s["pass@k"].get(str(n)))] if n > 1 else []),
        ("statuses", ", ".join(f"{k} {v}" for k, v in sorted(s["status_counts"].items()))),
        ("tokens/s", s["tokens_per_s"]),
        ("wall time (s)", s["wall_seconds"]),
    ]
    for name, value in rows:
        table.add_row(name, _fmt(value))
    console.print(table)
