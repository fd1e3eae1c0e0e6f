"""Typed records that cross a file boundary: problem banks (input) and chain records (output).

Every bank line is one problem. Unknown fields are rejected so that a typo in a bank is an error,
not a silently ignored key. ``schema_version`` lets later releases migrate old banks.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

SCHEMA_VERSION: Literal[1] = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MathProblem(_Strict):
    """A problem whose answer is a final value checked by the math checker."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(min_length=1)
    kind: Literal["math"]
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1, description="gold final answer, as a string")
    solution: str | None = Field(default=None, description="reference chain of thought")
    answer_format: Literal["gsm", "latex"] = Field(
        default="gsm", description="how the generator is asked to state the answer: '#### N' or \\boxed{}"
    )
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, JsonValue] = Field(default_factory=dict, description="provenance, difficulty, subject...")


class AssertTests(_Strict):
    """HumanEval style: the program is prompt + completion, then ``code`` runs ``check(entry_point)``."""

    style: Literal["assert"]
    code: str = Field(min_length=1)
    entry_point: str = Field(min_length=1)


class IOCase(_Strict):
    stdin: str = ""
    stdout: str


class IOTests(_Strict):
    """The program reads stdin and writes stdout; outputs are compared on the host."""

    style: Literal["stdio"]
    cases: list[IOCase] = Field(min_length=1)


class CallCase(_Strict):
    args: list[JsonValue] = Field(default_factory=list)
    kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    expected: JsonValue


class CallTests(_Strict):
    """The program defines ``entry_point``; each case's return value is serialised to JSON inside the
    sandbox and compared on the host with type-strict equality (never the candidate's ``__eq__``)."""

    style: Literal["call"]
    entry_point: str = Field(min_length=1)
    cases: list[CallCase] = Field(min_length=1)


CodeTests = Annotated[AssertTests | IOTests | CallTests, Field(discriminator="style")]


class CodeLimits(_Strict):
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    memory_mb: int = Field(default=512, ge=32, le=8192)


class CodeProblem(_Strict):
    """A problem whose answer is a Python program run against tests in the sandbox."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str = Field(min_length=1)
    kind: Literal["code"]
    prompt: str = Field(min_length=1)
    language: Literal["python"] = "python"
    tests: CodeTests
    reference_solution: str | None = Field(
        default=None, description="a full, runnable program that passes the tests"
    )
    limits: CodeLimits = Field(default_factory=CodeLimits)
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, JsonValue] = Field(default_factory=dict)


Problem = Annotated[MathProblem | CodeProblem, Field(discriminator="kind")]


class VerdictRecord(BaseModel):
    """The checker's verdict as written to chains.jsonl; the same shape for math and code."""

    model_config = ConfigDict(extra="forbid")

    status: str
    correct: bool
    extracted: str | None = None
    rule: str | None = None
    reason: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class ChainRecord(BaseModel):
    """One (problem, sample) unit: a line of chains.jsonl."""

    model_config = ConfigDict(extra="forbid")

    problem_id: str
    sample_index: int = Field(ge=0)
    kind: Literal["math", "code"]
    seed: int | None
    model: str
    prompt: str | list[dict[str, str]]
    completion: str
    tokens: int = Field(ge=0)
    extracted: str | None
    verdict: VerdictRecord
    gen_seconds: float = Field(default=0.0, ge=0)
    check_seconds: float = Field(default=0.0, ge=0)

    @property
    def infrastructure_failure(self) -> bool:
        """The checker could not decide (sandbox down, math worker lost, or its deadline hit outside a
        guard): not the answer's fault, so it is retried on resume and never scored as wrong.
        ``verifier.verdicts`` decides it, as for every other consumer of verdicts."""
        from verifier.verdicts import Outcome, outcome_of  # lazily: schema is imported by everything

        return outcome_of(self.kind, self.verdict.status, self.verdict.rule) is Outcome.UNDECIDED


class ResponseRecord(_Strict):
    """A line of a --responses file: a completion made elsewhere, to verify without generating."""

    problem_id: str = Field(min_length=1)
    completion: str
    model: str | None = None
