"""End of text: chat-template end tokens and padding come off the end only, at every entry point."""

from __future__ import annotations

import pytest

from verifier.endtext import END_TOKENS, strip_end_tokens, tokens_of
from verifier.math import check_math
from verifier.rewards import score

ANSWER = "9 + 8 = 17.\n#### 17"
TEMPLATE_ENDS = ["<|im_end|>", "</s>", "<|eot_id|>", "<|endoftext|>", "<end_of_turn>", "<|end|>", "<eos>"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("#### 17<|im_end|>", "#### 17"),
        ("#### 17<|im_end|><|endoftext|>", "#### 17"),  # end of turn, then end of text
        ("#### 17<|im_end|>\n<|endoftext|><|endoftext|><|endoftext|>", "#### 17"),  # padding
        ("#### 17\n<|eot_id|>\n", "#### 17\n"),  # whitespace before the token stays, after it goes
        ("#### 17 </s>", "#### 17 "),
        ("#### 17<end_of_turn>\n<eos>", "#### 17"),
        ("#### 17<pad><pad>", "#### 17"),
        ("#### 17<｜end▁of▁sentence｜>", "#### 17"),  # DeepSeek's full-width bars
        ("#### 17", "#### 17"),
        ("#### 17\n\n", "#### 17\n\n"),  # nothing to strip: the text is returned as it is
        ("", ""),
        ("<|im_end|>", ""),
        # In the middle of a chain a token is the model's text: only the end is touched.
        ("a<|im_end|>\n<|im_start|>assistant\n#### 17", "a<|im_end|>\n<|im_start|>assistant\n#### 17"),
        ("#### 17<|im_end|> and more", "#### 17<|im_end|> and more"),
        # Near misses are not tokens.
        ("#### 17<|im_end", "#### 17<|im_end"),
        ("#### 17 s>", "#### 17 s>"),
    ],
)
def test_strip_end_tokens(text: str, expected: str) -> None:
    assert strip_end_tokens(text) == expected


def test_a_tokenizers_own_special_tokens() -> None:
    class Tokenizer:
        all_special_tokens = ["<|my_end|>", "<|my_pad|>", ""]  # an empty one must not loop forever

    extra = tokens_of(Tokenizer())
    assert extra == ("<|my_end|>", "<|my_pad|>")
    assert strip_end_tokens("#### 17<|my_end|><|my_pad|><|my_pad|>", extra) == "#### 17"
    assert strip_end_tokens("#### 17<|my_end|>") == "#### 17<|my_end|>"  # not a known token without it
    assert tokens_of(object()) == ()


def test_every_known_token_is_stripped() -> None:
    for token in END_TOKENS:
        assert strip_end_tokens(f"#### 17{token}") == "#### 17", token


@pytest.mark.parametrize("token", TEMPLATE_ENDS)
def test_check_math_reads_the_answer_before_an_end_token(token: str) -> None:
    verdict = check_math(gold="17", pred=ANSWER + token)
    assert verdict.correct and verdict.extracted == "17", verdict
    boxed = check_math(gold="17", pred=r"So the answer is $\boxed{17}$." + token + "<|endoftext|>")
    assert boxed.correct, boxed


@pytest.mark.parametrize("token", TEMPLATE_ENDS)
def test_a_reward_is_not_zeroed_by_an_end_token(token: str) -> None:
    assert score(problem="17", completion=ANSWER + token).score == 1.0
    assert score(problem="18", completion=ANSWER + token).score == 0.0  # and a wrong one stays wrong


def test_a_response_padded_to_its_length_is_stripped_whole() -> None:
    # The shape OpenRLHF decodes with special tokens kept: thousands of pads, spaces between some.
    text = "#### 17" + "<|endoftext|>" * 4000 + " \n" + "<pad>" * 4000
    assert strip_end_tokens(text) == "#### 17"
    assert strip_end_tokens(text, ["<|my_pad|>"]) == "#### 17"
    assert strip_end_tokens("#### 17" + "<|my_pad|>" * 3, ("<|my_pad|>",)) == "#### 17"
