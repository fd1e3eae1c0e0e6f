"""`verify report RUN_DIR`: the run's outcomes, coverage, drift and cost as report.html + PNG plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import typer

from verifier.cli.console import EXIT_FAILED, console, err_console, fail_input
from verifier.errors import InputError


def report(
    run_dir: Path = typer.Argument(..., help="a run directory made by `verify` (chains.jsonl, run.json...)"),
    baseline: Path | None = typer.Option(
        None, "--baseline", help="another run directory: compare its kept chains with this run's"
    ),
    out: Path | None = typer.Option(
        None, "--out", help="where report.html and the plots go (default RUN_DIR/report)"
    ),
    price_per_million_tokens: float | None = typer.Option(
        None, "--price-per-million-tokens", min=0.0, help="cost of a million generated tokens"
    ),
    gpu_hour_price: float | None = typer.Option(
        None, "--gpu-hour-price", min=0.0, help="cost of an hour of generation time"
    ),
    max_drift: float | None = typer.Option(
        None,
        "--max-drift",
        min=0.0,
        help="exit 1 when a KL divergence (bits) of the kept chains from the reference exceeds this "
        "(the reference: --baseline's kept chains, else the bank's human solutions)",
    ),
    clusters: int | None = typer.Option(
        None,
        "--clusters",
        min=0,
        help="embedding clusters of the problems (default about sqrt(n/2); 0: none)",
    ),
) -> None:
    """Write RUN_DIR/report/report.html (self-contained) and PNG plots; print a short summary."""
    from verifier.report.build import Options, build_report
    from verifier.report.cost import Prices

    def embed(texts: Sequence[str]) -> np.ndarray:
        from verifier.embedding import load_embedder  # loads torch: only when clusters are drawn

        return load_embedder().encode(texts)

    options = Options(
        out=out or run_dir / "report",
        baseline=baseline,
        prices=Prices(price_per_million_tokens, gpu_hour_price),
        max_drift=max_drift,
        clusters=clusters,
    )
    try:
        result = build_report(run_dir, options, embed)
    except InputError as e:
        fail_input(e.messages)
    for line in result.lines:
        console.print(line, markup=False, highlight=False)
    if result.drift_exceeded:
        err_console.print("drift exceeds --max-drift", markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILED)
