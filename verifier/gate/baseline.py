"""Compare a run's ``summary.json`` with an earlier one: accuracy drop and the problems that flipped.

A problem's accuracy is correct / samples (infrastructure errors are not samples). The run's
accuracy is the mean over the problems both runs scored, so adding or removing problems from the
bank does not look like a regression. A problem the new run could not score at all (every sample an
infrastructure error) is *unchecked*: the gate fails on it, since a gate that passes because the
sandbox was down proves nothing. For the same reason the gate fails when no problem could be
compared at all (a baseline of another bank, or of a run that checked nothing): an empty comparison
is no evidence of "no regression".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier.errors import InputError


@dataclass(frozen=True)
class ProblemChange:
    problem_id: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class Comparison:
    max_drop: float
    compared: int
    accuracy_before: float
    accuracy_after: float
    regressed: list[ProblemChange] = field(default_factory=list)  # accuracy went down, worst first
    improved: list[ProblemChange] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # only infrastructure errors in the new run
    only_before: list[str] = field(default_factory=list)
    only_after: list[str] = field(default_factory=list)

    @property
    def drop(self) -> float:
        return self.accuracy_before - self.accuracy_after

    @property
    def no_overlap(self) -> bool:
        """Nothing was compared: no problem scored in both runs."""
        return self.compared == 0

    @property
    def ok(self) -> bool:
        # A tiny epsilon so that a drop of exactly max_drop, computed in floating point, passes.
        return self.drop <= self.max_drop + 1e-12 and not self.unchecked and not self.no_overlap

    def lines(self) -> list[str]:
        if self.no_overlap:
            out = [
                "baseline gate: FAILED: no problem was scored in both the baseline and this run "
                f"({len(self.only_before)} only in the baseline, {len(self.only_after)} only in this run), "
                "so nothing was compared (a baseline from another bank, or no sample checked in one of them)"
            ]
        else:
            verdict = "ok" if self.ok else "REGRESSION"
            out = [
                f"baseline gate: {verdict}: accuracy {self.accuracy_before:.4f} -> {self.accuracy_after:.4f} "
                f"(drop {self.drop:+.4f}, allowed {self.max_drop:.4f}) over {self.compared} problems"
            ]
        if self.regressed:
            out.append(f"{len(self.regressed)} problems flipped down:")
            out += [f"  {c.problem_id}: {c.before:.2f} -> {c.after:.2f}" for c in self.regressed]
        if self.improved:
            out.append(
                f"{len(self.improved)} problems improved: "
                + ", ".join(c.problem_id for c in self.improved[:20])
            )
        if self.unchecked:
            out.append(f"{len(self.unchecked)} problems could not be checked (infrastructure errors only):")
            out += [f"  {pid}" for pid in self.unchecked]
        if self.only_before:
            out.append(f"{len(self.only_before)} problems of the baseline are not in this run (not compared)")
        if self.only_after:
            out.append(f"{len(self.only_after)} problems are new in this run (not compared)")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "no_overlap": self.no_overlap,
            "max_drop": self.max_drop,
            "compared": self.compared,
            "accuracy_before": self.accuracy_before,
            "accuracy_after": self.accuracy_after,
            "drop": self.drop,
            "regressed": [vars(c) for c in self.regressed],
            "improved": [vars(c) for c in self.improved],
            "unchecked": self.unchecked,
            "only_before": self.only_before,
            "only_after": self.only_after,
        }


def load_summary(path: Path) -> dict[str, Any]:
    """A summary.json (or the run directory holding one), checked to have ``per_problem``."""
    if path.is_dir():
        path = path / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError([f"{path}:0: <file>: no such baseline summary"]) from None
    except json.JSONDecodeError as e:
        raise InputError([f"{path}:{e.lineno}: <file>: not JSON: {e.msg}"]) from None
    table = data.get("per_problem") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise InputError([f"{path}:1: per_problem: missing; is this a summary.json written by `verify`?"])
    return data


def _accuracy(row: dict[str, Any]) -> float | None:
    samples = int(row.get("samples", 0))
    return int(row.get("correct", 0)) / samples if samples > 0 else None


def compare_summaries(before: dict[str, Any], after: dict[str, Any], *, max_drop: float) -> Comparison:
    old: dict[str, dict[str, Any]] = before["per_problem"]
    new: dict[str, dict[str, Any]] = after["per_problem"]
    unchecked = sorted(pid for pid, row in new.items() if _accuracy(row) is None)
    pairs = [
        (pid, a, b)
        for pid in sorted(set(old) & set(new))
        if (a := _accuracy(old[pid])) is not None and (b := _accuracy(new[pid])) is not None
    ]
    n = len(pairs)
    changes = [ProblemChange(pid, a, b) for pid, a, b in pairs if a != b]
    return Comparison(
        max_drop=max_drop,
        compared=n,
        accuracy_before=sum(a for _, a, _ in pairs) / n if n else 0.0,
        accuracy_after=sum(b for _, _, b in pairs) / n if n else 0.0,
        regressed=sorted((c for c in changes if c.delta < 0), key=lambda c: (c.delta, c.problem_id)),
        improved=sorted((c for c in changes if c.delta > 0), key=lambda c: (-c.delta, c.problem_id)),
        unchecked=unchecked,
        only_before=sorted(set(old) - set(new)),
        only_after=sorted(set(new) - set(old)),
    )
