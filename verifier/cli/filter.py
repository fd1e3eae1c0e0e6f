"""`verify filter RUN_DIR --filters ...`: apply filter stages to a finished run (no regeneration,
no re-verification); outcomes in filters.jsonl, verified.jsonl rewritten, summary.json counts."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from verifier.cli.console import console, fail_input
from verifier.errors import InputError
from verifier.filters.registry import STAGES, FilterOptions, filter_run, parse_band, parse_filters
from verifier.filters.runner import FilterResult
from verifier.generation.registry import BackendSettings


def filter_command(
    run_dir: Path = typer.Argument(..., help="a run directory (chains.jsonl, run.json)"),
    filters: str = typer.Option(..., "--filters", help=f"comma-separated stages: {','.join(STAGES)}"),
    bank: Path | None = typer.Option(None, "--bank", help="the run's bank (default: the one run.json names)"),
    keep_per_problem: int | None = typer.Option(
        None, "--keep-per-problem", min=1, help="dedup: keep at most N most distinct chains per problem"
    ),
    near_threshold: float = typer.Option(
        0.8, "--near-threshold", help="dedup: Jaccard similarity (MinHash) at which two chains are one"
    ),
    anchor_file: Path | None = typer.Option(
        None, "--anchor-file", help='anchor: JSONL of {"text": ...} anchors (default: the bank\'s solutions)'
    ),
    band: str = typer.Option("0.65,0.92", "--band", help="anchor: keep a best cosine in LOW,HIGH"),
    critic_backend: str = typer.Option(
        "transformers", "--critic-backend", help="critic: transformers, vllm, openai"
    ),
    critic_model: list[str] = typer.Option(
        [], "--critic-model", help="critic: model (repeat for different critics; default: embedded SmolLM2)"
    ),
    critic_base_url: str | None = typer.Option(None, "--critic-base-url", help="critic (openai): server URL"),
    critic_api_model: str | None = typer.Option(
        None, "--critic-api-model", help="critic (openai): model name"
    ),
    critics: int = typer.Option(1, "--critics", min=1, help="critic: how many critics must all agree"),
    critic_threshold: float = typer.Option(
        0.95, "--critic-threshold", help="critic: keep at this confidence"
    ),
    perplexity_model: str | None = typer.Option(
        None, "--perplexity-model", help="perplexity: scoring model (default: the run's generator model)"
    ),
    perplexity_band: str = typer.Option(
        "0,1",
        "--perplexity-band",
        help="perplexity: LOW,HIGH quantiles of the human references' perplexities",
    ),
    perplexity_margin: float = typer.Option(
        2.0, "--perplexity-margin", help="perplexity: widen the band to [low/M, high*M]"
    ),
    perplexity_refs: int = typer.Option(
        200, "--perplexity-refs", min=1, help="perplexity: references scored to set the band"
    ),
) -> None:
    """Apply filters to a finished run; a rerun resumes and never redoes a stage's recorded outcomes."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the models are local; never reach for the hub
    try:
        names = parse_filters(filters)
        options = FilterOptions(
            keep_per_problem=keep_per_problem,
            near_threshold=near_threshold,
            anchor_file=anchor_file,
            band=parse_band("--band", band),
            critic=BackendSettings(
                backend=critic_backend, base_url=critic_base_url, api_model=critic_api_model, dtype="float32"
            ),
            critic_models=tuple(critic_model),
            critics=critics,
            critic_threshold=critic_threshold,
            perplexity_model=perplexity_model,
            perplexity_band=parse_band("--perplexity-band", perplexity_band),
            perplexity_margin=perplexity_margin,
            perplexity_references=perplexity_refs,
        )
        with console.status("filtering") as status:
            result = filter_run(
                run_dir,
                names,
                options,
                bank_path=bank,
                on_progress=lambda stage, done, total: status.update(f"{stage}: {done}/{total} chains"),
            )
    except InputError as e:
        fail_input(e.messages)
    except FileNotFoundError as e:
        fail_input([str(e)])
    print_filter_summary(result)


def apply_filters(run_dir: Path, filters: str) -> FilterResult:
    """The main job's ``--filters``: the same step on its run directory, every stage at its defaults
    (``verify filter`` takes the stage options). Bad input exits 2, like ``verify filter``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        with console.status("filtering") as status:
            result = filter_run(
                run_dir,
                parse_filters(filters),
                FilterOptions(),
                on_progress=lambda stage, done, total: status.update(f"{stage}: {done}/{total} chains"),
            )
    except InputError as e:
        fail_input(e.messages)
    except FileNotFoundError as e:
        fail_input([str(e)])
    print_filter_summary(result)
    return result


def print_filter_summary(result: FilterResult) -> None:
    table = Table(title=f"filters ({result.run_dir})")
    for column in ("stage", "kept", "dropped", "judged now", "seconds"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for s in result.stages:
        table.add_row(s.name, str(s.kept), str(s.dropped), str(s.judged), f"{s.seconds:.1f}")
    console.print(table)
    for s in result.stages:
        if s.distribution:
            q = s.distribution["score_quantiles"]
            console.print(f"{s.name} score quantiles: " + ", ".join(f"{k} {v}" for k, v in q.items()))
    console.print(
        f"verified chains: {result.verified}; kept by every stage: {result.kept} "
        f"(verified.jsonl); outcomes in {result.run_dir / 'filters.jsonl'}"
    )
