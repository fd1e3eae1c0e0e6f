"""The generator interface: prompts in, n completions per prompt out, with token counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int  # generated tokens, excluding the prompt
    finish_reason: str  # "stop" (EOS or stop rule) or "length"


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt and the seeds of the samples wanted for it (one completion per seed)."""

    messages: tuple[tuple[str, str], ...]  # (role, content) pairs of a chat
    seeds: tuple[int, ...]


class Generator(Protocol):
    """Anything that turns chat prompts into sampled completions.

    ``generate`` returns, for each request, one completion per seed, in seed order. The same
    (prompt, seed) must give the same completion whatever else is in the batch, so that a resumed
    run reproduces the samples it skipped.
    """

    @property
    def name(self) -> str: ...

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]: ...
