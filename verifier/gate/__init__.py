"""The CI regression gate: compare a run with a baseline, write JUnit XML, and a pytest plugin."""

from verifier.gate.baseline import Comparison, ProblemChange, compare_summaries, load_summary
from verifier.gate.junit import write_junit

__all__ = ["Comparison", "ProblemChange", "compare_summaries", "load_summary", "write_junit"]
