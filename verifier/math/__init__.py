"""The math checker: ``check_math(gold=..., pred=...) -> MathVerdict``."""

from verifier.math.check import check_math
from verifier.math.verdict import MathStatus, MathVerdict

__all__ = ["MathStatus", "MathVerdict", "check_math"]
