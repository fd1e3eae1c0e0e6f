"""Reading public dataset files: records with their line numbers, and fields with clear errors.

A source file is JSONL, gzipped JSONL or a JSON array. Records are read one at a time (an APPS
export is over a gigabyte); a record that is not JSON is reported with its line and reading goes
on. A converter reads a record's fields with the helpers here, which raise ``SourceError(field,
message)``; the importer turns that into ``file:line: field: message``.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from verifier.errors import InputError
from verifier.schema import CompareMode


class SourceError(ValueError):
    """A record of the public dataset is not what its format promises."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class ImportOptions:
    """``challenge``: MBPP challenge tests count in every run (merged into the tests) instead of
    only in the bank self-check. ``compare``: the stdio comparison for APPS/CodeContests.
    ``skip_invalid``: records that cannot be converted are left out and listed, not an error."""

    challenge: bool = False
    compare: CompareMode = "tokens"
    skip_invalid: bool = False


DEFAULT_OPTIONS = ImportOptions()


def get(r: dict[str, Any], key: str, *, where: str = "") -> Any:
    """``r[key]``. ``where``: the path of ``r`` in the record (``time_limit``), for the field's name."""
    if key not in r:
        raise SourceError(_name(where, key), "missing field")
    return r[key]


def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def string(r: dict[str, Any], key: str, default: str | None = None) -> str:
    """A string field; with a default, a missing or null field gives the default."""
    value = get(r, key) if default is None else r.get(key)
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise SourceError(key, f"expected a string, got {type(value).__name__}")
    return value


def statement(r: dict[str, Any], key: str) -> str:
    """A problem statement: a string with something in it, stripped."""
    value = string(r, key).strip()
    if not value:
        raise SourceError(key, "empty")
    return value


def string_list(r: dict[str, Any], key: str, *, required: bool = True, where: str = "") -> list[str]:
    value = get(r, key, where=where) if required else (r.get(key) or [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourceError(_name(where, key), "expected a list of strings")
    return value


def integer(r: dict[str, Any], key: str, *, required: bool = True, where: str = "") -> int | None:
    """An integer field (not a bool, not a float); when not required, missing or null is None."""
    value = get(r, key, where=where) if required else r.get(key)
    if value is None and not required:
        return None
    if type(value) is not int:
        raise SourceError(_name(where, key), f"expected an integer, got {type(value).__name__}")
    return value


def number(r: dict[str, Any], key: str, *, where: str = "", default: float | None = None) -> float:
    """A finite, non-negative number (an integer or a real; not a bool, not a string); with a
    default, a missing or null field gives the default."""
    value = get(r, key, where=where) if default is None else r.get(key)
    if value is None and default is not None:
        return default
    name = _name(where, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SourceError(name, f"expected a number, got {type(value).__name__}")
    try:
        result = float(value)
    except OverflowError:  # an integer beyond any float
        raise SourceError(name, "too large") from None
    if not (math.isfinite(result) and result >= 0):
        raise SourceError(name, f"expected a finite number >= 0, got {value!r}")
    return result


def json_text(r: dict[str, Any], key: str, default: Any = None) -> Any:
    """A field that HF exports store as a JSON string (APPS ``input_output``, ``solutions``)."""
    value = get(r, key) if default is None else r.get(key, default)
    if isinstance(value, str):
        if not value.strip():
            if default is None:
                raise SourceError(key, "empty")
            return default
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise SourceError(key, f"malformed JSON inside the string: {e.msg}") from None
        except RecursionError:
            raise SourceError(key, "JSON inside the string nested too deeply") from None
    return value


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Record:
    line: int  # where the record starts
    value: Any = None
    error: str = ""  # "<json>: malformed JSON: ..." when the record could not be parsed


def read_records(src: Path) -> Iterator[Record]:
    """Every record of ``src``; an unreadable file is an InputError (``file:0: <file>: ...``)."""
    opener = gzip.open if src.suffix == ".gz" else open
    try:
        with opener(src, "rt", encoding="utf-8") as fh:
            first = _first_char(fh)
            fh.seek(0)
            if first == "[":
                yield from _array_records(fh.read())
            else:
                yield from _jsonl_records(fh)
    except (OSError, EOFError) as e:
        raise InputError([f"{src}:0: <file>: cannot read: {getattr(e, 'strerror', None) or e}"]) from None
    except UnicodeDecodeError as e:
        raise InputError([f"{src}:0: <encoding>: not UTF-8 (byte {e.start + 1})"]) from None


def _first_char(fh: IO[str]) -> str:
    while chunk := fh.read(4096):
        stripped = chunk.lstrip()
        if stripped:
            return stripped[0]
    return ""


def _jsonl_records(fh: IO[str]) -> Iterator[Record]:
    for lineno, line in enumerate(fh, start=1):
        if line.strip():
            yield _parse(lineno, line)


def _parse(lineno: int, text: str) -> Record:
    try:
        return Record(lineno, json.loads(text))
    except json.JSONDecodeError as e:
        return Record(lineno, error=f"<json>: malformed JSON: {e.msg} (column {e.colno})")
    except RecursionError:
        return Record(lineno, error="<json>: nested too deeply")


def _array_records(text: str) -> Iterator[Record]:
    decoder = json.JSONDecoder()
    pos, line = text.index("[") + 1, 1 + text.count("\n", 0, text.index("["))
    while True:
        start = _skip_space(text, pos)
        line += text.count("\n", pos, start)
        if start < len(text) and text[start] == "]":
            return
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as e:  # the rest of the array cannot be found: stop here
            yield Record(e.lineno, error=f"<json>: malformed JSON: {e.msg} (column {e.colno})")
            return
        except RecursionError:
            yield Record(line, error="<json>: nested too deeply")
            return
        yield Record(line, value)
        line += text.count("\n", start, end)
        pos = _skip_space(text, end)
        line += text.count("\n", end, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos >= len(text) or text[pos] != "]":
            yield Record(line, error="<json>: expected ',' or ']' between array elements")
            return


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos
