"""Pure parts of the code checker: extraction, program assembly, host-side judging, the harness's
type-strict comparison and plain-JSON serialisation. No Docker."""

from __future__ import annotations

import collections
import decimal
import fractions
import json

import pytest

from sandboxes.protocol import JobResult, parse_result_channel
from sandboxes.runner.codec import decode, encode, loads_bounded
from verifier.code.extract import CodeExtraction, extract_code
from verifier.code.judge import json_equal, judge
from verifier.code.program import assemble, defines
from verifier.code.selfcheck import return_none_mutant
from verifier.code.stdio_compare import normalise_output
from verifier.code.verdict import CodeStatus
from verifier.schema import AssertTests, CallCase, CallTests, CodeProblem

FENCED = (
    "Reasoning...\n```python\ndef f():\n    return 1\n```\nthen\n```python\ndef f():\n    return 2\n```\n"
)


@pytest.mark.parametrize(
    "completion,config,expected",
    [
        (FENCED, CodeExtraction(), "def f():\n    return 2"),
        (FENCED, CodeExtraction(block="first"), "def f():\n    return 1"),
        ("```py\nx = 1\n```", CodeExtraction(), "x = 1"),
        ("```\nx = 1\n```", CodeExtraction(), "x = 1"),
        ("```js\nlet x = 1\n```", CodeExtraction(), None),
        ("    return a + b\n", CodeExtraction(), "    return a + b\n"),
        ("    return a + b\n", CodeExtraction(raw_fallback=False), None),
        ("", CodeExtraction(), None),
        ("   \n", CodeExtraction(), None),
        ("```python\nx = 1\n", CodeExtraction(), "x = 1\n"),  # unterminated last fence
    ],
)
def test_extract_code(completion: str, config: CodeExtraction, expected: str | None) -> None:
    assert extract_code(completion, config) == expected


PROMPT = 'from typing import List\n\n\ndef add(xs: List[int]) -> int:\n    """Sum."""\n'
PROBLEM = CodeProblem(
    id="p",
    kind="code",
    prompt=PROMPT,
    tests=AssertTests(style="assert", code="def check(c):\n    assert c([1]) == 1\n", entry_point="add"),
)


@pytest.mark.parametrize(
    "code,starts_with_prompt",
    [
        ("    return sum(xs)\n", True),  # a body continuing the prompt
        ("def add(xs):\n    return sum(xs)\n", True),  # a full definition: prompt first for its imports
        ("import os\n", True),  # does not define the entry point: treated as a continuation
    ],
)
def test_assemble_prepends_prompt(code: str, starts_with_prompt: bool) -> None:
    assert assemble(PROBLEM, code).startswith(PROMPT.rstrip()) is starts_with_prompt


@pytest.mark.parametrize(
    "code,name,expected",
    [
        ("def f(): pass", "f", True),
        ("async def f(): pass", "f", True),
        ("f = lambda: 1", "f", True),
        ("from m import g as f", "f", True),
        ("def g(): pass", "f", False),
        ("    return 1", "f", False),
    ],
)
def test_defines(code: str, name: str, expected: bool) -> None:
    assert defines(code, name) is expected


@pytest.mark.parametrize(
    "expected,actual,equal",
    [
        (1, 1, True),
        (1, 1.0, False),
        (1, True, False),
        (0.1 + 0.2, 0.3, True),
        (float("nan"), float("nan"), True),
        ([1, [2, "a"]], [1, [2, "a"]], True),
        ([1, 2], [2, 1], False),
        ({"a": 1}, {"a": 1}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        (None, None, True),
        ("1", 1, False),
        ([1, 2], (1, 2), True),  # JSON has no tuples
        ({"a": 2}, collections.Counter(a=2), True),  # as Python's == says
        ({"a": [1]}, collections.defaultdict(list, a=[1]), True),
        ({"a": 1}, collections.OrderedDict(a=1), True),
        ([1], collections.deque([1]), False),  # Python: deque([1]) != [1]
        ([1, 2], {1, 2}, False),
        (0.5, fractions.Fraction(1, 2), False),  # type-strict scalars
        (1, decimal.Decimal(1), False),
    ],
)
def test_json_equal_is_type_strict(expected: object, actual: object, equal: bool) -> None:
    assert json_equal(expected, actual) is equal


class AlwaysEqual:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


class EvilInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


@pytest.mark.parametrize(
    "value",
    [
        1,
        -0.0,
        float("inf"),
        "s",
        None,
        True,
        [1, [2.5, "x"]],
        (1, (2, 3)),
        {"a": 1, (1, 2): [None]},
        {1, 2},
        frozenset({"a"}),
        b"\x00\xff",
        1 + 2j,
        [(), {}, set()],
        collections.Counter("abca"),
        collections.OrderedDict([("b", 1), ("a", 2)]),
        collections.defaultdict(list, {1: [2]}),
        collections.deque([1, 2], maxlen=3),
        fractions.Fraction(2, 3),
        decimal.Decimal("1.10"),
        int,
        collections.Counter,
        range(1, 9, 2),
        bytearray(b"ab"),
        float("nan"),
    ],
)
def test_values_cross_the_candidate_boundary_as_genuine_builtins(value: object) -> None:
    back = decode(json.loads(json.dumps(encode(value))))
    assert type(back) is type(value)
    assert back == value or value != value  # nan
    if isinstance(value, collections.deque):
        assert back.maxlen == value.maxlen


@pytest.mark.parametrize(
    "value", [AlwaysEqual(), EvilInt(1), [AlwaysEqual()], {"k": EvilInt(2)}, object(), iter([])]
)
def test_candidate_objects_cannot_cross(value: object) -> None:
    with pytest.raises(TypeError):
        encode(value)


def test_candidate_objects_cross_only_as_references_when_allowed() -> None:
    kept: list[object] = []

    def keep(obj: object) -> dict:
        kept.append(obj)
        return {"ref": len(kept)}

    evil = AlwaysEqual()
    assert encode([1, evil], keep) == [1, {"ref": 1}] and kept == [evil]
    assert decode([{"ref": 1}], lambda tag, body: (tag, body)) == [("ref", 1)]
    with pytest.raises(ValueError):
        decode({"ref": 1})  # without a resolver (the host) a reference is malformed


@pytest.mark.parametrize("text", ["[" * 200_000 + "]" * 200_000, '{"a":' * 5000 + "1" + "}" * 5000])
def test_hostile_json_is_a_value_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(ValueError):
        loads_bounded(text, max_bytes=10**7)
    with pytest.raises(ValueError):
        loads_bounded("[1]", max_bytes=2)


def test_a_record_nested_200000_deep_is_counted_as_forged() -> None:
    text = "tok " + "[" * 200_000 + "]" * 200_000 + '\ntok {"done":true}\n'
    records, finished, forged = parse_result_channel(text, "tok")
    assert (records, finished, forged) == ([], True, 1)


def test_result_channel_needs_token_and_marker() -> None:
    text = 'tok {"case":0,"value":1}\nforged {"done":true}\ntok {"done":true}\n'
    records, finished, forged = parse_result_channel(text, "tok")
    assert (records, finished, forged) == ([{"case": 0, "value": 1}], True, 1)
    assert parse_result_channel('tok {"case":0}\n', "tok")[1] is False


@pytest.mark.parametrize(
    "text,lines",
    [("1 2 \n3\n\n", ["1 2", "3"]), ("\r\nx\r\n", ["x"]), ("", [])],
)
def test_normalise_output(text: str, lines: list[str]) -> None:
    assert normalise_output(text) == lines


CALL = CallTests(
    style="call", entry_point="f", cases=[CallCase(args=[1], expected=2), CallCase(args=[2], expected=4)]
)


@pytest.mark.parametrize(
    "result,status",
    [
        (JobResult(outcome="sandbox_error", error="engine down"), CodeStatus.SANDBOX_ERROR),
        (JobResult(outcome="timeout"), CodeStatus.TIMEOUT),
        (JobResult(outcome="output_limit"), CodeStatus.OUTPUT_LIMIT),
        (JobResult(outcome="signaled", signal=24), CodeStatus.TIMEOUT),
        (JobResult(outcome="signaled", signal=9, oom_kills=1), CodeStatus.OOM),
        (JobResult(outcome="signaled", signal=9), CodeStatus.RUNTIME_ERROR),
        (JobResult(outcome="exited", exit_code=0), CodeStatus.RUNTIME_ERROR),  # no marker: exit before tests
        (
            JobResult(
                outcome="exited", finished=True, records=[{"case": 0, "value": 2}, {"case": 1, "value": 4}]
            ),
            CodeStatus.PASS,
        ),
        (
            JobResult(
                outcome="exited", finished=True, records=[{"case": 0, "value": 2}, {"case": 1, "value": 4.0}]
            ),
            CodeStatus.WRONG,
        ),
        (
            JobResult(
                outcome="exited",
                finished=True,
                records=[{"case": 0, "value": 2}, {"case": 1, "bad_value": "x"}],
            ),
            CodeStatus.WRONG,
        ),
        (
            JobResult(outcome="exited", finished=True, records=[{"case": 0, "error": "ZeroDivisionError"}]),
            CodeStatus.RUNTIME_ERROR,
        ),
        (  # one case's MemoryError fails that case only (the candidate raised it for one input)
            JobResult(outcome="exited", finished=True, records=[{"case": 0, "error": "MemoryError"}]),
            CodeStatus.RUNTIME_ERROR,
        ),
        (  # ... at the limit, and the harness could not even finish: the job as a whole ran out
            JobResult(
                outcome="exited",
                finished=False,
                records=[{"case": 0, "error": "MemoryError", "memory_limit": True}],
            ),
            CodeStatus.OOM,
        ),
        (
            JobResult(
                outcome="exited",
                finished=True,
                records=[{"phase": "program", "error": "MemoryError", "memory_limit": True}],
            ),
            CodeStatus.OOM,
        ),
        (  # raised by the program itself, far from the limit: an ordinary exception
            JobResult(
                outcome="exited",
                finished=True,
                records=[{"phase": "program", "error": "MemoryError", "memory_limit": False}],
            ),
            CodeStatus.RUNTIME_ERROR,
        ),
        (JobResult(outcome="exited", finished=True, oom_kills=1), CodeStatus.OOM),  # a cgroup OOM kill
        (JobResult(outcome="container_broken", error="died twice"), CodeStatus.RUNTIME_ERROR),
        (
            JobResult(
                outcome="exited",
                finished=True,
                records=[{"case": 0, "value": 2}, {"case": 1, "timeout": True}],
            ),
            CodeStatus.TIMEOUT,
        ),
        (  # a malformed tagged value is the candidate's wrong answer, never an exception
            JobResult(outcome="exited", finished=True, records=[{"case": 0, "value": {"nope": 1}}]),
            CodeStatus.WRONG,
        ),
        (
            JobResult(
                outcome="exited", finished=True, records=[{"phase": "harness", "error": "MemoryError"}]
            ),
            CodeStatus.OOM,
        ),
        (
            JobResult(
                outcome="exited", finished=True, records=[{"phase": "compile", "error": "SyntaxError"}]
            ),
            CodeStatus.RUNTIME_ERROR,
        ),
    ],
)
def test_judge_call_style(result: JobResult, status: CodeStatus) -> None:
    assert judge(result, CALL, "code").status is status


ASSERT = AssertTests(
    style="assert", code="def check(candidate):\n    assert candidate() == 1\n", entry_point="f"
)


@pytest.mark.parametrize(
    "error,at_limit,status",
    [
        ("MemoryError", True, CodeStatus.OOM),
        ("MemoryError", False, CodeStatus.RUNTIME_ERROR),
        ("ZeroDivisionError", False, CodeStatus.RUNTIME_ERROR),
    ],
)
def test_judge_assert_style_memory_error_is_oom(error: str, at_limit: bool, status: CodeStatus) -> None:
    record = {"phase": "test", "error": error, "memory_limit": at_limit}
    result = JobResult(outcome="exited", finished=True, records=[record])
    assert judge(result, ASSERT, "code").status is status


def test_return_none_mutant() -> None:
    mutant = return_none_mutant("def g():\n    return 1\n\ndef f(x):\n    return g() + x\n", "f")
    assert mutant is not None
    assert "return g()" not in mutant and "return 1" in mutant
    assert return_none_mutant("x = 1", "f") is None
