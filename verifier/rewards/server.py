"""``verify serve``: OpenRLHF's remote reward protocol over HTTP, on the standard library.

``POST /get_reward`` with ``{"query": [...], "prompts": [...], "labels": [...]}`` (query = prompt +
response) answers ``{"rewards": [...], "scores": [...], "extra_logs": {...}, "missing": [...]}``;
``GET /health`` answers the counters. At most ``max_concurrent`` requests are scored at once; the
others wait up to ``queue_timeout_s`` for a turn, then get 503. Bad requests get a 4xx with a JSON
``{"error": ...}``; an unexpected failure is a 500 with its type, never a dead server.

The standard library's ``ThreadingHTTPServer`` is enough here: one request is one batch of up to a
few hundred completions that takes milliseconds to seconds, so the server's own overhead does not
matter and we avoid a web framework dependency.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from verifier.rewards.core import DEFAULT_DEADLINE_S, RewardOptions
from verifier.rewards.inputs import AnyProblem, BadInput
from verifier.rewards.openrlhf import extra_logs, score_queries
from verifier.rewards.stats import STATS

log = logging.getLogger("verifier.rewards.server")

MAX_BODY_BYTES = 64 * 1024 * 1024


class OnMissing(str, Enum):
    """What a reward the checker could not decide becomes on the wire (OpenRLHF cannot take null)."""

    ZERO = "zero"  # 0.0, with its index in "missing" and a count in extra_logs
    NULL = "null"  # JSON null
    RETRY = "retry"  # the whole request fails with 503: OpenRLHF's client retries it


class RewardRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: list[str]
    prompts: list[str] | None = None
    labels: list[JsonValue] = Field(default_factory=list)


@dataclass(frozen=True)
class ServeConfig:
    deadline_s: float = DEFAULT_DEADLINE_S
    partial_credit: bool = False
    max_concurrent: int = 4
    queue_timeout_s: float = 30.0
    on_missing: OnMissing = OnMissing.ZERO
    bank: Mapping[str, AnyProblem] | None = None


class HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body = {"error": message, **extra}


class RewardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], config: ServeConfig):
        super().__init__(address, _Handler)
        self.config = config
        self.slots = threading.BoundedSemaphore(config.max_concurrent)
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def health(self) -> dict[str, Any]:
        with self._lock:
            in_flight = self._in_flight
        return {
            "status": "ok",
            "in_flight": in_flight,
            "max_concurrent": self.config.max_concurrent,
            **STATS.snapshot(),
        }

    def get_reward(self, body: bytes) -> dict[str, Any]:
        try:
            request = RewardRequest.model_validate_json(body)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "body"
            raise HttpError(HTTPStatus.BAD_REQUEST, f"{where}: {first['msg']}") from None
        if not self.slots.acquire(timeout=self.config.queue_timeout_s):
            raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, "busy: too many requests in flight, retry later")
        with self._lock:
            self._in_flight += 1
        try:
            options = RewardOptions(
                deadline_s=self.config.deadline_s, partial_credit=self.config.partial_credit
            )
            try:
                results = score_queries(
                    request.query, request.prompts, request.labels, options=options, bank=self.config.bank
                )
            except BadInput as e:
                raise HttpError(HTTPStatus.UNPROCESSABLE_ENTITY, str(e)) from None
        finally:
            with self._lock:
                self._in_flight -= 1
            self.slots.release()
        missing = [i for i, r in enumerate(results) if r.score is None]
        policy = self.config.on_missing
        if missing and policy is OnMissing.RETRY:
            raise HttpError(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"{len(missing)} rewards could not be decided",
                missing=missing,
            )
        fill = None if policy is OnMissing.NULL else 0.0
        rewards = [fill if r.score is None else r.score for r in results]
        return {
            "rewards": rewards,
            "scores": rewards,
            "extra_logs": extra_logs(results),
            "missing": missing,
            "statuses": [r.status for r in results],
        }


class _Handler(BaseHTTPRequestHandler):
    server: RewardServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("%s " + format, self.client_address[0], *args)

    def _send(self, status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _fail(self, e: HttpError) -> None:
        headers = {"Retry-After": "1"} if e.status is HTTPStatus.SERVICE_UNAVAILABLE else None
        self._send(e.status, e.body, headers)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.rstrip("/") in ("/health", "/healthz"):
            self._send(HTTPStatus.OK, self.server.health())
        elif self.path.rstrip("/") == "/get_reward":
            self._fail(HttpError(HTTPStatus.METHOD_NOT_ALLOWED, "use POST /get_reward"))
        else:
            self._fail(HttpError(HTTPStatus.NOT_FOUND, f"no such endpoint {self.path}; try POST /get_reward"))

    def do_POST(self) -> None:  # noqa: N802
        try:
            if self.path.rstrip("/") != "/get_reward":
                raise HttpError(HTTPStatus.NOT_FOUND, f"no such endpoint {self.path}; try POST /get_reward")
            body = self._body()
            self._send(HTTPStatus.OK, self.server.get_reward(body))
        except HttpError as e:
            self._fail(e)
        except Exception as e:  # noqa: BLE001 - one bad request must not take the server down; logged
            log.exception("internal error answering %s", self.path)
            self._fail(
                HttpError(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(e).__name__}: {e}")
            )

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
        try:
            size = int(length)
        except ValueError:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"bad Content-Length {length!r}") from None
        if size < 0 or size > MAX_BODY_BYTES:
            self.close_connection = True
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
        return self.rfile.read(size)


def make_server(host: str = "127.0.0.1", port: int = 5000, config: ServeConfig | None = None) -> RewardServer:
    return RewardServer((host, port), config or ServeConfig())


@contextmanager
def serving(
    host: str = "127.0.0.1", port: int = 0, config: ServeConfig | None = None
) -> Iterator[RewardServer]:
    """A server answering in a background thread (port 0 = any free port); shut down on exit."""
    server = make_server(host, port, config)
    thread = threading.Thread(target=server.serve_forever, name="reward-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
