"""verl's prime reward manager, as it calls us: a fresh process pool for every batch.

verl's ``PrimeRewardManager.verify`` (verl/workers/reward_manager/prime.py) makes a new
``ProcessPoolExecutor(max_workers=64)`` per batch, submits ``partial(compute_score, data_source,
solution_str, ground_truth, extra_info)`` for every row (by position), awaits each with
``asyncio.wait_for(..., 300)``, turns None or an exception into 0.0 and a non-number into
``float(result[0])``, then terminates the pool's processes (SIGTERM, no atexit). So every batch
starts in processes whose math workers do not exist yet. Regression: the 5 s symbolic cap ran
while those workers started, and a correct ``\\boxed{\\sqrt{4}}`` against gold ``2`` scored 0.0 in
every batch.

verl itself (Ray, vLLM) is too heavy to install here; the harness below makes the same calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Any

import pytest

from tests.test_rewards_verl import VERL_FILE, _call_with_kwargs, load_like_verl

PRIME_PROCESSES = 64  # verl's num_processes
PRIME_TIMEOUT_S = 300.0

# (completion, gold, score): half need the symbolic stage (SymPy in a pool worker).
ROWS = [
    (r"The root is $\boxed{\sqrt{4}}$.", "2", 1.0),
    (r"So $\boxed{2\sqrt{2}}$", r"\sqrt{8}", 1.0),
    ("9 + 9 = 18\n#### 18", "18", 1.0),
    ("#### 17", "18", 0.0),
    (r"$\boxed{\frac{x^2-1}{x-1}}$", "x+1", 1.0),
    (r"$\boxed{\sqrt{6}}$", r"\sqrt{8}", 0.0),
    (r"$\boxed{\frac{2}{4}}$", "1/2", 1.0),
    ("no answer here", "3", 0.0),
]


async def _score_batch_like_prime(
    fn: Any, completions: list[str], references: list[str], tasks: list[str], processes: int
) -> list[Any]:
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=processes) as executor:
        try:
            calls = [
                asyncio.wait_for(
                    loop.run_in_executor(executor, partial(fn, task, completion, reference, None)),
                    timeout=PRIME_TIMEOUT_S,
                )
                for completion, reference, task in zip(completions, references, tasks, strict=True)
            ]
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            for pid in list(executor._processes):  # prime terminates them: no atexit handlers run
                with contextlib.suppress(ProcessLookupError):  # already gone
                    os.kill(pid, signal.SIGTERM)


def prime_scores(fn: Any, rows: list[tuple[str, str, float]], processes: int) -> list[float]:
    loop = asyncio.new_event_loop()
    try:
        results = loop.run_until_complete(
            _score_batch_like_prime(
                fn, [c for c, _, _ in rows], [g for _, g, _ in rows], ["math"] * len(rows), processes
            )
        )
    finally:
        loop.close()
    scores = []
    for result in results:
        if result is None or isinstance(result, BaseException):
            scores.append(0.0)  # what prime does with a timeout or an exception
        elif isinstance(result, int | float | bool):
            scores.append(float(result))
        else:
            scores.append(float(result[0]))
    return scores


@pytest.fixture(autouse=True)
def _stop_the_shared_math_server():
    """compute_score starts the per-user math server; it must not outlive the test."""
    from verifier.math.shared import SharedMathPool

    yield
    SharedMathPool().stop_server()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_correct_answers_needing_sympy_score_1_in_every_fresh_batch() -> None:
    fn = partial(_call_with_kwargs, load_like_verl(VERL_FILE, "compute_score"), {})
    batch = ROWS * 32  # 256 rows, as a GRPO batch
    expected = [score for _, _, score in batch]
    for n in range(2):  # each batch in a new process pool, as prime does
        began = time.monotonic()
        scores = prime_scores(fn, batch, PRIME_PROCESSES)
        seconds = time.monotonic() - began
        wrong = [(row, got) for row, got in zip(batch, scores, strict=True) if got != row[2]]
        assert not wrong, f"batch {n}: {len(wrong)} of {len(batch)} scores differ, e.g. {wrong[:3]}"
        assert scores == expected
        print(f"prime batch {n}: {len(batch)} rows in {seconds:.1f} s")  # shown with -s; never asserted
