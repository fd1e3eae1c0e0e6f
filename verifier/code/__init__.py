"""Code answers: extract the program, run all its tests in the hardened sandbox, judge on the host."""

from verifier.code.check import check_code, check_code_many, default_sandbox
from verifier.code.extract import CodeExtraction, extract_code
from verifier.code.selfcheck import selfcheck_code_problem, selfcheck_code_problems
from verifier.code.verdict import CodeStatus, CodeVerdict, TestResult

__all__ = [
    "CodeExtraction",
    "CodeStatus",
    "CodeVerdict",
    "TestResult",
    "check_code",
    "check_code_many",
    "default_sandbox",
    "extract_code",
    "selfcheck_code_problem",
    "selfcheck_code_problems",
]
