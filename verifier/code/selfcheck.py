"""Bank self-check for code problems: the reference solution must pass, a ``return None`` mutant must fail."""

from __future__ import annotations

import ast
from collections.abc import Sequence

from sandboxes.pool import Sandbox
from verifier.code.check import check_code_many
from verifier.schema import CodeProblem


def return_none_mutant(program: str, entry_point: str | None) -> str | None:
    """The program with the body of ``entry_point`` (or, without one, of every top-level function)
    replaced by ``return None``; None when there is nothing to mutate."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return None
    changed = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and entry_point in (None, node.name):
            node.body = [ast.Return(value=ast.Constant(value=None))]
            changed = True
    return ast.unparse(ast.fix_missing_locations(tree)) if changed else None


def selfcheck_code_problems(
    problems: Sequence[CodeProblem], sandbox: Sandbox | None = None
) -> list[list[str]]:
    """For each problem, its failure messages (empty = ok). All runs go to the pool concurrently."""
    items: list[tuple[CodeProblem, str]] = []
    owners: list[tuple[int, str]] = []
    messages: list[list[str]] = [[] for _ in problems]
    for i, p in enumerate(problems):
        if p.reference_solution is None:
            messages[i].append(f"{p.id}: no reference_solution to check")
            continue
        items.append((p, p.reference_solution))
        owners.append((i, "reference"))
        entry = getattr(p.tests, "entry_point", None)
        mutant = return_none_mutant(p.reference_solution, entry)
        if mutant is None:
            messages[i].append(f"{p.id}: cannot make a return-None mutant of the reference solution")
            continue
        items.append((p, mutant))
        owners.append((i, "mutant"))
    verdicts = check_code_many(items, sandbox=sandbox, raw_code=True)
    for (i, what), v in zip(owners, verdicts, strict=True):
        pid = problems[i].id
        if v.infrastructure_failure:
            messages[i].append(f"{pid}: {what}: sandbox error (not a verdict): {v.reason}")
        elif what == "reference" and not v.correct:
            messages[i].append(f"{pid}: reference solution does not pass: {v.status.value}: {v.reason}")
        elif what == "mutant" and v.correct:
            messages[i].append(f"{pid}: a return-None mutant of the reference passes: the tests are too weak")
    return messages


def selfcheck_code_problem(problem: CodeProblem, sandbox: Sandbox | None = None) -> list[str]:
    return selfcheck_code_problems([problem], sandbox=sandbox)[0]
