"""The candidate's process and the harness's end of the line to it.

The job process forks the candidate process before it has a job, while it is still root; the
candidate process drops at once to its own fresh uid, closes the result, token and job channels,
makes its work directory and waits. So in every mode the candidate's code runs in a process that
never held the tests, the expected values, the result channel or the token, and whose uid can
touch nothing but itself. Assert and call styles: it loads the program and answers calls (values
cross tagged, see ``codec``). Stdio style: it forks one child per case, on the fds the harness sends.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import json
import os
import select
import socket
import sys
import time
import traceback
import types
from typing import Any

from . import codec, procstate
from .framing import LineReader, LineTooLong, send_json
from .report import describe, tail_traceback

REPLY_LIMIT = 64 << 20
# Requests may be sent ahead of their replies (call style sends the program and every case at
# once: one wake-up of the candidate process instead of one per case), up to this many bytes in
# flight, well under a socket's buffer, so sending never blocks while the other side writes.
WINDOW = 64 << 10


class CandidateGone(Exception):
    """The candidate process exited or broke the protocol; ``status`` says how it ended, if known."""

    def __init__(self, message: str, status: str = ""):
        super().__init__(f"{message}{': ' + status if status else ''}")


class CaseTimeout(Exception):
    """No answer by the case's (or the job's) deadline."""


class BadValue(AssertionError):
    """The candidate returned something that cannot leave its process (not a value we rebuild)."""


# ---------------------------------------------------------------- the harness's side


class CandidateProcess:
    """Forked by the (still privileged) job process; ``uid`` is the candidate's own."""

    def __init__(self, uid: int, close_fds: tuple[int, ...]):
        ours, theirs = socket.socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                ours.close()
                for fd in close_fds:
                    os.close(fd)
                procstate.drop_to(uid)
                procstate.set_dumpable(1)  # its own uid: nothing to protect; /proc/self works as usual
                _Server(theirs).serve()
            except BaseException:  # noqa: BLE001 - say why on the job's stderr, exit non-zero
                code = 72
                with contextlib.suppress(OSError):
                    os.write(2, f"candidate process: {traceback.format_exc()[-1500:]}".encode())
            finally:
                with contextlib.suppress(OSError, ValueError):  # what the program printed
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        theirs.close()
        self.pid = pid
        self._sock = ours
        self._reader = LineReader(ours.fileno(), limit=REPLY_LIMIT)
        self._status = ""
        self._ahead: collections.deque[bytes] = collections.deque()
        self._inflight: collections.deque[int] = collections.deque()
        self._inflight_bytes = 0
        self.names: set[str] = set()

    @property
    def fd(self) -> int:
        return self._sock.fileno()

    def request(self, message: dict[str, Any], deadline: float) -> dict[str, Any]:
        """Send one request and wait for its reply (after those of requests posted before it)."""
        self.post(message)
        return self.receive(deadline)

    def post(self, message: dict[str, Any]) -> None:
        """Queue a request; its reply comes, in order, from a later ``receive`` (never raises: a
        request that cannot be sent shows as the end of the replies)."""
        self._ahead.append(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        self._flush()

    def _flush(self) -> None:
        while self._ahead and (not self._inflight or self._inflight_bytes + len(self._ahead[0]) <= WINDOW):
            data = self._ahead.popleft()
            try:
                self._sock.sendall(data)
            except OSError:
                # It stopped reading (it exited after a failed load, say): what it already
                # answered is still to be read; ``receive`` then sees the end of the stream.
                self._ahead.clear()
                return
            self._inflight.append(len(data))
            self._inflight_bytes += len(data)

    def send_case(self, index: int, fds: tuple[int, int, int]) -> None:
        """Ask for case ``index`` on (stdin, stdout, stderr); its end comes later (``receive``)."""
        data = b'{"case":%d}\n' % index
        try:
            socket.send_fds(self._sock, [data], list(fds))
        except OSError as e:
            raise CandidateGone("the candidate process is gone", self.end_status()) from e
        self._inflight.append(len(data))
        self._inflight_bytes += len(data)

    def receive(self, deadline: float) -> dict[str, Any]:
        while not self._reader.buffered():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CaseTimeout
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                break
        try:
            line = self._reader.readline()
            reply = None if line is None else codec.loads_bounded(line, REPLY_LIMIT)
        except (LineTooLong, ValueError) as e:
            raise CandidateGone(f"the candidate process broke the protocol ({e})") from e
        except OSError as e:
            raise CandidateGone("the candidate process is gone", self.end_status()) from e
        if reply is None:
            raise CandidateGone("the candidate process exited", self.end_status())
        if not isinstance(reply, dict):
            raise CandidateGone("the candidate process broke the protocol")
        if self._inflight:
            self._inflight_bytes -= self._inflight.popleft()
            self._flush()
        return reply

    def end_status(self, wait_s: float = 0.2) -> str:
        """How the candidate process ended (it is our child): 'exit code N' / 'killed by signal N';
        waits up to ``wait_s`` for it (on a pidfd: no polling), '' if it is still running."""
        if self._status:
            return self._status
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            pidfd = -1
        if pidfd >= 0:
            try:
                select.select([pidfd], [], [], wait_s)
            finally:
                os.close(pidfd)
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return ""
        if pid:
            self._status = (
                f"killed by signal {os.WTERMSIG(status)}"
                if os.WIFSIGNALED(status)
                else f"exit code {os.WEXITSTATUS(status)}"
            )
        return self._status

    def close(self, wait: bool) -> None:
        """End the request stream; with ``wait``, reap the process (else the fork server would
        count a leftover); a process still running after a timeout is left to the fork server."""
        self._sock.close()
        if wait and not self._status:
            self.end_status(wait_s=1.0)


# ---------------------------------------------------------------- the candidate's side


class _Server:
    """In the candidate process: wait for the program, then answer calls or run cases."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._fd = sock.fileno()
        self._buf = b""
        self._fds: list[int] = []
        self._namespace: dict[str, Any] = {"__name__": "candidate", "__builtins__": builtins}
        self._refs: dict[int, Any] = {}
        self._code: Any = None
        self._plain = False  # True once no fds can come (assert and call styles)
        procstate.set_name(b"candidate")

    def send(self, record: dict[str, Any]) -> None:
        send_json(self._fd, record)

    def _next(self) -> tuple[dict[str, Any], list[int]] | None:
        """The next request and the fds that came with it (each request waits for its answer)."""
        while b"\n" not in self._buf:
            fds: list[int]
            if self._plain:
                msg, fds = os.read(self._fd, 1 << 16), []
            else:
                msg, fds, _flags, _addr = socket.recv_fds(self._sock, 1 << 16, 3)
            self._fds += fds
            if not msg:
                return None
            self._buf += msg
        line, _, self._buf = self._buf.partition(b"\n")
        fds, self._fds = self._fds, []
        return json.loads(line), fds

    def serve(self) -> None:
        home = procstate.make_private_dir("/tmp")
        os.chdir(home)
        procstate.reset_environment(home)
        first = self._next()
        if first is None:
            return  # the job never came (the fork server is shutting down)
        load = first[0]
        procstate.apply_rlimits(procstate.job_rlimits(float(load["timeout_s"]), int(load["memory_mb"])))
        self._plain = load["mode"] != "stdio"
        if not self._plain:
            # Stdio: the program runs only in the children; keep them (same uid) out of this
            # process's memory, which reports their exit statuses.
            procstate.set_dumpable(0)
        if not self._load(load):
            return
        while (request := self._next()) is not None:
            message, fds = request
            if "case" in message:
                self.send(self._run_case(int(message["case"]), fds))
            else:
                self.send(self._answer(message))

    def _load(self, load: dict[str, Any]) -> bool:
        try:
            self._code = compile(load["program"], "<candidate>", "exec")
        except (SyntaxError, ValueError) as e:
            self.send({"phase": "compile", **describe(e)})
            return False
        if load["mode"] == "stdio":
            self.send({"ready": True})
            return True
        try:
            exec(self._code, self._namespace)
        except BaseException as e:  # noqa: BLE001 - SystemExit included: a verdict, not a crash
            self.send({"phase": "program", **describe(e), "traceback": tail_traceback()})
            return False
        names = sorted(k for k in self._namespace if not k.startswith("__"))
        # Modules the program imported (tests may use them, as in one shared namespace): by name,
        # so the tests import their own copy instead of calling into this process.
        modules = {
            k: v.__name__
            for k, v in self._namespace.items()
            if k in names and isinstance(v, types.ModuleType)
        }
        self.send({"ready": True, "names": names[:10000], "modules": dict(list(modules.items())[:1000])})
        return True

    # ---- calls (assert and call styles)

    def _keep(self, obj: Any) -> dict[str, int]:
        ref = len(self._refs) + 1
        self._refs[ref] = obj
        return {"ref": ref}

    def _resolve(self, tag: str, body: Any) -> Any:
        if tag == "ref":
            return self._refs[int(body)]
        return self._namespace[str(body)]

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        keep = self._keep if request.get("refs") else None
        try:
            result = self._perform(request)
        except BaseException as e:  # noqa: BLE001 - the candidate's exception is the answer
            return describe(e)
        try:
            return {"value": codec.encode(result, keep)}
        except (TypeError, ValueError, RecursionError) as e:
            return {"bad_value": describe(e)["message"]}

    def _perform(self, request: dict[str, Any]) -> Any:
        args = codec.decode(request.get("args", []), self._resolve)
        kwargs = codec.decode(request.get("kwargs", {"dict": []}), self._resolve)
        if "call" in request:
            fn = self._namespace.get(request["call"])
            if not callable(fn):
                raise NameError(f"{request['call']!r} is not defined")
            return fn(*args, **kwargs)
        obj = self._refs[int(request["ref"])]
        op = request["op"]
        if op == "call":
            return obj(*args, **kwargs)
        if op == "getattr":
            return getattr(obj, str(request["name"]))
        if op == "eq":
            return bool(obj == args[0])
        if op == "repr":
            return repr(obj)[:2000]
        if op == "str":
            return str(obj)[:2000]
        if op == "len":
            return len(obj)
        if op == "bool":
            return bool(obj)
        if op == "hash":
            return hash(obj)
        if op == "iter":
            return list(obj)
        if op == "getitem":
            return obj[args[0]]
        if op == "contains":
            return args[0] in obj
        raise ValueError(f"unknown operation {op!r}")

    # ---- stdio cases

    def _run_case(self, index: int, fds: list[int]) -> dict[str, Any]:
        stdin, out, err = fds
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                self._sock.close()
                os.dup2(stdin, 0)
                os.dup2(out, 1)
                os.dup2(err, 2)
                for fd in fds:
                    os.close(fd)
                procstate.set_dumpable(1)  # its own /proc/self as usual
                code = _exec_main(self._code)
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            return {"case": index, "exit_code": None, "signal": os.WTERMSIG(status)}
        return {"case": index, "exit_code": os.WEXITSTATUS(status), "signal": None}


def _exec_main(code: Any) -> int:
    sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    try:
        exec(code, {"__name__": "__main__", "__builtins__": builtins})
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - print it as Python would, exit 1
        traceback.print_exc()
        status = 1
    else:
        status = 0
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return status
