"""A math pool shared by short-lived processes: one server per user and installation, on a socket.

verl's prime reward manager scores every batch in a *new* pool of 64 processes. With a
``MathPool`` of their own, each of them starts a math worker (Python, SymPy, the LaTeX parser:
about a second of CPU) every batch: on a few cores that is minutes. ``SharedMathPool`` is a
``MathPool`` whose tasks go to one server process instead, started by the first process that needs
it and found by the others at a fixed Unix socket (``socket_path()``: private to the user, one per
installation and interpreter). The server outlives the processes that use it (its own session)
and exits after ``idle_exit_s`` without a connection.

Deadlines are the server pool's (a task's CPU time, start-ups excluded); the wait for one of the
server's workers has its own budget (``wait_s``), since many processes share them. Starting the
server, like starting a worker, is not charged to any deadline (``budget()``).

Run as ``python -m verifier.math.shared PATH WORKERS IDLE_EXIT_S`` (what the client does).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from verifier.math.compare import Decision
from verifier.math.pool import DEFAULT_START_TIMEOUT_S, WALL_FACTOR, WALL_SLACK_S, MathPool
from verifier.math.verdict import MathStatus

log = logging.getLogger("verifier.math")

DEFAULT_IDLE_EXIT_S = 600.0
DEFAULT_WAIT_S = 60.0
# A request whose connection fails is sent again on a new connection (starting a new server if
# the old one is gone): comparisons are pure, so a repeat is harmless.
_ATTEMPTS = 3  # for a free worker of the server: the reward core's batch deadline
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def socket_path() -> Path:
    """The server's socket: in a directory only this user can enter, one per installation."""
    key = hashlib.sha256(f"{_PACKAGE_ROOT}\0{sys.executable}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"verifier-{os.getuid()}" / f"math-{key}.sock"


def _server_workers() -> int:
    return max(2, min(16, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2))


class SharedMathPool(MathPool):
    """A ``MathPool`` whose tasks run in the shared server (started on first use)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        workers: int | None = None,
        wait_s: float = DEFAULT_WAIT_S,
        idle_exit_s: float = DEFAULT_IDLE_EXIT_S,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
    ):
        super().__init__(workers=workers or _server_workers(), start_timeout_s=start_timeout_s)
        self.path = path or socket_path()
        self.wait_s = wait_s
        self.idle_exit_s = idle_exit_s
        self._free: list[socket.socket] = []  # idle connections, reused by any thread
        self._conns: set[socket.socket] = set()  # all open ones, for close()

    # -- connection -------------------------------------------------------------------------------
    def _connect_once(self) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            return None
        return sock

    def _connect(self) -> socket.socket:
        """A connection to the server, starting it if none answers (the start is not charged)."""
        sock = self._connect_once()
        if sock is not None:
            return sock
        with self._startup.waiting():
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self.path.parent.stat()
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                # Another user's directory (made before ours, in a shared /tmp) could hold their server.
                raise OSError(
                    f"{self.path.parent} is not private to this user (mode {info.st_mode & 0o777:o})"
                )
            with open(self.path.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # one process starts the server, the others wait
                sock = self._connect_once()
                if sock is not None:
                    return sock
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()  # a stale socket of a server that is gone
                command = [sys.executable, "-m", "verifier.math.shared", str(self.path)]
                pythonpath = (str(_PACKAGE_ROOT), os.environ.get("PYTHONPATH", ""))
                proc = subprocess.Popen(
                    [*command, str(self.size), str(self.idle_exit_s)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # outlives this process (verl prime terminates it)
                    env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in pythonpath if p)},
                )
                give_up = time.monotonic() + self.start_timeout_s
                while time.monotonic() < give_up and proc.poll() is None:
                    sock = self._connect_once()
                    if sock is not None:
                        return sock
                    time.sleep(0.05)
                raise OSError(
                    f"the math server did not start (exit {proc.poll()}) within {self.start_timeout_s:g} s"
                )

    def _take_conn(self, *, fresh: bool = False) -> socket.socket:
        """An idle connection (unless ``fresh``), or a new one; a thread holds it for one request,
        then puts it back."""
        with self._lock:
            if self._free and not fresh:
                return self._free.pop()
        sock = self._connect()
        with self._lock:
            self._conns.add(sock)
        return sock

    def _put_conn(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._closed:
                self._free.append(sock)
                return
        self._discard(sock)

    def _discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.discard(sock)
        sock.close()

    # -- MathPool interface -----------------------------------------------------------------------
    def start(self) -> SharedMathPool:
        self._ensure_open()
        self._put_conn(self._take_conn())
        return self

    def run(self, task: dict[str, str], *, timeout_s: float, wait_s: float | None = None) -> Decision:
        self._ensure_open()
        wait = self.wait_s if wait_s is None else wait_s
        request = (json.dumps({**task, "timeout_s": timeout_s, "wait_s": wait}) + "\n").encode()
        # The server answers within wait + its own caps; a worker start there is bounded apart.
        budget_s = wait + timeout_s * WALL_FACTOR + WALL_SLACK_S + self.start_timeout_s
        for attempt in range(_ATTEMPTS):
            if attempt:
                time.sleep(0.2 * attempt)  # a server being killed may still accept a connection
            try:
                sock = self._take_conn(fresh=attempt > 0)
            except OSError as e:
                return Decision(MathStatus.ERROR, "worker-start", f"no math server: {e}")
            try:
                sock.sendall(request)
                line = self._read_line(sock, time.monotonic() + budget_s)
            except OSError as e:
                self._discard(sock)
                if self._closed:
                    return Decision(
                        MathStatus.ERROR, "closed", "the math pool was closed before the task finished"
                    )
                if attempt + 1 < _ATTEMPTS:
                    continue  # the server has gone (an idle connection to it, or one it died under)
                return Decision(
                    MathStatus.ERROR, "worker", f"math server connection failed ({type(e).__name__}: {e})"
                )
            if line is None:
                self._discard(sock)  # its answer may still come: the connection cannot be reused
                return Decision(MathStatus.TIMEOUT, "deadline", "no answer from the math server in time")
            self._put_conn(sock)
            answer = json.loads(line)
            return Decision(
                MathStatus(answer["status"]), answer.get("rule") or "worker", answer.get("reason", "")
            )
        raise AssertionError("unreachable: the last attempt returns")

    @staticmethod
    def _read_line(sock: socket.socket, deadline: float) -> bytes | None:
        """One answer line (the server writes exactly one per request, so nothing follows it)."""
        buf = b""
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionResetError("the math server closed the connection")
            buf += chunk
        line, _, rest = buf.partition(b"\n")
        if rest:
            raise ConnectionError("the math server sent more than one answer")
        return line

    def close(self) -> None:
        """Close this process's connections; the server goes on serving others (it exits when idle)."""
        with self._lock:
            self._closed = True
            conns, self._conns, self._free = list(self._conns), set(), []
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def stop_server(self) -> None:
        """Ask the server to exit now (tests, and users who want it gone before its idle exit)."""
        sock = self._connect_once()
        if sock is None:
            return
        with sock, contextlib.suppress(OSError):  # a server already going away is what we want
            sock.sendall(b'{"op": "stop"}\n')
            sock.settimeout(30)
            sock.recv(1024)


_SHARED: dict[int, SharedMathPool] = {}
_SHARED_LOCK = threading.Lock()


def shared_pool() -> SharedMathPool:
    """This process's client of the shared server (a forked child gets its own connections)."""
    with _SHARED_LOCK:
        pool = _SHARED.get(os.getpid())
        if pool is None or pool._closed:
            pool = _SHARED[os.getpid()] = SharedMathPool()
        return pool


# -- the server ------------------------------------------------------------------------------------
class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 1024  # listen backlog: a prime batch connects 64 processes at once

    def __init__(self, path: str, pool: MathPool):
        self.pool = pool
        self.active = 0
        self.last_seen = time.monotonic()
        self.counter_lock = threading.Lock()
        super().__init__(path, _Handler)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        with self.server.counter_lock:
            self.server.active += 1
        try:
            for line in self.rfile:
                task = json.loads(line)
                if task.get("op") == "stop":
                    self.wfile.write(b'{"stopped": true}\n')
                    threading.Thread(target=self.server.shutdown, daemon=True).start()
                    return
                timeout_s, wait_s = float(task.pop("timeout_s")), float(task.pop("wait_s"))
                d = self.server.pool.run(task, timeout_s=timeout_s, wait_s=wait_s)
                self.wfile.write(
                    (
                        json.dumps({"status": d.status.value, "rule": d.rule, "reason": d.reason}) + "\n"
                    ).encode()
                )
                self.wfile.flush()
        except (OSError, ValueError, KeyError) as e:  # a client gone or a bad line: that connection only
            log.info("math server: connection ended (%s: %s)", type(e).__name__, e)
        finally:
            with self.server.counter_lock:
                self.server.active -= 1
                self.server.last_seen = time.monotonic()


def serve(path: Path, workers: int, idle_exit_s: float) -> None:
    pool = MathPool(workers=workers).start()  # warm before it can be found: clients wait, uncharged
    tmp = path.with_name(f"{path.name}.{os.getpid()}")
    server = _Server(str(tmp), pool)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)  # appears at once, ready
    inode = os.stat(path).st_ino

    def idle_watch() -> None:
        while True:
            time.sleep(1.0)
            with server.counter_lock:
                idle = server.active == 0 and time.monotonic() - server.last_seen > idle_exit_s
            if idle:
                server.shutdown()
                return

    threading.Thread(target=idle_watch, name="idle-exit", daemon=True).start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_ino == inode:  # not a newer server's socket
                path.unlink()
        pool.close()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
