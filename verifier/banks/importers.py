"""Convert public datasets into bank problems: one pure converter per format, one record at a time.

A converter takes a record's position (its index in the file), the parsed record and the options,
and returns a problem or raises ``SourceError(field, message)``; ``import_file`` turns that into
``file:line: field: message`` and reports every bad record at once (or skips them when asked).
Math and HumanEval converters are here; MBPP, APPS and CodeContests in ``code_sources``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import JsonValue, ValidationError

from verifier.banks.code_sources import apps, codecontests, mbpp
from verifier.banks.jsonl import format_validation_error
from verifier.banks.sources import DEFAULT_OPTIONS, ImportOptions, SourceError, read_records, string
from verifier.errors import InputError
from verifier.schema import AssertTests, CodeProblem, MathProblem

__all__ = ["FORMATS", "ImportOptions", "ImportReport", "SourceError", "convert", "import_file"]


@dataclass(frozen=True)
class ImportReport:
    written: int
    skipped: tuple[str, ...] = ()


Problem = MathProblem | CodeProblem
Converter = Callable[[int, dict[str, Any], ImportOptions], Problem]


def gsm8k(index: int, r: dict[str, Any], options: ImportOptions) -> MathProblem:
    """GSM8K: ``answer`` ends with ``#### N``; ids ``gsm8k-test-NNNN`` in file order."""
    ref = string(r, "answer")
    if "####" not in ref:
        raise SourceError("answer", "no '####' final answer line")
    return MathProblem(
        id=f"gsm8k-test-{index:04d}",
        kind="math",
        question=string(r, "question"),
        answer=ref.rsplit("####", 1)[1].strip(),
        solution=ref,
        answer_format="gsm",
        meta={"source": "openai/grade-school-math test", "license": "MIT"},
    )


def math500(index: int, r: dict[str, Any], options: ImportOptions) -> MathProblem:
    """MATH-500: gold ``answer``; the reference solution holds it in \\boxed{}."""
    meta: dict[str, JsonValue] = {"source": "MATH-500 (hendrycks MATH)", "license": "MIT"}
    for key in ("subject", "level", "unique_id"):
        if key in r:
            meta[key] = r[key]
    return MathProblem(
        id=f"math500-{index:03d}",
        kind="math",
        question=string(r, "problem"),
        answer=string(r, "answer"),
        solution=r.get("solution"),
        answer_format="latex",
        tags=[str(r["subject"])] if "subject" in r else [],
        meta=meta,
    )


def humaneval(index: int, r: dict[str, Any], options: ImportOptions) -> CodeProblem:
    """HumanEval: assert tests run as ``check(entry_point)``; the reference is prompt + canonical body."""
    return CodeProblem(
        id=f"humaneval-{index:03d}",
        kind="code",
        prompt=string(r, "prompt"),
        tests=AssertTests(style="assert", code=string(r, "test"), entry_point=string(r, "entry_point")),
        reference_solution=string(r, "prompt") + string(r, "canonical_solution"),
        meta={"source": "openai/human-eval", "license": "MIT", "task_id": r.get("task_id")},
    )


FORMATS: dict[str, Converter] = {
    "gsm8k": gsm8k,
    "math": math500,
    "humaneval": humaneval,
    "mbpp": mbpp,
    "apps": apps,
    "codecontests": codecontests,
}


def converted(
    fmt: str, src: Path, options: ImportOptions = DEFAULT_OPTIONS
) -> Iterator[tuple[int, Problem | None, list[str]]]:
    """(line, problem or None, ``file:line: field: message`` errors) for each record of ``src``."""
    converter = FORMATS[fmt]
    for index, record in enumerate(read_records(src)):
        where = f"{src}:{record.line}"
        if record.error:
            yield record.line, None, [f"{where}: {record.error}"]
        elif not isinstance(record.value, dict):
            yield (
                record.line,
                None,
                [f"{where}: <json>: expected an object, got {type(record.value).__name__}"],
            )
        else:
            try:
                yield record.line, converter(index, record.value, options), []
            except SourceError as e:
                yield record.line, None, [f"{where}: {e.field}: {e}"]
            except ValidationError as e:  # the converted problem breaks the bank schema
                yield record.line, None, format_validation_error(src, record.line, e)
            except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as e:
                # A field no helper checked (a converter's gap): still this record's error, named
                # by its line, never a traceback that loses the other records' errors.
                yield record.line, None, [f"{where}: <record>: {type(e).__name__}: {str(e)[:300]}"]


def convert(fmt: str, src: Path, options: ImportOptions = DEFAULT_OPTIONS) -> tuple[list[Problem], list[str]]:
    """The problems of ``src`` and the errors of every record that failed."""
    problems: list[Problem] = []
    errors: list[str] = []
    for _, problem, errs in converted(fmt, src, options):
        errors.extend(errs)
        if problem is not None:
            problems.append(problem)
    return problems, errors


def import_file(fmt: str, src: Path, dst: Path, options: ImportOptions = DEFAULT_OPTIONS) -> ImportReport:
    """Convert ``src`` in public format ``fmt`` into a bank at ``dst``, streaming, written atomically.

    A bad record is an InputError listing every one, and ``dst`` is left as it was; with
    ``options.skip_invalid`` they are left out and reported in ``ImportReport.skipped``. Two
    records with the same id are always an error."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(dst.suffix + ".tmp")
    errors: list[str] = []
    first_line: dict[str, int] = {}
    duplicates = False  # an error even with skip_invalid: which record is meant?
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for line, problem, errs in converted(fmt, src, options):
                errors.extend(errs)
                if problem is None:
                    continue
                if problem.id in first_line:
                    duplicates = True
                    errors.append(
                        f"{src}:{line}: id: {problem.id!r} again (first from line {first_line[problem.id]})"
                    )
                    continue
                first_line[problem.id] = line
                fh.write(problem.model_dump_json() + "\n")
        if (errors and not options.skip_invalid) or duplicates:
            raise InputError(errors)
        if not first_line:
            raise InputError([*errors, f"{src}:0: <file>: no problems to import"])
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    return ImportReport(written=len(first_line), skipped=tuple(errors))
