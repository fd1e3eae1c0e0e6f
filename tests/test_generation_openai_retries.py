"""The openai backend's retry policy, table-driven against a scripted HTTP server on 127.0.0.1.

The engines themselves are in test_generation_openai.py (real vLLM and llama.cpp servers); here a
small server answers each call with the next scripted status, so every branch of the policy
(connection errors, 429 + Retry-After, 5xx, 4xx, bad bodies) is exercised deterministically.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from verifier.errors import InputError
from verifier.generation.base import GenerationError, GenerationRequest
from verifier.generation.openai_backend import OpenAIGenerator
from verifier.generation.registry import BackendSettings, make_generator
from verifier.generation.servers import free_port

MESSAGES = (("user", "hi"),)


def _ok(n: int, text: str = "four") -> dict:
    return {
        "choices": [
            {"index": i, "message": {"content": f"{text}{i}"}, "finish_reason": "stop"} for i in range(n)
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3},
    }


class Scripted:
    """Replies with the scripted (status, headers, body) in turn; then 200 with n choices."""

    def __init__(self, script: list[tuple[int, dict[str, str], str]], honour_n: bool = True):
        self.script = list(script)
        self.calls: list[tuple[float, dict]] = []
        self.honour_n = honour_n
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.calls.append((time.monotonic(), body))
                if owner.script:
                    status, headers, text = owner.script.pop(0)
                else:
                    n = body.get("n", 1) if owner.honour_n else 1
                    status, headers, text = 200, {}, json.dumps(_ok(n, text=str(body["seed"])))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(text.encode())))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args: object) -> None:
                pass  # keep the test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[type[Scripted]]:
    made: list[Scripted] = []

    def make(*args, **kwargs) -> Scripted:
        s = Scripted(*args, **kwargs)
        made.append(s)
        return s

    yield make  # type: ignore[misc]
    for s in made:
        s.close()


def _gen(url: str, **kw) -> OpenAIGenerator:
    settings = BackendSettings(backend="openai", base_url=url, api_model="m", **kw)
    gen = make_generator(settings)
    assert isinstance(gen, OpenAIGenerator)
    return gen


@pytest.mark.parametrize(
    "status,headers,retried",
    [
        (429, {"Retry-After": "0.4"}, True),
        (500, {}, True),
        (502, {}, True),
        (503, {"Retry-After": "0"}, True),
        (400, {}, False),
        (401, {}, False),
        (404, {}, False),
        (422, {}, False),
    ],
)
def test_which_statuses_are_retried(scripted, status: int, headers: dict, retried: bool) -> None:
    server = scripted([(status, headers, '{"error": "scripted"}')])
    gen = _gen(server.url, retry_s=30)
    if retried:
        [[c]] = gen.generate([GenerationRequest(MESSAGES, (5,))])
        assert c.text == "50" and gen.retries == 1 and len(server.calls) == 2
    else:
        with pytest.raises(GenerationError, match=f"HTTP {status}"):
            gen.generate([GenerationRequest(MESSAGES, (5,))])
        assert len(server.calls) == 1  # a 4xx is the request's fault: never sent again
    gen.close()


def test_retry_after_is_honoured(scripted) -> None:
    server = scripted([(429, {"Retry-After": "1.5"}, "slow down")])
    gen = _gen(server.url)
    gen.generate([GenerationRequest(MESSAGES, (1,))])
    (t0, _), (t1, _) = server.calls
    assert t1 - t0 >= 1.4
    gen.close()


def test_connection_refused_gives_up_after_retry_s_with_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    gen = _gen(url, retry_s=1.0)
    t0 = time.monotonic()
    with pytest.raises(GenerationError, match="gave up after 1 s of retries: ConnectError"):
        gen.generate([GenerationRequest(MESSAGES, (1,))])
    assert time.monotonic() - t0 < 15
    assert gen.retries >= 1
    gen.close()


def test_a_body_that_is_not_an_openai_response_is_an_error(scripted) -> None:
    server = scripted([(200, {}, '{"choices": [{"index": 0}]}')])
    gen = _gen(server.url)
    with pytest.raises(GenerationError, match="not an OpenAI chat response"):
        gen.generate([GenerationRequest(MESSAGES, (1,))])
    gen.close()


def test_fewer_choices_than_asked_switches_to_one_call_per_seed(scripted) -> None:
    server = scripted([], honour_n=False)
    gen = _gen(server.url)
    assert gen.capabilities.n
    [out] = gen.generate([GenerationRequest(MESSAGES, (11, 12, 13))])
    # The first call (n=3, seed 11) gave one choice, kept for seed 11; seeds 12 and 13 went alone.
    assert [c.text for c in out] == ["110", "120", "130"]
    assert [b.get("n", 1) for _, b in server.calls] == [3, 1, 1]
    assert not gen.capabilities.n
    gen.generate([GenerationRequest(MESSAGES, (1, 2))])
    assert [b.get("n", 1) for _, b in server.calls[3:]] == [1, 1]  # no n asked any more
    gen.close()


def test_payload_carries_sampling_override_seed_and_auth(scripted, monkeypatch) -> None:
    from verifier.generation.sampling import Sampling
    from verifier.generation.seeds import engine_seed

    monkeypatch.setenv("MY_KEY", "sk-test")
    server = scripted([])
    gen = _gen(server.url, api_key_env="MY_KEY")
    big = 2**62 + 5
    req = GenerationRequest(
        MESSAGES, (big,), sampling=Sampling(max_new_tokens=1, temperature=0.0), logprobs=4
    )
    gen.generate([req])
    [(_, body)] = server.calls
    assert body["max_tokens"] == 1 and body["temperature"] == 0.0
    assert body["seed"] == engine_seed(big) < 2**31
    assert body["logprobs"] is True and body["top_logprobs"] == 4
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    gen.close()


@pytest.mark.parametrize(
    "kw,message",
    [
        ({}, "--base-url: required"),
        ({"base_url": "127.0.0.1:8000"}, "--base-url: must start with http"),
        ({"base_url": "http://127.0.0.1:1/v1", "api_model": None}, "--api-model: required"),
        ({"base_url": "http://127.0.0.1:1/v1", "endpoint": "edits"}, "--endpoint: must be one of"),
        ({"base_url": "http://127.0.0.1:1/v1", "concurrency": 0}, "--concurrency"),
        ({"base_url": "http://127.0.0.1:1/v1", "n_mode": "maybe"}, "--n-mode"),
    ],
)
def test_bad_settings_are_input_errors(kw: dict, message: str) -> None:
    settings = {"backend": "openai", "api_model": "m", **kw}
    with pytest.raises(InputError, match=message):
        make_generator(BackendSettings(**settings))


def test_unknown_backend_is_an_input_error() -> None:
    with pytest.raises(InputError, match="--backend: must be one of transformers, vllm, openai"):
        make_generator(BackendSettings(backend="sglang"))


def test_greedy_asks_once_for_all_seeds(scripted) -> None:
    """Greedy decoding ignores the seed (and vLLM refuses n > 1 with it): one call, copied per seed."""
    from verifier.generation.sampling import Sampling

    server = scripted([])
    gen = _gen(server.url)
    greedy = Sampling(max_new_tokens=4, temperature=0.0)
    [out] = gen.generate([GenerationRequest(MESSAGES, (3, 4, 5), sampling=greedy)])
    assert [c.text for c in out] == ["30", "30", "30"]
    [(_, body)] = server.calls
    assert "n" not in body
    gen.close()


def test_a_response_without_choices_is_an_error_not_a_loop(scripted) -> None:
    server = scripted([(200, {}, '{"choices": []}')])
    gen = _gen(server.url)
    with pytest.raises(GenerationError, match="no choices"):
        gen.generate([GenerationRequest(MESSAGES, (1,))])
    gen.close()
