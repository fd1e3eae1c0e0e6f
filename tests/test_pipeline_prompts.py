"""`--prompt FILE` (templates per problem kind) and what verified.jsonl holds (`--sft-format`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import REPO, read_jsonl, run_verify
from verifier.errors import InputError
from verifier.generation.prompts import build_messages
from verifier.pipeline.prompt_file import load_prompts
from verifier.schema import CodeProblem, MathProblem

GSM = MathProblem(id="g", kind="math", question="What is 2 + 2?", answer="4")
LATEX = MathProblem(id="l", kind="math", question="Simplify $x+x$.", answer="2x", answer_format="latex")
CODE = CodeProblem.model_validate(
    {
        "id": "c",
        "kind": "code",
        "prompt": "def add(a, b):\n",
        "tests": {
            "style": "assert",
            "code": "def check(f):\n    assert f(1, 2) == 3\n",
            "entry_point": "add",
        },
    }
)

PROMPTS = """\
gsm:
  system: Answer briefly.
  examples:
    - user: What is 1 + 1?
      assistant: "1 + 1 = 2\\n#### 2"
  user: "Problem: {question}"
code:
  user: "Write {entry_point}:\\n{prompt}"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prompts.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_templates_render_per_kind_and_missing_kinds_keep_the_built_in_prompt(tmp_path: Path) -> None:
    prompts = load_prompts(write(tmp_path, PROMPTS))
    assert prompts.build(GSM) == (
        ("system", "Answer briefly."),
        ("user", "What is 1 + 1?"),
        ("assistant", "1 + 1 = 2\n#### 2"),
        ("user", "Problem: What is 2 + 2?"),
    )
    assert prompts.build(CODE) == (("user", "Write add:\ndef add(a, b):\n"),)
    assert prompts.build(LATEX) == build_messages(LATEX)


def test_math_applies_to_both_answer_formats(tmp_path: Path) -> None:
    prompts = load_prompts(write(tmp_path, 'math:\n  user: "Q: {question}"\n'))
    assert prompts.build(GSM) == (("user", "Q: What is 2 + 2?"),)
    assert prompts.build(LATEX) == (("user", "Q: Simplify $x+x$."),)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("gsm:\n  system: hi\n", ["{f}:1: gsm.user: missing field"]),
        ('gsm:\n  user: "{answer}"\n', ["{f}:2: gsm.user: unknown placeholder {answer} (use {question})"]),
        ('gsm:\n  user: "{question"\n', ["{f}:2: gsm.user: not a valid template"]),
        ('gsm:\n  user: "{question}"\n  sytem: x\n', ["{f}:3: gsm.sytem: unknown key"]),
        (
            'gms:\n  user: "{question}"\n',
            ["{f}:1: gms: unknown key (expected one of gsm, latex, code, math)"],
        ),
        (
            'code:\n  user: "{prompt}"\n  examples:\n    - user: a\n',
            ["{f}:4: code.examples[0].assistant: missing field"],
        ),
        ('code:\n  user: "{prompt}"\n  examples: nope\n', ["{f}:3: code.examples: must be a list"]),
        ('gsm:\n  user: ""\n', ["{f}:2: gsm.user: must be a non-empty string"]),
        ("gsm: [\n", ["{f}:2: <yaml>:"]),
        ("", ["{f}:1: <file>: empty"]),
    ],
)
def test_bad_prompt_files_name_file_line_field(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_prompts(path)
    assert len(e.value.messages) == len(expected), e.value.messages
    for got, want in zip(e.value.messages, expected, strict=True):
        assert got.startswith(want.replace("{f}", str(path))), got


def test_prompt_file_shapes_chains_and_verified_holds_only_problem_and_chain(tmp_path: Path) -> None:
    """End to end through `verify --responses`: chains.jsonl keeps the exact prompt; verified.jsonl
    holds the user turn and the chain by default, the whole prompt with --sft-format full."""
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    question = read_jsonl(bank)[0]["question"]
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"problem_id": "gsm-style-00", "completion": "#### 8"}) + "\n")
    prompt = write(tmp_path, PROMPTS)
    for sft_format, out in (("messages", tmp_path / "a"), ("full", tmp_path / "b")):
        args = (
            "--bank",
            str(bank),
            "--responses",
            str(responses),
            "--prompt",
            str(prompt),
            "--out",
            str(out),
        )
        result = run_verify(*args, "--sft-format", sft_format)
        assert result.returncode == 0, result.stderr
        [chain] = read_jsonl(out / "chains.jsonl")
        assert chain["prompt"][0] == {"role": "system", "content": "Answer briefly."}
        assert chain["prompt"][-1] == {"role": "user", "content": f"Problem: {question}"}
        [example] = read_jsonl(out / "verified.jsonl")
        expected = chain["prompt"] if sft_format == "full" else chain["prompt"][-1:]
        assert example["messages"] == [*expected, {"role": "assistant", "content": "#### 8"}]


def test_default_verified_has_no_system_prompt_or_few_shot(tmp_path: Path) -> None:
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"problem_id": "gsm-style-00", "completion": "#### 8"}) + "\n")
    out = tmp_path / "run"
    assert run_verify("--bank", str(bank), "--responses", str(responses), "--out", str(out)).returncode == 0
    [chain] = read_jsonl(out / "chains.jsonl")
    assert [m["role"] for m in chain["prompt"]] == ["system", "user", "assistant", "user"]
    [example] = read_jsonl(out / "verified.jsonl")
    assert [m["role"] for m in example["messages"]] == ["user", "assistant"]
    assert example["messages"][0]["content"] == read_jsonl(bank)[0]["question"]


def test_bad_prompt_file_and_sft_format_exit_2(tmp_path: Path) -> None:
    bank = REPO / "problem_banks" / "gsm-style.jsonl"
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"problem_id": "gsm-style-00", "completion": "#### 8"}) + "\n")
    prompt = write(tmp_path, 'gsm:\n  user: "{answer}"\n')
    result = run_verify("--bank", str(bank), "--responses", str(responses), "--prompt", str(prompt))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{prompt}:2: gsm.user: unknown placeholder {{answer}}")
    result = run_verify("--bank", str(bank), "--responses", str(responses), "--sft-format", "chatml")
    assert result.returncode == 2
    assert result.stderr.strip() == "--sft-format: must be one of messages, full, got 'chatml'"
