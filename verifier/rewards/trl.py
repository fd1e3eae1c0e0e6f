"""TRL adapter: ``GRPOTrainer(reward_funcs=for_trl(...))`` (TRL 1.6 and later).

GRPOTrainer calls a reward function as ``f(prompts=..., completions=..., completion_ids=...,
trainer_state=..., log_extra=..., log_metric=..., **columns)``, each dataset column a list with one
entry per completion. Completions are strings or chat messages. It takes ``None`` as "no reward": it
becomes NaN. What a NaN does depends on the other reward functions (see docs/rewards.md): alone, the
completion is left out of its group's statistics and gets advantage 0 (TRL 1.6+; TRL 1.0-1.5 summed
it to 0.0, the same as a wrong answer, hence the floor); next to another reward function that gave a
number, it counts as 0 in the default ``sum_then_normalize`` and as the group's mean in
``normalize_then_sum``.

The async variant is a plain ``async def`` function: TRL up to 1.9 recognises an async reward with
``inspect.iscoroutinefunction``, which is False for an object whose ``__call__`` is async (the sync
path then fails with "'coroutine' object is not iterable"); TRL 1.10+ accepts both. TRL awaits it
on its own event loop thread, concurrently with the other async reward functions.

Per sample, the verdict status and, for an undecided one, why, go to TRL's completions table
through ``log_extra`` (columns ``<name>/status`` and ``<name>/missing``); the number of missing
rewards per batch to its metrics through ``log_metric``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from verifier.rewards.core import DEFAULT_DEADLINE_S, RewardOptions, score_batch, score_batch_async
from verifier.rewards.inputs import AnyProblem, BadInput
from verifier.rewards.result import RewardResult

log = logging.getLogger("verifier.rewards")

TRL_FLOOR = (1, 6)  # None is honest from here on: an undecided completion is not scored as wrong
_TRL_KWARGS = ("prompts", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments")

AsyncReward = Callable[..., Awaitable[list[float | None]]]


def _load_bank(bank: str | Path | Mapping[str, AnyProblem] | None) -> dict[str, AnyProblem] | None:
    if bank is None:
        return None
    if isinstance(bank, Mapping):
        return dict(bank)
    from verifier.banks.loader import load_bank

    return load_bank(bank).by_id()


def _warn_if_old_trl() -> None:
    try:
        version = metadata.version("trl")
    except metadata.PackageNotFoundError:
        return  # used without TRL (another trainer, or a test): nothing to check
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < TRL_FLOOR:
        log.warning(
            "trl %s: a reward the checker could not decide (None) counts as 0.0 there, the same as a "
            "wrong answer; use trl>=%d.%d",
            version,
            *TRL_FLOOR,
        )


class TrlReward:
    """A plain callable ``f(completions, **kwargs) -> list[float | None]`` (see ``for_trl``)."""

    def __init__(
        self, *, column: str, bank: Mapping[str, AnyProblem] | None, options: RewardOptions, name: str
    ):
        self.column = column
        self.bank = bank
        self.options = options
        self.__name__ = name  # TRL logs each reward under its function's name

    def items(self, completions: Sequence[Any], kwargs: dict[str, Any]) -> list[tuple[Any, Any]]:
        if self.column not in kwargs:
            columns = sorted(k for k in kwargs if k not in _TRL_KWARGS)
            raise BadInput(f"the dataset has no column {self.column!r} (columns: {', '.join(columns)})")
        references = kwargs[self.column]
        if len(references) != len(completions):
            raise BadInput(f"{len(completions)} completions but {len(references)} values in {self.column!r}")
        return list(zip(references, completions, strict=True))

    def report(self, results: list[RewardResult], kwargs: dict[str, Any]) -> list[float | None]:
        """The scores, after logging the per-sample columns and the missing count to TRL."""
        log_extra = kwargs.get("log_extra")
        if callable(log_extra):
            log_extra(f"{self.__name__}/status", [r.status for r in results])
            log_extra(
                f"{self.__name__}/missing", ["" if r.missing is None else r.missing.value for r in results]
            )
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            log_metric("verifier/missing_rewards", float(sum(r.score is None for r in results)))
        return [r.score for r in results]

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        results = score_batch(self.items(completions, kwargs), options=self.options, bank=self.bank)
        return self.report(results, kwargs)


def _as_async(reward: TrlReward) -> AsyncReward:
    async def verifier_reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        results = await score_batch_async(
            reward.items(completions, kwargs), options=reward.options, bank=reward.bank
        )
        return reward.report(results, kwargs)

    verifier_reward.__name__ = verifier_reward.__qualname__ = reward.__name__
    verifier_reward.reward = reward  # type: ignore[attr-defined]  # its settings, for inspection
    return verifier_reward


def _make(
    *,
    answer_column: str | None,
    problem_column: str | None,
    id_column: str | None,
    bank: str | Path | Mapping[str, AnyProblem] | None,
    partial_credit: bool,
    deadline_s: float,
    name: str,
    end_tokens: Sequence[str] = (),
) -> TrlReward:
    given = [c for c in (answer_column, problem_column, id_column) if c is not None]
    if len(given) > 1:
        raise ValueError("pass one of answer_column, problem_column or id_column")
    if id_column is not None and bank is None:
        raise ValueError("id_column needs a bank to look the ids up in")
    if id_column is None and bank is not None:
        # With a bank every string is an id (an unknown one is BadInput), so gold answers in an
        # answer column would all be rejected: say so now rather than at the first batch.
        raise ValueError("a bank is only used with id_column (answer and problem columns hold the reference)")
    _warn_if_old_trl()
    column = given[0] if given else "answer"
    options = RewardOptions(
        deadline_s=deadline_s, partial_credit=partial_credit, end_tokens=tuple(end_tokens)
    )
    return TrlReward(column=column, bank=_load_bank(bank), options=options, name=name)


def for_trl(
    *,
    answer_column: str | None = None,
    problem_column: str | None = None,
    id_column: str | None = None,
    bank: str | Path | Mapping[str, AnyProblem] | None = None,
    partial_credit: bool = False,
    deadline_s: float = DEFAULT_DEADLINE_S,
    name: str = "verifier_reward",
    end_tokens: Sequence[str] = (),
) -> TrlReward:
    """A GRPO reward function. Say where the reference is: ``answer_column`` (a gold final answer;
    the default is a column named "answer"), ``problem_column`` (a whole bank record, dict or JSON)
    or ``id_column`` with ``bank`` (a bank file or an id -> problem mapping; an id not in it raises
    ``BadInput``, it is never read as a gold answer). ``end_tokens``: special tokens to strip from
    the end of completions besides the common chat templates' own, e.g.
    ``verifier.endtext.tokens_of(tokenizer)``."""
    return _make(
        answer_column=answer_column,
        problem_column=problem_column,
        id_column=id_column,
        bank=bank,
        partial_credit=partial_credit,
        deadline_s=deadline_s,
        name=name,
        end_tokens=end_tokens,
    )


def for_trl_async(
    *,
    answer_column: str | None = None,
    problem_column: str | None = None,
    id_column: str | None = None,
    bank: str | Path | Mapping[str, AnyProblem] | None = None,
    partial_credit: bool = False,
    deadline_s: float = DEFAULT_DEADLINE_S,
    name: str = "verifier_reward",
    end_tokens: Sequence[str] = (),
) -> AsyncReward:
    """``for_trl`` as an ``async def`` function; TRL runs async rewards concurrently on its event loop."""
    return _as_async(
        _make(
            answer_column=answer_column,
            problem_column=problem_column,
            id_column=id_column,
            bank=bank,
            partial_credit=partial_credit,
            deadline_s=deadline_s,
            name=name,
            end_tokens=end_tokens,
        )
    )
