"""Sandboxed code/math verification engine.

``check_math`` is imported eagerly (pure Python, SymPy only in its worker processes);
``check_code`` and its types load on first use, so math-only users never import docker-py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from verifier.math import MathPool, MathStatus, MathVerdict, check_math, check_math_many

if TYPE_CHECKING:
    from verifier.code import CodeStatus, CodeVerdict, check_code, check_code_many

__all__ = [
    "CodeStatus",
    "CodeVerdict",
    "MathPool",
    "MathStatus",
    "MathVerdict",
    "check_code",
    "check_code_many",
    "check_math",
    "check_math_many",
]
__version__ = "0.1.0"

_CODE_NAMES = {"CodeStatus", "CodeVerdict", "check_code", "check_code_many"}


def __getattr__(name: str) -> Any:
    if name in _CODE_NAMES:
        import verifier.code

        return getattr(verifier.code, name)
    raise AttributeError(f"module 'verifier' has no attribute {name!r}")
