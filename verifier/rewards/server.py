"""``verify serve``: OpenRLHF's remote reward protocol over HTTP, on uvicorn + Starlette.

``POST /get_reward`` with ``{"query": [...], "prompts": [...], "labels": [...]}`` (query = prompt +
response) answers ``{"rewards": [...], "scores": [...], "extra_logs": {...}, "missing": [...],
"statuses": [...]}``; ``GET /health`` answers the counters. The stack is the one OpenRLHF's own
example reward server uses (``openrlhf/cli/serve_rm.py``: FastAPI on uvicorn).

OpenRLHF (0.10.2 and later) sends one request per sample, all of a rollout at once, and gives up on
a sample after 5 tries 1 s apart, which then crashes the run. So the server is built to answer a
burst: a listen backlog of 2048 (the standard library server's 5 reset a third of 512 connections),
requests wait their turn for one of ``max_concurrent`` scoring slots instead of being refused, and
every well-formed request gets numbers: a reward the checker could not decide, or a request that
did not get a slot within its deadline, is 0.0 flagged in ``missing`` (``null`` or a 503 only when
asked for with ``on_missing``). Bad requests get a 4xx with a JSON ``{"error": ...}``, bodies over
``max_body_bytes`` a 413, an unexpected failure a 500 with its type, never a dead server. On
SIGINT/SIGTERM uvicorn stops accepting and finishes the requests in flight.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from http import HTTPStatus
from typing import Any

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from verifier.rewards.core import DEFAULT_DEADLINE_S, RewardOptions
from verifier.rewards.inputs import AnyProblem, BadInput
from verifier.rewards.openrlhf import extra_logs, score_queries
from verifier.rewards.result import Missing, RewardResult, missing_result
from verifier.rewards.stats import STATS

log = logging.getLogger("verifier.rewards.server")

MAX_BODY_BYTES = 64 * 1024 * 1024
DEFAULT_BACKLOG = 2048
DEFAULT_MAX_CONCURRENT = 8
OPENRLHF_TIMEOUT_S = 180.0  # OpenRLHF's remote reward client gives a request this long
CLIENT_MARGIN_S = 30.0  # for the transfer, the parsing and a loaded machine, below the client's timeout


class OnMissing(str, Enum):
    """What a reward the checker could not decide becomes on the wire."""

    ZERO = "zero"  # 0.0, with its index in "missing" and a count in extra_logs (every trainer)
    NULL = "null"  # JSON null: only for a client that takes it (not OpenRLHF: torch.tensor([None]))
    RETRY = "retry"  # the whole request fails with 503 (OpenRLHF retries 5 times, then crashes)


class RewardRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: list[str]
    prompts: list[str] | None = None
    labels: list[JsonValue] = Field(default_factory=list)


@dataclass(frozen=True)
class ServeConfig:
    deadline_s: float = DEFAULT_DEADLINE_S  # per request, from its arrival: queueing included
    partial_credit: bool = False
    max_concurrent: int = DEFAULT_MAX_CONCURRENT  # requests scored at once; the others wait
    on_missing: OnMissing = OnMissing.ZERO
    bank: Mapping[str, AnyProblem] | None = None
    backlog: int = DEFAULT_BACKLOG
    max_body_bytes: int = MAX_BODY_BYTES
    graceful_shutdown_s: float = 30.0  # how long requests in flight may finish on shutdown
    end_tokens: tuple[str, ...] = field(default_factory=tuple)
    # The client's own HTTP timeout (OpenRLHF: 180 s). A request is answered within deadline_s plus
    # the waiting for math workers to start that is left out of it, and that pause is bounded so the
    # sum stays CLIENT_MARGIN_S under this.
    client_timeout_s: float = OPENRLHF_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.deadline_s <= 0 or self.max_concurrent < 1 or self.backlog < 1 or self.max_body_bytes < 1:
            raise ValueError("deadline_s, max_concurrent, backlog and max_body_bytes must be positive")
        if self.deadline_s + CLIENT_MARGIN_S > self.client_timeout_s:
            raise ValueError(
                f"deadline_s ({self.deadline_s:g} s) must end {CLIENT_MARGIN_S:g} s before the client's "
                f"timeout ({self.client_timeout_s:g} s)"
            )

    @property
    def max_startup_pause_s(self) -> float:
        """The most waiting for math workers to start left out of a request's deadline."""
        return self.client_timeout_s - CLIENT_MARGIN_S - self.deadline_s

    @property
    def worst_case_s(self) -> float:
        """The longest a well-formed request waits for its answer (scoring; the transfer apart)."""
        return self.deadline_s + self.max_startup_pause_s


class HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body = {"error": message, **extra}


class RewardService:
    """The server's state: scoring slots (a thread each), the counters, the request handlers."""

    def __init__(self, config: ServeConfig):
        self.config = config
        self._threads = ThreadPoolExecutor(config.max_concurrent, thread_name_prefix="reward-serve")
        self._slots: asyncio.Semaphore | None = None  # made on the server's event loop
        self._lock = threading.Lock()
        self.in_flight = 0
        self.waiting = 0
        self.answered = 0

    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.max_concurrent)
        return self._slots

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    def health(self) -> dict[str, Any]:
        with self._lock:
            counts = {"in_flight": self.in_flight, "waiting": self.waiting, "answered": self.answered}
        return {"status": "ok", "max_concurrent": self.config.max_concurrent, **counts, **STATS.snapshot()}

    async def _body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise HttpError(HTTPStatus.BAD_REQUEST, f"bad Content-Length {length!r}")
            if int(length) > limit:
                raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():  # a chunked body has no Content-Length to check
            size += len(chunk)
            if size > limit:
                raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _parse(body: bytes) -> RewardRequest:
        try:
            return RewardRequest.model_validate_json(body)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "body"
            raise HttpError(HTTPStatus.BAD_REQUEST, f"{where}: {first['msg']}") from None

    def _score(self, request: RewardRequest, deadline_s: float) -> list[RewardResult]:
        options = RewardOptions(
            deadline_s=deadline_s,
            partial_credit=self.config.partial_credit,
            end_tokens=self.config.end_tokens,
            max_startup_pause_s=self.config.max_startup_pause_s,
        )
        return score_queries(
            request.query, request.prompts, request.labels, options=options, bank=self.config.bank
        )

    async def get_reward(self, request: Request) -> JSONResponse:
        arrived = time.monotonic()
        parsed = self._parse(await self._body(request))
        deadline_s = self.config.deadline_s
        with self._lock:
            self.waiting += 1
        try:
            await asyncio.wait_for(self.slots().acquire(), timeout=deadline_s)
        except asyncio.TimeoutError:
            acquired = False
        else:
            acquired = True
        finally:
            with self._lock:
                self.waiting -= 1
        if not acquired:
            results = self._unscored(parsed, f"no scoring slot free within {deadline_s:g} s")
        else:
            with self._lock:
                self.in_flight += 1
            try:
                left = max(0.05, deadline_s - (time.monotonic() - arrived))
                loop = asyncio.get_running_loop()
                results = await loop.run_in_executor(self._threads, partial(self._score, parsed, left))
            except BadInput as e:
                raise HttpError(HTTPStatus.UNPROCESSABLE_ENTITY, str(e)) from None
            finally:
                with self._lock:
                    self.in_flight -= 1
                self.slots().release()
        return JSONResponse(self._answer(results))

    def _unscored(self, request: RewardRequest, reason: str) -> list[RewardResult]:
        """Every item missing (the request is still well-formed: it gets numbers, not an error)."""
        if len(request.labels) != len(request.query):
            raise HttpError(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                f"one label per query is needed: {len(request.query)} queries, {len(request.labels)} labels",
            )
        results = [missing_result("unknown", Missing.DEADLINE, reason) for _ in request.query]
        STATS.add(results)
        log.warning("%d rewards missing (0.0, flagged): %s", len(results), reason)
        return results

    def _answer(self, results: list[RewardResult]) -> dict[str, Any]:
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
        with self._lock:
            self.answered += 1
        return {
            "rewards": rewards,
            "scores": rewards,
            "extra_logs": extra_logs(results),
            "missing": missing,
            "statuses": [r.status for r in results],
        }


@asynccontextmanager
async def _lifespan(service: RewardService, app: Starlette) -> AsyncIterator[None]:
    yield
    service.close()  # after uvicorn has finished the requests in flight


def _error_response(e: HttpError) -> JSONResponse:
    headers = {"Retry-After": "1"} if e.status is HTTPStatus.SERVICE_UNAVAILABLE else None
    return JSONResponse(e.body, status_code=e.status, headers=headers)


def make_app(config: ServeConfig | None = None) -> Starlette:
    """The ASGI application (``app.state.service`` holds the state)."""
    service = RewardService(config or ServeConfig())

    async def get_reward(request: Request) -> JSONResponse:
        try:
            return await service.get_reward(request)
        except HttpError as e:
            return _error_response(e)
        except Exception as e:  # noqa: BLE001 - one bad request must not take the server down; logged
            log.exception("internal error answering %s", request.url.path)
            return _error_response(
                HttpError(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(e).__name__}: {e}")
            )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(service.health())

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        status = HTTPStatus(exc.status_code)
        if status is HTTPStatus.METHOD_NOT_ALLOWED:
            message = f"{request.method} is not allowed on {request.url.path}; use POST /get_reward"
        elif status is HTTPStatus.NOT_FOUND:
            message = f"no such endpoint {request.url.path}; try POST /get_reward"
        else:
            message = str(exc.detail)
        return JSONResponse({"error": message}, status_code=status, headers=exc.headers)

    app = Starlette(
        routes=[
            Route("/get_reward", get_reward, methods=["POST"]),
            Route("/get_reward/", get_reward, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/healthz", health, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=partial(_lifespan, service),
    )
    app.state.service = service
    return app


class RewardServer:
    """uvicorn serving ``make_app(config)``; ``run()`` in the foreground, or ``serving()`` below."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5000, config: ServeConfig | None = None):
        self.config = config or ServeConfig()
        self.app = make_app(self.config)
        self.service: RewardService = self.app.state.service
        self.host = host
        self._uvicorn = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host=host,
                port=port,
                backlog=self.config.backlog,
                timeout_graceful_shutdown=int(self.config.graceful_shutdown_s),
                log_level="warning",
                access_log=False,
                lifespan="on",
                loop="asyncio",
            )
        )

    @property
    def port(self) -> int:
        servers = getattr(self._uvicorn, "servers", [])
        if not servers or not servers[0].sockets:
            raise RuntimeError("the server is not listening yet")
        return int(servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def started(self) -> bool:
        return bool(self._uvicorn.started)

    def run(self) -> None:
        """Serve until SIGINT/SIGTERM (main thread) or ``stop()``; requests in flight finish first."""
        self._uvicorn.run()

    def stop(self) -> None:
        self._uvicorn.should_exit = True

    def health(self) -> dict[str, Any]:
        return self.service.health()


def check_listen(host: str, port: int) -> None:
    """Raise OSError now if ``host:port`` cannot be listened on (uvicorn would only log it and exit)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))


@contextmanager
def serving(
    host: str = "127.0.0.1", port: int = 0, config: ServeConfig | None = None
) -> Iterator[RewardServer]:
    """A server answering in a background thread (port 0 = any free port); shut down on exit."""
    server = RewardServer(host, port, config)
    thread = threading.Thread(target=server.run, name="reward-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the reward server did not start on {host}:{port}")
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=server.config.graceful_shutdown_s + 5)
