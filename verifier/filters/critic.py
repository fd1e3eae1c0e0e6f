"""Critic stage: a model judges each verified chain ("is every step correct?"); keep it when sure.

The critic answers with one greedy token; its confidence is the probability mass of the good answer
among the yes/no tokens of that position (from the backend's logprobs: P(good) / (P(yes) + P(no)),
every spelling of "yes"/"no" summed). A backend without logprobs gives 1 or 0 from the text.
With several critics (other models, or the same model asked another way, one prompt asking the
opposite question so a yes-biased model cannot pass by habit) a chain is kept only when every critic
is at or above the threshold: the multi-agent check. Every confidence is recorded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from verifier.filters.base import Group, Scope, StageOutcome, drop, flatten, keep, regroup
from verifier.generation.base import Completion, GenerationRequest, Generator, Messages
from verifier.generation.registry import BackendSettings, make_generator
from verifier.generation.sampling import Sampling
from verifier.schema import ChainRecord, CodeProblem, MathProblem

DEFAULT_THRESHOLD = 0.95
TOP_LOGPROBS = 20
ONE_GREEDY_TOKEN = Sampling(max_new_tokens=1, temperature=0.0, top_p=1.0)
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class CriticPrompt:
    id: str
    system: str
    question: str  # with {problem} and {solution}
    good: str  # the answer ("yes" or "no") that means every step is correct


PROMPTS = (
    CriticPrompt(
        "steps-correct",
        "You are a strict grader of math and programming solutions. Answer with one word: yes or no.",
        "Problem:\n{problem}\n\nSolution:\n{solution}\n\nIs every step of this solution correct? Answer yes or no.",
        "yes",
    ),
    CriticPrompt(
        "any-error",
        "You check worked solutions for mistakes. Answer with one word: yes or no.",
        "Here is a problem and a worked solution.\n\nProblem:\n{problem}\n\nWorked solution:\n{solution}\n\n"
        "Does the worked solution contain any mistake in its reasoning or arithmetic? Answer yes or no.",
        "no",
    ),
)


def answer_mass(alternatives: Sequence[tuple[str, float]]) -> tuple[float, float]:
    """(P(yes), P(no)) summed over every spelling among one position's top alternatives."""
    yes = no = 0.0
    for token, logprob in alternatives:
        word = _WORD.findall(token.lower())
        if word == ["yes"]:
            yes += math.exp(logprob)
        elif word == ["no"]:
            no += math.exp(logprob)
    return yes, no


def confidence(completion: Completion, good: str) -> tuple[float, dict[str, Any]]:
    """How sure the critic is that the chain is good, and what that rests on."""
    if completion.top_logprobs:
        yes, no = answer_mass(completion.top_logprobs[0])
        if yes + no > 0:
            p_good = (yes if good == "yes" else no) / (yes + no)
            return p_good, {"p_yes": round(yes, 6), "p_no": round(no, 6), "from": "logprobs"}
        return 0.0, {"p_yes": 0.0, "p_no": 0.0, "from": "logprobs", "answer": completion.text}
    words = _WORD.findall(completion.text.lower())
    said = words[0] if words else ""
    return (1.0 if said == good else 0.0), {"from": "text", "answer": completion.text}


def problem_text(group: Group, chain: ChainRecord) -> str:
    if isinstance(group.problem, MathProblem):
        return group.problem.question
    if isinstance(group.problem, CodeProblem):
        return group.problem.prompt
    if isinstance(chain.prompt, list):  # no bank at hand: the last user turn states the problem
        return next((m["content"] for m in reversed(chain.prompt) if m.get("role") == "user"), "")
    return chain.prompt


@dataclass(frozen=True)
class Critic:
    backend: BackendSettings
    prompt: CriticPrompt

    def describe(self) -> dict[str, Any]:
        b = self.backend
        return {"backend": b.backend, "model": b.model, "api_model": b.api_model, "prompt": self.prompt.id}


@dataclass
class CriticStage:
    critics: tuple[Critic, ...]
    threshold: float = DEFAULT_THRESHOLD
    load: Callable[[BackendSettings], Generator] = make_generator
    _generators: dict[BackendSettings, Generator] = field(default_factory=dict, init=False, repr=False)

    name = "critic"
    scope = Scope.CHAIN
    score = "confidence"

    def __post_init__(self) -> None:
        if not self.critics:
            raise ValueError("--critics: at least one critic")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"--critic-threshold: must be in [0, 1], got {self.threshold}")

    def settings(self) -> dict[str, Any]:
        return {"critics": [c.describe() for c in self.critics], "threshold": self.threshold, "version": 1}

    def _generator(self, settings: BackendSettings) -> Generator:
        if settings not in self._generators:
            self._generators[settings] = self.load(settings)
        return self._generators[settings]

    def _ask(self, critic: Critic, groups: Sequence[Group]) -> list[tuple[float, dict[str, Any]]]:
        generator = self._generator(critic.backend)
        requests = []
        for g in groups:
            for chain in g.chains:
                question = critic.prompt.question.format(
                    problem=problem_text(g, chain), solution=chain.completion
                )
                messages: Messages = (("system", critic.prompt.system), ("user", question))
                requests.append(
                    GenerationRequest(messages, seeds=(0,), sampling=ONE_GREEDY_TOKEN, logprobs=TOP_LOGPROBS)
                )
        answers = generator.generate(requests)
        return [confidence(a[0], critic.prompt.good) for a in answers]

    def judge(self, groups: Sequence[Group]) -> list[list[StageOutcome]]:
        votes = [self._ask(c, groups) for c in self.critics]
        flat = []
        for k, _ in enumerate(flatten(groups)):
            scores = [v[k][0] for v in votes]
            details = {
                "confidence": round(min(scores), 6),
                "critics": [
                    {**c.describe(), "confidence": round(v[k][0], 6), **v[k][1]}
                    for c, v in zip(self.critics, votes, strict=True)
                ],
            }
            low = [
                f"{c.prompt.id}@{c.backend.model or 'embedded'} {s:.3f}"
                for c, s in zip(self.critics, scores, strict=True)
                if s < self.threshold
            ]
            if low:
                flat.append(drop(f"critic below {self.threshold}: {', '.join(low)}", **details))
            else:
                flat.append(keep(f"every critic at or above {self.threshold}", **details))
        return regroup(groups, flat)

    def close(self) -> None:
        for generator in self._generators.values():
            generator.close()
        self._generators.clear()


def make_critics(count: int, backend: BackendSettings, models: Sequence[str | None]) -> tuple[Critic, ...]:
    """``count`` critics: critic i asks prompt i (of PROMPTS) with model i (cycling through both)."""
    models = list(models) or [backend.model]
    return tuple(
        Critic(_with_model(backend, models[i % len(models)]), PROMPTS[i % len(PROMPTS)]) for i in range(count)
    )


def _with_model(backend: BackendSettings, model: str | None) -> BackendSettings:
    if backend.backend == "openai":
        return replace(backend, api_model=model or backend.api_model)
    return replace(backend, model=model)
