"""The vllm backend on the real vLLM CPU build (scripts/vllm_env.sh) with the embedded model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import require
from verifier.errors import InputError
from verifier.generation.base import GenerationRequest
from verifier.generation.registry import BackendSettings, make_generator
from verifier.generation.sampling import Sampling
from verifier.generation.seeds import sample_seed

pytestmark = [pytest.mark.model, pytest.mark.slow]

VLLM_PYTHON = Path(__file__).resolve().parent.parent / ".venvs" / "vllm" / "bin" / "python"
MESSAGES = (
    ("system", "Solve the problem step by step, then end with '#### N'."),
    ("user", "Tom has 3 apples and buys 5 more. How many apples does Tom have now?"),
)
OTHER = (("user", "Name a colour of the rainbow."),)


@pytest.fixture(scope="module")
def vllm_gen(embedded_model_path: Path):
    require(VLLM_PYTHON.exists(), "vLLM is not installed: bash scripts/vllm_env.sh")
    gen = make_generator(BackendSettings(backend="vllm", sampling=Sampling(max_new_tokens=24)))
    yield gen
    gen.close()


def test_samples_come_back_per_seed_with_usage(vllm_gen) -> None:
    seeds = tuple(sample_seed("p1", i, 0) for i in range(4))
    [completions] = vllm_gen.generate([GenerationRequest(MESSAGES, seeds)])
    assert len(completions) == 4
    assert vllm_gen.name == "SmolLM2-135M-Instruct"
    assert vllm_gen.engine["device"] == "cpu"
    for c in completions:
        assert c.text.strip()
        assert 0 < c.tokens <= 24
        assert c.finish_reason in ("stop", "length")
        assert c.finish_reason == "stop" or c.tokens == 24
        assert c.prompt_tokens > 20  # the chat template around the two messages
        assert c.top_logprobs is None
    assert len({c.text for c in completions}) > 1  # four seeds, not one sample four times


def test_a_sample_is_the_same_alone_or_in_a_batch(vllm_gen) -> None:
    """What a resumed run relies on: regenerating sample 2 alone gives the sample the full run had."""
    seeds = tuple(sample_seed("p1", i, 0) for i in range(3))
    full = vllm_gen.generate([GenerationRequest(MESSAGES, seeds), GenerationRequest(OTHER, (7,))])
    alone = vllm_gen.generate([GenerationRequest(MESSAGES, seeds[2:])])
    assert alone[0][0].text == full[0][2].text
    assert [len(x) for x in full] == [3, 1]


def test_per_request_greedy_override_with_top_logprobs(vllm_gen) -> None:
    critic = GenerationRequest(OTHER, (1,), sampling=Sampling(max_new_tokens=1, temperature=0.0), logprobs=5)
    sampled = GenerationRequest(MESSAGES, (2,))
    [[c], [s]] = vllm_gen.generate([critic, sampled])
    assert c.tokens == 1 and c.finish_reason == "length"
    assert c.top_logprobs is not None and len(c.top_logprobs) == 1
    [alternatives] = c.top_logprobs
    assert len(alternatives) == 5
    assert [lp for _, lp in alternatives] == sorted((lp for _, lp in alternatives), reverse=True)
    assert c.text == alternatives[0][0]  # greedy picks the best alternative
    assert s.tokens > 1  # the other request kept the generator's own settings


def test_greedy_matches_our_transformers_loop(vllm_gen) -> None:
    """Same model, same prompt, float32, greedy: both engines write the same text and agree on logprobs."""
    greedy = Sampling(max_new_tokens=16, temperature=0.0)
    ours = make_generator(BackendSettings(dtype="float32", sampling=greedy))
    req = GenerationRequest(OTHER, (0,), logprobs=3)
    [[theirs_c]] = vllm_gen.generate([GenerationRequest(OTHER, (0,), sampling=greedy, logprobs=3)])
    [[ours_c]] = ours.generate([req])
    assert theirs_c.text == ours_c.text
    assert theirs_c.top_logprobs is not None and ours_c.top_logprobs is not None
    first_theirs, first_ours = theirs_c.top_logprobs[0], ours_c.top_logprobs[0]
    assert [t for t, _ in first_theirs] == [t for t, _ in first_ours]
    assert [lp for _, lp in first_theirs] == pytest.approx([lp for _, lp in first_ours], abs=1e-3)


def test_missing_interpreter_is_an_input_error() -> None:
    with pytest.raises(InputError, match="--vllm-python"):
        make_generator(BackendSettings(backend="vllm", vllm_python="/nonexistent/python"))


def test_close_ends_the_engine_processes(vllm_gen) -> None:
    """Last in the file: it closes the module's engine."""
    pgid = vllm_gen._proc.pid
    vllm_gen.close()
    vllm_gen.close()  # idempotent
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)  # no process of the worker's group (vLLM's engine core included) is left
