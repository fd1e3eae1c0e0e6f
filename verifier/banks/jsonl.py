"""Validated JSONL reading: one pydantic model per line, errors as ``file:line: field: message``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

T = TypeVar("T")


def _field(loc: tuple[Any, ...]) -> str:
    # Drop pydantic's discriminator tags ("math", "code", "assert"...) so the path reads like the JSON.
    parts = [str(p) for p in loc if not (isinstance(p, str) and p in _TAGS)]
    return ".".join(parts) or "<record>"


_TAGS = {"math", "code", "assert", "stdio", "call"}


def format_validation_error(path: Path | str, line: int, err: ValidationError) -> list[str]:
    out = []
    for e in err.errors(include_url=False):
        loc, what, ctx = tuple(e["loc"]), e["msg"], e.get("ctx", {})
        if e["type"] == "extra_forbidden":
            what = "unknown field"
        elif e["type"] == "missing":
            what = "missing field"
        elif e["type"] in ("union_tag_invalid", "union_tag_not_found"):
            # The error sits on the record; name the discriminating field itself ("kind", "style").
            tag = str(ctx.get("discriminator", "")).strip("'")
            loc = (*loc, tag)
            if e["type"] == "union_tag_not_found":
                what = "missing field"
            else:
                what = f"must be one of {ctx.get('expected_tags', '?')}, got {ctx.get('tag')!r}"
        out.append(f"{path}:{line}: {_field(loc)}: {what}")
    return out


def read_jsonl(path: Path, adapter: TypeAdapter[T]) -> Iterator[tuple[int, T | None, list[str]]]:
    """Yield (line number, parsed record or None, error messages) for every non-blank line."""
    try:
        fh = path.open("rb")
    except OSError as e:
        yield 0, None, [f"{path}:0: <file>: cannot open: {e.strerror}"]
        return
    with fh:
        lineno = 0
        while True:
            try:
                raw_bytes = fh.readline()
            except OSError as e:  # e.g. a directory, or a read error mid-file
                yield lineno + 1, None, [f"{path}:{lineno + 1}: <file>: cannot read: {e.strerror or e}"]
                return
            if not raw_bytes:
                return
            lineno += 1
            try:
                raw = raw_bytes.decode("utf-8")
            except UnicodeDecodeError as e:
                yield lineno, None, [f"{path}:{lineno}: <encoding>: not UTF-8 (byte {e.start + 1})"]
                continue
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as e:
                yield lineno, None, [f"{path}:{lineno}: <json>: malformed JSON: {e.msg} (column {e.colno})"]
                continue
            if not isinstance(data, dict):
                yield (
                    lineno,
                    None,
                    [f"{path}:{lineno}: <json>: expected an object, got {type(data).__name__}"],
                )
                continue
            try:
                yield lineno, adapter.validate_python(data), []
            except ValidationError as e:
                yield lineno, None, format_validation_error(path, lineno, e)
