"""Find the program in a model's completion: by default the last fenced ```python block."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)


@dataclass(frozen=True)
class CodeExtraction:
    """How to take the code out of a completion.

    ``block``: which fenced block when several match ("last" or "first"). ``languages``: accepted
    fence tags ("" is an untagged fence). ``raw_fallback``: with no fenced block, use the whole
    completion as code (a base model continuing a HumanEval prompt writes no fences).
    """

    block: str = "last"
    languages: tuple[str, ...] = ("python", "py", "python3", "")
    raw_fallback: bool = True


DEFAULT_EXTRACTION = CodeExtraction()


def extract_code(completion: str, config: CodeExtraction = DEFAULT_EXTRACTION) -> str | None:
    """The code, or None when there is none."""
    blocks = [body for lang, body in _FENCE.findall(completion) if lang.lower() in config.languages]
    if blocks:
        code = blocks[-1] if config.block == "last" else blocks[0]
    elif config.raw_fallback and "```" not in completion:
        code = completion
    else:
        code = ""
    return code if code.strip() else None
