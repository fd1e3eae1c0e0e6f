"""One verdict core: every math and code status is correct, the candidate's fault, or undecided,
and every consumer (resume, self-check, rewards, pairs) reads it from there."""

from __future__ import annotations

import subprocess
import sys

import pytest

from verifier.code.verdict import CodeStatus, CodeVerdict
from verifier.gate.junit import build_junit
from verifier.math.check import check_math_many
from verifier.math.selfcheck import _infrastructure
from verifier.math.verdict import MathStatus, MathVerdict
from verifier.pipeline.run import Resumed
from verifier.pipeline.summary import per_problem, summarise
from verifier.rewards.core import code_reward, math_reward
from verifier.rewards.pairs import make_pairs
from verifier.rewards.result import Missing
from verifier.schema import ChainRecord, VerdictRecord
from verifier.verdicts import Cause, Outcome, judge, outcome_of

C, F, U = Outcome.CORRECT, Outcome.CANDIDATE_FAULT, Outcome.UNDECIDED

# (kind, status, rule, outcome, cause): each rule a checker emits for that status.
TABLE = [
    ("math", "correct", "exact", C, None),
    ("math", "correct", "symbolic", C, None),
    ("math", "wrong", "numeric", F, None),
    ("math", "wrong", "conflicting-answers", F, None),
    ("math", "no_answer", None, F, None),
    ("math", "no_answer", "not-text", F, None),  # None where a completion should be: a failed generation
    ("math", "unparseable", "symbolic", F, None),
    ("math", "unparseable", None, F, None),
    ("math", "timeout", "guard", F, None),  # an answer too big or deep to compare: its own doing
    ("math", "timeout", "deadline", U, Cause.DEADLINE),
    ("math", "timeout", "worker-start", U, Cause.DEADLINE),
    ("math", "timeout", None, U, Cause.DEADLINE),
    ("math", "error", "worker", U, Cause.INFRASTRUCTURE),
    ("math", "error", "worker-start", U, Cause.INFRASTRUCTURE),
    ("math", "error", "closed", U, Cause.INFRASTRUCTURE),
    ("math", "error", None, U, Cause.REFERENCE),  # an empty gold answer: the bank's bug
    ("code", "pass", "asserts", C, None),
    ("code", "pass", "cases", C, None),
    ("code", "wrong", "cases", F, None),
    ("code", "runtime_error", "signal", F, None),
    ("code", "timeout", "wall_clock", F, None),  # the candidate's own loop
    ("code", "timeout", "cpu_rlimit", F, None),
    ("code", "oom", "container_oom", F, None),
    ("code", "output_limit", "output_budget", F, None),
    ("code", "no_code", "extract", F, None),
    ("code", "sandbox_error", "infra", U, Cause.INFRASTRUCTURE),
    ("code", "sandbox_error", None, U, Cause.INFRASTRUCTURE),
    ("code", "sandbox_error", "harness_error", U, Cause.REFERENCE),  # the problem's tests are broken
    ("code", "sandbox_error", "checker_error", U, Cause.REFERENCE),  # its stdio checker is broken
    ("code", "sandbox_error", "bad_input", U, Cause.REFERENCE),  # the problem does not validate
    # A status from a newer release, or a reward's own "missing" status: never scored as wrong.
    ("math", "brand_new", None, U, Cause.INFRASTRUCTURE),
    ("code", "deadline", None, U, Cause.INFRASTRUCTURE),
]


@pytest.mark.parametrize("kind,status,rule,outcome,cause", TABLE)
def test_the_table(kind: str, status: str, rule: str | None, outcome: Outcome, cause: Cause | None) -> None:
    judgement = judge(kind, status, rule)
    assert (judgement.outcome, judgement.cause) == (outcome, cause)
    assert outcome_of(kind, status, rule) is outcome
    assert judgement.retryable is (cause in (Cause.INFRASTRUCTURE, Cause.DEADLINE))


def test_every_status_of_both_checkers_is_in_the_table() -> None:
    covered = {(k, s) for k, s, *_ in TABLE}
    assert {("math", s.value) for s in MathStatus} <= covered
    assert {("code", s.value) for s in CodeStatus} <= covered


def test_enum_members_and_strings_mean_the_same() -> None:
    assert outcome_of("math", MathStatus.TIMEOUT, "guard") is F
    assert outcome_of("code", CodeStatus.SANDBOX_ERROR, "") is U


def _record(kind: str, status: str, rule: str | None, index: int = 1) -> ChainRecord:
    return ChainRecord(
        problem_id="p",
        sample_index=index,
        kind=kind,  # type: ignore[arg-type]
        seed=0,
        model="m",
        prompt="q",
        completion=f"sample {index}",
        tokens=1,
        extracted=None,
        verdict=VerdictRecord(status=status, correct=status in ("correct", "pass"), rule=rule),
    )


@pytest.mark.parametrize("kind,status,rule,outcome,cause", TABLE)
def test_every_consumer_agrees(
    kind: str, status: str, rule: str | None, outcome: Outcome, cause: Cause | None
) -> None:
    # the summary (and through it the CI gate): an undecided verdict is never a sample
    record = _record(kind, status, rule)
    assert record.infrastructure_failure is (outcome is U)
    # pipeline resume: only a retryable verdict is checked again; a bank bug is final, not verified
    resumed = Resumed(latest={("p", 1): record}, logged=1)
    retried = judge(kind, status, rule).retryable
    assert resumed.known() == ({} if retried else {"p": {1: outcome is C}})
    row = per_problem([record])["p"]
    assert row["infra_errors"] == int(retried)
    assert row.get("bank_errors", 0) == int(cause is Cause.REFERENCE)
    # the code verdict's own flag says the same
    if kind == "code" and status in {s.value for s in CodeStatus}:
        verdict = CodeVerdict(CodeStatus(status), "reason", rule=rule or "")
        assert verdict.infrastructure_failure is retried
    # preference pairs: rejected exactly when it is the candidate's fault
    good = _record(kind, "correct" if kind == "math" else "pass", None, index=0)
    pairs = list(make_pairs([good, _record(kind, status, rule)]))
    assert bool(pairs) is (outcome is F)
    if kind == "math" and status in {s.value for s in MathStatus}:
        verdict = MathVerdict(MathStatus(status), "x", rule, "reason")
        reward = math_reward(verdict)
        assert _infrastructure(verdict) is judge(kind, status, rule).retryable  # bank self-check
    elif kind == "code" and status in {s.value for s in CodeStatus}:
        reward = code_reward(CodeVerdict(CodeStatus(status), "reason", rule=rule or ""), partial_credit=False)
    else:
        return
    assert (reward.score is None) is (outcome is U)
    assert reward.correct is (outcome is C)
    if outcome is not U:
        assert reward.score == float(outcome is C)
    expected_missing = {
        None: None,
        Cause.INFRASTRUCTURE: Missing.INFRA,
        Cause.DEADLINE: Missing.DEADLINE,
        Cause.REFERENCE: Missing.REFERENCE,
    }[cause]
    assert reward.missing is expected_missing


def test_a_bank_bug_is_named_as_such_in_the_summary_and_junit() -> None:
    records = [_record("math", "error", None, index=0), _record("code", "sandbox_error", "infra", index=1)]
    summary = summarise(records, problems=1, wall_seconds=0.0, run={})
    assert (summary["infra_errors"], summary["bank_errors"]) == (1, 1)
    assert summary["per_problem"]["p"] == {"samples": 0, "correct": 0, "infra_errors": 1, "bank_errors": 1}
    [error] = build_junit(summary, records, suite="s").iter("error")
    assert error.get("message") == (
        "1 infrastructure errors, 1 bank errors (the problem's gold answer or tests are unusable), "
        "no sample checked"
    )


def test_a_missing_completion_is_no_answer_not_a_bank_bug() -> None:
    [verdict] = check_math_many(gold="17", preds=[None])  # type: ignore[list-item]
    assert (verdict.status, verdict.rule) == (MathStatus.NO_ANSWER, "not-text")
    assert judge("math", verdict.status, verdict.rule).outcome is F


def test_no_import_cycle_between_the_gate_and_the_cli() -> None:
    """The gate is importable first, without the CLI; and the core without the sandbox (docker)."""
    gate = "import sys, verifier.gate.after_run\nassert not [m for m in sys.modules if m.startswith('verifier.cli')]"
    core = "import sys, verifier.verdicts, verifier.rewards\nassert 'docker' not in sys.modules"
    for code in (gate, core):
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
