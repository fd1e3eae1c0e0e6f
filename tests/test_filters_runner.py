"""`verify filter` on a real run directory: the pipeline verifies the committed GSM8K labelled model
solutions (responses mode, real math checker), then stages are applied, resumed, re-keyed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from verifier.filters.arithmetic import ArithmeticStage
from verifier.filters.dedup import DedupStage
from verifier.filters.runner import run_filters
from verifier.filters.store import FilterLog, FilterRecord

BANK = REPO / "problem_banks" / "gsm8k-test.jsonl"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def verify(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verifier.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=REPO,
        timeout=600,
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A run of 40 GSM8K problems x 4 labelled model solutions, verified by the real pipeline."""
    tmp = tmp_path_factory.mktemp("run")
    questions = {json.loads(line)["question"]: json.loads(line)["id"] for line in BANK.open(encoding="utf-8")}
    responses = tmp / "responses.jsonl"
    with (
        (REPO / "tests" / "data" / "gsm8k_example_model_solutions_40.jsonl").open(encoding="utf-8") as fh,
        responses.open("w", encoding="utf-8") as out,
    ):
        for line in fh:
            row = json.loads(line)
            for name, sol in row.items():
                if isinstance(sol, dict):  # "A: 18" is their answer line; the bank's format is "#### 18"
                    text = re.sub(r"\nA: *(.*)$", r"\n#### \1", sol["solution"])
                    pid = questions[row["question"]]
                    out.write(json.dumps({"problem_id": pid, "completion": text, "model": name}) + "\n")
    run = tmp / "run"
    done = verify("--bank", BANK, "--responses", responses, "--limit", 40, "--out", run)
    assert done.returncode == 0, done.stdout + done.stderr
    return run


@pytest.fixture
def run_dir(finished_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def records(run: Path) -> list[FilterRecord]:
    return list(FilterLog(run / "filters.jsonl").outcomes().values())


def verified_count(run: Path) -> int:
    return json.loads((run / "summary.json").read_text())["verified"]


def test_cli_filters_a_finished_run_without_touching_chains(run_dir):
    before = digest(run_dir / "chains.jsonl")
    done = verify("filter", run_dir, "--filters", "arithmetic,dedup", "--keep-per-problem", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert digest(run_dir / "chains.jsonl") == before
    n = verified_count(run_dir)
    assert n > 20
    recs = records(run_dir)
    assert len(recs) == 2 * n and {r.stage for r in recs} == {"arithmetic", "dedup"}
    summary = json.loads((run_dir / "summary.json").read_text())
    for stage in ("arithmetic", "dedup"):
        counts = summary["filters"][stage]
        assert counts["kept"] + counts["dropped"] == n
    # at most 2 per problem survive dedup, and verified.jsonl holds exactly the survivors of both
    kept_units = {(r.problem_id, r.sample_index) for r in recs if r.kept}
    both = {u for u in kept_units if all(x.kept for x in recs if (x.problem_id, x.sample_index) == u)}
    lines = [json.loads(line) for line in (run_dir / "verified.jsonl").read_text().splitlines()]
    assert {(x["problem_id"], x["sample_index"]) for x in lines} == both
    assert summary["kept_after_filters"] == len(lines)
    per_problem: dict[str, int] = {}
    for x in lines:
        per_problem[x["problem_id"]] = per_problem.get(x["problem_id"], 0) + 1
    assert max(per_problem.values()) <= 2
    assert "dedup" in done.stdout and "kept by every stage" in done.stdout


def test_adding_a_stage_never_redoes_the_others(run_dir):
    bank = None
    first = run_filters(run_dir, [ArithmeticStage()], bank=bank, bank_label="b")
    assert first.stages[0].judged == first.verified
    second = run_filters(run_dir, [ArithmeticStage(), DedupStage()], bank=bank, bank_label="b")
    assert [s.judged for s in second.stages] == [0, first.verified]
    # other dedup settings: a new key, judged again; arithmetic still on record
    third = run_filters(
        run_dir, [ArithmeticStage(), DedupStage(keep_per_problem=1)], bank=bank, bank_label="b"
    )
    assert [s.judged for s in third.stages] == [0, first.verified]
    assert third.stages[1].settings_key != second.stages[1].settings_key
    assert len(records(run_dir)) == 3 * first.verified


def test_killed_run_resumes_from_a_torn_log(run_dir):
    full = run_filters(run_dir, [ArithmeticStage()], bank=None, bank_label="b")
    path = run_dir / "filters.jsonl"
    lines = path.read_bytes().split(b"\n")[:-1]
    # what kill -9 leaves: the first 10 records whole, the 11th cut mid-line
    path.write_bytes(b"\n".join(lines[:10]) + b"\n" + lines[10][:25])
    again = run_filters(run_dir, [ArithmeticStage()], bank=None, bank_label="b")
    assert again.stages[0].judged == full.verified - 10
    assert (again.stages[0].kept, again.stages[0].dropped) == (full.stages[0].kept, full.stages[0].dropped)
    assert len(path.read_bytes().split(b"\n")) - 1 == full.verified


def test_a_resumed_run_with_more_samples_rejudges_dedup_for_that_problem(run_dir):
    run_filters(run_dir, [DedupStage()], bank=None, bank_label="b")
    chains = run_dir / "chains.jsonl"
    last = json.loads(chains.read_text().splitlines()[-1])
    pid = last["problem_id"]
    extra = [
        {
            **last,
            "sample_index": 90 + k,
            "completion": f"A new way: {k} + 1 = {k + 1}.\n#### 1",
            "verdict": {**last["verdict"], "correct": True, "status": "correct"},
        }
        for k in range(2)
    ]
    with chains.open("a") as fh:
        fh.write("".join(json.dumps(x) + "\n" for x in extra))
    again = run_filters(run_dir, [DedupStage()], bank=None, bank_label="b")
    group = [r for r in records(run_dir) if r.problem_id == pid]
    assert again.stages[0].judged == len({r.sample_index for r in group})


def test_bad_input_is_a_clear_error_exit_2(run_dir, tmp_path):
    unknown = verify("filter", run_dir, "--filters", "arithmetic,spelling")
    assert unknown.returncode == 2 and "--filters: unknown stage 'spelling'" in unknown.stderr
    not_a_run = verify("filter", tmp_path / "nothing", "--filters", "arithmetic")
    assert not_a_run.returncode == 2 and "not a run directory" in not_a_run.stderr
    assert "Traceback" not in not_a_run.stderr
    log = run_dir / "filters.jsonl"
    verify("filter", run_dir, "--filters", "arithmetic")
    lines = log.read_text().splitlines()
    lines[3] = '{"problem_id": "x", "stage": 3}'
    log.write_text("\n".join(lines) + "\n")
    corrupt = verify("filter", run_dir, "--filters", "arithmetic")
    assert corrupt.returncode == 2, corrupt.stderr
    assert f"{log}:4: " in corrupt.stderr and "Traceback" not in corrupt.stderr
    band = verify("filter", run_dir, "--filters", "anchor", "--band", "0.9")
    assert band.returncode == 2 and "--band: expected LOW,HIGH" in band.stderr


def test_main_job_filters_its_run(finished_run, tmp_path):
    """`verify --bank B --responses R --filters ...` runs the filter step after the pipeline."""
    responses = finished_run.parent / "responses.jsonl"
    run = tmp_path / "run"
    done = verify(
        "--bank", BANK, "--responses", responses, "--limit", 40, "--out", run, "--filters", "arithmetic,dedup"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["filters"]) == {"arithmetic", "dedup"}
    assert summary["kept_after_filters"] == len((run / "verified.jsonl").read_text().splitlines())
    bad = verify("--bank", BANK, "--responses", responses, "--out", tmp_path / "bad", "--filters", "nope")
    assert bad.returncode == 2 and "--filters: unknown stage 'nope'" in bad.stderr
    assert not (tmp_path / "bad" / "chains.jsonl").exists()  # refused before the run started
