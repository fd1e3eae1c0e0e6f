"""The reward core: scores from real verdicts, missing rewards (None, never 0), concurrency."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from verifier.code.verdict import CodeStatus, CodeVerdict, TestResult
from verifier.math import MathPool, MathStatus, MathVerdict, check_math_many
from verifier.rewards import (
    STATS,
    BadInput,
    Missing,
    RewardOptions,
    as_problem,
    completion_text,
    score,
    score_batch,
    strip_prompt,
)
from verifier.rewards.core import code_reward, math_reward
from verifier.schema import MathProblem

DATA = (
    Path("/work/shared/data")
    if Path("/work/shared/data").exists()
    else Path(__file__).parent.parent.parent / "shared" / "data"
)


@pytest.mark.parametrize(
    "problem,completion,expected",
    [
        ("18", "9 * 2 = 18\n#### 18", 1.0),
        ("18", "9 * 2 = 18\n#### 17", 0.0),
        ("18", "9 * 2 = 18", 0.0),  # unanchored: never counts
        (18, "#### 18", 1.0),  # a number as the gold answer
        ("1/2", "so \\boxed{0.5}", 1.0),
        ("70000", "The answer is $70,000.", 1.0),
        ({"answer": "3"}, "#### 3", 1.0),
        ({"id": "p", "kind": "math", "question": "q", "answer": "3"}, "#### 4", 0.0),
        ('{"id": "p", "kind": "math", "question": "q", "answer": "3"}', "#### 3", 1.0),
        ("3", [{"role": "assistant", "content": "#### 3"}], 1.0),
        ("3", [{"role": "user", "content": "#### 3"}, {"role": "assistant", "content": "#### 4"}], 0.0),
        ("3", [{"role": "assistant", "content": [{"type": "text", "text": "#### 3"}]}], 1.0),
        ("3", "#### 3 and later #### 4", 0.0),  # two different anchored answers
        (np.int64(3), "#### 3", 1.0),  # verl's batches hold numpy scalars
        (np.str_("3"), "#### 3", 1.0),
        (
            {"id": "p", "kind": "math", "question": "q", "answer": "3", "solution": None, "tags": None},
            "#### 3",
            1.0,
        ),
    ],
)
def test_score_table(problem, completion, expected):
    result = score(problem=problem, completion=completion)
    assert result.score == expected
    assert result.missing is None


@pytest.mark.parametrize(
    "reference",
    [None, True, "", "   ", {"kind": "math"}, '{"kind": "math", bad json', [1, 2]],
)
def test_unreadable_reference_is_bad_input(reference):
    with pytest.raises(BadInput):
        as_problem(reference)


@pytest.mark.parametrize("completion", [42, [1, 2], [{"role": "assistant", "content": 3}]])
def test_unreadable_completion_is_bad_input(completion):
    with pytest.raises(BadInput):
        completion_text(completion)


@pytest.mark.parametrize(
    "query,prompt,expected",
    [
        ("Q: 1+1?\nA: #### 2", "Q: 1+1?\n", "A: #### 2"),
        ("<s>Q: 1+1? #### 2", "Q: 1+1?", " #### 2"),  # a token the tokenizer added in front
        ("no prompt here", None, "no prompt here"),
        # Decoding the prompt's tokens again gave other spaces (SentencePiece): whitespace is ignored.
        ("<s>Q:1+1 ?\nA: #### 2", "Q: 1+1?\n", "\nA: #### 2"),
        ("Q: 1+1?A: #### 2", "Q: 1+1? ", "A: #### 2"),
    ],
)
def test_strip_prompt(query, prompt, expected):
    assert strip_prompt(query, prompt) == expected


def test_strip_prompt_without_the_prompt_is_bad_input():
    with pytest.raises(BadInput):
        strip_prompt("something else", "Q: 1+1?")


def test_bank_ids_resolve():
    problem = MathProblem(id="gsm-x", kind="math", question="q", answer="12")
    assert score(problem="gsm-x", completion="#### 12", bank={"gsm-x": problem}).score == 1.0
    # Without the bank the id is read as a gold answer, which it does not match.
    assert score(problem="gsm-x", completion="#### 12").score == 0.0


@pytest.mark.parametrize("reference", ["gsm-y", "12", ""])
def test_with_a_bank_a_string_not_in_it_is_bad_input(reference):
    bank = {"gsm-x": MathProblem(id="gsm-x", kind="math", question="q", answer="12")}
    with pytest.raises(BadInput, match="unknown problem id"):
        score(problem=reference, completion="#### 12", bank=bank)
    # Gold answers still go through as numbers or {"answer": ...} records.
    assert score(problem=12, completion="#### 12", bank=bank).score == 1.0
    assert score(problem={"answer": "12"}, completion="#### 12", bank=bank).score == 1.0


@pytest.mark.parametrize(
    "verdict,score_,missing",
    [
        (MathVerdict(MathStatus.CORRECT, "3", "rational", ""), 1.0, None),
        (MathVerdict(MathStatus.WRONG, "4", "rational", ""), 0.0, None),
        (MathVerdict(MathStatus.NO_ANSWER, None, None, ""), 0.0, None),
        (MathVerdict(MathStatus.UNPARSEABLE, "x(", None, ""), 0.0, None),
        (MathVerdict(MathStatus.TIMEOUT, "9^9^9", "guard", "tower"), 0.0, None),  # the model's doing
        (MathVerdict(MathStatus.TIMEOUT, "x", "deadline", "killed"), None, Missing.DEADLINE),
        (MathVerdict(MathStatus.ERROR, "x", "worker", "worker died"), None, Missing.INFRA),
    ],
)
def test_math_verdict_to_reward(verdict, score_, missing):
    result = math_reward(verdict)
    assert (result.score, result.missing) == (score_, missing)


def _code(status: CodeStatus, passed: list[bool] = ()) -> CodeVerdict:
    tests = tuple(TestResult(i, p) for i, p in enumerate(passed))
    return CodeVerdict(status=status, reason="r", tests=tests)


@pytest.mark.parametrize(
    "verdict,partial,score_,missing",
    [
        (_code(CodeStatus.PASS, [True, True]), False, 1.0, None),
        (_code(CodeStatus.WRONG, [True, False, True, False]), False, 0.0, None),
        (_code(CodeStatus.WRONG, [True, False, True, False]), True, 0.5, None),
        (_code(CodeStatus.TIMEOUT), True, 0.0, None),
        (_code(CodeStatus.NO_CODE), False, 0.0, None),
        (_code(CodeStatus.SANDBOX_ERROR), False, None, Missing.INFRA),
        (_code(CodeStatus.SANDBOX_ERROR), True, None, Missing.INFRA),
    ],
)
def test_code_verdict_to_reward(verdict, partial, score_, missing):
    result = code_reward(verdict, partial_credit=partial)
    assert (result.score, result.missing) == (score_, missing)


@pytest.fixture(scope="module")
def one_worker_pool():
    # Closed at the end of the module, once the check left running past its deadline has finished.
    with MathPool(workers=1) as pool:
        yield pool.start()


def test_batch_deadline_gives_none_not_zero(one_worker_pool):
    """The only worker of the checker's pool is busy for longer than the batch deadline, so the
    symbolic comparison cannot run in time: that reward is missing, the cheap ones are not."""
    pool = one_worker_pool
    busy = threading.Thread(
        target=pool.run, args=({"op": "sleep", "seconds": "3"},), kwargs={"timeout_s": 30}
    )
    busy.start()
    before = STATS.snapshot()["missing"]
    results = score_batch(
        [("x^2 - 1", "\\boxed{(x-1)(x+1)}"), ("5", "#### 5"), ("5", "#### 6")],
        options=RewardOptions(deadline_s=1.0, math_pool=pool),
    )
    busy.join()
    assert results[0].score is None and results[0].missing is Missing.DEADLINE
    assert [r.score for r in results[1:]] == [1.0, 0.0]
    assert STATS.snapshot()["missing"] >= before + 1


def test_one_slow_answer_leaves_its_groups_decided_rewards(one_worker_pool):
    """All completions of one problem are one task: the one that needs the (busy) worker is
    missing at the deadline, the others of the group, decided in microseconds, are not."""
    pool = one_worker_pool
    busy = threading.Thread(
        target=pool.run, args=({"op": "sleep", "seconds": "3"},), kwargs={"timeout_s": 30}
    )
    busy.start()
    gold = "x^2 - 1"
    completions = ["\\boxed{(x-1)(x+1)}", "\\boxed{x^2 - 1}", "#### 7", "no answer here"]
    results = score_batch(
        [(gold, c) for c in completions], options=RewardOptions(deadline_s=1.0, math_pool=pool)
    )
    busy.join()
    assert results[0].score is None and results[0].missing is Missing.DEADLINE
    assert [r.score for r in results[1:]] == [1.0, 0.0, 0.0]


def test_a_spent_budget_still_decides_what_needs_no_worker():
    pool = MathPool(workers=1)  # never started: nothing here may need a worker
    verdicts = check_math_many(
        gold="x^2 - 1",
        preds=["\\boxed{(x-1)(x+1)}", "\\boxed{x^2 - 1}", "#### 7"],
        pool=pool,
        budget=pool.budget(0.0),
    )
    assert [(v.status, v.rule) for v in verdicts][0] == (MathStatus.TIMEOUT, "deadline")
    assert [v.status for v in verdicts[1:]] == [MathStatus.CORRECT, MathStatus.WRONG]
    assert pool._all == []
    pool.close()


def _gsm_items(n: int) -> list[tuple[str, str]]:
    items = []
    with (DATA / "gsm8k_example_model_solutions.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            gold = row["ground_truth"].rsplit("A:", 1)[1].strip()
            for key in ("6b_finetuning", "6b_verification"):
                items.append((gold, row[key]["solution"]))
            if len(items) >= n:
                return items
    return items


def test_sixteen_threads_give_the_sequential_scores():
    items = _gsm_items(48) + [
        ("\\frac{1}{2}", "\\boxed{0.5}"),
        ("x^2-1", "\\boxed{(x+1)(x-1)}"),
        ("\\sqrt{2}", "\\boxed{2^{1/2}}"),
        ("(1,2)", "\\boxed{[1,2]}"),
    ]
    sequential = [score(problem=p, completion=c).score for p, c in items]
    assert any(s == 1.0 for s in sequential) and any(s == 0.0 for s in sequential)
    assert None not in sequential

    def one_call(k: int) -> list[float | None]:
        rotated = items[k:] + items[:k]  # each thread asks in another order
        scores = [r.score for r in score_batch(rotated)]
        return scores[len(items) - k :] + scores[: len(items) - k]

    with ThreadPoolExecutor(max_workers=16) as ex:
        outcomes = list(ex.map(one_call, range(16)))
    assert all(o == sequential for o in outcomes)
