"""Typed records that cross a file boundary: problem banks (input) and chain records (output).

Every bank line is one problem. Unknown fields are rejected so that a typo in a bank is an error,
not a silently ignored key. ``schema_version`` lets later releases migrate old banks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

if TYPE_CHECKING:
    from verifier.verdicts import Judgement

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
    """HumanEval style: the program is prompt + completion, then ``code`` runs ``check(entry_point)``.

    MBPP: ``setup_code`` (its ``test_setup_code``) runs in the tests' namespace before ``code``;
    ``challenge`` (its ``challenge_test_list``) is a second module defining ``check``, run after the
    first only when selected (the bank self-check always runs it; see docs/code-judging.md)."""

    style: Literal["assert"]
    code: str = Field(min_length=1)
    entry_point: str = Field(min_length=1)
    setup_code: str = Field(default="", description="trusted code run before `code` in the tests' namespace")
    challenge: str | None = Field(
        default=None, description="harder tests, a module defining check(candidate); run only when selected"
    )


# How a stdio output is compared with the expected one (verifier/code/stdio_compare.py).
CompareMode = Literal["exact", "tokens", "float", "case-insensitive"]


class IOCase(_Strict):
    stdin: str = ""
    stdout: str
    alternatives: list[str] = Field(default_factory=list, description="other outputs that are correct too")


class IOTests(_Strict):
    """The program reads stdin and writes stdout; outputs are compared on the host under ``compare``
    (verifier/code/stdio_compare.py), or judged per case by a trusted ``checker`` run in the sandbox."""

    style: Literal["stdio"]
    cases: list[IOCase] = Field(min_length=1)
    compare: CompareMode = "exact"
    abs_tol: float | None = Field(default=None, ge=0, lt=1, description="float mode; default 1e-6")
    rel_tol: float | None = Field(default=None, ge=0, lt=1, description="float mode; default 1e-6")
    checker: str | None = Field(
        default=None,
        min_length=1,
        description="Python source of a trusted checker: `checker.py INPUT EXPECTED OUTPUT`, exit 0 accepted, "
        "1 wrong answer, anything else a checker failure; the first line of its stdout is the message",
    )

    @model_validator(mode="after")
    def _one_judge(self) -> IOTests:
        if self.compare != "float" and (self.abs_tol is not None or self.rel_tol is not None):
            raise ValueError("abs_tol and rel_tol apply only to compare: 'float'")
        if self.checker is not None and (self.compare != "exact" or any(c.alternatives for c in self.cases)):
            raise ValueError("a checker judges the output itself: no compare mode or alternatives with it")
        return self


class CallCase(_Strict):
    args: list[JsonValue] = Field(default_factory=list)
    kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    expected: JsonValue
    alternatives: list[JsonValue] = Field(default_factory=list, description="other correct return values")


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
    case_timeout_s: float | None = Field(
        default=None, gt=0, le=300, description="wall-clock limit of one stdio/call case; the job's cap stays"
    )

    @model_validator(mode="after")
    def _case_within_job(self) -> CodeLimits:
        if self.case_timeout_s is not None and self.case_timeout_s > self.timeout_s:
            raise ValueError("case_timeout_s cannot exceed timeout_s (the cap for the whole job)")
        return self


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
    # Optional, so that chains.jsonl files written before they existed still load.
    finish_reason: str | None = Field(default=None, description="'stop' or 'length', as the engine said")
    prompt_tokens: int | None = Field(default=None, ge=0, description="prompt length, as the engine counted")

    @property
    def infrastructure_failure(self) -> bool:
        """The checker could not decide (sandbox down, math worker lost, its deadline hit outside a
        guard, or the bank's own bug): not the answer's fault, so never scored as wrong. Resume
        retries only the ``judgement().retryable`` ones. ``verifier.verdicts`` decides both, as for
        every other consumer of verdicts."""
        from verifier.verdicts import Outcome  # lazily: schema is imported by everything

        return self.judgement().outcome is Outcome.UNDECIDED

    def judgement(self) -> Judgement:
        from verifier.verdicts import judge

        return judge(self.kind, self.verdict.status, self.verdict.rule)


class ResponseRecord(_Strict):
    """A line of a --responses file: a completion made elsewhere, to verify without generating."""

    problem_id: str = Field(min_length=1)
    completion: str
    model: str | None = None
