"""The openai generator: any OpenAI-compatible server (vLLM, SGLang, llama.cpp, hosted APIs).

A request's samples go as one call with ``n`` where the server honours it; a server that sends back
fewer choices than asked (llama.cpp ignores ``n``) is noted and from then on gets one call per seed,
the missing samples of the detecting call included, so nothing is lost or drawn twice. Calls run on
a bounded thread pool (``concurrency``), each with its own timeout, and are retried with backoff on
connection errors, 429 (after its ``Retry-After``) and 5xx only: a 4xx says the request is wrong and
retrying cannot fix it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_delay

from verifier.generation.base import Capabilities, Completion, GenerationError, GenerationRequest, Messages
from verifier.generation.registry import BackendSettings
from verifier.generation.sampling import Sampling
from verifier.generation.seeds import engine_seed

log = logging.getLogger(__name__)
_RETRY_AFTER_CAP_S = 60.0
_BACKOFF_MAX_S = 8.0


class _Retryable(Exception):
    """A response worth trying again (429 or 5xx), with the server's Retry-After if it sent one."""

    def __init__(self, status: int, retry_after: float | None, body: str):
        self.status, self.retry_after = status, retry_after
        super().__init__(f"HTTP {status}: {body[:200]}")


# -- wire format (pydantic at the network boundary; unknown fields are ignored) --------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Alt(_Wire):
    token: str
    logprob: float


class _TokenLogprob(_Wire):
    token: str = ""
    logprob: float = 0.0
    top_logprobs: list[_Alt] = []


class _ChatLogprobs(_Wire):
    content: list[_TokenLogprob] | None = None


class _Message(_Wire):
    content: str | None = None


class _ChatChoice(_Wire):
    index: int = 0
    message: _Message
    finish_reason: str | None = None
    logprobs: _ChatLogprobs | None = None


class _TextLogprobs(_Wire):
    tokens: list[str] = []
    top_logprobs: list[dict[str, float] | None] | None = None


class _TextChoice(_Wire):
    index: int = 0
    text: str
    finish_reason: str | None = None
    logprobs: _TextLogprobs | None = None


class _Usage(_Wire):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _ChatResponse(_Wire):
    choices: list[_ChatChoice]
    usage: _Usage | None = None


class _TextResponse(_Wire):
    choices: list[_TextChoice]
    usage: _Usage | None = None


@dataclass(frozen=True)
class _Call:
    """One HTTP call: a request's prompt with ``len(seeds)`` samples asked as ``n``."""

    request: int
    seeds: tuple[int, ...]


def _finish(reason: str | None) -> str:
    # Servers say "eos", "stop", "tool_calls"... for a natural end; only "length" means cut off.
    if reason in (None, "stop", "eos", "eos_token", "stop_sequence", "tool_calls"):
        return "stop"
    return reason


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _wait(state: RetryCallState) -> float:
    """The server's Retry-After when it gave one (capped), else exponential backoff with jitter."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, _Retryable) and error.retry_after is not None:
        return min(error.retry_after, _RETRY_AFTER_CAP_S)
    # Deterministic jitter from the thread and attempt keeps concurrent callers from retrying in step.
    base = min(_BACKOFF_MAX_S, 0.25 * 2 ** (state.attempt_number - 1))
    return base * (0.75 + 0.5 * ((threading.get_ident() + state.attempt_number) % 7) / 6)


class OpenAIGenerator:
    """Generator speaking the OpenAI chat or completions API to ``base_url``."""

    def __init__(self, settings: BackendSettings):
        assert settings.base_url and settings.api_model  # checked by registry.settings_problems
        self.settings = settings
        self.sampling = settings.sampling
        self._name = settings.api_model
        self._base_url = settings.base_url.rstrip("/")
        self._path = "chat/completions" if settings.endpoint == "chat" else "completions"
        key = os.environ.get(settings.api_key_env)
        self._client = httpx.Client(
            base_url=self._base_url + "/",
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=httpx.Timeout(settings.timeout_s, connect=min(10.0, settings.timeout_s)),
            limits=httpx.Limits(
                max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
            ),
        )
        self._pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="openai")
        # None until a multi-sample call shows whether the server honours n.
        self._honours_n: bool | None = {"auto": None, "n": True, "seeds": False}[settings.n_mode]
        self._lock = threading.Lock()
        self.retries = 0  # HTTP attempts that failed and were retried (reported by benchmarks)
        self._render: Any = None  # completions endpoint: the chat template, loaded on first use
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(n=self._honours_n is not False, seeds=True, logprobs=True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._client.close()

    # -- generate -----------------------------------------------------------------------------

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        """One completion per seed, in seed order. Raises GenerationError when a call still fails
        after its retries (an infrastructure failure: the caller keeps what it already has)."""
        prompts = [self._prompt(r.messages) for r in requests]
        got: list[dict[int, Completion]] = [{} for _ in requests]
        calls = [c for i, r in enumerate(requests) for c in self._plan(i, r)]
        while calls:
            futures = [
                (c, self._pool.submit(self._call, prompts[c.request], requests[c.request], c)) for c in calls
            ]
            calls = []
            for call, future in futures:
                completions = self._result(future, futures)
                for seed, completion in zip(call.seeds, completions, strict=False):
                    got[call.request][seed] = completion
                missing = call.seeds[len(completions) :]
                if missing and not completions:
                    raise GenerationError(f"{self._base_url}/{self._path}: the response has no choices")
                if missing:
                    self._note_no_n(len(completions), len(call.seeds))
                    calls.extend(_Call(call.request, (s,)) for s in missing)
        return [
            [got[i][s] if s in got[i] else got[i][r.seeds[0]] for s in r.seeds]
            for i, r in enumerate(requests)
        ]

    def _plan(self, index: int, req: GenerationRequest) -> list[_Call]:
        if not req.seeds:
            return []
        if (req.sampling or self.sampling).greedy:
            # Greedy decoding ignores the seed: one call serves every seed (vLLM refuses n > 1 here).
            return [_Call(index, req.seeds[:1])]
        unique = tuple(dict.fromkeys(req.seeds))  # a seed asked twice is one sample
        if len(unique) > 1 and self._honours_n is not False:
            return [_Call(index, unique)]
        return [_Call(index, (s,)) for s in unique]

    def _note_no_n(self, got: int, asked: int) -> None:
        with self._lock:
            if self._honours_n is not False:
                log.warning(
                    "%s returned %d of %d choices: it ignores n; one request per seed from now on",
                    self.settings.base_url,
                    got,
                    asked,
                )
                self._honours_n = False

    @staticmethod
    def _result(future: Future[list[Completion]], all_futures: Sequence[tuple[_Call, Future[Any]]]) -> Any:
        try:
            return future.result()
        except GenerationError:
            for _, other in all_futures:  # the batch is lost anyway: stop its queued calls
                other.cancel()
            raise

    # -- one call -----------------------------------------------------------------------------

    def _prompt(self, messages: Messages) -> str | list[dict[str, str]]:
        if self.settings.endpoint == "chat":
            return [{"role": r, "content": c} for r, c in messages]
        with self._lock:
            if self._render is None:
                self._render = _chat_template(self.settings.model)
        return str(self._render(messages))

    def _payload(
        self, prompt: str | list[dict[str, str]], req: GenerationRequest, call: _Call
    ) -> dict[str, Any]:
        s: Sampling = req.sampling or self.sampling
        n = len(call.seeds)
        body: dict[str, Any] = {
            "model": self.settings.api_model,
            "max_tokens": s.max_new_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "seed": engine_seed(call.seeds[0]),
        }
        if n > 1:
            body["n"] = n
        # With n > 1 the usage counts all choices together: per-token logprobs give each choice's
        # own token count, so they are asked for even when the request wants no alternatives.
        want_logprobs = req.logprobs > 0 or n > 1
        if self.settings.endpoint == "chat":
            body["messages"] = prompt
            if want_logprobs:
                body["logprobs"] = True
                body["top_logprobs"] = req.logprobs
        else:
            body["prompt"] = prompt
            if want_logprobs:
                body["logprobs"] = req.logprobs
        return body

    def _call(
        self, prompt: str | list[dict[str, str]], req: GenerationRequest, call: _Call
    ) -> list[Completion]:
        data = self._post(self._payload(prompt, req, call))
        try:
            if self.settings.endpoint == "chat":
                return _chat_completions(_ChatResponse.model_validate(data), req.logprobs)
            return _text_completions(_TextResponse.model_validate(data), req.logprobs)
        except ValidationError as e:
            raise GenerationError(
                f"{self.settings.base_url}/{self._path}: not an OpenAI {self.settings.endpoint} response: "
                f"{str(e).splitlines()[0]}"
            ) from e

    def _post(self, body: dict[str, Any]) -> Any:
        url = f"{self._base_url}/{self._path}"
        retrying = Retrying(
            retry=retry_if_exception_type((httpx.TransportError, _Retryable)),
            wait=_wait,
            stop=stop_after_delay(self.settings.retry_s),
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._client.post(self._path, json=body)
                    if response.status_code == 429 or response.status_code >= 500:
                        raise _Retryable(response.status_code, _retry_after(response), response.text)
                    if response.status_code >= 400:
                        raise GenerationError(f"{url}: HTTP {response.status_code}: {response.text[:300]}")
                    try:
                        return response.json()
                    except ValueError as e:
                        raise GenerationError(
                            f"{url}: the response is not JSON: {response.text[:200]!r}"
                        ) from e
        except (httpx.TransportError, _Retryable) as e:
            raise GenerationError(
                f"{url}: gave up after {self.settings.retry_s:g} s of retries: {type(e).__name__}: {e}"
            ) from e
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    def _count_retry(self, state: RetryCallState) -> None:
        with self._lock:
            self.retries += 1
        error = state.outcome.exception() if state.outcome else None
        log.info("retrying %s (attempt %d): %s", self._path, state.attempt_number, error)


def _chat_completions(resp: _ChatResponse, k: int) -> list[Completion]:
    choices = sorted(resp.choices, key=lambda c: c.index)
    usage = resp.usage or _Usage()
    out = []
    for c in choices:
        content = c.logprobs.content if c.logprobs and c.logprobs.content is not None else None
        tokens = usage.completion_tokens if len(choices) == 1 or content is None else len(content)
        alts = None
        if k and content is not None:
            alts = tuple(
                tuple((a.token, a.logprob) for a in sorted(t.top_logprobs, key=lambda a: -a.logprob)[:k])
                for t in content
            )
        out.append(
            Completion(c.message.content or "", tokens, _finish(c.finish_reason), usage.prompt_tokens, alts)
        )
    return out


def _text_completions(resp: _TextResponse, k: int) -> list[Completion]:
    choices = sorted(resp.choices, key=lambda c: c.index)
    usage = resp.usage or _Usage()
    out = []
    for c in choices:
        lp = c.logprobs
        tokens = usage.completion_tokens if len(choices) == 1 or lp is None else len(lp.tokens)
        alts = None
        if k and lp is not None and lp.top_logprobs is not None:
            alts = tuple(
                tuple(sorted((top or {}).items(), key=lambda kv: -kv[1])[:k]) for top in lp.top_logprobs
            )
        out.append(Completion(c.text, tokens, _finish(c.finish_reason), usage.prompt_tokens, alts))
    return out


def _chat_template(model: str | None) -> Any:
    """messages -> prompt text with the chat template of ``model`` (a local HF dir or GGUF; None =
    the embedded model): the completions endpoint takes raw text, so we render the chat ourselves."""
    from transformers import AutoTokenizer

    from verifier.generation.transformers_backend import resolve_model

    path, _ = resolve_model(model)
    tokenizer = AutoTokenizer.from_pretrained(path)

    def render(messages: Messages) -> str:
        chat = [{"role": r, "content": c} for r, c in messages]
        return str(tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))

    return render
