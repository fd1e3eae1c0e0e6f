"""verl adapter (loaded through ``verifier/rewards/verl.py``: ``custom_reward_function.path=.../verl.py``
``custom_reward_function.name=compute_score``).

verl calls the function three ways, all supported here:

* naive / dapo managers, by keyword: ``compute_score(data_source=, solution_str=, ground_truth=, extra_info=)``;
* the prime manager, by position, in a process pool: ``compute_score(data_source, solution_str, ground_truth, extra_info)``;
* the batch manager: ``compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=)`` -> a list.

Each result is a dict with ``score``, ``acc`` and ``pred`` (verl's maj@N votes on ``pred``) and
``missing``. Every result has the same keys, because verl gathers each key into one column.

``ground_truth`` is the gold final answer, or a whole problem (dict or JSON, e.g. a code problem);
``extra_info["problem"]`` overrides it when present. verl cannot take a missing reward: a reward
the checker could not decide (sandbox down, deadline) scores 0.0 with ``missing: True``, is logged
and counted (``verifier.rewards.STATS``), and verl logs the ``missing`` column's mean as a metric.
Pass ``reward_kwargs.on_missing=raise`` to stop training instead. Other ``reward_kwargs``:
``partial_credit`` (code: fraction of tests passed), ``deadline_s`` (per call or batch) and
``shared_math`` (default true: symbolic comparisons go to the per-user math server of
``verifier.math.shared``, so the prime manager's fresh processes of every batch do not each start
math workers of their own; false: a pool in this process).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from verifier.math.shared import shared_pool
from verifier.rewards.core import DEFAULT_DEADLINE_S, RewardOptions, score_batch
from verifier.rewards.result import RewardResult


class VerlScore(dict[str, Any]):
    """A plain dict, except that ``result[0]`` is the score: verl's prime manager reads a
    non-numeric result as ``float(result[0])``."""

    def __getitem__(self, key: Any) -> Any:
        if key == 0 and not isinstance(key, bool):
            return super().__getitem__("score")
        return super().__getitem__(key)


class MissingReward(RuntimeError):
    """Raised with ``on_missing="raise"`` when the checker could not decide a reward."""


def _reference(ground_truth: Any, extra_info: Any) -> Any:
    if isinstance(extra_info, dict) and extra_info.get("problem") is not None:
        return extra_info["problem"]
    return ground_truth


def _as_dict(result: RewardResult, on_missing: str) -> VerlScore:
    if result.score is None and on_missing == "raise":
        raise MissingReward(f"no reward: {result.status}: {result.reason}")
    return VerlScore(
        score=0.0 if result.score is None else result.score,
        acc=result.correct,
        pred="" if result.extracted is None else result.extracted,
        missing=result.score is None,
    )


def compute_score(
    data_source: Any = None,
    solution_str: str | None = None,
    ground_truth: Any = None,
    extra_info: Any = None,
    *,
    data_sources: Sequence[Any] | None = None,
    solution_strs: Sequence[str] | None = None,
    ground_truths: Sequence[Any] | None = None,
    extra_infos: Sequence[Any] | None = None,
    partial_credit: bool = False,
    deadline_s: float = DEFAULT_DEADLINE_S,
    on_missing: str = "zero",
    shared_math: bool = True,
    end_tokens: Sequence[str] = (),
    **_ignored: Any,  # verl passes more keyword arguments in some versions (e.g. tokenizer handles)
) -> dict[str, Any] | list[dict[str, Any]]:
    """One reward dict, or a list of them for the batch form (``solution_strs=``)."""
    if on_missing not in ("zero", "raise"):
        raise ValueError(f"on_missing must be 'zero' or 'raise', not {on_missing!r}")
    options = RewardOptions(
        deadline_s=deadline_s,
        partial_credit=partial_credit,
        math_pool=shared_pool() if shared_math else None,
        end_tokens=tuple(end_tokens),  # reward_kwargs.end_tokens: a tokenizer's own special tokens
    )
    if solution_strs is not None:
        if ground_truths is None or len(ground_truths) != len(solution_strs):
            raise ValueError("the batch form needs ground_truths, one per solution_strs")
        infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
        items = [(_reference(g, e), s) for s, g, e in zip(solution_strs, ground_truths, infos, strict=True)]
        return [_as_dict(r, on_missing) for r in score_batch(items, options=options)]
    if solution_str is None:
        raise ValueError("compute_score needs solution_str (or solution_strs= for the batch form)")
    result = score_batch([(_reference(ground_truth, extra_info), solution_str)], options=options)[0]
    return _as_dict(result, on_missing)
