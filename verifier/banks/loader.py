"""Load a problem bank: validated problems, unique ids, every error reported at once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter

from verifier.banks.jsonl import read_jsonl
from verifier.errors import InputError
from verifier.schema import CodeProblem, MathProblem, Problem

_PROBLEM = TypeAdapter(Problem)


@dataclass(frozen=True)
class Bank:
    path: Path
    problems: tuple[MathProblem | CodeProblem, ...]

    def by_id(self) -> dict[str, MathProblem | CodeProblem]:
        return {p.id: p for p in self.problems}

    def counts(self) -> dict[str, int]:
        c = Counter(p.kind for p in self.problems)
        return {"problems": len(self.problems), "math": c["math"], "code": c["code"]}


def load_bank(path: Path | str) -> Bank:
    """Read and validate a bank; raise InputError listing every bad line (never a partial bank)."""
    path = Path(path)
    problems: list[MathProblem | CodeProblem] = []
    errors: list[str] = []
    first_line: dict[str, int] = {}
    for lineno, problem, errs in read_jsonl(path, _PROBLEM):
        errors.extend(errs)
        if problem is None:
            continue
        if problem.id in first_line:
            errors.append(
                f"{path}:{lineno}: id: duplicate id {problem.id!r} (first on line {first_line[problem.id]})"
            )
            continue
        first_line[problem.id] = lineno
        problems.append(problem)
    if not errors and not problems:
        errors.append(f"{path}:0: <file>: the bank has no problems")
    if errors:
        raise InputError(errors)
    return Bank(path=path, problems=tuple(problems))
