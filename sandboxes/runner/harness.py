"""Runs one candidate's tests inside the job process and reports on the result channel.

Standard library only: this file is copied into the runner image and also imported on the host by
unit tests. The job process was forked ahead of its job (a "spare", by the zygote); the fork server
writes the job's random token into a pipe only after sending the job.

Assert style (HumanEval): the tests need the candidate's return values in-process, so the candidate
runs in a candidate process forked before the job arrived, without the result, token and job
channels: it never holds the tests, the expected values or the token. This test process (made
non-dumpable, so the candidate cannot read its memory or fds through /proc) calls the candidate's
function over a pipe; return values cross as tagged plain data rebuilt as genuine builtins, so an
object whose ``__eq__`` always says True cannot cross. Call style: expected values never enter the
sandbox, so the candidate runs here (one process less); its return values must be plain JSON by
exact type and are compared on the host. Stdio style: each case runs in a forked process without
the result channel, and outputs are compared on the host.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import functools
import json
import math
import os
import resource
import select
import sys
import time
import traceback
from typing import Any

PR_SET_DUMPABLE = 4


# ---------------------------------------------------------------- tagged values (assert style)


def encode(value: Any, depth: int = 0) -> Any:
    """A builtin value as JSON, by exact type, tagging what JSON lacks; anything else is refused."""
    t = type(value)
    if depth > 100:
        raise ValueError("value nested too deeply")
    if t in (bool, int, float, str) or value is None:
        return value
    if t is list:
        return [encode(v, depth + 1) for v in value]
    if t is tuple:
        return {"tuple": [encode(v, depth + 1) for v in value]}
    if t is dict:
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if t in (set, frozenset):
        return {t.__name__: [encode(v, depth + 1) for v in value]}
    if t is bytes:
        return {"bytes": value.hex()}
    if t is complex:
        return {"complex": [value.real, value.imag]}
    raise TypeError(f"a value of type {t.__name__} cannot leave the candidate process")


def decode(data: Any) -> Any:
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    (tag, body), *_ = data.items()
    if tag == "tuple":
        return tuple(decode(v) for v in body)
    if tag == "dict":
        return {decode(k): decode(v) for k, v in body}
    if tag == "set":
        return {decode(v) for v in body}
    if tag == "frozenset":
        return frozenset(decode(v) for v in body)
    if tag == "bytes":
        return bytes.fromhex(body)
    if tag == "complex":
        return complex(*body)
    raise ValueError(f"unknown tag {tag!r}")


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
        self.fd = fd

    def emit(self, record: dict[str, Any]) -> None:
        _write_all(self.fd, self._prefix + json.dumps(record, separators=(",", ":")).encode() + b"\n")


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


def run_job(job: dict[str, Any], result_fd: int, token_fd: int, candidate: CandidateProcess) -> None:
    """Run the job's tests. ``candidate`` was forked before this process received the job, so it
    never held the tests; the token is read from ``token_fd`` only after the candidate is isolated."""
    mode = job["mode"]
    set_dumpable(0)  # candidates run as our uid: keep them out of our memory and fds
    if mode == "assert":
        candidate.load(job)
    else:
        candidate.release()  # not needed: it exits while we work
    report = Reporter(read_token(token_fd), result_fd)
    if mode == "assert":
        _run_assert(job, candidate, report)
    elif mode == "call":
        _run_call(job, report)
    elif mode == "stdio":
        _run_stdio(job, report)
    else:
        report.emit({"phase": "harness", "error": "UnknownMode", "message": str(mode)})
    candidate.close()  # let it exit now, or the fork server counts it as a leftover process
    report.emit({"done": True})


def apply_limits(job: dict[str, Any]) -> None:
    """rlimits of a job process: CPU time, address space, file size, open files, no core dumps."""
    cpu = math.ceil(float(job["timeout_s"])) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    mem = int(job["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    fsize = int(job.get("file_limit", 16 * 1024 * 1024))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def read_token(fd: int) -> str:
    data = b""
    while chunk := os.read(fd, 64):
        data += chunk
    os.close(fd)
    return data.decode()


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def set_dumpable(flag: int) -> None:
    """prctl(PR_SET_DUMPABLE): when off, /proc/PID/{mem,fd,...} of this process are closed to its uid."""
    if _libc().prctl(PR_SET_DUMPABLE, flag, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl(PR_SET_DUMPABLE, {flag}) failed")


def _compile_program(job: dict[str, Any], report: Reporter) -> Any:
    try:
        return compile(job["program"], "<candidate>", "exec")
    except (SyntaxError, ValueError) as e:
        report.emit({"phase": "compile", **describe(e)})
        return None


def _run_assert(job: dict[str, Any], candidate: CandidateProcess, report: Reporter) -> None:
    if candidate.failure is not None:
        report.emit(candidate.failure)
        return
    # The test namespace: the problem's prompt (trusted bank text: its helpers, e.g. HumanEval's
    # ``poly``, are used by some tests), the test code, and the entry point bound to the proxy
    # (some tests call it by name, as HumanEval's shared namespace allowed).
    entry = job["entry_point"]
    proxy = candidate.function(entry)
    namespace: dict[str, Any] = {"__name__": "tests", "__builtins__": builtins}
    try:
        exec(compile(job.get("prelude", ""), "<prompt>", "exec"), namespace)
        exec(compile(job["test_code"], "<tests>", "exec"), namespace)
        check = namespace["check"]
    except BaseException as e:  # noqa: BLE001 - broken bank tests are reported, not raised
        report.emit({"phase": "harness", **describe(e)})
        return
    namespace[entry] = proxy
    try:
        check(proxy)
    except BaseException as e:  # noqa: BLE001
        report.emit({"phase": "test", **describe(e), "traceback": _tail_traceback()})
        return
    report.emit({"phase": "test", "ok": True})


class BadValue(AssertionError):
    """The candidate returned something that cannot leave its process (not a builtin value)."""


class CandidateGone(Exception):
    """The candidate process exited or broke the call protocol during the tests."""


class CandidateProcess:
    """A process forked ahead of the job that loads the candidate's program when told, then answers
    calls over a pair of pipes. It is forked before the job arrives, so it never holds the tests,
    the expected values or the token; it closes the result, token and job channels at once."""

    def __init__(self, close_fds: tuple[int, ...]):
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                for fd in (req_w, resp_r, *close_fds):
                    os.close(fd)
                _serve(req_r, resp_w)
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(0)
        os.close(req_r)
        os.close(resp_w)
        self.pid = pid
        self._req = req_w
        self._resp = LineReader(resp_r)
        self._closed = False
        self.failure: dict[str, Any] | None = None

    def load(self, job: dict[str, Any]) -> None:
        """Send the program, the limits and the work directory; wait for "ready" or the failure."""
        keys = ("program", "timeout_s", "memory_mb", "file_limit", "workdir")
        try:
            _write_all(self._req, json.dumps({k: job[k] for k in keys if k in job}).encode() + b"\n")
            first = self._receive()
        except (OSError, CandidateGone) as e:
            self.failure = {"phase": "program", "error": "CandidateGone", "message": str(e)}
            return
        if first is None:
            self.failure = {
                "phase": "program",
                "error": "SystemExit",
                "message": "the program exited while loading",
            }
        elif not first.get("ready"):
            self.failure = first

    def function(self, name: str) -> Any:
        def candidate(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, args, kwargs)

        return candidate

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        request = {"call": name, "args": encode(list(args)), "kwargs": encode(kwargs)}
        try:
            _write_all(self._req, json.dumps(request).encode() + b"\n")
        except OSError as e:
            raise CandidateGone("the candidate process is gone") from e
        reply = self._receive()
        if reply is None:
            raise CandidateGone("the candidate process exited during the tests")
        if "bad_value" in reply:  # e.g. an always-equal object: a wrong answer, like a failed assert
            raise BadValue(reply["bad_value"])
        if "error" in reply:
            raise _rebuild_exception(reply)
        return decode(reply["value"])

    def release(self) -> None:
        """End the request stream; the candidate process exits when it reads EOF."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                os.close(self._req)

    def close(self) -> None:
        """Release it and wait for its exit (else the fork server would count a leftover process)."""
        self.release()
        if self.pid:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0

    def _receive(self) -> dict[str, Any] | None:
        line = self._resp.readline()
        if line is None:
            return None
        try:
            reply = json.loads(line)
        except ValueError as e:
            raise CandidateGone("the candidate process sent garbage") from e
        if not isinstance(reply, dict):
            raise CandidateGone("the candidate process sent garbage")
        return reply


def _serve(req_r: int, resp_w: int) -> None:
    """In the candidate process: wait for the program, load it, answer calls until the pipe closes."""

    def send(record: dict[str, Any]) -> None:
        _write_all(resp_w, json.dumps(record, separators=(",", ":")).encode() + b"\n")

    requests = LineReader(req_r)
    line = requests.readline()
    if line is None:
        return  # not needed (a stdio job)
    job = json.loads(line)
    os.chdir(job["workdir"])
    apply_limits(job)
    try:
        code = compile(job["program"], "<candidate>", "exec")
    except (SyntaxError, ValueError) as e:
        send({"phase": "compile", **describe(e)})
        return
    namespace: dict[str, Any] = {"__name__": "candidate", "__builtins__": builtins}
    try:
        exec(code, namespace)
    except BaseException as e:  # noqa: BLE001 - SystemExit included
        send({"phase": "program", **describe(e), "traceback": _tail_traceback()})
        return
    send({"ready": True})
    while (line := requests.readline()) is not None:
        request = json.loads(line)
        fn = namespace.get(request["call"])
        try:
            if not callable(fn):
                raise NameError(f"{request['call']!r} is not defined")
            value = fn(*decode(request["args"]), **decode(request["kwargs"]))
        except BaseException as e:  # noqa: BLE001
            send(describe(e))
            continue
        try:
            send({"value": encode(value)})
        except (TypeError, ValueError, RecursionError) as e:
            send({"bad_value": describe(e)["message"]})


def _rebuild_exception(reply: dict[str, Any]) -> BaseException:
    """The candidate's exception as the same builtin type (tests may expect e.g. ValueError)."""
    kind = getattr(builtins, str(reply.get("error")), None)
    message = str(reply.get("message", ""))
    if isinstance(kind, type) and issubclass(kind, Exception) and kind is not AssertionError:
        try:
            return kind(message)
        except TypeError:  # an exception class with a different constructor
            pass
    return RuntimeError(f"{reply.get('error')}: {message}")


class LineReader:
    """Newline-framed reads from a raw fd (the fork server's stdin, the harness's pipes)."""

    def __init__(self, fd: int, chunk: int = 1 << 16):
        self._fd = fd
        self._chunk = chunk
        self._buf = b""

    def readline(self) -> bytes | None:
        while b"\n" not in self._buf:
            chunk = os.read(self._fd, self._chunk)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _run_call(job: dict[str, Any], report: Reporter) -> None:
    """In this process: the expected values never entered the sandbox, so a candidate that forges
    records here still has to produce the right values; each one must be plain JSON by exact type
    (an always-equal object, an ``int`` subclass cannot pass) and is compared on the host."""
    code = _compile_program(job, report)
    if code is None:
        return
    namespace: dict[str, Any] = {"__name__": "candidate", "__builtins__": builtins}
    try:
        exec(code, namespace)
    except BaseException as e:  # noqa: BLE001 - every failure of the candidate is a verdict, SystemExit included
        report.emit({"phase": "program", **describe(e), "traceback": _tail_traceback()})
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
        out = run_forked(
            functools.partial(_exec_main, code, stdin_path),
            budget=budget,
            deadline=None,
            close_fds=(report.fd,),
        )
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


def run_forked(
    body: Any, *, budget: int, deadline: float | None, close_fds: tuple[int, ...] = ()
) -> Finished:
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
            for fd in (out_r, out_w, err_r, err_w, *close_fds):
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
    fds: dict[str, int],
    *,
    budget: int,
    deadline: float | None,
    exited: Any,
    grace_s: float = 0.05,
    caps: dict[str, int] | None = None,
) -> Pumped:
    """Read the pipes until EOF, the child's exit (plus a short grace), a budget or the deadline.

    ``budget`` bounds the bytes of all streams together, except those with their own limit in
    ``caps``. Bytes are counted as they arrive, so 1 GB of output is stopped at the budget, not
    buffered. A background process that keeps a pipe open cannot stall us: after the child exits
    we stop reading after ``grace_s``. Every fd is closed on return.
    """
    caps = caps or {}
    res = Pumped(list(fds))
    parts: dict[int, list[bytes]] = {fd: [] for fd in fds.values()}
    names = {fd: n for n, fd in fds.items()}
    open_fds = set(fds.values())
    total = 0
    own = {fd: 0 for fd in fds.values()}
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
                name = names[fd]
                if name in caps:
                    own[fd] += len(chunk)
                    used, limit = own[fd], caps[name]
                else:
                    total += len(chunk)
                    used, limit = total, budget
                if used > limit:
                    parts[fd].append(chunk[: max(0, len(chunk) - (used - limit))])
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
