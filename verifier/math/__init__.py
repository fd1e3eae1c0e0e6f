"""The math checker: ``check_math(gold=..., pred=...) -> MathVerdict`` and its batch form.

Stages run cheapest first in the caller's process; SymPy runs only in a ``MathPool`` of worker
processes (deadline, memory cap, thread-safe). See docs/math-checking.md.
"""

from verifier.math.check import check_math, check_math_many, iter_check_math_many
from verifier.math.pool import MathPool
from verifier.math.verdict import MathStatus, MathVerdict

__all__ = ["MathPool", "MathStatus", "MathVerdict", "check_math", "check_math_many", "iter_check_math_many"]
