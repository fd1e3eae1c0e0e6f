"""The `verify` command line: the main job at the top, sub-commands for banks (and, later, more)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from verifier.cli.bank import bank_app
from verifier.cli.console import EXIT_FAILED, EXIT_INPUT, err_console, exit_now, fail_input
from verifier.cli.filter import filter_command
from verifier.cli.report import report
from verifier.cli.sandbox import sandbox_app
from verifier.cli.serve import serve
from verifier.errors import InputError

if TYPE_CHECKING:
    from verifier.cli.run import JobOptions

app = typer.Typer(
    help="Generate chain-of-thought variants, verify them (SymPy / Docker sandbox), keep what verifies.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(bank_app, name="bank")
app.add_typer(sandbox_app, name="sandbox")
app.command("serve")(serve)
app.command("report")(report)
app.command("filter")(filter_command)


@app.callback()
def main_command(
    ctx: typer.Context,
    bank: Path | None = typer.Option(None, "--bank", help="problem bank (JSONL)"),
    responses: Path | None = typer.Option(
        None,
        "--responses",
        help='verify these completions ({"problem_id", "completion"} lines) instead of generating',
    ),
    backend: str = typer.Option(
        "transformers",
        "--backend",
        help="generator: transformers (in-process), vllm (offline engine), openai (a server)",
    ),
    model: str | None = typer.Option(
        None, "--model", help="local HF model directory or .gguf (default: embedded SmolLM2-135M)"
    ),
    samples: int = typer.Option(
        10, "--samples", min=1, help="completions per problem (per round with --until-verified)"
    ),
    until_verified: int | None = typer.Option(
        None, "--until-verified", min=1, help="sample a problem in rounds of --samples until K chains verify"
    ),
    max_samples: int | None = typer.Option(
        None, "--max-samples", min=1, help="with --until-verified: at most M samples per problem"
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="only the first N problems"),
    max_new_tokens: int = typer.Option(384, "--max-new-tokens", min=1),
    temperature: float = typer.Option(0.8, "--temperature", min=0.0),
    top_p: float = typer.Option(0.95, "--top-p", min=0.0, max=1.0),
    seed: int = typer.Option(0, "--seed"),
    out: Path | None = typer.Option(
        None, "--out", help="run directory (default runs/<timestamp>); rerun to resume"
    ),
    prompt: Path | None = typer.Option(
        None, "--prompt", help="YAML prompt templates per problem kind (system, examples, user)"
    ),
    sft_format: str = typer.Option(
        "messages", "--sft-format", help="verified.jsonl: messages (problem + chain) or full (exact prompt)"
    ),
    batch_rows: int = typer.Option(32, "--batch-rows", min=1, help="sequences per forward batch"),
    dtype: str | None = typer.Option(None, "--dtype", help="bfloat16, float32 (default: the backend's best)"),
    base_url: str | None = typer.Option(
        None, "--base-url", help="openai: server URL, e.g. http://127.0.0.1:8000/v1"
    ),
    api_model: str | None = typer.Option(
        None, "--api-model", help="openai: the model name the server serves"
    ),
    api_key_env: str = typer.Option(
        "OPENAI_API_KEY", "--api-key-env", help="openai: environment variable holding the API key"
    ),
    endpoint: str = typer.Option("chat", "--endpoint", help="openai: chat or completions"),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="openai: requests in flight at once"),
    timeout: float = typer.Option(600.0, "--timeout", help="openai: seconds per request"),
    tensor_parallel_size: int = typer.Option(1, "--tensor-parallel-size", min=1, help="vllm: GPUs per model"),
    check_threads: int = typer.Option(8, "--check-threads", min=1, help="completions checked at once"),
    queue_size: int = typer.Option(
        256, "--queue-size", min=1, help="completions that may wait for checking before generation pauses"
    ),
    baseline: Path | None = typer.Option(
        None, "--baseline", help="an earlier run's summary.json to compare with"
    ),
    max_drop: float = typer.Option(
        0.0, "--max-drop", min=0.0, max=1.0, help="allowed accuracy drop vs --baseline"
    ),
    junit: Path | None = typer.Option(
        None, "--junit", help="write a JUnit XML report, one test case per problem"
    ),
    pairs: Path | None = typer.Option(
        None, "--pairs", help="write DPO preference pairs (verified vs failed chain)"
    ),
    filters: str | None = typer.Option(
        None, "--filters", help="after the run: filter stages (arithmetic,dedup,anchor,critic,perplexity)"
    ),
    runtime: str | None = typer.Option(
        None, "--runtime", help="container runtime for code problems: runc (default) or runsc (gVisor)"
    ),
    ray: str | None = typer.Option(
        None, "--ray", help="run generation and checking as actors on a Ray cluster: auto or HOST:PORT"
    ),
    ray_generation_actors: int | None = typer.Option(
        None, "--ray-generation-actors", min=1, help="--ray: model replicas (default: one per GPU, else 1)"
    ),
) -> None:
    """Run `verify --bank B` to generate and verify, or a sub-command."""
    if ctx.invoked_subcommand is not None:
        return
    if bank is None:
        err_console.print(ctx.get_help())
        err_console.print("\nerror: --bank is required (or use a sub-command)")
        raise typer.Exit(EXIT_INPUT)
    from verifier.cli.run import run_job
    from verifier.gate.after_run import after_run
    from verifier.gate.baseline import load_summary
    from verifier.generation.base import GenerationError

    options = _job_options(
        bank=bank,
        out=out,
        responses=responses,
        prompt=prompt,
        sft_format=sft_format,
        seed=seed,
        limit=limit,
        samples=samples,
        until_verified=until_verified,
        max_samples=max_samples,
        runtime=runtime,
        ray=ray,
        ray_generation_actors=ray_generation_actors,
        check_threads=check_threads,
        queue_size=queue_size,
        backend=dict(
            backend=backend,
            model=model,
            dtype=dtype,
            batch_rows=batch_rows,
            base_url=base_url,
            api_model=api_model,
            api_key_env=api_key_env,
            endpoint=endpoint,
            concurrency=concurrency,
            timeout_s=timeout,
            tensor_parallel_size=tensor_parallel_size,
        ),
        sampling=dict(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p),
    )
    try:
        old = load_summary(baseline) if baseline is not None else None  # bad input fails before the run
        if filters is not None:
            from verifier.filters.registry import parse_filters

            parse_filters(filters)  # a bad stage name fails before the run, not after it
        result = run_job(options)
    except InputError as e:
        fail_input(e.messages)
    except FileNotFoundError as e:
        fail_input([str(e)])
    except GenerationError as e:
        err_console.print(f"generation failed: {e}", markup=False, highlight=False)
        err_console.print(RESUME_HINT)
        raise typer.Exit(EXIT_FAILED) from None
    except KeyboardInterrupt:
        err_console.print(f"interrupted: {RESUME_HINT}")
        exit_now(130)
    except (OSError, RuntimeError) as e:  # e.g. a full disk under chains.jsonl, an engine that died
        err_console.print(f"error: {type(e).__name__}: {e}", markup=False, highlight=False)
        err_console.print(RESUME_HINT)
        exit_now(EXIT_FAILED)
    if filters is not None:  # the same step as `verify filter RUN_DIR --filters ...`
        from verifier.cli.filter import apply_filters

        apply_filters(result.out_dir, filters)
    code = after_run(result, baseline=old, max_drop=max_drop, junit=junit, pairs=pairs, suite=bank.stem)
    if code:
        raise typer.Exit(code)


RESUME_HINT = "finished samples are in chains.jsonl; rerun the same command to resume"


def _job_options(
    *,
    backend: dict[str, Any],
    sampling: dict[str, Any],
    samples: int,
    until_verified: int | None,
    max_samples: int | None,
    sft_format: str,
    runtime: str | None,
    ray: str | None,
    ray_generation_actors: int | None,
    check_threads: int,
    queue_size: int,
    **rest: Any,
) -> JobOptions:
    """Every option checked once, all errors together (exit 2), into the job's frozen settings."""
    from sandboxes.profile import RUNTIMES
    from verifier.cli.run import JobOptions
    from verifier.distributed.ray_cluster import RaySettings
    from verifier.generation.registry import BackendSettings
    from verifier.generation.sampling import Sampling
    from verifier.pipeline.budget import Budget
    from verifier.pipeline.execute import ExecutorSettings
    from verifier.pipeline.outputs import SFT_FORMATS
    from verifier.resources import ResourceSettings

    errors: list[str] = []
    if sft_format not in SFT_FORMATS:
        errors.append(f"--sft-format: must be one of {', '.join(SFT_FORMATS)}, got {sft_format!r}")
    if runtime is not None and runtime not in RUNTIMES:
        errors.append(f"--runtime: must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if until_verified is not None and max_samples is None:
        errors.append("--max-samples: required with --until-verified (the most samples a problem may get)")
    if max_samples is not None and until_verified is None:
        errors.append("--max-samples: only with --until-verified (use --samples for a fixed number)")
    if until_verified is not None and rest["responses"] is not None:
        errors.append("--until-verified: not with --responses (their completions are fixed)")
    if until_verified is not None and max_samples is not None and until_verified > max_samples:
        errors.append(f"--until-verified: {until_verified} is more than --max-samples {max_samples}")
    try:
        sampling_value = Sampling(**sampling)
    except ValueError as e:  # "field: why; field: why" -> one message per option
        errors.extend(f"--{part.strip().replace('_', '-', 2)}" for part in str(e).split(";"))
        sampling_value = Sampling()
    if ray is not None and not ray.strip():
        errors.append("--ray: 'auto' or HOST:PORT of the cluster's head")
    if ray is None and ray_generation_actors is not None:
        errors.append("--ray-generation-actors: only with --ray")
    if ray is not None and rest["responses"] is not None:
        errors.append("--ray: not with --responses (there is nothing to generate)")
    if errors:
        fail_input(errors)
    budget = (
        Budget(round_size=samples, max_samples=max_samples or samples, until_verified=until_verified)
        if until_verified is not None
        else Budget.fixed(samples)
    )
    return JobOptions(
        **rest,
        backend=BackendSettings(**backend, sampling=sampling_value),
        budget=budget,
        sft_format=sft_format,
        resources=ResourceSettings(runtime=runtime),
        executor=ExecutorSettings(check_threads=check_threads, queue_size=queue_size),
        ray=None
        if ray is None
        else RaySettings(
            address=ray.strip(), generation_actors=ray_generation_actors, check_concurrency=check_threads
        ),
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
