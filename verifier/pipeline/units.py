"""A unit of work is one (problem, sample) pair; its key identifies it across runs for resuming."""

from __future__ import annotations

from dataclasses import dataclass

from verifier.schema import CodeProblem, MathProblem


@dataclass(frozen=True)
class Unit:
    problem: MathProblem | CodeProblem
    sample_index: int
    seed: int | None  # None for responses made elsewhere

    @property
    def key(self) -> tuple[str, int]:
        return (self.problem.id, self.sample_index)


@dataclass(frozen=True)
class Produced:
    """A unit with its completion, as a source hands it to the checker."""

    unit: Unit
    model: str
    prompt: list[dict[str, str]]
    completion: str
    tokens: int
    gen_seconds: float
    finish_reason: str | None = None  # "stop" or "length" as the engine said; None for --responses
    prompt_tokens: int | None = None  # as the engine counted them; None when it does not say
