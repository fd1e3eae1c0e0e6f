"""Convert public datasets into bank problems. Each importer is a pure function over parsed records."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from verifier.errors import InputError
from verifier.schema import AssertTests, CodeProblem, MathProblem


def gsm8k(records: Iterable[dict[str, Any]]) -> Iterator[MathProblem]:
    """GSM8K: ``answer`` ends with ``#### N``; ids ``gsm8k-test-NNNN`` in file order."""
    for i, r in enumerate(records):
        ref = r["answer"]
        if "####" not in ref:
            raise ValueError(f"record {i}: answer has no '####'")
        yield MathProblem(
            id=f"gsm8k-test-{i:04d}",
            kind="math",
            question=r["question"],
            answer=ref.rsplit("####", 1)[1].strip(),
            solution=ref,
            answer_format="gsm",
            meta={"source": "openai/grade-school-math test", "license": "MIT"},
        )


def math500(records: Iterable[dict[str, Any]]) -> Iterator[MathProblem]:
    """MATH-500: gold ``answer``; the reference solution holds it in \\boxed{}."""
    for i, r in enumerate(records):
        meta: dict[str, Any] = {"source": "MATH-500 (hendrycks MATH)", "license": "MIT"}
        for key in ("subject", "level", "unique_id"):
            if key in r:
                meta[key] = r[key]
        yield MathProblem(
            id=f"math500-{i:03d}",
            kind="math",
            question=r["problem"],
            answer=r["answer"],
            solution=r.get("solution"),
            answer_format="latex",
            tags=[str(r["subject"])] if "subject" in r else [],
            meta=meta,
        )


def humaneval(records: Iterable[dict[str, Any]]) -> Iterator[CodeProblem]:
    """HumanEval: assert tests run as ``check(entry_point)``; the reference is prompt + canonical body."""
    for i, r in enumerate(records):
        yield CodeProblem(
            id=f"humaneval-{i:03d}",
            kind="code",
            prompt=r["prompt"],
            tests=AssertTests(style="assert", code=r["test"], entry_point=r["entry_point"]),
            reference_solution=r["prompt"] + r["canonical_solution"],
            meta={"source": "openai/human-eval", "license": "MIT", "task_id": r["task_id"]},
        )


IMPORTERS: dict[str, Callable[[Iterable[dict[str, Any]]], Iterator[MathProblem | CodeProblem]]] = {
    "gsm8k": gsm8k,
    "math": math500,
    "humaneval": humaneval,
}

__all__ = ["IMPORTERS", "import_file"]


def _read_records(src: Path) -> list[dict[str, Any]]:
    opener = gzip.open if src.suffix == ".gz" else open
    records = []
    try:
        with opener(src, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise InputError([f"{src}:{lineno}: <json>: malformed JSON: {e.msg}"]) from None
    except OSError as e:
        raise InputError([f"{src}:0: <file>: cannot read: {e.strerror or e}"]) from None
    return records


def import_file(fmt: str, src: Path, dst: Path) -> int:
    """Convert ``src`` in public format ``fmt`` into a bank at ``dst``; return the number of problems."""
    records = _read_records(src)
    try:
        problems = list(IMPORTERS[fmt](records))
    except KeyError as e:
        raise InputError([f"{src}:0: {e.args[0]}: missing field in the {fmt} source"]) from None
    except ValueError as e:
        raise InputError([f"{src}:0: <record>: {e}"]) from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(dst.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for p in problems:
            fh.write(p.model_dump_json(exclude_defaults=False) + "\n")
    tmp.replace(dst)
    return len(problems)
