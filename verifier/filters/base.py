"""The filter stage protocol: verified chains in, kept or dropped (with a reason) out.

A stage judges groups of chains, each group the verified chains of one problem in sample order; a
per-chain stage (arithmetic, anchor, critic, perplexity) judges each chain alone, a per-problem stage
(dedup) looks at the group as a whole. Both share one signature, so the runner batches either the
same way: several groups per call lets a model-backed stage fill its batches across problems.

``settings()`` lists everything that can change a stage's decisions; its hash is the record key's
``settings_key``, so a run filtered again with other settings re-judges, and with the same ones never
does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from verifier.schema import ChainRecord, CodeProblem, MathProblem


class Scope(str, Enum):
    CHAIN = "chain"  # a chain's outcome depends on that chain alone
    PROBLEM = "problem"  # it depends on the problem's other verified chains too (re-judged when they change)


@dataclass(frozen=True)
class StageOutcome:
    kept: bool
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)  # JSON values: what the decision rests on


def keep(reason: str, **details: Any) -> StageOutcome:
    return StageOutcome(True, reason, details)


def drop(reason: str, **details: Any) -> StageOutcome:
    return StageOutcome(False, reason, details)


@dataclass(frozen=True)
class Group:
    """The verified chains of one problem (sample order) and the problem, when the bank has it."""

    problem_id: str
    problem: MathProblem | CodeProblem | None
    chains: tuple[ChainRecord, ...]


class Stage(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def scope(self) -> Scope: ...

    def settings(self) -> dict[str, Any]:
        """Everything that can change this stage's decisions (JSON values)."""
        ...

    def judge(self, groups: Sequence[Group]) -> list[list[StageOutcome]]:
        """One outcome per chain of each group, in the groups' order."""
        ...

    def close(self) -> None:
        """Free what the stage loaded (a model); idempotent."""
        ...


def settings_key(stage: Stage) -> str:
    """A short stable hash of the stage's name and settings: the record key's third part."""
    text = json.dumps({"stage": stage.name, **stage.settings()}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def flatten(groups: Sequence[Group]) -> list[ChainRecord]:
    return [c for g in groups for c in g.chains]


def regroup(groups: Sequence[Group], flat: Sequence[StageOutcome]) -> list[list[StageOutcome]]:
    """Outcomes of ``flatten(groups)`` cut back into one list per group (for per-chain stages)."""
    out, pos = [], 0
    for g in groups:
        out.append(list(flat[pos : pos + len(g.chains)]))
        pos += len(g.chains)
    return out
