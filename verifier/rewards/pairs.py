"""Preference pairs (RLAIF data) from a run: a verified chain vs a failed one of the same problem.

Written as TRL's DPOTrainer reads them, in its conversational form: ``prompt`` is the chat messages,
``chosen`` and ``rejected`` one assistant message each. Only chains whose failure is the candidate's
fault (``verifier.verdicts``) count as rejected; undecided ones (infrastructure
errors, the checker's deadline, a broken reference) say nothing about the answer and are left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from verifier.pipeline.outputs import atomic_write
from verifier.schema import ChainRecord
from verifier.verdicts import Outcome, outcome_of


def _outcome(record: ChainRecord) -> Outcome:
    return outcome_of(record.kind, record.verdict.status, record.verdict.rule)


def _prompt(record: ChainRecord) -> list[dict[str, str]]:
    if isinstance(record.prompt, list):
        return record.prompt
    return [{"role": "user", "content": record.prompt}]


def make_pairs(records: list[ChainRecord], *, max_per_problem: int = 4) -> Iterator[dict[str, Any]]:
    """Up to ``max_per_problem`` pairs per problem, pairing the chains round-robin so each verified
    and each failed chain is used before any is repeated."""
    by_problem: dict[str, list[ChainRecord]] = defaultdict(list)
    for r in records:
        by_problem[r.problem_id].append(r)
    for pid, group in by_problem.items():
        group.sort(key=lambda r: r.sample_index)
        chosen = [r for r in group if _outcome(r) is Outcome.CORRECT]
        rejected = [r for r in group if _outcome(r) is Outcome.CANDIDATE_FAULT]
        if not chosen or not rejected:
            continue
        for i in range(min(max_per_problem, max(len(chosen), len(rejected)))):
            c, r = chosen[i % len(chosen)], rejected[i % len(rejected)]
            yield {
                "prompt": _prompt(c),
                "chosen": [{"role": "assistant", "content": c.completion}],
                "rejected": [{"role": "assistant", "content": r.completion}],
                "problem_id": pid,
                "chosen_sample": c.sample_index,
                "rejected_sample": r.sample_index,
                "rejected_status": r.verdict.status,
            }


def write_pairs(path: Path, records: list[ChainRecord], *, max_per_problem: int = 4) -> int:
    """Write pairs.jsonl (atomically); the number of pairs."""
    pairs = list(make_pairs(records, max_per_problem=max_per_problem))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs))
    return len(pairs)
