"""Sandboxed code/math verification engine."""

from verifier.math import MathStatus, MathVerdict, check_math

__all__ = ["MathStatus", "MathVerdict", "check_math"]
__version__ = "0.1.0"
