"""`verify report` on real runs: labelled GSM8K solutions (`verify --responses`), the embedded model,
a code-only run in the sandbox, and the run directories a report must survive (no bank, no verified
chain, filters, torn lines, bad records)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import REPO, read_jsonl, run_verify
from verifier.banks.loader import load_bank

SAMPLE = REPO / "tests" / "data" / "gsm8k_example_model_solutions_40.jsonl"
MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
PNG = b"\x89PNG\r\n\x1a\n"


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _gsm8k_bank(tmp: Path) -> Path:
    """The 40 GSM8K test problems of the committed sample (same order as the labelled solutions)."""
    lines = (REPO / "problem_banks" / "gsm8k-test.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    bank = tmp / "gsm8k-40.jsonl"
    bank.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bank


def _labelled_responses(tmp: Path, bank: Path) -> Path:
    problems = read_jsonl(bank)
    rows = []
    for p, line in zip(problems, read_jsonl(SAMPLE), strict=True):
        assert p["question"] == line["question"]
        rows += [{"problem_id": p["id"], "completion": line[m]["solution"], "model": m} for m in MODELS]
    return _write_jsonl(tmp / "responses.jsonl", rows)


def _report(run: Path, *args: str) -> tuple[int, str, str]:
    result = run_verify("report", str(run), *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def gsm8k_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("gsm8k")
    bank = _gsm8k_bank(tmp)
    out = tmp / "run"
    result = run_verify(
        "--bank", str(bank), "--responses", str(_labelled_responses(tmp, bank)), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    return out


def test_report_on_labelled_gsm8k_solutions(gsm8k_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    code, stdout, stderr = _report(gsm8k_run, "--out", str(out), "--price-per-million-tokens", "1")
    assert code == 0, stderr
    summary = json.loads((gsm8k_run / "summary.json").read_text())
    # The grader's labels on this sample agree with our checker: 50 of 160 solutions are right.
    labelled = sum(line[m]["is_correct"] for line in read_jsonl(SAMPLE) for m in MODELS)
    assert summary["verified"] == labelled == 50
    assert f"40 problems, 160 samples, {labelled} verified, {labelled} kept" in stdout
    assert (
        f"pass@1 {summary['pass@1']:.3f}, pass@4 {summary['pass@k']['4']:.3f}, maj@4 {summary['maj@k']['4']:.3f}"
        in stdout
    )
    assert "coverage by embedding cluster" in stdout and "drift vs human solutions (bank)" in stdout
    for m in MODELS:  # one cost row per model of the responses file, with its own kept count
        kept = sum(line[m]["is_correct"] for line in read_jsonl(SAMPLE))
        assert f"cost responses/{m}: {kept} kept of 40" in stdout
    page = (out / "report.html").read_text(encoding="utf-8")
    for section in ("1. Outcomes", "2. Coverage", "3. Drift", "4. Cost", "The hardest problems", "maj@k"):
        assert section in page
    # Self-contained: every image inlined, nothing to fetch.
    assert page.count('src="data:image/png;base64,') >= 7
    for needle in ("http://", "https://", "<script", "<link", "@import", 'src="file'):
        assert needle not in page
    for png in ("pass_rate_histogram", "pass_maj_curves", "breakdown", "cluster_map", "drift_distributions"):
        assert (out / f"{png}.png").read_bytes().startswith(PNG)
    resample = out / "resample-bank.jsonl"
    if resample.exists():  # a sub-bank `verify --bank` accepts, of problems with no kept chain
        ids = {p.id for p in load_bank(resample).problems}
        kept = {c["problem_id"] for c in read_jsonl(gsm8k_run / "verified.jsonl")}
        assert ids and not ids & kept
        assert f"verify --bank {resample}" in stdout


def test_drift_gate_exits_1_and_a_run_against_itself_does_not_drift(gsm8k_run: Path, tmp_path: Path) -> None:
    code, stdout, _ = _report(
        gsm8k_run, "--out", str(tmp_path / "a"), "--clusters", "0", "--max-drift", "0.001"
    )
    assert code == 1 and "drift gate FAILED" in stdout
    code, stdout, _ = _report(
        gsm8k_run,
        "--out",
        str(tmp_path / "b"),
        "--clusters",
        "0",
        "--baseline",
        str(gsm8k_run),
        "--max-drift",
        "0.001",
    )
    assert code == 0, stdout
    assert "drift gate passed" in stdout and "KL 0.000" in stdout
    page = (tmp_path / "b" / "report.html").read_text(encoding="utf-8")
    assert f"kept chains of {gsm8k_run.name}" in page


def test_filter_stages_from_filters_jsonl(gsm8k_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(gsm8k_run, run)
    verified = [c for c in read_jsonl(run / "chains.jsonl") if c["verdict"]["correct"]]
    rows = []
    for i, c in enumerate(verified):
        key = {"problem_id": c["problem_id"], "sample_index": c["sample_index"], "settings_key": "k1"}
        anchor_kept = i >= 3
        rows.append(
            {**key, "stage": "anchor", "kept": anchor_kept, "reason": "far from the anchor", "details": {}}
        )
        if anchor_kept:
            rows.append(
                {**key, "stage": "dedup", "kept": i >= 5, "reason": "near-duplicate", "details": {"j": 0.9}}
            )
    # Lines of an earlier filter run with other settings: summary.json says which settings are current.
    rows += [
        {"problem_id": c["problem_id"], "sample_index": c["sample_index"], "settings_key": "old"}
        | {"stage": "anchor", "kept": False, "reason": "old settings", "details": {}}
        for c in verified
    ]
    _write_jsonl(run / "filters.jsonl", rows)
    summary = json.loads((run / "summary.json").read_text())
    summary["filters"] = {"anchor": {"settings_key": "k1"}, "dedup": {"settings_key": "k1"}}
    (run / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    code, stdout, stderr = _report(run, "--clusters", "0")
    assert code == 0, stderr
    assert "dropped by anchor 3, dropped by dedup 2" in stdout
    assert f"{len(verified)} verified, {len(verified) - 5} kept" in stdout
    page = (run / "report" / "report.html").read_text(encoding="utf-8")
    assert "Filter stages" in page


def test_zero_verified_chains_and_a_missing_bank(tmp_path: Path) -> None:
    bank = tmp_path / "bank.jsonl"
    shutil.copy(REPO / "problem_banks" / "gsm-style.jsonl", bank)
    rows = [{"problem_id": p["id"], "completion": "I do not know."} for p in read_jsonl(bank)[:5]]
    run = tmp_path / "run"
    result = run_verify(
        "--bank", str(bank), "--responses", str(_write_jsonl(tmp_path / "r.jsonl", rows)), "--out", str(run)
    )
    assert result.returncode == 0, result.stderr
    code, stdout, stderr = _report(run)
    assert code == 0, stderr
    assert "5 problems, 5 samples, 0 verified, 0 kept" in stdout and "no answer 5" in stdout
    assert (run / "report" / "report.html").is_file()
    code, stdout, _ = _report(run, "--max-drift", "1")
    assert code == 1 and "nothing to measure" in stdout  # a gate that cannot measure does not pass
    bank.unlink()
    code, stdout, stderr = _report(run, "--out", str(tmp_path / "nobank"))
    assert code == 0, stderr
    page = (tmp_path / "nobank" / "report.html").read_text(encoding="utf-8")
    assert "not found: coverage and drift against human solutions are skipped" in page


def test_torn_last_line_is_skipped_with_a_note(gsm8k_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(gsm8k_run, run)
    before = (run / "chains.jsonl").read_bytes()
    with (run / "chains.jsonl").open("ab") as fh:
        fh.write(b'{"problem_id": "gsm8k-te')
    code, stdout, stderr = _report(run, "--clusters", "0")
    assert code == 0, stderr
    assert "160 samples" in stdout
    assert "cut short" in (run / "report" / "report.html").read_text(encoding="utf-8")
    assert (run / "chains.jsonl").read_bytes() == before + b'{"problem_id": "gsm8k-te'  # read-only


@pytest.mark.parametrize(
    "damage,expected",
    [
        ("chains", "chains.jsonl:2: <json>: malformed JSON"),
        ("chains-field", "chains.jsonl:1: tokens: Input should be greater than or equal to 0"),
        ("filters", "filters.jsonl:1: kept: missing field"),
        ("run-json", "run.json:1: <json>: not JSON"),
        ("no-chains", "chains.jsonl:0: <file>: missing"),
    ],
)
def test_bad_run_directories_exit_2_naming_file_line_field(
    gsm8k_run: Path, tmp_path: Path, damage: str, expected: str
) -> None:
    run = tmp_path / "run"
    shutil.copytree(gsm8k_run, run)
    chains = run / "chains.jsonl"
    lines = chains.read_text(encoding="utf-8").split("\n")
    if damage == "chains":
        chains.write_text("\n".join([lines[0], "{not json", *lines[1:]]), encoding="utf-8")
    elif damage == "chains-field":
        first = json.loads(lines[0]) | {"tokens": -1}
        chains.write_text("\n".join([json.dumps(first), *lines[1:]]), encoding="utf-8")
    elif damage == "filters":
        _write_jsonl(run / "filters.jsonl", [{"problem_id": "x", "sample_index": 0, "stage": "anchor"}])
    elif damage == "run-json":
        (run / "run.json").write_text("{oops", encoding="utf-8")
    else:
        chains.unlink()
    code, _, stderr = _report(run, "--clusters", "0")
    assert code == 2
    assert expected in stderr


def test_not_a_run_directory_and_a_bad_baseline_exit_2(gsm8k_run: Path, tmp_path: Path) -> None:
    code, _, stderr = _report(tmp_path / "nope")
    assert code == 2 and "RUN_DIR: not a run directory" in stderr
    code, _, stderr = _report(gsm8k_run, "--baseline", str(tmp_path), "--out", str(tmp_path / "o"))
    assert code == 2 and "chains.jsonl:0: <file>: missing" in stderr


@pytest.mark.model
@pytest.mark.slow
def test_report_on_an_embedded_model_run(embedded_model_path: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_verify(
        "--bank", "problem_banks/gsm-style.jsonl", "--samples", "4", "--limit", "6", "--out", str(run)
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((run / "summary.json").read_text())
    code, stdout, stderr = _report(run, "--price-per-million-tokens", "2", "--gpu-hour-price", "3")
    assert code == 0, stderr
    assert f"6 problems, 24 samples, {summary['verified']} verified" in stdout
    # Every gsm-style problem is tagged "demo" and "easy": no division by tag, only the clusters.
    assert "coverage by tag" not in stdout and "coverage by embedding cluster" in stdout
    chains = read_jsonl(run / "chains.jsonl")
    tokens = sum(c["tokens"] for c in chains)
    if summary["verified"]:
        per_kept = tokens / summary["verified"]
        assert f"{per_kept:.1f} tokens" in stdout
        assert f"{per_kept * 2 / 1e6:.6f} per kept chain (tokens)" in stdout
    page = (run / "report" / "report.html").read_text(encoding="utf-8")
    assert "SmolLM2-135M-Instruct" in page and "vs human solutions (bank)" in page


@pytest.mark.docker
def test_report_on_a_code_only_run(docker_client, tmp_path: Path) -> None:
    bank_lines = (REPO / "problem_banks" / "code-style.jsonl").read_text(encoding="utf-8").splitlines()[:4]
    bank = tmp_path / "code.jsonl"
    bank.write_text("\n".join(bank_lines) + "\n", encoding="utf-8")
    problems = read_jsonl(bank)
    rows = [
        {"problem_id": p["id"], "completion": f"```python\n{p['reference_solution']}\n```"} for p in problems
    ]
    rows.append({"problem_id": problems[0]["id"], "completion": "```python\ndef nothing():\n    pass\n```"})
    run = tmp_path / "run"
    result = run_verify(
        "--bank", str(bank), "--responses", str(_write_jsonl(tmp_path / "r.jsonl", rows)), "--out", str(run)
    )
    assert result.returncode == 0, result.stderr
    code, stdout, stderr = _report(run, "--clusters", "0")
    assert code == 0, stderr
    assert "4 problems, 5 samples, 4 verified, 4 kept" in stdout
    assert "drift vs human solutions (bank)" in stdout  # reference_solution is the human side for code
