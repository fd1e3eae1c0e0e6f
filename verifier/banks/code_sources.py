"""Converters for code benchmarks: MBPP (the original ``mbpp.jsonl``), APPS (``input_output`` with
``inputs``/``outputs`` and an optional ``fn_name``) and CodeContests (public, private and generated
tests). Pure: one record in, one problem out. docs/code-judging.md says how each field maps.
"""

from __future__ import annotations

import ast
import builtins
import math
import re
from typing import Any

from pydantic import JsonValue

from verifier.banks.sources import (
    ImportOptions,
    SourceError,
    integer,
    json_text,
    number,
    statement,
    string,
    string_list,
)
from verifier.code.program import PARSE_ERRORS, defines, with_challenge
from verifier.schema import AssertTests, CallCase, CallTests, CodeLimits, CodeProblem, IOCase, IOTests


def mbpp(index: int, r: dict[str, Any], options: ImportOptions) -> CodeProblem:
    """MBPP: ``test_list`` asserts call the function by name; they become a ``check`` module (the
    harness binds that name to the candidate). ``test_setup_code`` runs first in the tests'
    namespace, after the reference's top-level imports that the tests use (MBPP ran the code and the
    tests in one namespace, so ``assert math.isclose(...)`` relied on the solution's ``import
    math``); ``challenge_test_list`` becomes the ``challenge`` module. The prompt is the MBPP
    paper's: the task text and the three tests, which fix the function's name and signature."""
    task_id = integer(r, "task_id")
    text = statement(r, "text")
    code = _lf(string(r, "code"))
    tests = [_lf(t).strip() for t in string_list(r, "test_list")]
    if not tests:
        raise SourceError("test_list", "no tests")
    challenge = [_lf(t).strip() for t in string_list(r, "challenge_test_list", required=False)]
    setup = _parsed(_lf(string(r, "test_setup_code", default="")), "test_setup_code")
    check = _check_module(tests, "test_list")
    harder = _check_module(challenge, "challenge_test_list") if challenge else None
    entry = _called_function(tests, code)
    imports = _imports_the_tests_use(code, [*tests, *challenge], setup, entry)
    problem = CodeProblem(
        id=f"mbpp-{task_id}",
        kind="code",
        prompt=f"{text}\nYour code should pass these tests:\n\n" + "\n".join(tests) + "\n",
        tests=AssertTests(
            style="assert",
            code=check,
            entry_point=entry,
            setup_code="\n".join(part for part in (imports, setup) if part.strip()),
            challenge=harder,
        ),
        reference_solution=code,
        meta={"source": "google-research/mbpp", "license": "CC-BY-4.0", "task_id": task_id},
    )
    return with_challenge(problem) if options.challenge else problem


def _imports_the_tests_use(code: str, tests: list[str], setup: str, entry: str) -> str:
    """The reference's top-level import statements that bind a name the tests use and the setup
    code does not define (never the entry point: that is the candidate's)."""
    try:
        reference = ast.parse(code)
    except PARSE_ERRORS:
        return ""  # the self-check reports a reference that does not parse
    used = {n.id for t in tests for n in ast.walk(ast.parse(t)) if isinstance(n, ast.Name)}
    used -= {entry} | _bound(ast.parse(setup))
    kept = []
    for node in reference.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
            (a.asname or a.name.split(".")[0]) in used for a in node.names
        ):
            kept.append(ast.unparse(node))
    return "\n".join(kept)


def _bound(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {a.asname or a.name.split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        else:
            names |= {
                n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
    return names


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def _parsed(code: str, field: str) -> str:
    _tree(code, field)
    return code


def _tree(code: str, field: str) -> ast.Module:
    try:
        return ast.parse(code)
    except SyntaxError as e:
        line = f" (line {e.lineno})" if e.lineno else ""
        raise SourceError(field, f"not valid Python: {e.msg}{line}") from None
    except (MemoryError, RecursionError):
        raise SourceError(field, "not valid Python: nested too deeply for the parser") from None
    except PARSE_ERRORS as e:
        raise SourceError(field, f"not valid Python: {str(e)[:200]}") from None


def _check_module(asserts: list[str], field: str) -> str:
    """``def check(candidate):`` with the asserts as its body, each one meaning what it meant alone."""
    body = []
    for k, line in enumerate(asserts):
        try:
            alone = ast.dump(_tree(line, f"{field}.{k}"))
        except RecursionError:  # parsed, but too deep to compare with its indented form
            raise SourceError(f"{field}.{k}", "nested too deeply") from None
        indented = "    " + line.replace("\n", "\n    ")
        # Indenting a multi-line string literal would change it: such a test runs as it was written.
        body.append(indented if _body_dump(indented) == alone else f"    exec({line!r}, globals())")
    return "def check(candidate):\n" + "\n".join(body) + "\n"


def _body_dump(indented: str) -> str | None:
    try:
        function = ast.parse(f"def check(candidate):\n{indented}\n").body[0]
        if not isinstance(function, ast.FunctionDef):
            return None
        return ast.dump(ast.Module(body=function.body, type_ignores=[]))
    except PARSE_ERRORS:
        return None


_BUILTINS = frozenset(dir(builtins))


def _called_function(tests: list[str], code: str) -> str:
    """The function the tests call: the first called name the reference defines, else the first
    called name that is not a builtin (``set(f(x)) == {...}`` calls ``f``)."""
    called: list[str] = []
    for line in tests:
        for node in ast.walk(ast.parse(line)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in called:
                called.append(node.func.id)
    for name in called:
        if defines(code, name):
            return name
    for name in called:
        if name not in _BUILTINS:
            return name
    raise SourceError("test_list", "cannot tell which function the tests call")


# ---------------------------------------------------------------- APPS


# The APPS harness's per-case limit (its testing_util uses 4 s per test case).
APPS_CASE_TIMEOUT_S = 4.0


def apps(index: int, r: dict[str, Any], options: ImportOptions) -> CodeProblem:
    """APPS: ``input_output`` holds ``inputs``/``outputs`` (stdin/stdout text, or lists of lines);
    with ``fn_name`` they are argument lists and return values (call style; a LeetCode-style
    ``class Solution`` method becomes the entry point ``Solution.<fn_name>``). The first of
    ``solutions`` is the reference."""
    pid = r.get("problem_id")
    if pid is None:
        pid = index
    elif type(pid) not in (int, str):
        raise SourceError("problem_id", f"expected an integer or a string, got {type(pid).__name__}")
    io = json_text(r, "input_output")
    if not isinstance(io, dict):
        raise SourceError("input_output", "expected an object with inputs and outputs")
    inputs, outputs = io.get("inputs"), io.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise SourceError("input_output", "inputs and outputs must be lists")
    if not inputs or len(inputs) != len(outputs):
        raise SourceError(
            "input_output", f"{len(inputs)} inputs and {len(outputs)} outputs (need n > 0 of each)"
        )
    solutions = json_text(r, "solutions", default=[])
    if not isinstance(solutions, list) or not all(isinstance(s, str) for s in solutions):
        raise SourceError("solutions", "expected a list of program texts")
    question = statement(r, "question")
    starter = _lf(string(r, "starter_code", default=""))
    fn_name = io.get("fn_name")
    tests: CallTests | IOTests
    if fn_name is not None:
        if not isinstance(fn_name, str) or not fn_name.isidentifier():
            raise SourceError("input_output.fn_name", "expected a function name")
        entry = _method_or_function(fn_name, starter, solutions[0] if solutions else "")
        cases = []
        for k, (args, expected) in enumerate(zip(inputs, outputs, strict=True)):
            if not isinstance(args, list):
                raise SourceError(f"input_output.inputs.{k}", "expected a list of arguments")
            # The APPS harness accepts a return value equal to the output or, when the output is a
            # one-element list, to its element: the source does not say which one is meant.
            if isinstance(expected, list) and len(expected) == 1:
                cases.append(CallCase(args=args, expected=expected[0], alternatives=[expected]))
            else:
                cases.append(CallCase(args=args, expected=expected))
        tests = CallTests(style="call", entry_point=entry, cases=cases)
        how = f"Write the function `{fn_name}`" + (
            f" in:\n\n{starter.rstrip()}\n" if starter.strip() else ".\n"
        )
    else:
        cases_io = [
            IOCase(stdin=_text(i, f"input_output.inputs.{k}"), stdout=_text(o, f"input_output.outputs.{k}"))
            for k, (i, o) in enumerate(zip(inputs, outputs, strict=True))
        ]
        tests = IOTests(style="stdio", cases=cases_io, compare=options.compare)
        how = "Read the input from standard input and write the answer to standard output.\n"
    meta: dict[str, JsonValue] = {"source": "codeparrot/apps", "license": "MIT", "problem_id": pid}
    difficulty = string(r, "difficulty", default="")
    for key, value in (("difficulty", difficulty), ("url", string(r, "url", default=""))):
        if value:
            meta[key] = value
    return CodeProblem(
        id=f"apps-{pid}",
        kind="code",
        prompt=f"{question}\n\n{how}",
        tests=tests,
        reference_solution=_lf(solutions[0]) if solutions else None,
        limits=_limits(APPS_CASE_TIMEOUT_S, len(inputs), None),
        tags=[difficulty] if difficulty else [],
        meta=meta,
    )


def _text(value: Any, field: str) -> str:
    """APPS stores some stdin/stdout texts as lists of lines."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    raise SourceError(field, f"expected text or a list of lines, got {type(value).__name__}")


_CLASS = re.compile(r"^class\s+([A-Za-z_]\w*)", re.MULTILINE)


def _method_or_function(fn_name: str, starter: str, reference: str) -> str:
    """``Class.method`` when the starter code (or, without one, the reference) defines the function
    as a method of a class (LeetCode's ``class Solution``), else the function's name."""
    source = starter if starter.strip() else reference
    match = _CLASS.search(source)
    if match and re.search(rf"^\s+def\s+{re.escape(fn_name)}\s*\(", source, re.MULTILINE):
        return f"{match.group(1)}.{fn_name}"
    return fn_name


# ---------------------------------------------------------------- CodeContests


# The contest's limits are for its judge's hardware, and C++: twice them, at least 1 s, for Python
# on ours, so a correct reference is not turned into a timeout by a slower machine.
CONTEST_TIME_SCALE = 2.0
PYTHON3 = (3, "PYTHON3")


def codecontests(index: int, r: dict[str, Any], options: ImportOptions) -> CodeProblem:
    """CodeContests: stdin/stdout tests from ``public_tests``, ``private_tests`` and
    ``generated_tests`` (duplicate inputs kept once, first wins); the first Python 3 solution is the
    reference; ``time_limit`` is per test case; ``memory_limit_bytes`` raises the memory limit."""
    name = string(r, "name").strip()
    cases: list[IOCase] = []
    seen: set[str] = set()
    for group in ("public_tests", "private_tests", "generated_tests"):
        tests = r.get(group) or {"input": [], "output": []}
        if not isinstance(tests, dict):
            raise SourceError(group, "expected an object with input and output lists")
        ins, outs = string_list(tests, "input", where=group), string_list(tests, "output", where=group)
        if len(ins) != len(outs):
            raise SourceError(group, f"{len(ins)} inputs and {len(outs)} outputs")
        for stdin, stdout in zip(ins, outs, strict=True):
            if stdin not in seen:
                seen.add(stdin)
                cases.append(IOCase(stdin=stdin, stdout=stdout))
    if not cases:
        raise SourceError("public_tests", "no tests in public_tests, private_tests or generated_tests")
    seconds = _time_limit(r)
    memory = integer(r, "memory_limit_bytes", required=False)
    if memory is not None and memory < 0:
        raise SourceError("memory_limit_bytes", f"expected a size >= 0, got {memory}")
    meta: dict[str, JsonValue] = {"source": "deepmind/code_contests", "license": "CC-BY-4.0", "name": name}
    for key in ("difficulty", "cf_contest_id", "cf_index", "cf_rating"):
        value = r.get(key)
        if value is None:
            continue
        if type(value) not in (int, str):
            raise SourceError(key, f"expected an integer or a string, got {type(value).__name__}")
        meta[key] = value
    return CodeProblem(
        id="codecontests-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or str(index)),
        kind="code",
        prompt=statement(r, "description")
        + "\n\nRead the input from standard input and write the answer to standard output.\n",
        tests=IOTests(style="stdio", cases=cases, compare=options.compare),
        reference_solution=_python3_solution(r),
        limits=_limits(
            max(1.0, CONTEST_TIME_SCALE * seconds) if seconds else APPS_CASE_TIMEOUT_S,
            len(cases),
            memory or None,  # 0: the source gives no limit
        ),
        tags=string_list(r, "cf_tags", required=False),
        meta=meta,
    )


def _time_limit(r: dict[str, Any]) -> float | None:
    """``time_limit``: ``{"seconds": S, "nanos": N}`` (protobuf's Duration), or null for none."""
    limit = r.get("time_limit")
    if limit is None:
        return None
    if not isinstance(limit, dict):
        raise SourceError(
            "time_limit", f"expected an object with seconds and nanos, got {type(limit).__name__}"
        )
    seconds = number(limit, "seconds", where="time_limit", default=0.0)
    return seconds + number(limit, "nanos", where="time_limit", default=0.0) / 1e9


def _python3_solution(r: dict[str, Any]) -> str | None:
    """The first Python 3 program of ``solutions`` (``language`` ids and ``solution`` texts, side by
    side), or None."""
    solutions = r.get("solutions")
    if solutions is None:
        return None
    if not isinstance(solutions, dict):
        raise SourceError(
            "solutions",
            f"expected an object with language and solution lists, got {type(solutions).__name__}",
        )
    languages = solutions.get("language") or []
    if not isinstance(languages, list) or not all(type(v) in (int, str) for v in languages):
        raise SourceError("solutions.language", "expected a list of language ids (integers or names)")
    programs = string_list(solutions, "solution", required=False, where="solutions")
    if len(languages) != len(programs):
        raise SourceError("solutions", f"{len(languages)} languages and {len(programs)} solutions")
    for language, program in zip(languages, programs, strict=True):
        if language in PYTHON3:
            return _lf(program)
    return None


def _limits(case_s: float, n_cases: int, memory_bytes: int | None) -> CodeLimits:
    """A per-case limit, and a job cap of one case limit per case (at least 10 s, at most 300 s)."""
    case_s = min(case_s, 60.0)
    memory_mb = CodeLimits().memory_mb
    if memory_bytes is not None:  # the address-space limit: never below our default
        memory_mb = min(8192, max(memory_mb, math.ceil(memory_bytes / (1 << 20))))
    return CodeLimits(
        timeout_s=min(300.0, max(10.0, case_s * n_cases)), memory_mb=memory_mb, case_timeout_s=case_s
    )
