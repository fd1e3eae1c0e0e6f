"""`verify bank import mbpp|apps|codecontests`: hand-written samples in each public format (the real
datasets are not shipped), every bad record named as file:line: field, and the imported references
passing in the real Docker sandbox (`verify bank check`, the bank self-check)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_verify
from verifier.banks.importers import ImportOptions, convert, import_file
from verifier.banks.loader import load_bank
from verifier.errors import InputError
from verifier.schema import AssertTests, CallTests, CodeProblem, IOTests

DATA = Path(__file__).resolve().parent / "data"
MBPP, APPS, CONTESTS = (
    DATA / "mbpp_sample.jsonl",
    DATA / "apps_sample.jsonl",
    DATA / "codecontests_sample.jsonl",
)
JUDGING = DATA / "stdio_judging_bank.jsonl"


def _problems(fmt: str, src: Path, tmp_path: Path, **options: Any) -> dict[str, CodeProblem]:
    out = tmp_path / f"{fmt}.jsonl"
    report = import_file(fmt, src, out, ImportOptions(**options))
    bank = load_bank(out)  # what was written is a valid bank
    assert report.written == len(bank.problems) and report.skipped == ()
    return {p.id: p for p in bank.problems if isinstance(p, CodeProblem)}


def test_mbpp_fields(tmp_path: Path) -> None:
    problems = _problems("mbpp", MBPP, tmp_path)
    assert sorted(problems) == [f"mbpp-900{i}" for i in range(1, 9)]
    vowels = problems["mbpp-9001"]
    assert isinstance(vowels.tests, AssertTests)
    assert vowels.tests.entry_point == "count_vowels"
    assert vowels.tests.code.startswith("def check(candidate):\n    assert count_vowels('hello') == 2\n")
    assert vowels.tests.challenge is not None and "Queueing" in vowels.tests.challenge
    assert "Queueing" not in vowels.prompt and "assert count_vowels('rhythm') == 0" in vowels.prompt
    assert vowels.reference_solution is not None and "\r" not in vowels.reference_solution
    assert vowels.meta["task_id"] == 9001
    paths = problems["mbpp-9003"].tests
    assert isinstance(paths, AssertTests) and paths.setup_code.startswith("dag = {1: [2, 3]")
    # the function the tests call, not the builtin around it nor the reference's helper
    common = problems["mbpp-9006"].tests
    assert isinstance(common, AssertTests) and common.entry_point == "common_elements"
    # the tests use the reference's `import math`, as in MBPP's one namespace; setup code that
    # imports it itself (9002) gets no second copy
    distance = problems["mbpp-9007"].tests
    assert isinstance(distance, AssertTests) and distance.setup_code == "import math"
    area = problems["mbpp-9002"].tests
    assert isinstance(area, AssertTests) and area.setup_code == "import math"
    # the tests build the solution's own class: the entry point is still the function they call
    chain = problems["mbpp-9008"].tests
    assert (
        isinstance(chain, AssertTests) and chain.entry_point == "max_chain_length" and chain.setup_code == ""
    )


def test_mbpp_challenge_selected_at_import(tmp_path: Path) -> None:
    vowels = _problems("mbpp", MBPP, tmp_path, challenge=True)["mbpp-9001"].tests
    assert isinstance(vowels, AssertTests) and vowels.challenge is None
    assert "Queueing" in vowels.code and "count_vowels('hello')" in vowels.code


def test_apps_fields(tmp_path: Path) -> None:
    problems = _problems("apps", APPS, tmp_path)
    add = problems["apps-90001"]
    assert isinstance(add.tests, IOTests) and add.tests.compare == "tokens" and len(add.tests.cases) == 3
    assert add.limits.case_timeout_s == 4.0 and add.limits.timeout_s == 12.0
    assert add.reference_solution is not None and add.reference_solution.startswith("t = int(input())")
    assert add.tags == ["introductory"] and add.meta["problem_id"] == 90001
    lines = problems["apps-90002"].tests
    assert isinstance(lines, IOTests) and lines.cases[0].stdin == "abc" and lines.cases[0].stdout == "cba 3"
    digits = problems["apps-90004"].tests
    assert isinstance(digits, CallTests) and digits.entry_point == "digit_sum"
    assert (digits.cases[1].args, digits.cases[1].expected, digits.cases[1].alternatives) == ([123], 6, [[6]])
    water = problems["apps-90005"].tests
    assert isinstance(water, CallTests) and water.entry_point == "Solution.maxArea"
    assert water.cases[0].expected == 49 and water.cases[0].alternatives == []
    assert "class Solution:" in problems["apps-90005"].prompt
    assert _problems("apps", APPS, tmp_path, compare="float")["apps-90003"].tests.compare == "float"  # type: ignore[union-attr]


def test_codecontests_fields(tmp_path: Path) -> None:
    problems = _problems("codecontests", CONTESTS, tmp_path)
    split = problems["codecontests-9901-a-even-split"]
    assert isinstance(split.tests, IOTests)
    assert [c.stdin for c in split.tests.cases] == [
        "8\n",
        "2\n",
        "7\n",
        "100\n",
        "4\n",
        "1\n",
        "6\n",
    ]  # 8 once
    assert split.reference_solution == "w = int(input())\nprint('YES' if w > 2 and w % 2 == 0 else 'NO')\n"
    assert (split.limits.case_timeout_s, split.limits.timeout_s, split.limits.memory_mb) == (2.0, 14.0, 512)
    sums = problems["codecontests-9901-b-prefix-sums"]
    assert (sums.limits.case_timeout_s, sums.limits.memory_mb) == (5.0, 512)
    assert sums.tags == ["implementation"] and sums.meta["cf_rating"] == 1000


def test_a_json_array_source_gives_line_numbers(tmp_path: Path) -> None:
    records = [json.loads(line) for line in MBPP.read_text().splitlines()]
    src = tmp_path / "mbpp.json"
    src.write_text("[\n" + ",\n".join(json.dumps(r) for r in records[:2]) + ',\n{"task_id": 1}\n]\n')
    problems, errors = convert("mbpp", src)
    assert [p.id for p in problems] == ["mbpp-9001", "mbpp-9002"]
    assert errors == [f"{src}:4: text: missing field"]


def _mbpp(**fields: Any) -> str:
    base = {"task_id": 1, "text": "t", "code": "def f(x):\n    return x", "test_list": ["assert f(1) == 1"]}
    return json.dumps({**base, **fields})


def _apps(io: Any, **fields: Any) -> str:
    return json.dumps({"problem_id": 1, "question": "q", "solutions": "[]", "input_output": io, **fields})


APPS_IO = json.dumps({"inputs": ["1"], "outputs": ["1"]})


def _contest(**fields: Any) -> str:
    good = json.loads(CONTESTS.read_text().splitlines()[1])
    return json.dumps({**good, **fields})


@pytest.mark.parametrize(
    "fmt,line,message",
    [
        ("mbpp", '{"task_id": 1}', "text: missing field"),
        ("mbpp", _mbpp(task_id="1"), "task_id: expected an integer, got str"),
        ("mbpp", _mbpp(test_list="assert f(1) == 1"), "test_list: expected a list of strings"),
        ("mbpp", _mbpp(test_list=[]), "test_list: no tests"),
        ("mbpp", _mbpp(test_list=["assert f(1) =="]), "test_list.0: not valid Python"),
        ("mbpp", _mbpp(test_list=["assert 1 == 1"]), "test_list: cannot tell which function the tests call"),
        ("mbpp", _mbpp(test_setup_code="def ("), "test_setup_code: not valid Python"),
        ("mbpp", _mbpp(challenge_test_list=["assert ("]), "challenge_test_list.0: not valid Python"),
        ("mbpp", "[1, 2]", "<json>: expected an object, got list"),
        ("mbpp", '{"task_id": ', "<json>: malformed JSON"),
        ("apps", _apps("{not json"), "input_output: malformed JSON inside the string"),
        ("apps", _apps(""), "input_output: empty"),
        ("apps", _apps(json.dumps({"inputs": ["1"], "outputs": []})), "input_output: 1 inputs and 0 outputs"),
        (
            "apps",
            _apps(json.dumps({"inputs": "1", "outputs": "1"})),
            "input_output: inputs and outputs must be lists",
        ),
        (
            "apps",
            _apps(json.dumps({"inputs": [1], "outputs": ["1"]})),
            "input_output.inputs.0: expected text",
        ),
        (
            "apps",
            _apps(json.dumps({"fn_name": "f", "inputs": [1], "outputs": [1]})),
            "input_output.inputs.0: expected a list",
        ),
        (
            "apps",
            _apps(json.dumps({"fn_name": "not a name", "inputs": [[1]], "outputs": [1]})),
            "input_output.fn_name: expected a function name",
        ),
        (
            "apps",
            _apps(json.dumps({"inputs": ["1"], "outputs": ["1"]}), solutions='["x", 2]'),
            "solutions: expected",
        ),
        (
            "apps",
            _apps(json.dumps({"inputs": ["1"], "outputs": ["1"]}), question=""),
            "question: empty",
        ),
        ("codecontests", json.dumps({"name": "x", "description": "d"}), "public_tests: no tests"),
        (
            "codecontests",
            json.dumps({"name": "x", "description": "d", "public_tests": {"input": ["1"], "output": []}}),
            "public_tests: 1 inputs and 0 outputs",
        ),
        (
            "codecontests",
            json.dumps({"name": "x", "description": "d", "private_tests": {"input": [1], "output": ["1"]}}),
            "private_tests.input: expected a list of strings",
        ),
        # Every mistyped field of a CodeContests record is named (these were tracebacks once).
        (
            "codecontests",
            _contest(time_limit={"seconds": "abc"}),
            "time_limit.seconds: expected a number, got str",
        ),
        (
            "codecontests",
            _contest(time_limit={"seconds": [1]}),
            "time_limit.seconds: expected a number, got list",
        ),
        (
            "codecontests",
            _contest(time_limit={"seconds": 1, "nanos": -5}),
            "time_limit.nanos: expected a finite",
        ),
        ("codecontests", _contest(time_limit={"seconds": 10**400}), "time_limit.seconds: too large"),
        ("codecontests", _contest(time_limit={"seconds": True}), "time_limit.seconds: expected a number"),
        ("codecontests", _contest(time_limit=5), "time_limit: expected an object with seconds and nanos"),
        ("codecontests", _contest(cf_tags=5), "cf_tags: expected a list of strings"),
        ("codecontests", _contest(cf_tags=["dp", 3]), "cf_tags: expected a list of strings"),
        (
            "codecontests",
            _contest(solutions={"language": 5, "solution": ["x"]}),
            "solutions.language: expected a list of language ids",
        ),
        (
            "codecontests",
            _contest(solutions={"language": [3], "solution": 5}),
            "solutions.solution: expected a list of strings",
        ),
        (
            "codecontests",
            _contest(solutions={"language": [3, 2], "solution": ["x"]}),
            "solutions: 2 languages and 1 solutions",
        ),
        ("codecontests", _contest(solutions=["x"]), "solutions: expected an object"),
        ("codecontests", _contest(memory_limit_bytes="64MB"), "memory_limit_bytes: expected an integer"),
        ("codecontests", _contest(memory_limit_bytes=-1), "memory_limit_bytes: expected a size >= 0"),
        ("codecontests", _contest(cf_rating=[800]), "cf_rating: expected an integer or a string, got list"),
        ("codecontests", _contest(name=5), "name: expected a string, got int"),
        ("codecontests", _contest(description=None), "description: expected a string"),
        ("codecontests", _contest(public_tests="1"), "public_tests: expected an object"),
        ("apps", _apps(APPS_IO, problem_id=[1]), "problem_id: expected an integer or a string, got list"),
        ("apps", _apps(APPS_IO, difficulty=5), "difficulty: expected a string, got int"),
        ("apps", _apps(APPS_IO, url=["x"]), "url: expected a string, got list"),
        (
            "mbpp",
            _mbpp(test_list=["assert f(" + "-" * 30000 + "1) == 1"]),
            "test_list.0: not valid Python: nested",
        ),
        (
            "mbpp",
            _mbpp(test_setup_code="x = " + "-" * 3000 + "1"),
            "test_setup_code: not valid Python: nested",
        ),
        ("mbpp", _mbpp(test_list=["assert f(1) == 1\x00"]), "test_list.0: not valid Python"),
    ],
)
def test_bad_records_name_file_line_and_field(tmp_path: Path, fmt: str, line: str, message: str) -> None:
    good = {"mbpp": MBPP, "apps": APPS, "codecontests": CONTESTS}[fmt].read_text().splitlines()[0]
    src = tmp_path / "src.jsonl"
    src.write_text(f"{good}\n\n{line}\n")
    with pytest.raises(InputError) as e:
        import_file(fmt, src, tmp_path / "out.jsonl")
    assert len(e.value.messages) == 1
    assert e.value.messages[0].startswith(f"{src}:3: {message}"), e.value.messages
    assert not (tmp_path / "out.jsonl").exists()  # nothing written


def test_a_converter_gap_still_names_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The backstop for a field no helper checks: the record's error, with its line, not a traceback.
    from verifier.banks import importers

    def gap(index: int, r: dict[str, Any], options: ImportOptions) -> Any:
        return {"a": 1}[r["key"]] if index else int(r["n"])

    monkeypatch.setitem(importers.FORMATS, "mbpp", gap)
    src = tmp_path / "src.jsonl"
    src.write_text('{"n": "x"}\n{"key": "b"}\n')
    problems, errors = convert("mbpp", src)
    assert problems == []
    assert errors == [
        f"{src}:1: <record>: ValueError: invalid literal for int() with base 10: 'x'",
        f"{src}:2: <record>: KeyError: 'b'",
    ]


def test_every_bad_record_is_reported_or_skipped(tmp_path: Path) -> None:
    lines = MBPP.read_text().splitlines()
    src = tmp_path / "src.jsonl"
    src.write_text("\n".join([lines[0], '{"task_id": 2}', lines[1], "{oops", _mbpp(test_list=[])]) + "\n")
    with pytest.raises(InputError) as e:
        import_file("mbpp", src, tmp_path / "out.jsonl")
    assert e.value.messages == [
        f"{src}:2: text: missing field",
        f"{src}:4: <json>: malformed JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{src}:5: test_list: no tests",
    ]
    report = import_file("mbpp", src, tmp_path / "out.jsonl", ImportOptions(skip_invalid=True))
    assert report.written == 2 and report.skipped == tuple(e.value.messages)
    assert [p.id for p in load_bank(tmp_path / "out.jsonl").problems] == ["mbpp-9001", "mbpp-9002"]


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    line = MBPP.read_text().splitlines()[0]
    src = tmp_path / "src.jsonl"
    src.write_text(f"{line}\n{line}\n")
    for options in (ImportOptions(), ImportOptions(skip_invalid=True)):
        with pytest.raises(InputError) as e:
            import_file("mbpp", src, tmp_path / "out.jsonl", options)
        assert e.value.messages == [f"{src}:2: id: 'mbpp-9001' again (first from line 1)"]
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.jsonl.tmp").exists()


def test_cli_import_errors_exit_2_without_a_traceback(tmp_path: Path) -> None:
    src = tmp_path / "src.jsonl"
    src.write_text('{"task_id": 1}\n')
    done = run_verify("bank", "import", "mbpp", str(src), "-o", str(tmp_path / "out.jsonl"), timeout=120)
    assert done.returncode == 2
    assert f"{src}:1: text: missing field" in done.stderr and "Traceback" not in done.stderr
    contests = tmp_path / "contests.jsonl"
    contests.write_text(CONTESTS.read_text() + _contest(time_limit={"seconds": "abc"}, name="Z") + "\n")
    bad = run_verify(
        "bank", "import", "codecontests", str(contests), "-o", str(tmp_path / "c.jsonl"), timeout=120
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    lines = len(CONTESTS.read_text().splitlines())
    assert f"{contests}:{lines + 1}: time_limit.seconds: expected a number, got str" in bad.stderr
    skipped = run_verify(
        "bank",
        "import",
        "codecontests",
        str(contests),
        "-o",
        str(tmp_path / "c.jsonl"),
        "--skip-invalid",
        timeout=120,
    )
    assert skipped.returncode == 0 and f"wrote {lines} problems" in skipped.stdout, skipped.stderr
    missing = run_verify("bank", "import", "apps", str(tmp_path / "nope.jsonl"), "-o", "x.jsonl", timeout=120)
    assert missing.returncode == 2 and "nope.jsonl:0: <file>: cannot read" in missing.stderr


# ---------------------------------------------------------------- the real sandbox


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_cli_import_and_check_mbpp(tmp_path: Path, docker_client: Any) -> None:
    out = tmp_path / "mbpp.jsonl"
    done = run_verify("bank", "import", "mbpp", str(MBPP), "-o", str(out), timeout=120)
    assert done.returncode == 0 and "wrote 8 problems" in done.stdout, done.stderr
    checked = run_verify("bank", "check", str(out), timeout=280)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "code self-check 8/8 passed" in checked.stdout


@pytest.mark.docker
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "fmt,src,options",
    [
        ("mbpp", MBPP, {}),
        ("mbpp", MBPP, {"challenge": True}),
        ("apps", APPS, {"compare": "float"}),
        ("codecontests", CONTESTS, {}),
    ],
)
def test_imported_references_pass_and_mutants_fail(
    sandbox_pool: Any, tmp_path: Path, fmt: str, src: Path, options: dict[str, Any]
) -> None:
    from verifier.code.selfcheck import selfcheck_code_problems

    problems = list(_problems(fmt, src, tmp_path, **options).values())
    assert selfcheck_code_problems(problems, sandbox=sandbox_pool) == [[] for _ in problems]


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_a_float_answer_fails_token_comparison(sandbox_pool: Any, tmp_path: Path) -> None:
    from verifier.code.selfcheck import selfcheck_code_problem

    mean = _problems("apps", APPS, tmp_path)["apps-90003"]
    (message,) = selfcheck_code_problem(mean, sandbox=sandbox_pool)
    assert "reference solution does not pass: wrong" in message
    assert "token 1: expected '2.3333333333', got '2.3333333333333335'" in message


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_broken_challenge_tests_fail_the_self_check(sandbox_pool: Any, tmp_path: Path) -> None:
    from verifier.code.selfcheck import selfcheck_code_problem

    vowels = _problems("mbpp", MBPP, tmp_path)["mbpp-9001"]
    assert isinstance(vowels.tests, AssertTests) and vowels.tests.challenge is not None
    broken = vowels.model_copy(
        update={
            "tests": vowels.tests.model_copy(
                update={"challenge": vowels.tests.challenge.replace("== 5", "== 6")}
            )
        }
    )
    (message,) = selfcheck_code_problem(broken, sandbox=sandbox_pool)
    assert "reference solution does not pass the challenge tests: wrong: assertion failed" in message


def test_a_multi_line_string_in_a_test_keeps_its_meaning(tmp_path: Path) -> None:
    src = tmp_path / "src.jsonl"
    test = 'assert f("""a\nb""") == "a\\nb"'  # indenting it would put spaces into the string
    src.write_text(_mbpp(code="def f(x):\n    return x", test_list=[test, "assert f(\n    1) == 1"]) + "\n")
    (problem,) = convert("mbpp", src)[0]
    assert isinstance(problem, CodeProblem) and isinstance(problem.tests, AssertTests)
    namespace: dict[str, Any] = {"f": lambda x: x}
    exec(problem.tests.code, namespace)
    namespace["check"](namespace["f"])
    assert "    assert f(\n        1) == 1" in problem.tests.code


def test_hostile_and_compressed_sources(tmp_path: Path) -> None:
    import gzip

    deep = tmp_path / "deep.jsonl"
    nested = "[" * 100_000 + "]" * 100_000
    deep.write_text('{"a": ' + nested + "}\n" + _apps(nested) + "\n")
    problems, errors = convert("apps", deep)
    assert problems == []
    assert errors[0] == f"{deep}:1: <json>: nested too deeply"
    assert errors[1] == f"{deep}:2: input_output: JSON inside the string nested too deeply"
    packed = tmp_path / "mbpp.jsonl.gz"
    packed.write_bytes(gzip.compress(MBPP.read_bytes()))
    assert len(convert("mbpp", packed)[0]) == 8
    broken_array = tmp_path / "a.json"
    broken_array.write_text("[\n" + MBPP.read_text().splitlines()[0] + ",\n\n{oops}\n]")
    problems, errors = convert("mbpp", broken_array)
    assert len(problems) == 1 and errors[0].startswith(f"{broken_array}:4: <json>: malformed JSON")


def test_a_failed_import_leaves_the_old_bank(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    src = tmp_path / "src.jsonl"
    src.write_text('{"task_id": 1}\n')
    with pytest.raises(InputError):
        import_file("mbpp", src, out)
    assert out.read_text() == "old\n" and not (tmp_path / "out.jsonl.tmp").exists()


def test_cli_options_and_skipped_records(tmp_path: Path) -> None:
    out = str(tmp_path / "out.jsonl")
    wrong = run_verify("bank", "import", "mbpp", str(MBPP), "-o", out, "--compare", "float", timeout=120)
    assert wrong.returncode == 2 and "--compare applies to apps and codecontests only" in wrong.stderr
    wrong = run_verify("bank", "import", "apps", str(APPS), "-o", out, "--challenge", timeout=120)
    assert wrong.returncode == 2 and "--challenge applies to mbpp only" in wrong.stderr
    src = tmp_path / "src.jsonl"
    src.write_text(MBPP.read_text() + '{"task_id": 1}\n')
    done = run_verify("bank", "import", "mbpp", str(src), "-o", out, "--skip-invalid", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "wrote 8 problems" in done.stdout and "(1 records skipped)" in done.stdout
    assert f"skipped: {src}:9: text: missing field" in done.stderr
    floats = run_verify("bank", "import", "apps", str(APPS), "-o", out, "--compare", "float", timeout=120)
    assert floats.returncode == 0
    stdio = [
        p.tests
        for p in load_bank(out).problems
        if isinstance(p, CodeProblem) and isinstance(p.tests, IOTests)
    ]
    assert len(stdio) == 3 and all(t.compare == "float" for t in stdio)
