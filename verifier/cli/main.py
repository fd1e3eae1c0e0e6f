"""The `verify` command line: the main job at the top, sub-commands for banks (and, later, more)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from verifier.cli.bank import bank_app
from verifier.cli.console import EXIT_INPUT, err_console, fail_input
from verifier.cli.sandbox import sandbox_app
from verifier.cli.serve import serve
from verifier.errors import InputError

app = typer.Typer(
    help="Generate chain-of-thought variants, verify them (SymPy / Docker sandbox), keep what verifies.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(bank_app, name="bank")
app.add_typer(sandbox_app, name="sandbox")
app.command("serve")(serve)


@app.callback()
def main_command(
    ctx: typer.Context,
    bank: Path | None = typer.Option(None, "--bank", help="problem bank (JSONL)"),
    responses: Path | None = typer.Option(
        None,
        "--responses",
        help='verify these completions ({"problem_id", "completion"} lines) instead of generating',
    ),
    model: str | None = typer.Option(
        None, "--model", help="local HF model directory or .gguf (default: embedded SmolLM2-135M)"
    ),
    samples: int = typer.Option(10, "--samples", min=1, help="completions per problem"),
    limit: int | None = typer.Option(None, "--limit", min=1, help="only the first N problems"),
    max_new_tokens: int = typer.Option(384, "--max-new-tokens", min=1),
    temperature: float = typer.Option(0.8, "--temperature", min=0.0),
    top_p: float = typer.Option(0.95, "--top-p", min=0.0, max=1.0),
    seed: int = typer.Option(0, "--seed"),
    out: Path | None = typer.Option(
        None, "--out", help="run directory (default runs/<timestamp>); rerun to resume"
    ),
    batch_rows: int = typer.Option(32, "--batch-rows", min=1, help="sequences per forward batch"),
    dtype: str = typer.Option("bfloat16", "--dtype", help="bfloat16 or float32"),
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
    runtime: str | None = typer.Option(
        None, "--runtime", help="container runtime for code problems: runc (default) or runsc (gVisor)"
    ),
) -> None:
    """Run `verify --bank B` to generate and verify, or a sub-command."""
    if ctx.invoked_subcommand is not None:
        return
    if bank is None:
        err_console.print(ctx.get_help())
        err_console.print("\nerror: --bank is required (or use a sub-command)")
        raise typer.Exit(EXIT_INPUT)
    if dtype not in ("bfloat16", "float32"):
        fail_input([f"--dtype: must be bfloat16 or float32, got {dtype!r}"])
    if runtime is not None:
        if runtime not in ("runc", "runsc"):
            fail_input([f"--runtime: must be runc or runsc, got {runtime!r}"])
        os.environ["VERIFIER_SANDBOX_RUNTIME"] = runtime  # read by the process-wide sandbox pool
    from verifier.cli.run import run_job
    from verifier.gate.after_run import after_run
    from verifier.gate.baseline import load_summary

    try:
        old = load_summary(baseline) if baseline is not None else None  # bad input fails before the run
        result = run_job(
            bank_path=bank,
            responses=responses,
            model=model,
            samples=samples,
            limit=limit,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            out=out,
            batch_rows=batch_rows,
            dtype=dtype,
        )
    except InputError as e:
        fail_input(e.messages)
    except FileNotFoundError as e:
        fail_input([str(e)])
    except KeyboardInterrupt:
        err_console.print(
            "interrupted: finished samples are in chains.jsonl; rerun the same command to resume"
        )
        raise typer.Exit(130) from None
    code = after_run(result, baseline=old, max_drop=max_drop, junit=junit, pairs=pairs, suite=bank.stem)
    if code:
        raise typer.Exit(code)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
