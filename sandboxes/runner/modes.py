"""The job process's test runners, one per style; the candidate's code runs in the candidate process.

Assert style (HumanEval): the problem's ``check`` runs here and calls the candidate over the line
to its process; values cross tagged (``codec``) and are rebuilt as genuine objects, so an object
whose ``__eq__`` always says True cannot cross. Objects of the solution's own classes stay in the
candidate's process and cross as references, so tests may build them (``Pair(1, 2)``) and pass
them back; a reference never equals a value made here. Call style: each case's return value goes
to the host, which compares it; expected values never enter the sandbox. Stdio style: the candidate
process forks one child per case; outputs go to the host, or to a trusted checker run here.

Each call/stdio case has its own deadline (``case_timeout_s``) inside the job's (``timeout_s``); a
case past it is reported with ``"timeout": true`` and ends the job.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import os
import sys
import time
from typing import Any

from . import codec
from .candidate import BadValue, CandidateGone, CandidateProcess, CaseTimeout
from .framing import write_all
from .pump import pump
from .report import Reporter, describe, tail_traceback

MARGIN_S = 0.05  # answer a little before the fork server's deadline, so our records still count
CHECKER_TIMEOUT_S = 30.0


class Context:
    def __init__(self, job: dict[str, Any], report: Reporter, candidate: CandidateProcess, home: str):
        self.job = job
        self.report = report
        self.candidate = candidate
        self.home = home
        self.started = time.monotonic()
        self.job_deadline = self.started + float(job["timeout_s"]) - MARGIN_S
        case = job.get("case_timeout_s")
        self.case_timeout = float(case) if case else None
        self.timed_out = False
        self.modules: dict[str, str] = {}  # name -> module the candidate's program bound it to

    def case_deadline(self) -> float:
        if self.case_timeout is None:
            return self.job_deadline
        return min(self.job_deadline, time.monotonic() + self.case_timeout)


def run_job(job: dict[str, Any], report: Reporter, candidate: CandidateProcess, home: str) -> bool:
    """Run the job's tests and report them; False when a deadline cut it short (the candidate
    process may still be running: the fork server kills it)."""
    ctx = Context(job, report, candidate, home)
    mode = job["mode"]
    ended = False
    try:
        candidate.post(
            {
                "mode": mode,
                "program": job["program"],
                "timeout_s": job["timeout_s"],
                "memory_mb": job["memory_mb"],
            }
        )
        if mode == "call":  # every case at once: their replies are read one by one, each on its deadline
            for message in _call_messages(job):
                candidate.post(message)
        load = candidate.receive(ctx.job_deadline)
        if not load.get("ready"):
            # The candidate's own words: only its phases, never ours ("harness" would say the
            # problem's tests are broken, which is not the candidate's to claim).
            keys = ("error", "message", "traceback", "memory_limit")
            phase = load.get("phase") if load.get("phase") in ("compile", "program") else "program"
            report.emit({"phase": phase, **{k: load[k] for k in keys if k in load}})
            ended = True
        else:
            candidate.names = {str(n) for n in load.get("names", [])}
            modules = load.get("modules")
            ctx.modules = {str(k): str(v) for k, v in modules.items()} if isinstance(modules, dict) else {}
    except CandidateGone as e:
        report.emit({"phase": "program", "error": "ProcessExited", "message": str(e)})
        ended = True
    except CaseTimeout:
        ctx.timed_out = True
        report.emit({"phase": "program", "timeout": True, "seconds": time.monotonic() - ctx.started})
        ended = True
    if not ended:
        if mode == "assert":
            _run_assert(ctx)
        elif mode == "call":
            _run_call(ctx)
        elif mode == "stdio":
            _run_stdio(ctx)
        else:
            report.emit({"phase": "harness", "error": "UnknownMode", "message": str(mode)})
    report.emit({"done": True})
    return not ctx.timed_out


# ---------------------------------------------------------------- assert style


class CandidateName:
    """A name the candidate's program defines (its entry point, its classes): calling it calls it
    there; passed as an argument, it crosses as that name."""

    def __init__(self, ctx: Context, name: str):
        self._ctx = ctx
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _ask(self._ctx, {"call": self._name}, args, kwargs)

    def __repr__(self) -> str:
        return f"<candidate {self._name}>"


class RemoteRef:
    """An object that lives in the candidate's process (not a value we rebuild here)."""

    def __init__(self, ctx: Context, ref: int):
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "_ref", ref)

    def _op(self, op: str, *args: Any, **extra: Any) -> Any:
        return _ask(self._ctx, {"ref": self._ref, "op": op, **extra}, args, {})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._op("getattr", name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _ask(self._ctx, {"ref": self._ref, "op": "call"}, args, kwargs)

    def __eq__(self, other: object) -> bool:
        # Two of the candidate's objects: its own __eq__ decides (as in the benchmark's harness).
        # Never against a value made here: an always-equal object must not pass ``== expected``.
        if isinstance(other, RemoteRef) and other._ctx is self._ctx:
            return bool(self._op("eq", other))
        return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return int(self._op("hash"))

    def __repr__(self) -> str:
        return str(self._op("repr"))

    def __str__(self) -> str:
        return str(self._op("str"))

    def __len__(self) -> int:
        return int(self._op("len"))

    def __bool__(self) -> bool:
        return bool(self._op("bool"))

    def __iter__(self) -> Any:
        return iter(self._op("iter"))

    def __getitem__(self, key: Any) -> Any:
        return self._op("getitem", key)

    def __contains__(self, item: Any) -> bool:
        return bool(self._op("contains", item))


def _ask(ctx: Context, head: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    message = {
        **head,
        "refs": True,
        "args": codec.encode(list(args), keep=_reference),
        "kwargs": codec.encode(kwargs, keep=_reference),
    }
    reply = ctx.candidate.request(message, ctx.job_deadline)
    if "bad_value" in reply:
        raise BadValue(str(reply["bad_value"]))
    if "error" in reply:
        exc = codec.rebuild_exception(str(reply.get("error")), str(reply.get("message", "")))
        if isinstance(exc, MemoryError):
            exc.memory_limit = bool(reply.get("memory_limit"))  # type: ignore[attr-defined]
        raise exc

    def resolve(tag: str, body: Any) -> Any:
        if tag != "ref":
            raise ValueError(f"unexpected tag {tag!r} from the candidate")
        return RemoteRef(ctx, int(body))

    return codec.decode(reply.get("value"), resolve)


def _reference(value: Any) -> dict[str, Any]:
    """Arguments: only our proxies for the candidate's own objects and names cross as references."""
    if isinstance(value, RemoteRef):
        return {"ref": value._ref}
    if isinstance(value, CandidateName):
        return {"name": value._name}
    raise codec.Unencodable(f"a {type(value).__name__} cannot be passed to the candidate")


def _own_copy(module: str | None) -> Any:
    """Our own import of a standard module the candidate's program imported (``math`` in
    ``math.isclose(...)``); None for anything else (it stays a name in the candidate's process)."""
    if not module or module.split(".")[0] not in sys.stdlib_module_names or module.startswith("_"):
        return None
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _names_used(*sources: str) -> set[str]:
    used: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        used |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return used


def _run_assert(ctx: Context) -> None:
    job, report = ctx.job, ctx.report
    entry = job["entry_point"]
    namespace: dict[str, Any] = {"__name__": "tests", "__builtins__": builtins}
    try:
        # The problem's prompt (trusted bank text: its helpers, e.g. HumanEval's ``poly``, are used
        # by some tests), then the test code.
        exec(compile(job.get("prelude", ""), "<prompt>", "exec"), namespace)
        exec(compile(job["test_code"], "<tests>", "exec"), namespace)
        check = namespace["check"]
    except BaseException as e:  # noqa: BLE001 - broken bank tests are reported, not raised
        report.emit({"phase": "harness", **describe(e)})
        return
    # The entry point, and names the tests use that only the solution defines (its classes).
    wanted = _names_used(job["test_code"]) & ctx.candidate.names
    for name in wanted - set(namespace) - set(vars(builtins)):
        module = _own_copy(ctx.modules.get(name))
        namespace[name] = module if module is not None else CandidateName(ctx, name)
    proxy = CandidateName(ctx, entry)
    namespace[entry] = proxy
    try:
        check(proxy)
    except CandidateGone as e:
        report.emit({"phase": "test", "error": "ProcessExited", "message": str(e)})
        return
    except CaseTimeout:
        ctx.timed_out = True
        report.emit({"phase": "test", "timeout": True, "seconds": time.monotonic() - ctx.started})
        return
    except BaseException as e:  # noqa: BLE001
        report.emit({"phase": "test", **describe(e), "traceback": tail_traceback()})
        return
    report.emit({"phase": "test", "ok": True})


# ---------------------------------------------------------------- call style


def _call_messages(job: dict[str, Any]) -> list[dict[str, Any]]:
    """One call per case; the bank's plain JSON arguments, tagged (a JSON object is a dict)."""
    return [
        {
            "call": job["entry_point"],
            "args": codec.encode(list(case.get("args", []))),
            "kwargs": codec.encode(dict(case.get("kwargs", {}))),
        }
        for case in job["cases"]
    ]


def _run_call(ctx: Context) -> None:
    """The calls were sent with the program; read each case's reply on its own deadline."""
    entry = ctx.job["entry_point"]
    if entry not in ctx.candidate.names:
        ctx.report.emit({"phase": "program", "error": "NameError", "message": f"{entry!r} is not defined"})
        return
    for i, _case in enumerate(ctx.job["cases"]):
        started = time.monotonic()
        try:
            reply = ctx.candidate.receive(ctx.case_deadline())
        except CaseTimeout:
            ctx.timed_out = True
            ctx.report.emit({"case": i, "timeout": True, "seconds": time.monotonic() - started})
            return
        except CandidateGone as e:
            ctx.report.emit({"case": i, "error": "ProcessExited", "message": str(e)})
            return
        seconds = time.monotonic() - started
        if "value" in reply:
            try:  # a candidate may write its own replies: only a well-formed value goes on
                value = codec.encode(codec.decode(reply["value"]))
            except (TypeError, ValueError, KeyError, IndexError, ArithmeticError, RecursionError) as e:
                ctx.report.emit({"case": i, "bad_value": describe(e)["message"], "seconds": seconds})
                continue
            ctx.report.emit({"case": i, "value": value, "seconds": seconds})
        elif "bad_value" in reply:
            ctx.report.emit({"case": i, "bad_value": str(reply["bad_value"])[:500], "seconds": seconds})
        else:
            error = {
                "error": str(reply.get("error", "Error"))[:100],
                "message": str(reply.get("message", ""))[:500],
                "memory_limit": bool(reply.get("memory_limit")),
            }
            ctx.report.emit({"case": i, **error, "seconds": seconds})


# ---------------------------------------------------------------- stdio style


def _run_stdio(ctx: Context) -> None:
    budget = int(ctx.job["output_limit"])
    checker = ctx.job.get("checker")
    checker_path = ""
    if checker:
        checker_path = os.path.join(ctx.home, "checker.py")
        with open(checker_path, "w", encoding="utf-8") as fh:
            fh.write(checker)
    for i, case in enumerate(ctx.job["cases"]):
        started = time.monotonic()
        deadline = ctx.case_deadline()
        stdin = os.memfd_create(f"stdin-{i}")
        write_all(stdin, str(case.get("stdin", "")).encode())
        os.lseek(stdin, 0, os.SEEK_SET)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            ctx.candidate.send_case(i, (stdin, out_w, err_w))
        except CandidateGone as e:
            for fd in (out_r, err_r):
                os.close(fd)
            ctx.report.emit({"case": i, "error": "ProcessExited", "message": str(e)})
            return
        finally:
            for fd in (stdin, out_w, err_w):
                os.close(fd)
        pumped = pump(
            {"stdout": out_r, "stderr": err_r}, budget=budget, deadline=deadline, done_fd=ctx.candidate.fd
        )
        budget -= len(pumped.data["stdout"]) + len(pumped.data["stderr"])
        seconds = time.monotonic() - started
        record: dict[str, Any] = {
            "case": i,
            "stdout": pumped.data["stdout"].decode("utf-8", "replace"),
            "stderr": pumped.data["stderr"][-2000:].decode("utf-8", "replace"),
            "exit_code": None,
            "signal": None,
            "output_limit": pumped.over_budget,
            "timeout": False,
            "seconds": seconds,
        }
        if pumped.timed_out:
            ctx.timed_out = True
            ctx.report.emit({**record, "timeout": True})
            return
        if pumped.over_budget:
            ctx.report.emit(record)
            return
        try:
            end = ctx.candidate.receive(min(deadline, ctx.job_deadline) + 0.5)
        except (CandidateGone, CaseTimeout) as e:
            ctx.report.emit({**record, "error": "ProcessExited", "message": str(e) or "no exit status"})
            return
        record["exit_code"], record["signal"] = end.get("exit_code"), end.get("signal")
        if checker_path:
            record["checker"] = _check(
                ctx, checker_path, i, str(case.get("stdin", "")), case, pumped.data["stdout"]
            )
        ctx.report.emit(record)


def _check(
    ctx: Context, path: str, index: int, stdin: str, case: dict[str, Any], output: bytes
) -> dict[str, Any]:
    """Run the trusted checker: ``python3 checker.py INPUT EXPECTED OUTPUT`` in our own directory,
    which the candidate's uid cannot enter; its exit status and the first line of its stdout."""
    files = []
    for name, data in (
        ("input", stdin.encode()),
        ("expected", str(case.get("expected", "")).encode()),
        ("output", output),
    ):
        file = os.path.join(ctx.home, f"{name}-{index}.txt")
        with open(file, "wb") as fh:
            fh.write(data)
        files.append(file)
    out_r, out_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(out_w, 1)
            os.closerange(3, 1 << 16)
            os.execv(sys.executable, [sys.executable, "-I", path, *files])
        finally:
            os._exit(127)
    os.close(out_w)
    pidfd = os.pidfd_open(pid)
    try:
        deadline = time.monotonic() + CHECKER_TIMEOUT_S
        pumped = pump({"stdout": out_r}, budget=1 << 20, deadline=deadline, done_fd=pidfd)
        if pumped.timed_out:
            os.kill(pid, 9)
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    for file in files:
        os.unlink(file)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    lines = pumped.data["stdout"].decode("utf-8", "replace").splitlines()
    return {"exit": code, "message": (lines[0] if lines else "")[:500]}
