"""verl's compute_score, called the three ways verl calls it.

verl itself (Ray, vLLM, flash-attn) is too heavy to install here, so these tests make the calls
exactly as verl's code makes them: the file loaded by path as ``custom_reward_function.path`` is
(``importlib`` spec from the file, as verl's ``get_custom_reward_fn``), keyword calls as the naive
manager, positional calls in a process pool with ``float(result[0])`` as the prime manager, and
the batch form as the batch manager.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from verifier.rewards.result import Missing, RewardResult
from verifier.rewards.verl import MissingReward, compute_score
from verifier.rewards.verl_score import _as_dict

VERL_FILE = Path(__file__).resolve().parent.parent / "verifier" / "rewards" / "verl.py"
KEYS = {"score", "acc", "pred", "missing"}


def load_like_verl(path: Path, name: str):
    """What verl (0.9.1) does with custom_reward_function.path / .name: exec the file under a made-up
    module name that is *not* registered in sys.modules."""
    spec = importlib.util.spec_from_file_location(f"custom_module_{hash(str(path))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert spec.name not in sys.modules
    return getattr(module, name)


def _call_with_kwargs(raw_fn, extra_kwargs, *args, **kwargs):
    """verl wraps the function so that custom_reward_function.reward_kwargs reach it."""
    return raw_fn(*args, **kwargs, **extra_kwargs)


@pytest.fixture(autouse=True, scope="module")
def _stop_the_shared_math_server():
    """compute_score starts the per-user math server; it must not outlive these tests."""
    from verifier.math.shared import SharedMathPool

    yield
    SharedMathPool().stop_server()


def test_naive_manager_keyword_calls():
    fn = partial(_call_with_kwargs, load_like_verl(VERL_FILE, "compute_score"), {})
    rows = [
        ("openai/gsm8k", "so 9 * 2 = 18\n#### 18", "18"),
        ("openai/gsm8k", "#### 17", "18"),
        ("math", "no answer", "1/2"),
    ]
    extra_info: dict[str, list] = defaultdict(list)
    rewards = []
    for data_source, response, gold in rows:
        result = fn(
            data_source=data_source, solution_str=response, ground_truth=gold, extra_info={"split": "test"}
        )
        assert isinstance(result, dict) and set(result) == KEYS
        rewards.append(result["score"])
        for key, value in result.items():  # the naive manager gathers every key into a column
            extra_info[key].append(value)
    assert rewards == [1.0, 0.0, 0.0]
    assert extra_info["acc"] == [True, False, False]
    assert extra_info["pred"] == ["18", "17", ""]
    assert all(len(v) == len(rows) for v in extra_info.values())


def _prime_scores(evaluation_func, completions, references, tasks, extra_info):
    """The prime manager: positional calls in a process pool, then float(result[0])."""

    async def run():
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(max_workers=2) as executor:
            futures = [
                asyncio.wait_for(
                    loop.run_in_executor(executor, partial(evaluation_func, t, c, r, e)), timeout=300.0
                )
                for c, r, t, e in zip(completions, references, tasks, extra_info, strict=True)
            ]
            return await asyncio.gather(*futures)

    results = asyncio.run(run())
    scores = []
    for result in results:
        if result is None:
            scores.append(0.0)
        elif isinstance(result, int | float | bool):
            scores.append(float(result))
        else:
            scores.append(float(result[0]))
    return scores


def test_prime_manager_positional_calls_in_a_process_pool():
    """The function loaded by path must survive pickling into the process pool."""
    evaluation_func = partial(_call_with_kwargs, load_like_verl(VERL_FILE, "compute_score"), {})
    scores = _prime_scores(
        evaluation_func,
        completions=["#### 18", "#### 17", "\\boxed{\\frac{2}{4}}"],
        references=["18", "18", "1/2"],
        tasks=["gsm8k", "gsm8k", "math"],
        extra_info=[None, {"index": 1}, None],
    )
    assert scores == [1.0, 0.0, 1.0]


def test_batch_manager_call():
    results = compute_score(
        data_sources=["gsm8k"] * 3,
        solution_strs=["#### 1", "#### 2", "x"],
        ground_truths=["1", "1", "1"],
        extra_infos=[None, None, None],
    )
    assert [r["score"] for r in results] == [1.0, 0.0, 0.0]
    assert all(set(r) == KEYS for r in results)


def test_extra_info_problem_overrides_ground_truth():
    problem = {"id": "p1", "kind": "math", "question": "q", "answer": "7"}
    assert compute_score("custom", "#### 7", "ignored", {"problem": problem})["score"] == 1.0


def test_reward_kwargs_reach_the_function():
    fn = partial(_call_with_kwargs, compute_score, {"deadline_s": 30.0, "partial_credit": True})
    assert fn("gsm8k", "#### 5", "5", None)["score"] == 1.0


def test_a_tokenizers_own_end_token_from_reward_kwargs():
    fn = partial(_call_with_kwargs, compute_score, {"end_tokens": ["<|my_end|>"]})
    assert fn("gsm8k", "#### 5<|my_end|>", "5", None)["score"] == 1.0
    assert compute_score("gsm8k", "#### 5<|my_end|>", "5", None)["score"] == 0.0  # unknown without it


def test_missing_reward_is_flagged_or_raises():
    missing = RewardResult(None, "sandbox_error", "engine down", "code", missing=Missing.INFRA)
    flagged = _as_dict(missing, "zero")
    assert flagged == {"score": 0.0, "acc": False, "pred": "", "missing": True}
    with pytest.raises(MissingReward):
        _as_dict(missing, "raise")


def test_bad_calls_are_errors():
    with pytest.raises(ValueError):
        compute_score("gsm8k", None, "1")
    with pytest.raises(ValueError):
        compute_score(solution_strs=["a"], ground_truths=[])
    with pytest.raises(ValueError):
        compute_score("gsm8k", "#### 1", "1", on_missing="ignore")
