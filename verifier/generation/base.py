"""The generator interface: prompts in, one completion per seed out, with token counts and usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from verifier.generation.sampling import Sampling

Messages = tuple[tuple[str, str], ...]  # (role, content) pairs of a chat
# Per generated token, its (token text, logprob) alternatives, best first.
TopLogprobs = tuple[tuple[tuple[str, float], ...], ...]


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int  # generated tokens, excluding the prompt
    finish_reason: str  # "stop" (EOS or stop rule) or "length"
    prompt_tokens: int = 0  # as the engine counted them (0 when it does not say)
    top_logprobs: TopLogprobs | None = None  # only when the request asked for logprobs


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt and the seeds of the samples wanted for it (one completion per seed).

    ``sampling`` overrides the generator's default settings for this request only (a critic asks
    for one greedy token); ``logprobs=k`` asks for the top-k alternatives of every generated token.
    """

    messages: Messages
    seeds: tuple[int, ...]
    sampling: Sampling | None = None
    logprobs: int = 0


@dataclass(frozen=True)
class Capabilities:
    """What a backend does natively. ``n``: several samples of one prompt in one engine call;
    ``seeds``: a sample is reproducible from its seed; ``logprobs``: top-k alternatives per token."""

    n: bool
    seeds: bool
    logprobs: bool


class Generator(Protocol):
    """Anything that turns chat prompts into sampled completions.

    ``generate`` returns, for each request, one completion per seed, in seed order. The same
    (prompt, seed) must give the same completion whatever else is in the batch, so that a resumed
    run reproduces the samples it skipped. ``close`` frees the engine (idempotent).
    """

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]: ...

    def close(self) -> None: ...


class GenerationError(Exception):
    """The engine could not produce the completions (after its own retries): an infrastructure
    failure, never a wrong answer. The message says which engine and why."""
