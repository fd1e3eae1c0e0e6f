"""Where completions come from: a Generator, or a --responses file of completions made elsewhere."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from pydantic import TypeAdapter

from verifier.banks.jsonl import read_jsonl
from verifier.errors import InputError
from verifier.generation.base import GenerationRequest, Generator
from verifier.generation.prompts import build_messages
from verifier.generation.seeds import sample_seed
from verifier.pipeline.units import Produced, Unit
from verifier.schema import CodeProblem, MathProblem, ResponseRecord


def _chat(problem: MathProblem | CodeProblem) -> list[dict[str, str]]:
    return [{"role": r, "content": c} for r, c in build_messages(problem)]


class GeneratedSource:
    """Samples ``samples`` completions per problem; all samples of a problem share one batched call."""

    def __init__(self, generator: Generator, samples: int, run_seed: int, problems_per_call: int):
        self.generator = generator
        self.samples = samples
        self.run_seed = run_seed
        self.problems_per_call = max(1, problems_per_call)

    @property
    def model(self) -> str:
        return self.generator.name

    def units(self, problems: list[MathProblem | CodeProblem]) -> list[Unit]:
        return [
            Unit(p, i, sample_seed(p.id, i, self.run_seed)) for p in problems for i in range(self.samples)
        ]

    def produce(self, todo: list[Unit]) -> Iterator[list[Produced]]:
        by_problem: dict[str, list[Unit]] = defaultdict(list)
        for u in todo:
            by_problem[u.problem.id].append(u)
        groups = list(by_problem.values())
        for start in range(0, len(groups), self.problems_per_call):
            chunk = groups[start : start + self.problems_per_call]
            requests = [
                GenerationRequest(build_messages(g[0].problem), tuple(u.seed or 0 for u in g)) for g in chunk
            ]
            t0 = time.perf_counter()
            outputs = self.generator.generate(requests)
            per_row = (time.perf_counter() - t0) / max(1, sum(len(g) for g in chunk))
            yield [
                Produced(u, self.generator.name, _chat(u.problem), c.text, c.tokens, per_row)
                for g, outs in zip(chunk, outputs, strict=True)
                for u, c in zip(g, outs, strict=True)
            ]


class ResponsesSource:
    """Completions read from a JSONL file of {"problem_id", "completion"}; several per problem allowed."""

    def __init__(self, path: Path, problems: dict[str, MathProblem | CodeProblem]):
        self.path = path
        self.model = f"responses:{path.name}"
        self._completions: dict[tuple[str, int], ResponseRecord] = {}
        errors: list[str] = []
        seen: dict[str, int] = defaultdict(int)
        for lineno, record, errs in read_jsonl(path, TypeAdapter(ResponseRecord)):
            errors.extend(errs)
            if record is None:
                continue
            if record.problem_id not in problems:
                errors.append(f"{path}:{lineno}: problem_id: {record.problem_id!r} is not in the bank")
                continue
            self._completions[(record.problem_id, seen[record.problem_id])] = record
            seen[record.problem_id] += 1
        if errors:
            raise InputError(errors)
        if not self._completions:
            raise InputError([f"{path}:0: <file>: no responses in the file"])

    def units(self, problems: list[MathProblem | CodeProblem]) -> list[Unit]:
        wanted = {p.id: p for p in problems}
        return [Unit(wanted[pid], i, None) for (pid, i) in self._completions if pid in wanted]

    def produce(self, todo: list[Unit], chunk: int = 64) -> Iterator[list[Produced]]:
        for start in range(0, len(todo), chunk):
            yield [
                Produced(u, r.model or self.model, _chat(u.problem), r.completion, 0, 0.0)
                for u in todo[start : start + chunk]
                for r in [self._completions[u.key]]
            ]
