"""Bank self-check for code problems: the reference solution must pass, a mutant of it must fail.

The reference also runs with the challenge tests selected (MBPP's ``challenge_test_list``), so
they are checked too, and named apart when only they fail. The mutant: for function styles, the entry point's body replaced by ``return None``
(a ``Class.method`` entry point: that method's); for stdio, a program that prints nothing, so
tests whose expected outputs are all empty, or a checker that accepts anything, are caught.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from sandboxes.pool import Sandbox
from verifier.code.check import check_code_many
from verifier.code.program import with_challenge
from verifier.schema import CodeProblem, IOTests
from verifier.verdicts import Cause, judge

SILENT_PROGRAM = "pass\n"


def return_none_mutant(program: str, entry_point: str | None) -> str | None:
    """The program with the body of ``entry_point`` (or, without one, of every top-level function)
    replaced by ``return None``; None when there is nothing to mutate. ``Class.method``: the body
    of that method of that top-level class."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return None
    owner, _, name = (entry_point or "").rpartition(".")
    body: list[ast.stmt] = tree.body
    if owner:
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == owner]
        if not classes:
            return None
        body = classes[-1].body
    changed = False
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and entry_point in (
            None,
            node.name,
            f"{owner}.{node.name}",
        ):
            node.body = [ast.Return(value=ast.Constant(value=None))]
            changed = True
    return ast.unparse(ast.fix_missing_locations(tree)) if changed else None


def mutant_for(problem: CodeProblem, reference: str) -> str | None:
    """The program that must fail the problem's tests (see the module docstring)."""
    if isinstance(problem.tests, IOTests):
        return SILENT_PROGRAM
    return return_none_mutant(reference, getattr(problem.tests, "entry_point", None))


def selfcheck_code_problems(
    problems: Sequence[CodeProblem], sandbox: Sandbox | None = None
) -> list[list[str]]:
    """For each problem, its failure messages (empty = ok; the caller names the problem). All runs go
    to the pool concurrently."""
    items: list[tuple[CodeProblem, str]] = []
    owners: list[tuple[int, str]] = []
    messages: list[list[str]] = [[] for _ in problems]
    for i, p in enumerate(problems):
        if p.reference_solution is None:
            messages[i].append("no reference_solution to check")
            continue
        items.append((p, p.reference_solution))
        owners.append((i, "reference"))
        harder = with_challenge(p)
        if harder is not p:
            items.append((harder, p.reference_solution))
            owners.append((i, "challenge"))
        mutant = mutant_for(p, p.reference_solution)
        if mutant is None:
            messages[i].append("cannot make a return-None mutant of the reference solution")
            continue
        items.append((p, mutant))
        owners.append((i, "mutant"))
    verdicts = check_code_many(items, sandbox=sandbox, raw_code=True)
    for (i, what), v in zip(owners, verdicts, strict=True):
        cause = judge("code", v.status, v.rule).cause
        if cause is Cause.REFERENCE:  # no retry fixes it: the bank's bug, named as such
            messages[i].append(f"{what}: the problem's tests/checker are broken ({v.rule}): {v.reason}")
        elif v.infrastructure_failure:
            messages[i].append(f"{what}: sandbox error (not a verdict): {v.reason}")
        elif what == "reference" and not v.correct:
            messages[i].append(f"reference solution does not pass: {v.status.value}: {v.reason}")
        elif (
            what == "challenge" and not v.correct and not any(m.startswith("reference") for m in messages[i])
        ):
            messages[i].append(
                f"reference solution does not pass the challenge tests: {v.status.value}: {v.reason}"
            )
        elif what == "mutant" and v.correct:
            kind = (
                "a program that prints nothing"
                if isinstance(problems[i].tests, IOTests)
                else "a return-None mutant of the reference"
            )
            messages[i].append(f"{kind} passes: the tests are too weak")
    return messages


def selfcheck_code_problem(problem: CodeProblem, sandbox: Sandbox | None = None) -> list[str]:
    return selfcheck_code_problems([problem], sandbox=sandbox)[0]
