"""Where completions come from: a Generator, or a --responses file of completions made elsewhere.

A source says how many samples each problem gets (its ``Budget``), makes the unit of a sample index
(with its seed) and turns a group of units into completions with one call (``produce``). It keeps
no state between calls, so the executor decides when and where each call runs.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pydantic import TypeAdapter

from verifier.banks.jsonl import read_jsonl
from verifier.errors import InputError
from verifier.generation.base import GenerationRequest, Generator, Messages
from verifier.generation.prompts import build_messages
from verifier.generation.seeds import sample_seed
from verifier.pipeline.budget import Budget
from verifier.pipeline.units import Produced, Unit
from verifier.schema import CodeProblem, MathProblem, ResponseRecord

Problem = MathProblem | CodeProblem
PromptBuilder = Callable[[Problem], Messages]


class Source(Protocol):
    @property
    def model(self) -> str: ...

    @property
    def problems_per_call(self) -> int: ...

    def budget(self, problem: Problem) -> Budget: ...

    def unit(self, problem: Problem, sample_index: int) -> Unit: ...

    def produce(self, units: list[Unit]) -> list[Produced]: ...

    def close(self) -> None: ...


def chat(messages: Messages) -> list[dict[str, str]]:
    return [{"role": r, "content": c} for r, c in messages]


class GeneratedSource:
    """Samples completions with a Generator; all samples of a problem in one request (shared prefill)."""

    def __init__(
        self,
        generator: Generator,
        budget: Budget,
        run_seed: int,
        problems_per_call: int,
        prompt: PromptBuilder = build_messages,
    ):
        self.generator = generator
        self._budget = budget
        self.run_seed = run_seed
        self._problems_per_call = max(1, problems_per_call)
        self.prompt = prompt

    @property
    def model(self) -> str:
        return self.generator.name

    @property
    def problems_per_call(self) -> int:
        return self._problems_per_call

    def budget(self, problem: Problem) -> Budget:
        return self._budget

    def unit(self, problem: Problem, sample_index: int) -> Unit:
        return Unit(problem, sample_index, sample_seed(problem.id, sample_index, self.run_seed))

    def produce(self, units: list[Unit]) -> list[Produced]:
        """One generator call for these units, grouped into one request per problem."""
        by_problem: dict[str, list[Unit]] = defaultdict(list)
        for u in units:
            by_problem[u.problem.id].append(u)
        groups = list(by_problem.values())
        messages = [self.prompt(g[0].problem) for g in groups]
        requests = [
            GenerationRequest(m, tuple(u.seed or 0 for u in g)) for m, g in zip(messages, groups, strict=True)
        ]
        t0 = time.perf_counter()
        outputs = self.generator.generate(requests)
        per_row = (time.perf_counter() - t0) / max(1, len(units))
        return [
            Produced(
                u,
                self.generator.name,
                chat(m),
                c.text,
                c.tokens,
                per_row,
                finish_reason=c.finish_reason,
                prompt_tokens=c.prompt_tokens or None,  # 0: the engine did not say
            )
            for g, m, outs in zip(groups, messages, outputs, strict=True)
            for u, c in zip(g, outs, strict=True)
        ]

    def close(self) -> None:
        close = getattr(self.generator, "close", None)  # generators made before close() existed
        if close is not None:
            close()


class ResponsesSource:
    """Completions read from a JSONL file of {"problem_id", "completion"}; several per problem allowed."""

    def __init__(self, path: Path, problems: dict[str, Problem], prompt: PromptBuilder = build_messages):
        self.path = path
        self.model = f"responses:{path.name}"
        self.prompt = prompt
        self._completions: dict[tuple[str, int], ResponseRecord] = {}
        errors: list[str] = []
        self._count: dict[str, int] = defaultdict(int)
        for lineno, record, errs in read_jsonl(path, TypeAdapter(ResponseRecord)):
            errors.extend(errs)
            if record is None:
                continue
            if record.problem_id not in problems:
                errors.append(f"{path}:{lineno}: problem_id: {record.problem_id!r} is not in the bank")
                continue
            self._completions[(record.problem_id, self._count[record.problem_id])] = record
            self._count[record.problem_id] += 1
        if errors:
            raise InputError(errors)
        if not self._completions:
            raise InputError([f"{path}:0: <file>: no responses in the file"])

    @property
    def problems_per_call(self) -> int:
        return 64

    def budget(self, problem: Problem) -> Budget:
        return Budget.fixed(self._count.get(problem.id, 0))

    def unit(self, problem: Problem, sample_index: int) -> Unit:
        return Unit(problem, sample_index, None)

    def produce(self, units: list[Unit]) -> list[Produced]:
        return [
            Produced(u, r.model or self.model, chat(self.prompt(u.problem)), r.completion, 0, 0.0)
            for u in units
            for r in [self._completions[u.key]]
        ]

    def close(self) -> None:
        return None
