"""`verify bank check|import`: validate banks and convert public datasets into banks."""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from pathlib import Path

import typer

from verifier.banks.importers import ImportOptions, import_file
from verifier.banks.loader import load_bank
from verifier.banks.selfcheck import selfcheck
from verifier.cli.console import EXIT_FAILED, console, err_console, fail_input
from verifier.errors import InputError

bank_app = typer.Typer(help="Validate problem banks and import public datasets.", no_args_is_help=True)


class Format(str, Enum):
    gsm8k = "gsm8k"
    math = "math"
    humaneval = "humaneval"
    mbpp = "mbpp"
    apps = "apps"
    codecontests = "codecontests"


class Compare(str, Enum):
    exact = "exact"
    tokens = "tokens"
    float = "float"
    case_insensitive = "case-insensitive"


@bank_app.command("check")
def check(
    files: list[Path] = typer.Argument(..., help="bank JSONL files"),
    schema_only: bool = typer.Option(False, "--schema-only", help="validate the schema and ids only"),
    code: bool = typer.Option(True, "--code/--no-code", help="run code references in the Docker sandbox"),
    junit: Path | None = typer.Option(
        None, "--junit", help="write a JUnit XML report, one test case per problem"
    ),
) -> None:
    """Validate banks, then check every gold answer and reference solution with the checkers."""
    errors: list[str] = []
    banks = []
    for f in files:
        try:
            banks.append(load_bank(f))
        except InputError as e:
            errors.extend(e.messages)
    if errors:
        fail_input(errors)
    failed = False
    suites: list[tuple[str, list[str], list[str]]] = []
    for bank in banks:
        counts = bank.counts()
        console.print(
            f"{bank.path}: {counts['problems']} problems ({counts['math']} math, {counts['code']} code): schema ok"
        )
        if schema_only:
            continue
        report = selfcheck(list(bank.problems), code=code)
        for kind in ("math", "code"):
            if report.checked[kind]:
                console.print(
                    f"{bank.path}: {kind} self-check {report.passed[kind]}/{report.checked[kind]} passed"
                )
        for message in report.failures:
            err_console.print(f"{bank.path}: {message}", markup=False, highlight=False)
        failed |= not report.ok
        suites.append((bank.path.stem, [p.id for p in bank.problems], report.failures))
    if junit is not None:
        from verifier.gate.junit import write_selfcheck_junit

        write_selfcheck_junit(junit, suites)
    if failed:
        raise typer.Exit(EXIT_FAILED)


@bank_app.command("import")
def import_(
    fmt: Format = typer.Argument(..., help="the public format of SRC"),
    src: Path = typer.Argument(..., help="source file (.jsonl, .jsonl.gz or a JSON array)"),
    out: Path = typer.Option(..., "-o", "--out", help="bank file to write"),
    challenge: bool = typer.Option(
        False, "--challenge", help="mbpp: count the challenge tests in every run (default: self-check only)"
    ),
    compare: Compare | None = typer.Option(
        None,
        "--compare",
        help="apps, codecontests: how stdout is compared with the expected output (default: tokens)",
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="leave out records that cannot be converted (listed) instead of failing"
    ),
) -> None:
    """Convert a public dataset (GSM8K, MATH-500, HumanEval, MBPP, APPS, CodeContests) into a bank."""
    if challenge and fmt is not Format.mbpp:
        fail_input([f"--challenge applies to mbpp only, not {fmt.value}"])
    if compare is not None and fmt not in (Format.apps, Format.codecontests):
        fail_input([f"--compare applies to apps and codecontests only, not {fmt.value}"])
    options = ImportOptions(challenge=challenge, skip_invalid=skip_invalid)
    if compare is not None:
        options = replace(options, compare=compare.value)
    try:
        report = import_file(fmt.value, src, out, options)
    except InputError as e:
        fail_input(e.messages)
    for message in report.skipped:
        err_console.print(f"skipped: {message}", markup=False, highlight=False)
    skipped = f" ({len(report.skipped)} records skipped)" if report.skipped else ""
    console.print(f"wrote {report.written} problems to {out}{skipped}")
