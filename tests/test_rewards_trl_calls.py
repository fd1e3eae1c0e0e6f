"""The TRL adapters called exactly as the installed GRPOTrainer calls reward functions.

``GRPOTrainer._calculate_rewards`` of the installed TRL runs on a stand-in for the trainer holding
only what that method reads (device, reward functions and their names, state, the async loop, the
extra-log buffers). So the dispatch (sync, or async on TRL's own loop), the keyword arguments, the
None -> NaN conversion and ``log_extra`` are TRL's own code, not our idea of it. TRL 1.0-1.9
recognised an async reward with ``inspect.iscoroutinefunction``; that check is made too.
"""

from __future__ import annotations

import inspect
import math
import types
from collections import defaultdict

import pytest

from tests.conftest import require
from verifier.rewards import for_trl, for_trl_async
from verifier.rewards.result import Missing, RewardResult

try:  # a dev dependency: under CI=true its absence fails the tests (require), never skips them
    import torch
    import trl.trainer.grpo_trainer as grpo
    import trl.trainer.utils as trl_utils
except ImportError as e:
    _MISSING: str | None = f"TRL and torch are needed: {e}"
else:
    _MISSING = None


@pytest.fixture(autouse=True)
def _installed_trl() -> None:
    require(_MISSING is None, str(_MISSING))


PROMPTS = [[{"role": "user", "content": "Tom has 3 apples and buys 5 more. How many?"}]] * 4
COMPLETIONS = [
    [{"role": "assistant", "content": "3 + 5 = 8\n#### 8"}],
    [{"role": "assistant", "content": "#### 9"}],
    [{"role": "assistant", "content": r"so $\boxed{\sqrt{64}}$"}],  # needs the symbolic stage
    [{"role": "assistant", "content": "I am not sure"}],
]
INPUTS = [
    {"prompt": p, "completion": c, "answer": "8", "problem_id": f"p{i}"}
    for i, (p, c) in enumerate(zip(PROMPTS, COMPLETIONS, strict=True))
]


class _Trainer:
    """What ``GRPOTrainer._calculate_rewards`` reads from ``self``."""

    def __init__(self, reward_funcs: list) -> None:  # type: ignore[type-arg]
        self.reward_funcs = reward_funcs
        self.reward_processing_classes = [None] * len(reward_funcs)
        self.reward_func_names = [trl_utils.get_callable_name(f) for f in reward_funcs]
        self.accelerator = types.SimpleNamespace(device=torch.device("cpu"), is_main_process=True)
        self.args = types.SimpleNamespace(report_to=[])
        self.state = types.SimpleNamespace(global_step=0)
        self.environments = None
        self._pending_extra_logs: defaultdict[str, list] = defaultdict(list)  # type: ignore[type-arg]
        self._pending_metrics: defaultdict[str, list] = defaultdict(list)  # type: ignore[type-arg]
        self._log_completion_extra = types.MethodType(grpo.GRPOTrainer._log_completion_extra, self)
        self._log_metric = types.MethodType(grpo.GRPOTrainer._log_metric, self)
        self.async_loop_thread, self.async_loop, _ready = trl_utils.start_event_loop_in_daemon(
            name="test-loop"
        )
        _ready.wait()

    def rewards(self) -> list[list[float]]:
        completion_ids = [[1, 2, 3]] * len(INPUTS)
        out = grpo.GRPOTrainer._calculate_rewards(self, INPUTS, PROMPTS, COMPLETIONS, completion_ids)
        return out.tolist()

    def close(self) -> None:
        trl_utils.shutdown_event_loop_in_daemon(self.async_loop_thread, self.async_loop)


@pytest.fixture
def trainer_for():
    made: list[_Trainer] = []

    def make(reward_funcs: list) -> _Trainer:  # type: ignore[type-arg]
        made.append(_Trainer(reward_funcs))
        return made[-1]

    yield make
    for t in made:
        t.close()


@pytest.mark.parametrize("factory", [for_trl, for_trl_async], ids=["sync", "async"])
def test_grpo_trainer_calls_the_adapter(factory, trainer_for) -> None:  # type: ignore[no-untyped-def]
    reward = factory(answer_column="answer", name="gsm")
    trainer = trainer_for([reward])
    assert trainer.rewards() == [[1.0], [0.0], [1.0], [0.0]]
    assert trainer.reward_func_names == ["gsm"]
    assert trainer._pending_extra_logs["gsm/status"] == ["correct", "wrong", "correct", "no_answer"]
    assert trainer._pending_extra_logs["gsm/missing"] == ["", "", "", ""]
    assert trainer._pending_metrics["verifier/missing_rewards"] == [0.0]


def test_trl_up_to_1_9_recognises_the_async_variant_and_1_10_both() -> None:
    assert inspect.iscoroutinefunction(for_trl_async())  # TRL 1.0-1.9: grpo_trainer's own check
    assert not inspect.iscoroutinefunction(for_trl())
    assert trl_utils.is_async_callable(for_trl_async()) and not trl_utils.is_async_callable(for_trl())


@pytest.mark.parametrize("factory", [for_trl, for_trl_async], ids=["sync", "async"])
def test_an_undecided_reward_is_nan_next_to_another_reward(factory, trainer_for, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """None becomes NaN in TRL's table; the other function's numbers stay (docs/rewards.md says what
    each aggregation then does with it)."""
    from verifier.rewards import core

    real = core.score_batch

    def one_undecided(items, **kwargs):  # type: ignore[no-untyped-def]
        results = real(items, **kwargs)
        gone = RewardResult(
            None, "timeout", "no result within 5 s", "math", rule="deadline", missing=Missing.DEADLINE
        )
        return [gone, *results[1:]]

    monkeypatch.setattr("verifier.rewards.trl.score_batch", one_undecided)
    monkeypatch.setattr("verifier.rewards.core.score_batch", one_undecided)

    def length_reward(completions, **kwargs):  # type: ignore[no-untyped-def]
        return [min(1.0, len(c[0]["content"]) / 100) for c in completions]

    trainer = trainer_for([factory(answer_column="answer"), length_reward])
    rows = trainer.rewards()
    assert math.isnan(rows[0][0]) and rows[0][1] > 0
    assert [r[0] for r in rows[1:]] == [0.0, 1.0, 0.0]
    assert trainer._pending_extra_logs["verifier_reward/status"][0] == "timeout"
    assert trainer._pending_extra_logs["verifier_reward/missing"][0] == "deadline"
    assert trainer._pending_metrics["verifier/missing_rewards"] == [1.0]
