"""Turn a code problem and the extracted code into one sandbox job (all the problem's tests)."""

from __future__ import annotations

import ast
from typing import Literal

from pydantic import JsonValue

from sandboxes.protocol import Job
from verifier.schema import AssertTests, CallTests, CodeProblem, IOTests

OUTPUT_LIMIT = 1 << 20

# What ``ast.parse`` raises on text that is not a program it can hold: bad syntax, NUL bytes, and
# nesting too deep for the parser's stack (MemoryError) or for the compiler (RecursionError).
PARSE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError)


def defines(code: str, name: str) -> bool:
    """Whether ``code`` parses and binds ``name`` at top level (def, class, assignment or import)."""
    try:
        tree = ast.parse(code)
    except PARSE_ERRORS:
        return False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
            (a.asname or a.name.split(".")[0]) == name for a in node.names
        ):
            return True
    return False


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except PARSE_ERRORS:
        return False
    return True


def assemble(problem: CodeProblem, code: str) -> str:
    """The program to run. When the prompt is itself Python (a HumanEval signature and docstring),
    it goes first: code that does not define the entry point is a continuation of it (a function
    body), and code that does still gets the prompt's imports and helper functions, its own later
    definitions winning. A prose prompt is never prepended."""
    entry = getattr(problem.tests, "entry_point", None)
    if entry is None or not parses(problem.prompt):
        return code
    if not defines(code, entry):
        return problem.prompt + code
    if defines(problem.prompt, entry):
        return problem.prompt.rstrip() + "\n\n\n" + code
    return code


def with_challenge(problem: CodeProblem) -> CodeProblem:
    """The problem with its challenge tests (MBPP's ``challenge_test_list``) selected: its ``check``
    runs the main tests' ``check`` and then the challenge module's. Unchanged without a challenge."""
    tests = problem.tests
    if not isinstance(tests, AssertTests) or tests.challenge is None:
        return problem
    # Trusted bank code run in one namespace, top to bottom: each module's check is saved under its
    # own name before the next one rebinds ``check``.
    code = (
        f"{tests.code.rstrip()}\n\n__main_check = check\n\n{tests.challenge.rstrip()}\n\n"
        "__challenge_check = check\n\n\ndef check(candidate):\n"
        "    __main_check(candidate)\n    __challenge_check(candidate)\n"
    )
    merged = tests.model_copy(update={"code": code, "challenge": None})
    return problem.model_copy(update={"tests": merged})


METHOD_SHIM = "_verifier_entry"  # one underscore: the runner does not offer "__" names for calls


def method_entry(program: str, entry_point: str) -> tuple[str, str]:
    """A ``Class.method`` entry point (LeetCode's ``class Solution``, as APPS imports it): the program
    gets a trusted function after it that calls the method on a fresh instance, and LeetCode's
    implicit ``from typing import *`` before it (its signatures use ``List[int]`` unimported)."""
    owner, _, method = entry_point.rpartition(".")
    if not owner:
        return program, entry_point
    shim = f"\n\n\ndef {METHOD_SHIM}(*args, **kwargs):\n    return {owner}().{method}(*args, **kwargs)\n"
    return "from typing import *  # noqa: F403\n" + program + shim, METHOD_SHIM


def job_for(problem: CodeProblem, code: str, output_limit: int = OUTPUT_LIMIT) -> Job:
    program = assemble(problem, code)
    tests = problem.tests
    checker: str | None = None
    mode: Literal["assert", "call", "stdio"]
    cases: list[dict[str, JsonValue]] = []
    entry_point = ""
    test_code = ""
    prelude = ""
    if isinstance(tests, AssertTests):
        mode, entry_point = "assert", tests.entry_point
        # MBPP's test_setup_code: trusted, in the tests' namespace, before the tests are defined.
        test_code = f"{tests.setup_code.rstrip()}\n\n{tests.code}" if tests.setup_code.strip() else tests.code
        prelude = problem.prompt if parses(problem.prompt) else ""
    elif isinstance(tests, CallTests):
        mode = "call"
        program, entry_point = method_entry(program, tests.entry_point)
        cases = [{"args": c.args, "kwargs": c.kwargs} for c in tests.cases]  # expected values stay here
    elif isinstance(tests, IOTests):
        mode, checker = "stdio", tests.checker
        # Expected outputs stay on the host unless a trusted checker needs them in the sandbox.
        cases = [
            {"stdin": c.stdin} if checker is None else {"stdin": c.stdin, "expected": c.stdout}
            for c in tests.cases
        ]
    else:
        raise TypeError(f"unknown test style: {type(tests).__name__}")
    return Job(
        mode=mode,
        program=program,
        test_code=test_code,
        entry_point=entry_point,
        prelude=prelude,
        cases=cases,
        timeout_s=problem.limits.timeout_s,
        memory_mb=problem.limits.memory_mb,
        output_limit=output_limit,
        case_timeout_s=problem.limits.case_timeout_s,
        checker=checker,
    )
