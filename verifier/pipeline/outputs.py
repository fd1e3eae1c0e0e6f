"""The run directory's derived files, rewritten whole (atomically) from chains.jsonl at the end."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from verifier.schema import ChainRecord


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def sft_example(record: ChainRecord, bank: str) -> dict[str, Any]:
    """A verified chain as chat messages ready for SFT, with where it came from."""
    prompt = (
        record.prompt if isinstance(record.prompt, list) else [{"role": "user", "content": record.prompt}]
    )
    return {
        "messages": [*prompt, {"role": "assistant", "content": record.completion}],
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


def write_verified(path: Path, records: list[ChainRecord], bank: str) -> int:
    kept = [r for r in records if r.verdict.correct]
    atomic_write(path, "".join(json.dumps(sft_example(r, bank), ensure_ascii=False) + "\n" for r in kept))
    return len(kept)


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
