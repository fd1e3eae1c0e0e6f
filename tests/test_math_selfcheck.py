"""Bank self-check: every gold answer verifies against itself, \\boxed{gold} and its reference solution."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.banks.importers import import_file
from verifier.math import MathPool, MathStatus
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
        ("5", r"the answer is $\boxed{9^{9^9}}$", False),  # a guard's timeout is the answer's doing
    ],
)
def test_selfcheck_reports_failures(answer: str, solution: str, ok: bool) -> None:
    problem = MathProblem(id="p", kind="math", question="q?", answer=answer, solution=solution)
    failures = selfcheck_math_problem(problem)
    assert (failures == []) is ok, failures
    if not ok:
        assert failures[0].startswith("gold vs reference solution: ")


SQRT8 = MathProblem(
    id="p", kind="math", question="q?", answer=r"2\sqrt{2}", solution=r"so $\boxed{\sqrt{8}}$"
)


class _Recording:
    """A pool's run(), recording each decision (to see that a retry happened)."""

    def __init__(self, pool: MathPool) -> None:
        self.run, self.decisions = pool.run, []  # type: ignore[var-annotated]

    def __call__(self, task, *, timeout_s):  # type: ignore[no-untyped-def]
        self.decisions.append(self.run(task, timeout_s=timeout_s))
        return self.decisions[-1]


@pytest.mark.timeout(120)
def test_an_infrastructure_timeout_is_retried_with_a_longer_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: a pool TIMEOUT on a loaded machine (here: a deadline too short for the work) was
    reported as a wrong gold answer."""
    with MathPool(workers=1) as pool:
        recording = _Recording(pool)
        monkeypatch.setattr(pool, "run", recording)
        assert selfcheck_math_problem(SQRT8, pool=pool, timeout_s=0.001, retry_timeout_s=60) == []
    assert [d.status for d in recording.decisions] == [MathStatus.TIMEOUT, MathStatus.CORRECT]


def _never_ready(memory_mb: int) -> list[str]:
    import sys

    return [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "make_pool,status",
    [
        (lambda: MathPool(workers=1, start_timeout_s=1), "error"),  # workers never ready in time
        (lambda: MathPool(workers=1, memory_mb=30), "error"),  # every worker dies starting
    ],
    ids=["never-ready", "dies"],
)
def test_a_persistent_infrastructure_failure_is_reported_as_such(
    make_pool, status: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    if make_pool().start_timeout_s == 1:
        monkeypatch.setattr("verifier.math.pool._worker_command", _never_ready)
    with make_pool() as pool:
        recording = _Recording(pool)
        monkeypatch.setattr(pool, "run", recording)
        failures = selfcheck_math_problem(SQRT8, pool=pool, timeout_s=0.2, retry_timeout_s=0.5)
    assert len(failures) == 1 and len(recording.decisions) == 2, (failures, recording.decisions)
    assert failures[0].startswith(f"infrastructure: gold vs reference solution: {status} ("), failures
    assert "worker-start" in failures[0]


def test_a_real_failure_is_not_retried_nor_called_infrastructure(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = MathProblem(
        id="p", kind="math", question="q?", answer=r"2\sqrt{2}", solution=r"$\boxed{\sqrt{6}}$"
    )
    with MathPool(workers=1) as pool:
        recording = _Recording(pool)
        monkeypatch.setattr(pool, "run", recording)
        failures = selfcheck_math_problem(problem, pool=pool, timeout_s=60)
    # Decided once (by SymPy, or by the in-process stages before it), never retried.
    assert [d.status for d in recording.decisions] in ([MathStatus.WRONG], [])
    assert len(failures) == 1 and failures[0].startswith("gold vs reference solution: wrong (")
