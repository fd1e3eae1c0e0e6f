"""TRL adapter: ``GRPOTrainer(reward_funcs=for_trl(...))``.

TRL calls a reward function as ``f(prompts=..., completions=..., completion_ids=..., **columns)``
where each dataset column arrives as a list, one entry per completion, and takes ``None`` as "no
reward" (it becomes NaN and is left out of the group statistics). Completions are strings or chat
messages. The async variant is awaited on TRL's own event loop thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from verifier.rewards.core import DEFAULT_DEADLINE_S, RewardOptions, score_batch, score_batch_async
from verifier.rewards.inputs import AnyProblem, BadInput
from verifier.rewards.result import RewardResult


def _load_bank(bank: str | Path | Mapping[str, AnyProblem] | None) -> dict[str, AnyProblem] | None:
    if bank is None:
        return None
    if isinstance(bank, Mapping):
        return dict(bank)
    from verifier.banks.loader import load_bank

    return load_bank(bank).by_id()


class TrlReward:
    """A plain callable ``f(completions, **kwargs) -> list[float | None]`` (see ``for_trl``)."""

    def __init__(
        self, *, column: str, bank: Mapping[str, AnyProblem] | None, options: RewardOptions, name: str
    ):
        self.column = column
        self.bank = bank
        self.options = options
        self.__name__ = name  # TRL logs each reward under its function's name

    def _items(self, completions: Sequence[Any], kwargs: dict[str, Any]) -> list[tuple[Any, Any]]:
        if self.column not in kwargs:
            columns = sorted(k for k in kwargs if k not in ("prompts", "completion_ids", "trainer_state"))
            raise BadInput(f"the dataset has no column {self.column!r} (columns: {', '.join(columns)})")
        references = kwargs[self.column]
        if len(references) != len(completions):
            raise BadInput(f"{len(completions)} completions but {len(references)} values in {self.column!r}")
        return list(zip(references, completions, strict=True))

    @staticmethod
    def _report(results: list[RewardResult], kwargs: dict[str, Any]) -> list[float | None]:
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            log_metric("verifier/missing_rewards", float(sum(r.score is None for r in results)))
        return [r.score for r in results]

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        results = score_batch(self._items(completions, kwargs), options=self.options, bank=self.bank)
        return self._report(results, kwargs)


class AsyncTrlReward(TrlReward):
    async def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:  # type: ignore[override]
        results = await score_batch_async(
            self._items(completions, kwargs), options=self.options, bank=self.bank
        )
        return self._report(results, kwargs)


def _make(
    cls: type[TrlReward],
    *,
    answer_column: str | None,
    problem_column: str | None,
    id_column: str | None,
    bank: str | Path | Mapping[str, AnyProblem] | None,
    partial_credit: bool,
    deadline_s: float,
    name: str,
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
    column = given[0] if given else "answer"
    options = RewardOptions(deadline_s=deadline_s, partial_credit=partial_credit)
    return cls(column=column, bank=_load_bank(bank), options=options, name=name)


def for_trl(
    *,
    answer_column: str | None = None,
    problem_column: str | None = None,
    id_column: str | None = None,
    bank: str | Path | Mapping[str, AnyProblem] | None = None,
    partial_credit: bool = False,
    deadline_s: float = DEFAULT_DEADLINE_S,
    name: str = "verifier_reward",
) -> TrlReward:
    """A GRPO reward function. Say where the reference is: ``answer_column`` (a gold final answer;
    the default is a column named "answer"), ``problem_column`` (a whole bank record, dict or JSON)
    or ``id_column`` with ``bank`` (a bank file or an id -> problem mapping; an id not in it raises
    ``BadInput``, it is never read as a gold answer)."""
    return _make(
        TrlReward,
        answer_column=answer_column,
        problem_column=problem_column,
        id_column=id_column,
        bank=bank,
        partial_credit=partial_credit,
        deadline_s=deadline_s,
        name=name,
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
) -> AsyncTrlReward:
    """``for_trl`` as an ``async`` callable; TRL runs async rewards concurrently on its event loop."""
    reward = _make(
        AsyncTrlReward,
        answer_column=answer_column,
        problem_column=problem_column,
        id_column=id_column,
        bank=bank,
        partial_credit=partial_credit,
        deadline_s=deadline_s,
        name=name,
    )
    assert isinstance(reward, AsyncTrlReward)
    return reward
