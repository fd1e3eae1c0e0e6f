"""Rewards for RL trainers from the same verdicts as the CLI: a pure core and thin adapters.

``score`` / ``score_batch`` are the core; ``for_trl`` / ``for_trl_async`` (TRL), ``verl.compute_score``
(verl), ``openrlhf.reward_func`` and ``verify serve`` (OpenRLHF) adapt it. A reward the checker could
not decide (infrastructure failure, deadline) is None where the trainer accepts it, never a silent 0.
"""

from verifier.rewards.core import (
    DEFAULT_DEADLINE_S,
    RewardOptions,
    score,
    score_batch,
    score_batch_async,
)
from verifier.rewards.inputs import BadInput, as_problem, completion_text, strip_prompt
from verifier.rewards.result import Missing, RewardResult
from verifier.rewards.stats import STATS, RewardStats
from verifier.rewards.trl import AsyncReward, TrlReward, for_trl, for_trl_async

__all__ = [
    "DEFAULT_DEADLINE_S",
    "STATS",
    "AsyncReward",
    "BadInput",
    "Missing",
    "RewardOptions",
    "RewardResult",
    "RewardStats",
    "TrlReward",
    "as_problem",
    "completion_text",
    "for_trl",
    "for_trl_async",
    "score",
    "score_batch",
    "score_batch_async",
    "strip_prompt",
]
