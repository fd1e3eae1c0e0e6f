"""verl's entry file: ``custom_reward_function.path=<this file> custom_reward_function.name=compute_score``.

verl loads this file by path under a made-up module name that it does not register, so a function
defined here could not be pickled, and verl's prime manager sends the function to a process pool.
The file therefore only re-exports the installed module's objects, which pickle by reference.
The implementation and its contract are in ``verifier/rewards/verl_score.py``.
"""

from verifier.rewards.verl_score import MissingReward, VerlScore, compute_score

__all__ = ["MissingReward", "VerlScore", "compute_score"]
