"""OpenRLHF's file form: the file loaded by path as ``--remote_rm_url reward.py`` is, then
``reward_func(queries, prompts, labels)`` called as OpenRLHF calls it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import require

try:  # OpenRLHF's reward file returns tensors: torch is a dependency, its absence fails under CI
    import torch
except ImportError as e:
    _MISSING: str | None = f"torch is needed: {e}"
else:
    _MISSING = None


@pytest.fixture(autouse=True)
def _installed_torch() -> None:
    require(_MISSING is None, str(_MISSING))


FILE = Path(__file__).resolve().parent.parent / "verifier" / "rewards" / "openrlhf.py"
PROMPT = "<|im_start|>user\nTom has 3 apples and buys 5 more. How many?<|im_end|>\n<|im_start|>assistant\n"


def load_like_openrlhf():
    spec = importlib.util.spec_from_file_location("reward_func", FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


def test_reward_func_file_form():
    reward_func = load_like_openrlhf()
    queries = [PROMPT + "3 + 5 = 8\n#### 8", PROMPT + "#### 9", PROMPT + "\\boxed{8}"]
    out = reward_func(queries, [PROMPT] * 3, ["8", "8", "8"])
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert out["rewards"].tolist() == [1.0, 0.0, 1.0]
    assert out["scores"].tolist() == [1.0, 0.0, 1.0]
    # Per-sample columns, as OpenRLHF concatenates them over requests and splits them per sample.
    assert out["extra_logs"]["missing"].tolist() == [0.0, 0.0, 0.0]
    assert out["extra_logs"]["correct"].tolist() == [1.0, 0.0, 1.0]
    merged = torch.cat([out["extra_logs"]["correct"], out["extra_logs"]["correct"]], dim=0).split([3, 3])
    assert [t.tolist() for t in merged] == [[1.0, 0.0, 1.0]] * 2


def test_the_prompt_is_stripped_before_checking():
    # The prompt holds a '#### 8' of its own (a few-shot example); only the response may count.
    prompt = "Example: 1+7?\n#### 8\nNow: 2+2?\n"
    out = load_like_openrlhf()([prompt + "I do not know"], [prompt], ["8"])
    assert out["rewards"].tolist() == [0.0]


def test_a_query_without_its_prompt_is_scored_whole_and_flagged():
    # The tokenizer's round trip changed more than spaces: scored whole, never a refused request.
    out = load_like_openrlhf()(
        ["Q: two plus two? #### 4", PROMPT + "#### 8"], ["Q: 2+2?", PROMPT], ["4", "8"]
    )
    assert out["rewards"].tolist() == [1.0, 1.0]
    assert out["extra_logs"]["whole_query"].tolist() == [1.0, 0.0]


def test_a_tokenizers_own_end_token():
    out = load_like_openrlhf()([PROMPT + "#### 8<|my_end|>"], [PROMPT], ["8"], end_tokens=["<|my_end|>"])
    assert out["rewards"].tolist() == [1.0]


def test_bad_input_is_an_error():
    from verifier.rewards import BadInput

    with pytest.raises(BadInput):
        load_like_openrlhf()(["#### 1", "#### 2"], ["", ""], ["1"])
