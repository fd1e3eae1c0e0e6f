"""Preference pairs: a verified chain against a wrong one of the same problem, in TRL's DPO format."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from tests.conftest import require
from verifier.rewards.pairs import make_pairs
from verifier.schema import ChainRecord, VerdictRecord

PROMPT = [{"role": "user", "content": "2+2?"}]


def _installed(module: str) -> Any:
    """A dev dependency: under CI=true its absence fails the test (``require``), never skips it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        require(False, f"{module} is needed: {e}")
        raise AssertionError("require() has skipped or failed the test") from e


def chain(pid: str, i: int, status: str, *, kind: str = "math", rule: str | None = None) -> ChainRecord:
    correct = status in ("correct", "pass")
    return ChainRecord(
        problem_id=pid,
        sample_index=i,
        kind=kind,  # type: ignore[arg-type]
        seed=i,
        model="m",
        prompt=PROMPT,
        completion=f"{pid} sample {i}",
        tokens=1,
        extracted=None,
        verdict=VerdictRecord(status=status, correct=correct, rule=rule),
    )


def test_pairs_round_robin_and_capped():
    records = [
        chain("a", 0, "correct"),
        chain("a", 1, "wrong"),
        chain("a", 2, "no_answer"),
        chain("a", 3, "wrong"),
    ]
    pairs = list(make_pairs(records, max_per_problem=2))
    assert [(p["chosen_sample"], p["rejected_sample"]) for p in pairs] == [(0, 1), (0, 2)]
    assert pairs[0]["prompt"] == PROMPT
    assert pairs[0]["chosen"] == [{"role": "assistant", "content": "a sample 0"}]


@pytest.mark.parametrize(
    "statuses,kind,expected",
    [
        (["correct", "correct"], "math", 0),  # nothing failed
        (["wrong", "no_answer"], "math", 0),  # nothing verified
        (["correct", "timeout", "error"], "math", 0),  # checker timeouts/errors say nothing about the answer
        (["pass", "sandbox_error"], "code", 0),  # infrastructure
        (["pass", "timeout"], "code", 1),  # the candidate's own infinite loop
        (["pass", "runtime_error", "wrong"], "code", 2),
    ],
)
def test_what_counts_as_rejected(statuses, kind, expected):
    records = [chain("p", i, s, kind=kind) for i, s in enumerate(statuses)]
    assert len(list(make_pairs(records))) == expected


def test_a_guards_stop_is_the_candidates_fault_a_worker_error_is_not():
    records = [
        chain("p", 0, "correct"),
        chain("p", 1, "timeout", rule="guard"),  # an answer too big to compare: rejected
        chain("p", 2, "timeout", rule="deadline"),
        chain("p", 3, "error", rule="worker"),
        chain("p", 4, "unparseable"),
    ]
    assert [p["rejected_sample"] for p in make_pairs(records)] == [1, 4]


def test_trl_reads_them_as_conversational_preference_data():
    data_utils = _installed("trl.data_utils")
    pair = next(make_pairs([chain("a", 0, "correct"), chain("a", 1, "wrong")]))
    example = {k: pair[k] for k in ("prompt", "chosen", "rejected")}
    assert data_utils.is_conversational(example)
