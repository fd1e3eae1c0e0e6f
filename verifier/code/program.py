"""Turn a code problem and the extracted code into one sandbox job (all the problem's tests)."""

from __future__ import annotations

import ast
from typing import Literal

from pydantic import JsonValue

from sandboxes.protocol import Job
from verifier.schema import AssertTests, CallTests, CodeProblem, IOTests

OUTPUT_LIMIT = 1 << 20


def defines(code: str, name: str) -> bool:
    """Whether ``code`` parses and binds ``name`` at top level (def, class, assignment or import)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
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
    except SyntaxError:
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


def job_for(problem: CodeProblem, code: str, output_limit: int = OUTPUT_LIMIT) -> Job:
    program = assemble(problem, code)
    tests = problem.tests
    mode: Literal["assert", "call", "stdio"]
    cases: list[dict[str, JsonValue]] = []
    entry_point = ""
    test_code = ""
    prelude = ""
    if isinstance(tests, AssertTests):
        mode, test_code, entry_point = "assert", tests.code, tests.entry_point
        prelude = problem.prompt if parses(problem.prompt) else ""
    elif isinstance(tests, CallTests):
        mode, entry_point = "call", tests.entry_point
        cases = [{"args": c.args, "kwargs": c.kwargs} for c in tests.cases]  # expected values stay here
    elif isinstance(tests, IOTests):
        mode = "stdio"
        cases = [{"stdin": c.stdin} for c in tests.cases]
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
    )
