"""Critic and perplexity stages with the real embedded SmolLM2-135M (transformers backend)."""

from __future__ import annotations

import math
import random
import string

import pytest

from tests.conftest import REPO
from verifier.filters.base import Group
from verifier.filters.critic import PROMPTS, CriticStage, answer_mass, confidence, make_critics
from verifier.filters.perplexity import PerplexityStage, reference_pairs
from verifier.generation.base import Completion
from verifier.generation.registry import BackendSettings
from verifier.schema import ChainRecord, VerdictRecord

pytestmark = pytest.mark.model


def chain(pid: str, i: int, text: str, prompt: str | list[dict[str, str]] = "q") -> ChainRecord:
    return ChainRecord(
        problem_id=pid,
        sample_index=i,
        kind="math",
        seed=i,
        model="m",
        prompt=prompt,
        completion=text,
        tokens=len(text.split()),
        extracted=None,
        verdict=VerdictRecord(status="correct", correct=True),
    )


@pytest.fixture(scope="module")
def bank():
    from verifier.banks.loader import load_bank

    return load_bank(REPO / "problem_banks" / "gsm8k-test.jsonl")


@pytest.mark.parametrize(
    "alternatives,expected",
    [
        ((("Yes", math.log(0.6)), (" no", math.log(0.2)), ("Maybe", math.log(0.2))), (0.6, 0.2)),
        ((("YES", math.log(0.3)), ("yes", math.log(0.3)), ("No.", math.log(0.1))), (0.6, 0.1)),
        ((("Yesterday", math.log(0.9)), ("Not", math.log(0.1))), (0.0, 0.0)),
    ],
)
def test_answer_mass_sums_every_spelling(alternatives, expected):
    yes, no = answer_mass(alternatives)
    assert (round(yes, 6), round(no, 6)) == expected


def test_confidence_polarity_and_text_fallback():
    c = Completion("Yes", 1, "length", top_logprobs=((("Yes", math.log(0.75)), ("No", math.log(0.25))),))
    assert confidence(c, "yes")[0] == pytest.approx(0.75)
    assert confidence(c, "no")[0] == pytest.approx(0.25)  # the "any mistake?" prompt: no is good
    assert confidence(Completion("no", 1, "stop"), "no") == (1.0, {"from": "text", "answer": "no"})


@pytest.fixture(scope="module")
def critic(embedded_model_path):
    stage = CriticStage(make_critics(2, BackendSettings(dtype="float32", batch_rows=4), []), threshold=0.5)
    yield stage
    stage.close()


def test_two_critics_on_the_embedded_model_record_every_confidence(critic, bank):
    problem = bank.problems[0]
    good = problem.solution or ""
    bad = good.replace("16 - 3 - 4 = <<16-3-4=9>>9", "16 - 3 - 4 = 12").replace("9 * 2", "12 * 2")
    group = Group(problem.id, problem, (chain(problem.id, 0, good), chain(problem.id, 1, bad)))
    outcomes = critic.judge([group])[0]
    assert len(outcomes) == 2
    assert [c.prompt.id for c in critic.critics] == [p.id for p in PROMPTS]
    for o in outcomes:
        votes = o.details["critics"]
        assert [v["prompt"] for v in votes] == ["steps-correct", "any-error"]
        for v in votes:
            assert v["from"] == "logprobs" and 0.0 <= v["confidence"] <= 1.0
            assert v["p_yes"] + v["p_no"] > 0  # the 135M model does answer yes/no among its top 20
        assert o.details["confidence"] == min(v["confidence"] for v in votes)
        assert o.kept == all(v["confidence"] >= 0.5 for v in votes)
    # the same question twice gives the same confidences (greedy, one token)
    again = critic.judge([group])[0]
    assert [o.details for o in again] == [o.details for o in outcomes]


@pytest.fixture(scope="module")
def perplexity(embedded_model_path, bank):
    stage = PerplexityStage(None, reference_pairs(bank.problems, 12), batch_rows=4)
    yield stage
    stage.close()


def test_perplexity_band_from_references_drops_loops_and_garbage(perplexity, bank):
    from verifier.generation.prompts import build_messages

    problem = bank.problems[20]
    prompt = [{"role": r, "content": c} for r, c in build_messages(problem)]
    human = problem.solution or ""
    loop = "She has 5 apples. " * 60
    rng = random.Random(0)  # never repeating: a repeated string becomes predictable in context
    garbage = "".join(rng.choice(string.ascii_letters + string.digits + "#$%&~ ") for _ in range(400))
    group = Group(
        problem.id,
        problem,
        tuple(chain(problem.id, i, t, prompt) for i, t in enumerate([human, loop, garbage])),
    )
    lo, hi = perplexity.limits()
    assert len(perplexity.reference_perplexities) == 12 and 0 < lo < hi
    kept, looped, noise = perplexity.judge([group])[0]
    assert kept.kept, kept.reason
    assert not looped.kept and "below" in looped.reason and looped.details["perplexity"] < lo
    assert not noise.kept and "above" in noise.reason and noise.details["perplexity"] > hi
    refs = perplexity.reference_perplexities
    assert min(refs) <= kept.details["perplexity"] * 3 and max(refs) >= kept.details["perplexity"] / 3


def test_cli_all_five_stages_on_a_real_run(embedded_model_path, tmp_path):
    """`verify --responses` (real checker) then `verify filter` with every stage, real models."""
    import json
    import os
    import subprocess
    import sys

    bank_path = REPO / "problem_banks" / "gsm8k-test.jsonl"
    rows = [json.loads(line) for line, _ in zip(bank_path.open(encoding="utf-8"), range(3), strict=False)]
    responses = tmp_path / "responses.jsonl"
    responses.write_text(
        "".join(json.dumps({"problem_id": r["id"], "completion": r["solution"]}) + "\n" for r in rows),
        encoding="utf-8",
    )
    run = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def verify(*args: object) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "verifier.cli.main", *map(str, args)]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=1200)

    done = verify("--bank", bank_path, "--responses", responses, "--limit", 3, "--out", run)
    assert done.returncode == 0, done.stderr
    stages = "arithmetic,dedup,anchor,critic,perplexity"
    done = verify("filter", run, "--filters", stages, "--critics", "2", "--perplexity-refs", "8")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert list(summary["filters"]) == stages.split(",")
    for counts in summary["filters"].values():
        assert counts["kept"] + counts["dropped"] == 3
    # the references themselves: arithmetic keeps them, the anchor finds each its own reference (a copy)
    assert summary["filters"]["arithmetic"]["kept"] == 3
    assert summary["filters"]["anchor"]["dropped"] == 3
    records = [json.loads(line) for line in (run / "filters.jsonl").read_text().splitlines()]
    critic = [r for r in records if r["stage"] == "critic"]
    assert all(len(r["details"]["critics"]) == 2 for r in critic)
    assert summary["kept_after_filters"] == 0 == len((run / "verified.jsonl").read_text().splitlines())
