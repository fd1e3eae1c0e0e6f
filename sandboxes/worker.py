"""One warm runner container and the JSON-lines channel to its fork server (the attach socket)."""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import struct
import time
from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound

from sandboxes.profile import UID_RANGE, ContainerLimits, create_container, hardened_config
from sandboxes.runner.codec import loads_bounded

log = logging.getLogger(__name__)


class InfraError(Exception):
    """The sandbox itself failed (engine unreachable, container gone): retried, never a verdict."""


class ContainerBroken(InfraError):
    """A started container failed during a job (it died, or its fork server answered nonsense):
    retried once on a fresh container; if the job breaks that one too, it is the job's doing."""


class ContainerDied(ContainerBroken):
    """The container's stream ended (it died, or was killed)."""

    def __init__(self, message: str, oom_killed: bool):
        super().__init__(message)
        self.oom_killed = oom_killed


class AnswerTimeout(Exception):
    """The fork server did not answer in time (it enforces the deadline itself, so this is rare)."""


class Worker:
    """A started container whose PID 1 is the fork server; ``request`` sends a line, reads a line."""

    def __init__(
        self,
        client: docker.DockerClient,
        image: str,
        labels: dict[str, str],
        limits: ContainerLimits,
        runtime: str | None = None,
        uid_base: int = UID_RANGE[0],
    ):
        self.jobs = 0
        self.uid_base = uid_base
        self._client = client
        self._container: Any = None
        self._response_sock: Any = None
        self._sock: socket.socket | None = None
        self._buf = b""
        self._line = b""
        self.stderr = b""
        try:
            config = hardened_config(image, labels, limits, runtime, uid_base)
            self._container = create_container(client, config)
            # Attach before start so nothing the server writes is missed.
            self._response_sock = self._container.attach_socket(
                params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            self._sock = getattr(self._response_sock, "_sock", self._response_sock)
            self._container.start()
            pong = self.request({"op": "ping"}, timeout=30.0)
        # InfraError: the ping found the container dead (ContainerDied) or the server talking
        # nonsense; like the others, the half-made container must not outlive this constructor.
        except (DockerException, OSError, AnswerTimeout, InfraError) as e:
            raise InfraError(f"cannot start a runner container: {e}{self._close_after_failure()}") from e
        if pong.get("op") != "pong":
            raise InfraError(f"runner container answered {pong!r} to ping{self._close_after_failure()}")
        self.info = pong

    def _close_after_failure(self) -> str:
        """Close a half-made worker; a failure to remove it (engine gone too) joins the start error
        instead of replacing it, so the caller still gets an InfraError (the reaper and the pool's
        session sweep remove the container later)."""
        try:
            self.close()
        except (DockerException, OSError) as e:
            return f"; removing the container failed too: {e}"
        return ""

    @property
    def id(self) -> str:
        return str(self._container.id) if self._container is not None else ""

    def request(self, payload: dict[str, Any], timeout: float, max_bytes: int = 1 << 20) -> dict[str, Any]:
        """Send one line, read one line of at most ``max_bytes`` (bounded in size and depth)."""
        if self._sock is None:
            raise InfraError("worker is closed")
        try:
            self._sock.sendall(json.dumps(payload, separators=(",", ":")).encode() + b"\n")
        except OSError as e:
            raise self._died(f"cannot send to the fork server: {e}") from e
        deadline = time.monotonic() + timeout
        while b"\n" not in self._line:
            if len(self._line) > max_bytes:
                raise ContainerBroken(f"the fork server's answer exceeds {max_bytes} bytes")
            self._read_frame(deadline)
        line, _, self._line = self._line.partition(b"\n")
        try:
            answer = loads_bounded(line, max_bytes, max_depth=8)
        except ValueError as e:
            raise ContainerBroken(f"fork server sent a malformed line: {line[:200]!r} ({e})") from e
        if not isinstance(answer, dict):
            raise ContainerBroken(f"fork server sent {str(answer)[:200]!r}")
        return answer

    def _read_frame(self, deadline: float) -> None:
        header = self._read_exact(8, deadline)
        stream, size = header[0], struct.unpack(">I", header[4:])[0]
        data = self._read_exact(size, deadline)
        if stream == 1:
            self._line += data
        else:
            self.stderr = (self.stderr + data)[-65536:]

    def _read_exact(self, n: int, deadline: float) -> bytes:
        assert self._sock is not None
        while len(self._buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AnswerTimeout("the fork server did not answer in time")
            ready, _, _ = select.select([self._sock], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = self._sock.recv(1 << 20)
            except OSError as e:
                raise self._died(f"attach socket failed: {e}") from e
            if not chunk:
                raise self._died("the runner container closed its output")
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _died(self, message: str) -> ContainerDied:
        oom = False
        container = self._container
        try:
            if container is not None:
                container.reload()
                oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        except (DockerException, OSError) as e:
            # auto_remove may already have taken it: a plain death, but say why OOM is unknown.
            log.info("container %s died and cannot be inspected (%s): not counted as OOM", container.id, e)
        tail = self.stderr[-500:].decode("utf-8", "replace")
        return ContainerDied(f"{message}{'; fork server said: ' + tail if tail else ''}", oom_killed=oom)

    def kill(self) -> None:
        """Kill and remove the container but leave the attach socket open: any thread may call it,
        also while another reads the socket (that reader sees the stream end: ``ContainerDied``)."""
        container = self._container  # the holder may be closing it at the same time
        if container is not None:
            try:
                container.remove(force=True)
            except NotFound:
                log.debug("container %s was already removed", container.id)
            except APIError as e:
                if e.status_code != 409:  # 409: auto_remove is already removing it
                    raise

    def close(self) -> None:
        """Kill and remove the container and close the socket; only by the thread that holds the
        worker. Safe to call twice and on a half-made worker."""
        if self._response_sock is not None:
            with contextlib.suppress(OSError):
                self._response_sock.close()
            self._response_sock = self._sock = None
        self.kill()
        self._container = None
