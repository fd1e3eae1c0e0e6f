"""What crosses the host/container boundary: a job for the fork server and what came back."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from sandboxes.runner.codec import loads_bounded

# container_broken: the job broke two fresh containers in a row (the candidate's doing, not ours).
Outcome = Literal[
    "exited", "timeout", "output_limit", "signaled", "oom_killed", "container_broken", "sandbox_error"
]
RECORD_DEPTH = 256  # the harness nests values at most 100 deep, tagged: far below this


class Job(BaseModel):
    """One candidate program and all its tests: the fork server runs it in one forked process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["assert", "call", "stdio"]
    program: str
    test_code: str = ""
    entry_point: str = ""
    prelude: str = Field(default="", description="trusted code run before assert-style tests (the prompt)")
    cases: list[dict[str, JsonValue]] = Field(default_factory=list)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    memory_mb: int = Field(default=512, ge=32, le=8192)
    output_limit: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    case_timeout_s: float | None = Field(
        default=None,
        gt=0,
        le=300,
        description="wall-clock limit of one stdio/call case; timeout_s caps the job",
    )
    checker: str | None = Field(
        default=None,
        description="Python source of a TRUSTED stdio checker, run per case as "
        "`python3 checker.py INPUT EXPECTED OUTPUT`: exit 0 accepted, 1 wrong answer, other a checker "
        "failure; the first line of its stdout is the message. Reported per case as "
        '"checker": {"exit": int, "message": str}.',
    )


class JobResult(BaseModel):
    """The fork server's answer, with the result channel already checked against the job's token.

    ``records`` holds only lines that carried the token; ``finished`` is True only when the last of
    them is the harness's "done" marker. ``forged`` counts result lines without the token.
    """

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    records: list[dict[str, Any]] = Field(default_factory=list)
    finished: bool = False
    forged: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    oom_kills: int = 0
    host_s: float = 0.0
    recycled: bool = False
    attempts: int = 1
    error: str = ""


def parse_result_channel(text: str, token: str) -> tuple[list[dict[str, Any]], bool, int]:
    """Token-carrying records, whether the "done" marker ended them, and the count of other lines.
    Every line is parsed bounded in depth: a hostile one is counted as forged, never raised."""
    records: list[dict[str, Any]] = []
    forged = 0
    prefix = token + " "
    for line in text.splitlines():
        if not line.startswith(prefix):
            forged += 1
            continue
        try:
            record = loads_bounded(line[len(prefix) :], max_bytes=len(line), max_depth=RECORD_DEPTH)
        except ValueError:
            forged += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            forged += 1
    finished = bool(records) and records[-1] == {"done": True}
    if finished:
        records.pop()
    return records, finished, forged
