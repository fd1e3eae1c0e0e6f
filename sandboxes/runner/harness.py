"""Runs one candidate's tests inside the job process and reports on the result channel.

Standard library only: this file is copied into the runner image and also imported on the host by
unit tests. It runs *after* the fork server has forked the job process, so the candidate shares this
process. What it reports is therefore a claim, not proof; the host trusts a report only when every
line carries the job's random token and the final line is the "done" marker, and it keeps expected
outputs (stdio and call styles) to itself, so a candidate cannot forge a pass without computing the
right answers. Assert-style tests (HumanEval) must run in-process: there ``==`` in asserts is
rewritten to a type-strict comparison so that an object whose ``__eq__`` always says True fails.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import json
import os
import select
import sys
import time
import traceback
from typing import Any

EQ_HELPER = "__verifier_strict_eq__"
_NUMBERS = frozenset({int, float, complex, bool})
_SCALARS = _NUMBERS | {str, bytes, type(None)}
_SETS = frozenset({set, frozenset})
_PLAIN = _SCALARS | _SETS | {list, tuple, dict}


# ---------------------------------------------------------------- type-strict comparison (assert style)


def strict_eq(a: Any, b: Any) -> bool:
    """``a == b`` with builtin semantics, never calling a candidate-defined ``__eq__`` against a plain value."""
    ta, tb = type(a), type(b)
    if ta not in _PLAIN or tb not in _PLAIN:
        if ta in _PLAIN or tb in _PLAIN:
            return False  # a custom object compared with a plain expected value: do not ask its __eq__
        return bool(a == b)  # both sides are the test's own types
    if ta in _NUMBERS and tb in _NUMBERS:
        return bool(a == b)
    if ta in _SETS and tb in _SETS:
        return _all_plain(a) and _all_plain(b) and a == b
    if ta is not tb:
        return False
    if ta in (list, tuple):
        return len(a) == len(b) and all(strict_eq(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict:
        if len(a) != len(b) or not (_all_plain(a.keys()) and _all_plain(b.keys())):
            return False
        return all(k in b and strict_eq(v, b[k]) for k, v in a.items())
    return bool(a == b)  # str, bytes, None


def _all_plain(values: Any) -> bool:
    for v in values:
        t = type(v)
        if (
            t not in _SCALARS
            and not (t is tuple and _all_plain(v))
            and not (t is frozenset and _all_plain(v))
        ):
            return False
    return True


class _StrictAsserts(ast.NodeTransformer):
    """Rewrites ``x == y`` / ``x != y`` inside ``assert`` statements to calls of the strict helper."""

    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        node.test = _StrictCompare().visit(node.test)
        return node


class _StrictCompare(ast.NodeTransformer):
    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) != 1 or not isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
            return node
        call = ast.Call(
            func=ast.Name(id=EQ_HELPER, ctx=ast.Load()), args=[node.left, node.comparators[0]], keywords=[]
        )
        out: ast.AST = call if isinstance(node.ops[0], ast.Eq) else ast.UnaryOp(op=ast.Not(), operand=call)
        return ast.copy_location(out, node)


def strict_asserts(source: str) -> ast.Module:
    tree = _StrictAsserts().visit(ast.parse(source))
    return ast.fix_missing_locations(tree)


# ---------------------------------------------------------------- plain JSON values (call style)


def to_plain(value: Any, depth: int = 0) -> Any:
    """The value as plain JSON, by exact type; anything else (incl. subclasses) is refused."""
    t = type(value)
    if depth > 100:
        raise ValueError("return value nested too deeply")
    if t in (bool, int, float, str) or value is None:
        return value
    if t in (list, tuple):
        return [to_plain(v, depth + 1) for v in value]
    if t is dict:
        if not all(type(k) is str for k in value):
            raise TypeError("return value is a dict with non-str keys")
        return {k: to_plain(v, depth + 1) for k, v in value.items()}
    raise TypeError(f"return value of type {t.__name__} is not plain JSON")


# ---------------------------------------------------------------- reporting


class Reporter:
    """Writes ``<token> <json>`` lines to the result channel, a pipe only the fork server reads."""

    def __init__(self, token: str, fd: int):
        self._prefix = (token + " ").encode()
        self._fd = fd

    def emit(self, record: dict[str, Any]) -> None:
        data = self._prefix + json.dumps(record, separators=(",", ":")).encode() + b"\n"
        while data:
            data = data[os.write(self._fd, data) :]


def describe(exc: BaseException) -> dict[str, Any]:
    """Exception name and a short message; the message comes from candidate code, so guard it."""
    try:
        message = str(exc)[:500]
    except BaseException:  # noqa: BLE001 - a candidate __str__ may raise anything
        message = "<unprintable>"
    return {"error": type(exc).__name__, "message": message}


def _tail_traceback() -> str:
    try:
        return "".join(traceback.format_exc())[-2000:]
    except BaseException:  # noqa: BLE001
        return ""


# ---------------------------------------------------------------- modes


def run_job(job: dict[str, Any], result_fd: int) -> None:
    report = Reporter(job["token"], result_fd)
    mode = job["mode"]
    if mode == "assert":
        _run_assert(job, report)
    elif mode == "call":
        _run_call(job, report)
    elif mode == "stdio":
        _run_stdio(job, report)
    else:
        report.emit({"phase": "harness", "error": "UnknownMode", "message": str(mode)})
    report.emit({"done": True})


def _compile_program(job: dict[str, Any], report: Reporter) -> Any:
    try:
        return compile(job["program"], "<candidate>", "exec")
    except (SyntaxError, ValueError) as e:
        report.emit({"phase": "compile", **describe(e)})
        return None


def _exec_program(code: Any, report: Reporter) -> dict[str, Any] | None:
    namespace: dict[str, Any] = {"__name__": "candidate", "__builtins__": builtins}
    try:
        exec(code, namespace)
    except BaseException as e:  # noqa: BLE001 - every failure of the candidate is a verdict, SystemExit included
        report.emit({"phase": "program", **describe(e), "traceback": _tail_traceback()})
        return None
    return namespace


def _run_assert(job: dict[str, Any], report: Reporter) -> None:
    code = _compile_program(job, report)
    if code is None:
        return
    try:
        tests = compile(strict_asserts(job["test_code"]), "<tests>", "exec")
    except SyntaxError as e:
        report.emit({"phase": "harness", **describe(e)})
        return
    namespace = _exec_program(code, report)
    if namespace is None:
        return
    entry = job["entry_point"]
    try:
        namespace[EQ_HELPER] = strict_eq
        exec(tests, namespace)
        if entry not in namespace:
            raise NameError(f"entry point {entry!r} is not defined")
        namespace["check"](namespace[entry])
    except BaseException as e:  # noqa: BLE001
        report.emit({"phase": "test", **describe(e), "traceback": _tail_traceback()})
        return
    report.emit({"phase": "test", "ok": True})


def _run_call(job: dict[str, Any], report: Reporter) -> None:
    code = _compile_program(job, report)
    if code is None:
        return
    namespace = _exec_program(code, report)
    if namespace is None:
        return
    fn = namespace.get(job["entry_point"])
    if not callable(fn):
        report.emit(
            {"phase": "program", "error": "NameError", "message": f"{job['entry_point']!r} is not defined"}
        )
        return
    for i, case in enumerate(job["cases"]):
        started = time.perf_counter()
        try:
            value = fn(*case.get("args", []), **case.get("kwargs", {}))
        except BaseException as e:  # noqa: BLE001
            report.emit({"case": i, **describe(e), "seconds": time.perf_counter() - started})
            continue
        seconds = time.perf_counter() - started
        try:
            plain = to_plain(value)
        except (TypeError, ValueError, RecursionError) as e:
            report.emit({"case": i, "bad_value": describe(e)["message"], "seconds": seconds})
            continue
        report.emit({"case": i, "value": plain, "seconds": seconds})


def _run_stdio(job: dict[str, Any], report: Reporter) -> None:
    code = _compile_program(job, report)
    if code is None:
        return
    budget = int(job["output_limit"])
    for i, case in enumerate(job["cases"]):
        started = time.perf_counter()
        stdin_path = os.path.abspath(f"stdin-{i}.txt")
        with open(stdin_path, "w", encoding="utf-8") as fh:
            fh.write(case.get("stdin", ""))
        out = run_forked(functools.partial(_exec_main, code, stdin_path), budget=budget, deadline=None)
        budget -= len(out.stdout) + len(out.stderr)
        report.emit(
            {
                "case": i,
                "stdout": out.stdout.decode("utf-8", "replace"),
                "stderr": out.stderr[-2000:].decode("utf-8", "replace"),
                "exit_code": out.exit_code,
                "signal": out.signal,
                "output_limit": out.output_limit,
                "seconds": time.perf_counter() - started,
            }
        )
        if out.output_limit:
            return


def _exec_main(code: Any, stdin_path: str) -> int:
    fd = os.open(stdin_path, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    try:
        exec(code, {"__name__": "__main__", "__builtins__": builtins})
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - print it as Python would, exit 1
        traceback.print_exc()
        return 1
    return 0


# ---------------------------------------------------------------- forked processes with an output budget


class Finished:
    def __init__(self) -> None:
        self.stdout = b""
        self.stderr = b""
        self.exit_code: int | None = None
        self.signal: int | None = None
        self.output_limit = False
        self.timed_out = False


def run_forked(body: Any, *, budget: int, deadline: float | None) -> Finished:
    """Run ``body()`` in a forked child with stdout/stderr on pipes read under a byte budget."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
            code = body()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 1)
    os.close(out_w)
    os.close(err_w)
    res = Finished()
    chunks = pump(
        {"stdout": out_r, "stderr": err_r}, budget=budget, deadline=deadline, exited=lambda: _reaped(pid, res)
    )
    res.stdout, res.stderr = chunks.data["stdout"], chunks.data["stderr"]
    res.output_limit, res.timed_out = chunks.over_budget, chunks.timed_out
    if res.exit_code is None and res.signal is None:
        _kill(pid)
        _, status = os.waitpid(pid, 0)
        _set_status(res, status)
    return res


def _reaped(pid: int, res: Finished) -> bool:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        return False
    _set_status(res, status)
    return True


def _set_status(res: Finished, status: int) -> None:
    if os.WIFSIGNALED(status):
        res.signal = os.WTERMSIG(status)
    else:
        res.exit_code = os.WEXITSTATUS(status)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)


class Pumped:
    def __init__(self, names: list[str]) -> None:
        self.data = {n: b"" for n in names}
        self.over_budget = False
        self.timed_out = False


def pump(
    fds: dict[str, int], *, budget: int, deadline: float | None, exited: Any, grace_s: float = 0.05
) -> Pumped:
    """Read the pipes until EOF, the child's exit (plus a short grace), the budget or the deadline.

    The budget counts bytes as they arrive, so 1 GB of output is stopped at the budget, not buffered.
    A background process that keeps a pipe open cannot stall us: after the child exits we stop
    reading after ``grace_s``. Every fd is closed on return.
    """
    res = Pumped(list(fds))
    parts: dict[int, list[bytes]] = {fd: [] for fd in fds.values()}
    names = {fd: n for n, fd in fds.items()}
    open_fds = set(fds.values())
    total = 0
    child_gone_at: float | None = None
    try:
        while open_fds:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                res.timed_out = True
                break
            if child_gone_at is None and exited():
                child_gone_at = now
            if child_gone_at is not None and now - child_gone_at > grace_s:
                break
            wait = 0.02 if child_gone_at is None else grace_s
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - now))
            ready, _, _ = select.select(list(open_fds), [], [], wait)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    open_fds.discard(fd)
                    continue
                total += len(chunk)
                if total > budget:
                    parts[fd].append(chunk[: max(0, len(chunk) - (total - budget))])
                    res.over_budget = True
                    open_fds.clear()
                    break
                parts[fd].append(chunk)
    finally:
        for fd in fds.values():
            os.close(fd)
    for fd, chunks in parts.items():
        res.data[names[fd]] = b"".join(chunks)
    return res
