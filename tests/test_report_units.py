"""Coverage, drift, cost and outcomes on a hand-made run (pure logic; the real runs are in
tests/test_report_cli.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from verifier.banks.loader import Bank
from verifier.filters.store import FilterRecord
from verifier.report.cost import Prices, cost, wall_seconds
from verifier.report.coverage import coverage
from verifier.report.drift import drift
from verifier.report.outcomes import outcomes, run_over_run
from verifier.report.rundir import RunDir
from verifier.schema import ChainRecord, MathProblem, VerdictRecord


def _problem(i: int, topic: str) -> MathProblem:
    return MathProblem(
        id=f"p{i}",
        kind="math",
        question=f"{topic} question number {i}",
        answer="1",
        solution="one step\n#### 1",
        tags=[topic],
        meta={"level": 1 + i % 2},
    )


def _chain(pid: str, i: int, status: str, text: str = "x = 1\n#### 1", tokens: int = 10) -> ChainRecord:
    return ChainRecord(
        problem_id=pid,
        sample_index=i,
        kind="math",
        seed=i,
        model="m",
        prompt="q",
        completion=text,
        tokens=tokens,
        extracted="1" if status == "correct" else ("2" if status == "wrong" else None),
        verdict=VerdictRecord(status=status, correct=status == "correct"),
        gen_seconds=0.5,
        check_seconds=0.01,
    )


@pytest.fixture
def run() -> RunDir:
    problems = tuple(_problem(i, "trains" if i < 4 else "apples") for i in range(8))
    chains = []
    for p in problems:
        good = p.tags[0] == "trains"  # the model only solves train problems
        chains += [_chain(p.id, 0, "correct" if good else "wrong"), _chain(p.id, 1, "wrong")]
    chains.append(_chain("p0", 2, "error"))  # the math worker was lost: not a vote, not wrong
    filters = (
        FilterRecord(
            problem_id="p0", sample_index=0, stage="dedup", settings_key="k", kept=False, reason="dup"
        ),
    )
    return RunDir(
        Path("r"), {"mode": "generate"}, None, tuple(chains), filters, Bank(Path("b"), problems), ()
    )


def fake_embed(texts):  # two clear topics -> two directions
    return np.array([[1.0, 0.0] if "trains" in t else [0.0, 1.0] for t in texts], dtype=np.float32)


def test_outcomes_breakdown_and_filters(run: RunDir) -> None:
    o = outcomes(run)
    assert o.breakdown == {"verified": 3, "wrong": 12, "checker error": 1, "dropped by dedup": 1}
    assert o.verified == 4 and o.kept == 3
    assert o.pass_at_k[1] == pytest.approx(4 / 16)
    assert o.maj_at_k[2] == pytest.approx(4 * 0.5 / 8)  # a 1-1 tie is a coin flip
    assert o.stages == {"dedup": (0, 1)}
    assert [p.problem_id for p in o.hardest(4)] == ["p4", "p5", "p6", "p7"]


def test_coverage_finds_the_region_the_model_never_solves(run: RunDir) -> None:
    cov = coverage(run, fake_embed, k=2)
    facets = {f.name: f for f in cov.facets}
    assert set(facets) == {"tag", "level", "embedding cluster"}
    tag = facets["tag"]
    assert [(r.name, r.kept_chains) for r in tag.regions] == [("apples", 0), ("trains", 3)]
    assert [r.name for r in tag.sparse_regions()] == ["apples"]
    assert tag.entropy_bank == pytest.approx(1.0) and tag.entropy_kept == pytest.approx(0.0)
    clusters = facets["embedding cluster"]
    assert sorted(r.kept_chains for r in clusters.regions) == [0, 3]
    assert cov.resample_ids(run) == ["p4", "p5", "p6", "p7"]
    assert coverage(run, None).notes == ("embedding clusters skipped",)

    def broken(texts):
        raise FileNotFoundError("the embedding model is not installed")

    assert "not installed" in coverage(run, broken).notes[0]


def test_drift_against_human_and_against_itself(run: RunDir) -> None:
    d = drift(run, run)
    assert d.vs_human is not None and d.vs_baseline is not None
    assert all(m.kl == pytest.approx(0.0) for m in d.vs_baseline.measures)
    assert d.gated is d.vs_baseline
    assert d.vs_human.measures[-1].kl > 0  # "x = 1" is not "one step"


def test_cost_per_backend_and_prices(run: RunDir) -> None:
    [row] = cost(run, Prices(per_million_tokens=2.0, gpu_hour=3.6))
    assert (row.source, row.chains, row.kept, row.tokens) == ("generate/m", 17, 3, 170)
    assert row.token_cost == pytest.approx(170 / 1e6 * 2.0)
    assert row.gpu_cost == pytest.approx(17 * 0.5 / 3600 * 3.6)
    assert row.per_kept(row.tokens) == pytest.approx(170 / 3)
    with pytest.raises(ValueError):
        Prices(per_million_tokens=-1)


@pytest.mark.parametrize(
    "summary,expected",
    [
        ({"timing": {"wall_s": 12.5}, "wall_seconds": 99}, 12.5),
        ({"wall_seconds": 7}, 7.0),
        ({"wall_seconds": 0}, None),
        (None, None),
    ],
)
def test_wall_time_comes_from_the_summary(run: RunDir, summary, expected) -> None:
    assert wall_seconds(replace(run, summary=summary)) == expected


def test_run_over_run_compares_the_problems_both_runs_sampled(run: RunDir) -> None:
    # The baseline sampled only the train problems, with other wording: drift is measured on those.
    base_chains = tuple(_chain(f"p{i}", 0, "correct", text="the train goes 1 mile\n#### 1") for i in range(4))
    baseline = replace(run, path=Path("old"), chains=base_chains, filters=None)
    d = drift(run, baseline)
    assert d.vs_baseline is not None
    assert len(d.vs_baseline.kept.texts) == 3 and len(d.vs_baseline.reference.texts) == 4
    assert d.vs_baseline.worst.kl > 0
    rows = {name: (a, b) for name, a, b in run_over_run(outcomes(run), outcomes(baseline))}
    assert rows["kept chains"] == (3, 4) and rows["pass@1"] == (pytest.approx(0.25), 1.0)
    assert "pass@2" not in rows  # the baseline has one sample per problem
