"""Outcomes of a run: per-problem pass rates, pass@k and maj@k curves, where samples went (verdict
categories and filter stages), and the hardest problems."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from verifier.pipeline.passk import mean_maj_curve, mean_pass_at_k, votes_by_problem
from verifier.report.rundir import RunDir
from verifier.schema import ChainRecord

# verdict status -> category shown on the page; the order is the order of the breakdown.
_CATEGORY = {
    "correct": "verified",
    "pass": "verified",
    "wrong": "wrong",
    "no_answer": "no answer",
    "no_code": "no answer",
    "unparseable": "unparseable answer",
    "timeout": "timeout",
    "runtime_error": "runtime error",
    "oom": "memory / output limit",
    "output_limit": "memory / output limit",
}
CATEGORIES = (
    "verified",
    "wrong",
    "no answer",
    "unparseable answer",
    "timeout",
    "runtime error",
    "memory / output limit",
    "sandbox error",
    "checker error",
)


def category(r: ChainRecord) -> str:
    if r.infrastructure_failure:  # not the answer's fault: its own category, never "wrong"
        return "sandbox error" if r.kind == "code" else "checker error"
    return _CATEGORY.get(r.verdict.status, f"other ({r.verdict.status})")


@dataclass(frozen=True)
class ProblemRow:
    problem_id: str
    samples: int  # decided samples (infrastructure failures left out, as in pass@k)
    correct: int
    kept: int
    top_wrong: str | None  # the most common wrong extracted answer

    @property
    def pass_rate(self) -> float:
        return self.correct / self.samples if self.samples else 0.0


@dataclass(frozen=True)
class Outcomes:
    problems: tuple[ProblemRow, ...]
    pass_at_k: dict[int, float | None]
    maj_at_k: dict[int, float | None]
    breakdown: dict[str, int]  # category or "dropped by <stage>" -> chains
    stages: dict[str, tuple[int, int]]  # filter stage -> (kept, dropped) of the chains it judged
    samples: int
    verified: int
    kept: int

    @property
    def pass_rates(self) -> list[float]:
        return [p.pass_rate for p in self.problems if p.samples]

    def hardest(self, n: int = 10) -> list[ProblemRow]:
        decided = [p for p in self.problems if p.samples]
        return sorted(decided, key=lambda p: (p.pass_rate, -p.samples, p.problem_id))[:n]


def outcomes(run: RunDir) -> Outcomes:
    dropped = run.dropped_by()
    kept_keys = {(r.problem_id, r.sample_index) for r in run.kept()}
    rows: dict[str, dict[str, int]] = defaultdict(lambda: {"samples": 0, "correct": 0, "kept": 0})
    wrong: dict[str, Counter[str]] = defaultdict(Counter)
    breakdown: Counter[str] = Counter()
    for r in run.chains:
        key = (r.problem_id, r.sample_index)
        row = rows[r.problem_id]
        cat = category(r)
        if r.verdict.correct and key in dropped:
            cat = f"dropped by {dropped[key]}"
        breakdown[cat] += 1
        if r.infrastructure_failure:
            continue
        row["samples"] += 1
        row["correct"] += int(r.verdict.correct)
        row["kept"] += int(key in kept_keys)
        if not r.verdict.correct and r.extracted:
            wrong[r.problem_id][" ".join(r.extracted.split())[:60]] += 1
    problems = tuple(
        ProblemRow(
            pid,
            row["samples"],
            row["correct"],
            row["kept"],
            wrong[pid].most_common(1)[0][0] if wrong[pid] else None,
        )
        for pid, row in rows.items()
    )
    counts = [(p.samples, p.correct) for p in problems]
    n_max = max((p.samples for p in problems), default=0)
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return Outcomes(
        problems=problems,
        pass_at_k={k: mean_pass_at_k(counts, k) for k in range(1, n_max + 1)},
        maj_at_k=mean_maj_curve(votes_by_problem(run.chains).values(), n_max),
        breakdown=dict(sorted(breakdown.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))),
        stages={
            stage: (sum(d.values()), sum(not k for k in d.values()))
            for stage, d in run.filter_decisions().items()
        },
        samples=len(run.chains),
        verified=sum(r.verdict.correct for r in run.chains),
        kept=len(kept_keys),
    )


def run_over_run(new: Outcomes, old: Outcomes) -> list[tuple[str, float | None, float | None]]:
    """(measure, this run, baseline) for the headline numbers; pass@k and maj@k at the largest k both
    runs have, so the two are comparable."""
    k = min(
        max((k for k, v in new.pass_at_k.items() if v is not None), default=1),
        max((k for k, v in old.pass_at_k.items() if v is not None), default=1),
    )
    rows: list[tuple[str, float | None, float | None]] = [
        ("problems", len(new.problems), len(old.problems)),
        ("samples", new.samples, old.samples),
        ("verified chains", new.verified, old.verified),
        ("kept chains", new.kept, old.kept),
        ("pass@1", new.pass_at_k.get(1), old.pass_at_k.get(1)),
    ]
    if k > 1:
        rows += [(f"pass@{k}", new.pass_at_k.get(k), old.pass_at_k.get(k))]
        rows += [(f"maj@{k}", new.maj_at_k.get(k), old.maj_at_k.get(k))]
    return rows
