"""Turn what trainers hand us into (problem, completion text): chat messages, prompts, labels.

Trainers pass the reference in many shapes: a gold answer string (or a number), a whole problem
(a bank record as a dict, a JSON string of one, or a ``MathProblem``/``CodeProblem``), or a problem
id to look up in a bank. ``as_problem`` accepts all of them. Given a bank, a string is an id in it
(or a JSON problem record): an unknown id is ``BadInput``, never silently read as a gold answer,
which would score a typo'd id 0.0.
"""

from __future__ import annotations

import difflib
import json
import numbers
import re
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from verifier.schema import CodeProblem, MathProblem, Problem

AnyProblem = MathProblem | CodeProblem
_PROBLEM: TypeAdapter[AnyProblem] = TypeAdapter(Problem)


class BadInput(ValueError):
    """The caller's input cannot be turned into a problem or a completion (a 4xx, not an infra error)."""


def completion_text(completion: Any) -> str:
    """Plain text of a completion: a string, or chat messages (the last assistant message counts)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _content(completion.get("content"))
    if isinstance(completion, list):
        messages = [m for m in completion if isinstance(m, Mapping)]
        if len(messages) != len(completion):
            raise BadInput(f"a chat completion must be a list of messages, got {completion!r:.80}")
        assistant = [m for m in messages if m.get("role", "assistant") == "assistant"]
        return _content(assistant[-1].get("content")) if assistant else ""
    raise BadInput(f"a completion must be a string or chat messages, got {type(completion).__name__}")


def _content(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal parts: [{"type": "text", "text": ...}, ...]
        return "".join(
            p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"
        )
    raise BadInput(f"message content must be a string or a list of parts, got {type(content).__name__}")


def split_query(query: str, prompt: str | None) -> str | None:
    """OpenRLHF sends ``query`` = prompt + response: the response is what follows the prompt, or
    None when the query does not contain it.

    The query is the prompt's token ids decoded again, which need not give back the prompt's text
    exactly (a SentencePiece tokenizer drops or adds spaces): when the prompt is not in the query
    as it is, it is looked for with whitespace ignored."""
    if not prompt:
        return query
    if query.startswith(prompt):
        return query[len(prompt) :]
    at = query.find(prompt)
    if at >= 0:
        return query[at + len(prompt) :]
    end = _end_ignoring_whitespace(query, prompt)
    return query[end:] if end is not None else None


def strip_prompt(query: str, prompt: str | None) -> str:
    """``split_query``, where a query without its prompt is ``BadInput``."""
    response = split_query(query, prompt)
    if response is None:
        raise BadInput("the query does not contain its prompt, so the response cannot be separated from it")
    return response


def _end_ignoring_whitespace(query: str, prompt: str) -> int | None:
    """Where the first occurrence of ``prompt`` ends in ``query`` when whitespace does not count."""
    chars = [re.escape(c) for c in prompt if not c.isspace()]
    if not chars:
        return None
    # One literal character after each optional run of spaces: no nested quantifiers, no backtracking.
    match = re.search(r"\s*".join(chars), query)
    return match.end() if match else None


def gold_problem(answer: str, *, problem_id: str = "reward") -> MathProblem:
    return MathProblem(id=problem_id, kind="math", question="(reward call)", answer=answer)


def problem_by_id(problem_id: str, bank: Mapping[str, AnyProblem]) -> AnyProblem:
    """The bank's problem with this id; an unknown id is ``BadInput`` naming the closest ids."""
    problem = bank.get(problem_id)
    if problem is not None:
        return problem
    close = _closest(problem_id, list(bank))
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise BadInput(f"unknown problem id {problem_id!r}: not in the bank ({len(bank)} problems){hint}")


def _closest(word: str, ids: list[str], n: int = 3) -> list[str]:
    """Up to n ids most like ``word``; ties in sorted order (difflib's own tie-break is reversed)."""
    matcher = difflib.SequenceMatcher(b=word)
    scored = []
    for candidate in ids:
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6 and matcher.ratio() >= 0.6:
            scored.append((-matcher.ratio(), candidate))
    return [candidate for _, candidate in sorted(scored)[:n]]


def as_problem(reference: Any, *, bank: Mapping[str, AnyProblem] | None = None) -> AnyProblem:
    """A problem from a gold answer, a problem record (object, dict or JSON) or a bank id.

    With a ``bank``, a string is a problem id in it (or a JSON problem record); gold answers then
    go as numbers or ``{"answer": ...}`` records. Without one, a string is a gold answer."""
    if isinstance(reference, MathProblem | CodeProblem):
        return reference
    if isinstance(reference, bool) or reference is None:
        raise BadInput(f"no usable reference (gold answer or problem): {reference!r}")
    if isinstance(reference, numbers.Number):  # also numpy scalars, as verl's batches hold them
        return gold_problem(str(reference))
    if isinstance(reference, str):
        if bank is not None and reference in bank:
            return bank[reference]
        text = reference.strip()
        if text.startswith("{") and '"kind"' in text:
            try:
                return as_problem(json.loads(text), bank=bank)
            except json.JSONDecodeError as e:
                raise BadInput(f"reference looks like a JSON problem but is not valid JSON: {e}") from None
        if bank is not None:
            return problem_by_id(reference, bank)
        if not text:
            raise BadInput("the gold answer is empty")
        return gold_problem(reference)
    if isinstance(reference, Mapping):
        if "kind" not in reference and "answer" in reference:
            return gold_problem(str(reference["answer"]), problem_id=str(reference.get("id", "reward")))
        # A datasets/Arrow column of dicts fills keys missing in some rows with None: drop those.
        record = {k: v for k, v in reference.items() if v is not None}
        record.setdefault("id", "reward")
        if record.get("kind") == "math":
            record.setdefault("question", "(reward call)")
        try:
            return _PROBLEM.validate_python(record)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise BadInput(f"not a valid problem: {where}: {first['msg']}") from None
    raise BadInput(f"unsupported reference type {type(reference).__name__}")
