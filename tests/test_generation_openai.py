"""The openai backend against real servers on 127.0.0.1: vLLM's (honours n, seed, logprobs) and
llama.cpp's (ignores n: the one-request-per-seed fallback), including a server killed and
restarted in the middle of a run. Each server starts once for this module and is killed after it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from verifier.generation.base import GenerationRequest
from verifier.generation.openai_backend import OpenAIGenerator
from verifier.generation.registry import BackendSettings, make_generator
from verifier.generation.sampling import Sampling
from verifier.generation.seeds import sample_seed
from verifier.generation.servers import SERVED_NAME, LocalServer, llamacpp_server, vllm_server

pytestmark = [pytest.mark.model, pytest.mark.slow]

VENVS = Path(__file__).resolve().parent.parent / ".venvs"
MESSAGES = (
    ("system", "Solve the problem step by step, then end with '#### N'."),
    ("user", "Tom has 3 apples and buys 5 more. How many apples does Tom have now?"),
)
OTHER = (("user", "Name a colour of the rainbow."),)
SHORT = Sampling(max_new_tokens=24)
TINY = Sampling(max_new_tokens=12)  # llama.cpp serves one request at a time: keep its calls short


@pytest.fixture(scope="module")
def vllm_url(embedded_model_path: Path) -> Iterator[str]:
    require((VENVS / "vllm" / "bin" / "python").exists(), "vLLM is not installed: bash scripts/vllm_env.sh")
    from verifier.generation.transformers_backend import resolve_model

    model_dir, _ = resolve_model(None)
    with vllm_server(model_dir) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def llamacpp(embedded_model_path: Path) -> Iterator[LocalServer]:
    require(
        (VENVS / "llamacpp" / "bin" / "python").exists(),
        "llama.cpp's server is not installed: bash scripts/llamacpp_env.sh",
    )
    with llamacpp_server() as server:
        yield server


def _gen(url: str, **kw) -> OpenAIGenerator:
    gen = make_generator(BackendSettings(backend="openai", base_url=url, api_model=SERVED_NAME, **kw))
    assert isinstance(gen, OpenAIGenerator)
    return gen


# -- vLLM's server -------------------------------------------------------------------------------


def test_vllm_server_honours_n_with_per_choice_usage(vllm_url: str) -> None:
    gen = _gen(vllm_url, sampling=SHORT)
    seeds = tuple(sample_seed("p1", i, 0) for i in range(4))
    [out] = gen.generate([GenerationRequest(MESSAGES, seeds)])
    assert len(out) == 4 and gen.capabilities.n  # one call, four choices: n is honoured
    for c in out:
        assert c.text.strip() and 0 < c.tokens <= 24
        assert c.finish_reason in ("stop", "length") and (c.finish_reason == "stop" or c.tokens == 24)
        assert c.prompt_tokens > 20
        assert c.top_logprobs is None  # asked for counting only, not returned
    assert len({c.text for c in out}) > 1
    # Same request, same seeds: the same samples (vLLM derives choice i's seed from the first seed).
    [again] = gen.generate([GenerationRequest(MESSAGES, seeds)])
    assert [c.text for c in again] == [c.text for c in out]
    gen.close()


def test_vllm_server_seeds_mode_matches_the_offline_engines_seeding(vllm_url: str) -> None:
    """n_mode=seeds sends one request per sample seed: a sample is reproducible alone."""
    gen = _gen(vllm_url, sampling=SHORT, n_mode="seeds", concurrency=4)
    seeds = (101, 102, 103)
    [batch] = gen.generate([GenerationRequest(MESSAGES, seeds)])
    [alone] = gen.generate([GenerationRequest(MESSAGES, seeds[1:2])])
    assert alone[0].text == batch[1].text
    gen.close()


def test_vllm_server_logprobs_and_greedy_override(vllm_url: str) -> None:
    gen = _gen(vllm_url, sampling=SHORT)
    critic = GenerationRequest(OTHER, (1,), sampling=Sampling(max_new_tokens=1, temperature=0.0), logprobs=5)
    [[c]] = gen.generate([critic])
    assert c.tokens == 1 and c.finish_reason == "length"
    assert c.top_logprobs is not None
    [alternatives] = c.top_logprobs
    assert len(alternatives) == 5
    assert [lp for _, lp in alternatives] == sorted((lp for _, lp in alternatives), reverse=True)
    assert c.text == alternatives[0][0]
    gen.close()


def test_vllm_server_completions_endpoint_renders_the_chat_template(vllm_url: str) -> None:
    greedy = Sampling(max_new_tokens=12, temperature=0.0)
    chat = _gen(vllm_url, sampling=greedy)
    text = _gen(vllm_url, sampling=greedy, endpoint="completions")
    [[a]] = chat.generate([GenerationRequest(OTHER, (0,))])
    [[b, b2]] = text.generate([GenerationRequest(OTHER, (0, 1), logprobs=2)])
    assert a.text == b.text == b2.text  # greedy: the template we render is the one the server applies
    assert b.tokens == a.tokens and b.prompt_tokens == a.prompt_tokens
    assert b.top_logprobs is not None and all(len(p) == 2 for p in b.top_logprobs)
    chat.close()
    text.close()


# -- llama.cpp's server: n ignored ---------------------------------------------------------------


def test_llamacpp_ignores_n_and_the_backend_falls_back_to_one_call_per_seed(llamacpp: LocalServer) -> None:
    gen = _gen(llamacpp.base_url, sampling=TINY, concurrency=2)
    seeds = (11, 12, 13)
    [out] = gen.generate([GenerationRequest(MESSAGES, seeds)])
    assert len(out) == 3
    assert not gen.capabilities.n  # detected: it sent fewer choices than asked
    assert all(c.text.strip() and 0 < c.tokens <= 12 for c in out)
    assert len({c.text for c in out}) > 1  # distinct seeds, distinct samples
    # Each seed's sample is what a single request with that seed gives.
    single = _gen(llamacpp.base_url, sampling=TINY, n_mode="seeds")
    [[s12]] = single.generate([GenerationRequest(MESSAGES, (12,))])
    assert s12.text == out[1].text
    gen.close()
    single.close()


def test_llamacpp_logprobs(llamacpp: LocalServer) -> None:
    gen = _gen(llamacpp.base_url)
    critic = GenerationRequest(OTHER, (1,), sampling=Sampling(max_new_tokens=1, temperature=0.0), logprobs=3)
    [[c]] = gen.generate([critic])
    assert c.tokens == 1 and c.top_logprobs is not None and len(c.top_logprobs[0]) == 3
    gen.close()


def test_server_killed_and_restarted_mid_run_loses_nothing(llamacpp: LocalServer) -> None:
    """A run of three calls: the server dies during the second, comes back on the same port 3 s later;
    the call in flight retries and finishes, and every sample equals the undisturbed run's."""
    requests = [
        [GenerationRequest(MESSAGES, tuple(sample_seed(f"p{k}", i, 0) for i in range(2)))] for k in range(3)
    ]
    gen = _gen(llamacpp.base_url, sampling=TINY, n_mode="seeds", concurrency=1, retry_s=120)
    reference = [gen.generate(r) for r in requests]

    outputs = []
    killer_done = threading.Event()

    def kill_and_restart() -> None:
        time.sleep(0.05)  # mid-call (a sample takes longer): the request in flight loses its connection
        llamacpp.kill()
        time.sleep(3.0)
        llamacpp.start()
        killer_done.set()

    for k, r in enumerate(requests):
        if k == 1:
            threading.Thread(target=kill_and_restart, daemon=True).start()
        outputs.append(gen.generate(r))
    assert killer_done.wait(60)
    assert gen.retries >= 1  # it did hit the dead server
    assert [[c.text for c in call[0]] for call in outputs] == [
        [c.text for c in call[0]] for call in reference
    ]
    gen.close()
