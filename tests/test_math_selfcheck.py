"""Bank self-check: every gold answer verifies against itself, \\boxed{gold} and its reference solution."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.banks.importers import import_file
from verifier.math import MathPool
from verifier.math.selfcheck import selfcheck_math_problem
from verifier.schema import MathProblem

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _bank(repo: Path, tmp_path: Path, name: str, fmt: str, source: str) -> list[MathProblem]:
    path = repo / "problem_banks" / name
    if not path.exists():
        if not (DATA / source).exists():
            pytest.skip(f"neither {path} nor {DATA / source} is here")
        path = tmp_path / name
        import_file(fmt, DATA / source, path)
    return [MathProblem.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "name,fmt,source,count",
    [
        ("math-style.jsonl", "math", "math500_test.jsonl", 500),
        ("gsm8k-test.jsonl", "gsm8k", "gsm8k_test.jsonl", 1319),
    ],
)
def test_bank_selfcheck(repo: Path, tmp_path: Path, name: str, fmt: str, source: str, count: int) -> None:
    problems = _bank(repo, tmp_path, name, fmt, source)
    assert len(problems) == count
    with MathPool(workers=2) as pool:
        failures = [f"{p.id}: {f}" for p in problems for f in selfcheck_math_problem(p, pool=pool)]
    assert failures == []


def test_math_style_ids_in_file_order(repo: Path) -> None:
    lines = (repo / "problem_banks" / "math-style.jsonl").read_text().splitlines()
    ids = [MathProblem.model_validate_json(line).id for line in lines]
    assert ids == [f"math500-{i:03d}" for i in range(500)]


@pytest.mark.parametrize(
    "answer,solution,ok",
    [
        ("18", "9 * 2 = 18\n#### 18", True),
        (r"\frac{1}{2}", r"so $x = \boxed{\dfrac12}$.", True),
        ("18", "9 * 2 = 17\n#### 17", False),
        ("18", "no final answer line", False),
    ],
)
def test_selfcheck_reports_failures(answer: str, solution: str, ok: bool) -> None:
    problem = MathProblem(id="p", kind="math", question="q?", answer=answer, solution=solution)
    failures = selfcheck_math_problem(problem)
    assert (failures == []) is ok, failures
    if not ok:
        assert failures[0].startswith("gold vs reference solution: ")
