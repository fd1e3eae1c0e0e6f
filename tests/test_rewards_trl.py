"""The TRL adapter: the callable contract GRPOTrainer uses, then GRPOTrainer itself on CPU."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO, require
from verifier.rewards import BadInput, for_trl, for_trl_async
from verifier.schema import MathProblem

COMPLETIONS = ["3 + 5 = 8\n#### 8", "#### 9", "no idea"]
CHAT = [[{"role": "assistant", "content": c}] for c in COMPLETIONS]


@pytest.mark.parametrize("completions", [COMPLETIONS, CHAT], ids=["plain", "chat"])
def test_answer_column(completions):
    reward = for_trl(answer_column="answer")
    assert reward(completions=completions, prompts=["p"] * 3, answer=["8", "8", "8"]) == [1.0, 0.0, 0.0]


def _installed(module: str) -> Any:
    """A dev dependency: under CI=true its absence fails the test (``require``), never skips it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        require(False, f"{module} is needed: {e}")
        raise AssertionError("require() has skipped or failed the test") from e


def test_default_column_is_answer_and_name_is_logged():
    reward = for_trl()
    assert reward(COMPLETIONS, answer=["8"] * 3) == [1.0, 0.0, 0.0]
    assert reward.__name__ == "verifier_reward"


def test_a_tokenizers_own_end_token():
    completions = ["#### 8<|my_end|>", "#### 9<|my_end|>"]
    assert for_trl(end_tokens=["<|my_end|>"])(completions, answer=["8"] * 2) == [1.0, 0.0]
    assert for_trl()(completions, answer=["8"] * 2) == [0.0, 0.0]  # not a known token without it


def test_problem_column_and_id_column():
    problem = {"id": "p", "kind": "math", "question": "q", "answer": "8"}
    assert for_trl(problem_column="problem")(COMPLETIONS, problem=[problem] * 3) == [1.0, 0.0, 0.0]
    bank = {"p": MathProblem.model_validate(problem)}
    assert for_trl(id_column="problem_id", bank=bank)(COMPLETIONS, problem_id=["p"] * 3) == [1.0, 0.0, 0.0]


def test_id_column_with_a_bank_file():
    reward = for_trl(id_column="problem_id", bank=REPO / "problem_banks" / "gsm-style.jsonl")
    assert reward(["#### 8", "#### 7"], problem_id=["gsm-style-00", "gsm-style-00"]) == [1.0, 0.0]


@pytest.mark.parametrize("factory", [for_trl, for_trl_async])
def test_an_unknown_id_is_bad_input_not_a_gold_answer(factory):
    # "gsm-style-0" (a typo of gsm-style-00) used to be read as a gold answer: a silent 0.0.
    reward = factory(id_column="pid", bank=REPO / "problem_banks" / "gsm-style.jsonl")
    with pytest.raises(BadInput, match="unknown problem id 'gsm-style-0'.*did you mean 'gsm-style-00'"):
        answer = reward(["#### 8", "#### 8"], pid=["gsm-style-00", "gsm-style-0"])
        if asyncio.iscoroutine(answer):
            asyncio.run(answer)


def test_a_bank_without_id_column_is_refused():
    bank = {"p": MathProblem(id="p", kind="math", question="q", answer="8")}
    with pytest.raises(ValueError, match="id_column"):
        for_trl(answer_column="answer", bank=bank)


def test_log_metric_gets_the_missing_count():
    seen = {}
    for_trl()(COMPLETIONS, answer=["8"] * 3, log_metric=lambda name, value: seen.update({name: value}))
    assert seen == {"verifier/missing_rewards": 0.0}


def test_async_variant_gives_the_same_scores():
    reward = for_trl_async(answer_column="answer")

    async def main():
        return await asyncio.gather(*(reward(COMPLETIONS, answer=["8"] * 3) for _ in range(8)))

    assert asyncio.run(main()) == [[1.0, 0.0, 0.0]] * 8


def test_trl_recognises_both_variants():
    trl_utils = _installed("trl.trainer.utils")
    assert not trl_utils.is_async_callable(for_trl())
    assert trl_utils.is_async_callable(for_trl_async())
    assert trl_utils.get_callable_name(for_trl(name="gsm")) == "gsm"


@pytest.mark.parametrize(
    "make,call",
    [
        (lambda: for_trl(answer_column="gold"), lambda r: r(COMPLETIONS, answer=["8"] * 3)),
        (lambda: for_trl(), lambda r: r(COMPLETIONS, answer=["8"])),
    ],
)
def test_bad_columns_are_errors(make, call):
    with pytest.raises(BadInput):
        call(make())


def test_bad_factory_arguments():
    with pytest.raises(ValueError):
        for_trl(answer_column="a", problem_column="p")
    with pytest.raises(ValueError):
        for_trl(id_column="problem_id")


@pytest.mark.model
@pytest.mark.slow
def test_grpo_trainer_runs_with_our_reward(embedded_model_path, tmp_path):
    """examples/trl_grpo.py: two GRPO steps on CPU, the embedded model, our reward (async variant)."""
    try:
        import trl  # noqa: F401
    except ImportError:
        require(False, "trl is not installed (it is in the dev extra)")
    out = tmp_path / "result.json"
    command = [
        sys.executable, str(REPO / "examples" / "trl_grpo.py"),
        "--steps", "2", "--problems", "2", "--generations", "2", "--max-completion-length", "12",
        "--out", str(tmp_path / "grpo"), "--json-out", str(out), "--async-reward",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["steps"] == 2
    rewards = [entry for entry in result["logs"] if "rewards/verifier_reward/mean" in entry]
    assert len(rewards) == 2
    assert all(float(entry["verifier/missing_rewards"]) == 0 for entry in rewards)
    assert result["reward_stats"]["items"] == 2 * 2 and result["reward_stats"]["missing"] == 0


def test_sixteen_threads_calling_the_adapter_get_the_sequential_scores():
    from concurrent.futures import ThreadPoolExecutor

    reward = for_trl(answer_column="answer")
    completions = [f"step by step\n#### {n}" for n in range(40)] + ["\\boxed{\\frac{6}{4}}", "\\boxed{1.5}"]
    answers = [str(n % 5) for n in range(40)] + ["3/2", "3/2"]
    sequential = reward(completions, answer=answers)
    with ThreadPoolExecutor(max_workers=16) as ex:
        outcomes = list(ex.map(lambda _: reward(completions, answer=answers), range(32)))
    assert all(o == sequential for o in outcomes)
    assert sequential.count(1.0) == 7  # n == n % 5 for n < 5, and both spellings of 3/2
