"""OpenRLHF adapter, file form: ``--reward.remote_url /path/to/verifier/rewards/openrlhf.py``.

(OpenRLHF 0.10.2 renamed its flags: before, ``--remote_rm_url`` and ``--label_key``.) OpenRLHF
imports the file and calls ``reward_func(queries, prompts, labels, **kw)`` in a thread, one sample
at a time, where each query is the prompt followed by the response (decoded with special tokens
kept: the end tokens are stripped by the checker) and each label the reference
(``--data.label_key``): a gold answer or a whole problem as JSON. It returns ``{"rewards",
"scores", "extra_logs"}`` as tensors. OpenRLHF cannot take a missing reward: an undecided one is
0.0 in ``rewards``, flagged 1.0 in the per-sample ``extra_logs["missing"]`` (logged and counted).
``on_missing="raise"`` raises instead; OpenRLHF catches that, leaves the sample's reward None, and
the run then fails on it. The server form (``verify serve``) answers the same contract over HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from verifier.rewards.core import DEFAULT_DEADLINE_S, RewardOptions, score_batch
from verifier.rewards.inputs import AnyProblem, BadInput, split_query
from verifier.rewards.result import RewardResult

log = logging.getLogger(__name__)


def responses_of(queries: Sequence[str], prompts: Sequence[str] | None) -> list[str | None]:
    """The response of each query, or None where the query does not contain its prompt."""
    if prompts is None:
        return list(queries)
    if len(prompts) != len(queries):
        raise BadInput(f"{len(queries)} queries but {len(prompts)} prompts")
    return [split_query(q, p) for q, p in zip(queries, prompts, strict=True)]


def score_queries(
    queries: Sequence[str],
    prompts: Sequence[str] | None,
    labels: Sequence[Any] | None,
    *,
    options: RewardOptions,
    bank: Mapping[str, AnyProblem] | None = None,
) -> list[RewardResult]:
    """A query whose decoded text does not contain its prompt (a tokenizer's round trip changed more
    than spaces) is scored whole and flagged, never refused: OpenRLHF retries a refused request and
    then stops the training run, however the refusal is worded."""
    if labels is None or len(labels) != len(queries):
        raise BadInput(f"one label per query is needed: {len(queries)} queries, {len(labels or [])} labels")
    responses = responses_of(queries, prompts)
    whole = [r is None for r in responses]
    texts = [q if r is None else r for q, r in zip(queries, responses, strict=True)]
    results = score_batch(list(zip(labels, texts, strict=True)), options=options, bank=bank)
    if any(whole):
        log.warning(
            "%d of %d queries do not contain their prompt: scored whole (flagged)", sum(whole), len(whole)
        )
        results = [replace(r, whole_query=True) if w else r for r, w in zip(results, whole, strict=True)]
    return results


def extra_logs(results: list[RewardResult]) -> dict[str, list[float]]:
    """Per-sample columns: OpenRLHF concatenates each key over requests and splits it per sample,
    then logs its mean (so ``missing`` reads as the fraction of undecided rewards)."""
    return {
        "correct": [float(r.correct) for r in results],
        "missing": [float(r.score is None) for r in results],
        "whole_query": [float(r.whole_query) for r in results],
    }


def reward_func(
    queries: Sequence[str],
    prompts: Sequence[str],
    labels: Sequence[Any],
    *,
    partial_credit: bool = False,
    deadline_s: float = DEFAULT_DEADLINE_S,
    on_missing: str = "zero",
    end_tokens: Sequence[str] = (),
    **_ignored: Any,
) -> dict[str, Any]:
    """``end_tokens``: special tokens to strip from the end besides the common chat templates' own."""
    import torch

    options = RewardOptions(
        deadline_s=deadline_s, partial_credit=partial_credit, end_tokens=tuple(end_tokens)
    )
    results = score_queries(queries, prompts, labels, options=options)
    if on_missing == "raise" and any(r.score is None for r in results):
        raise RuntimeError(f"{sum(r.score is None for r in results)} rewards could not be decided")
    rewards = torch.tensor([0.0 if r.score is None else r.score for r in results], dtype=torch.float32)
    return {
        "rewards": rewards,
        "scores": rewards.clone(),
        "extra_logs": {k: torch.tensor(v, dtype=torch.float32) for k, v in extra_logs(results).items()},
    }
