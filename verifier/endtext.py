"""End of text: trailing chat-template special tokens and padding, removed from the end only.

Trainers hand us decoded text with special tokens kept (OpenRLHF decodes prompt + response with
``skip_special_tokens=False``; a vLLM or TRL completion may end in ``<|im_end|>`` or padding). An
answer followed by such a token is still the answer: ``#### 17<|im_end|>`` must read as ``17``, not
as an unparseable ``17<|im_end|>``. Only the end is touched: a token in the middle of a chain (a
multi-turn transcript) is the model's text and stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

# The end-of-turn, end-of-text and padding tokens of the common chat templates.
END_TOKENS: tuple[str, ...] = (
    "<|im_end|>",  # ChatML: Qwen, SmolLM, Yi
    "<|endoftext|>",  # GPT-2, Qwen (also its padding), Phi
    "</s>",  # Llama 2, Mistral
    "<|eot_id|>",  # Llama 3
    "<|eom_id|>",  # Llama 3 tool calls
    "<|end_of_text|>",  # Llama 3 base
    "<end_of_turn>",  # Gemma
    "<eos>",  # Gemma
    "<|end|>",  # Phi-3
    "<|return|>",  # gpt-oss (harmony)
    "<｜end▁of▁sentence｜>",  # DeepSeek (full-width bars)
    "<|end▁of▁sentence|>",  # DeepSeek, as some tokenizers spell it
    "[EOS]",
    "<pad>",
    "<|pad|>",
    "[PAD]",
    "<|finetune_right_pad_id|>",  # Llama 3.1 padding
)


def tokens_of(tokenizer: Any) -> tuple[str, ...]:
    """A tokenizer's own special tokens (``all_special_tokens`` of a transformers tokenizer)."""
    return tuple(t for t in getattr(tokenizer, "all_special_tokens", ()) if isinstance(t, str) and t)


@lru_cache(maxsize=64)
def _longest_first(tokens: tuple[str, ...]) -> tuple[str, ...]:
    # Longest first, so that a token which ends another (``s>``, ``</s>``) never takes its place.
    return tuple(sorted({t for t in tokens if t and t.strip()}, key=len, reverse=True))


_DEFAULT = _longest_first(END_TOKENS)


def strip_end_tokens(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` without the special tokens (``END_TOKENS`` and ``extra``) and whitespace that end it.

    Repeated tokens (padding) and whitespace between them go too. Text that does not end in one
    is returned unchanged, trailing whitespace included. Linear in the length of the text: an end
    index walks back, so a response padded with thousands of tokens is not re-sliced per token."""
    more = tuple(extra)
    tokens = _longest_first((*END_TOKENS, *more)) if more else _DEFAULT
    end = len(text)
    while True:
        j = end
        while j and text[j - 1].isspace():
            j -= 1
        if not text.endswith(tokens, 0, j):  # one C-level test in the common case: nothing to strip
            return text[:end]
        token = next(t for t in tokens if text.endswith(t, 0, j))
        end = j - len(token)
