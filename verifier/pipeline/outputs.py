"""The run directory's derived files, rewritten whole (atomically) from chains.jsonl at the end."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verifier.schema import ChainRecord


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


SFT_FORMATS = ("messages", "full")


def sft_messages(record: ChainRecord, sft_format: str = "messages") -> list[dict[str, str]]:
    """The chat of a verified chain. ``messages``: the problem as the user turn and the chain as the
    assistant turn, without our generation system prompt and few-shot examples (a model trained on it
    learns to solve the problem, not to need our prompt); ``full``: the exact prompt it was sampled with."""
    if sft_format not in SFT_FORMATS:
        raise ValueError(f"sft_format must be one of {SFT_FORMATS}, not {sft_format!r}")
    prompt = (
        record.prompt if isinstance(record.prompt, list) else [{"role": "user", "content": record.prompt}]
    )
    if sft_format == "messages":
        prompt = prompt[-1:]  # the user turn that states the problem
    return [*prompt, {"role": "assistant", "content": record.completion}]


def sft_example(record: ChainRecord, bank: str, sft_format: str = "messages") -> dict[str, Any]:
    """A verified chain as chat messages ready for SFT, with where it came from."""
    return {
        "messages": sft_messages(record, sft_format),
        "problem_id": record.problem_id,
        "sample_index": record.sample_index,
        "provenance": {
            "bank": bank,
            "model": record.model,
            "seed": record.seed,
            "kind": record.kind,
            "extracted": record.extracted,
            "rule": record.verdict.rule,
            "status": record.verdict.status,
        },
    }


def write_verified(
    path: Path,
    records: list[ChainRecord],
    bank: str,
    *,
    keep: Callable[[ChainRecord], bool] | None = None,
    sft_format: str = "messages",
) -> int:
    """Write the verified chains that ``keep`` (an extra filter, e.g. dedup) also accepts; how many."""
    kept = [r for r in records if r.verdict.correct and (keep is None or keep(r))]
    text = "".join(json.dumps(sft_example(r, bank, sft_format), ensure_ascii=False) + "\n" for r in kept)
    atomic_write(path, text)
    return len(kept)


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
