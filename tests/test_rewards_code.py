"""Code rewards through the real sandbox pool, mixed with math in one batch; an engine that cannot
be reached gives missing rewards, never 0."""

from __future__ import annotations

import pytest

from verifier.rewards import Missing, RewardOptions, score_batch
from verifier.rewards.verl import compute_score

pytestmark = pytest.mark.docker

CALL = {
    "id": "double",
    "kind": "code",
    "prompt": "Write double(x).",
    "tests": {
        "style": "call",
        "entry_point": "double",
        "cases": [
            {"args": [2], "expected": 4},
            {"args": [3], "expected": 6},
            {"args": ["a"], "expected": "aa"},
            {"args": [[1]], "expected": [1, 1]},
        ],
    },
}


def fenced(code: str) -> str:
    return f"Here is my solution.\n```python\n{code}\n```"


RIGHT = fenced("def double(x):\n    return x * 2")
HALF = fenced("def double(x):\n    return x * 2 if isinstance(x, int) else None")


def test_mixed_batch_of_code_and_math(sandbox_pool):
    items = [
        (CALL, RIGHT),
        ("8", "#### 8"),
        (CALL, HALF),
        ("8", "#### 9"),
        (CALL, "no code at all ```text\nx\n```"),
    ]
    results = score_batch(items, options=RewardOptions(sandbox=sandbox_pool))
    assert [r.score for r in results] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert [r.kind for r in results] == ["code", "math", "code", "math", "code"]


def test_partial_credit_is_the_fraction_of_tests_passed(sandbox_pool):
    results = score_batch(
        [(CALL, HALF), (CALL, RIGHT)], options=RewardOptions(sandbox=sandbox_pool, partial_credit=True)
    )
    assert [r.score for r in results] == [0.5, 1.0]


def test_verl_code_problem_as_ground_truth(sandbox_pool, monkeypatch):
    import verifier.code.check as check_module

    monkeypatch.setattr(check_module, "_default_pool", sandbox_pool)  # the session's pool as the default
    assert compute_score("humaneval", RIGHT, CALL)["score"] == 1.0
    assert compute_score("humaneval", HALF, CALL, partial_credit=True)["score"] == 0.5


def test_unreachable_engine_gives_missing_rewards(docker_client):
    """A real pool pointed at an address where no Docker engine answers: whether it fails or just never
    gets a container, the reward is missing (None), never 0, and the math item is unaffected."""
    import docker

    from sandboxes.pool import SandboxPool

    dead = docker.DockerClient(base_url="tcp://127.0.0.1:9", timeout=2, version="1.43")
    pool = SandboxPool(size=1, client=dead)
    results = score_batch([(CALL, RIGHT), ("8", "#### 8")], options=RewardOptions(sandbox=pool, deadline_s=5))
    assert results[0].score is None and results[0].missing in (Missing.INFRA, Missing.DEADLINE)
    assert results[1].score == 1.0


@pytest.mark.parametrize(
    "end", ["<|im_end|>", "</s>", "<|eot_id|>", "<|endoftext|><|endoftext|>", "<end_of_turn>"]
)
def test_an_end_token_after_the_program_does_not_zero_it(sandbox_pool, end):
    """A bare program (no fence) followed by the chat template's end token was a syntax error."""
    bare = "def double(x):\n    return x * 2\n"
    results = score_batch(
        [(CALL, bare + end), (CALL, RIGHT + end)], options=RewardOptions(sandbox=sandbox_pool)
    )
    assert [(r.score, r.status) for r in results] == [(1.0, "pass"), (1.0, "pass")]
    from verifier.code import check_code  # the checker's own entry strips them too (CLI, pipeline)

    assert check_code(problem=CALL, completion=bare + end, sandbox=sandbox_pool).correct
