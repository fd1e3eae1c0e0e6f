"""Stable per-sample seeds: the same (problem, sample, run seed) always gives the same seed."""

from __future__ import annotations

import hashlib


def sample_seed(problem_id: str, sample_index: int, run_seed: int) -> int:
    digest = hashlib.sha256(f"{problem_id}\x00{sample_index}\x00{run_seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def engine_seed(seed: int) -> int:
    """The seed handed to an external engine (vLLM, an OpenAI-compatible server): 31 bits, the
    widest every engine accepts (llama.cpp takes a 32-bit seed), and the same for vLLM offline and
    vLLM's server, so both draw the same sample for the same seed."""
    return seed & 0x7FFF_FFFF
