"""JUnit XML, one test case per problem, for CI systems that show test reports.

Without a baseline a problem fails when none of its samples verified. With a baseline it fails only
when its accuracy dropped; a problem that was failing in the baseline already is reported as
skipped, so the report shows what this change broke. Only infrastructure errors: an ``<error>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

from verifier.gate.baseline import Comparison
from verifier.pipeline.outputs import atomic_write
from verifier.schema import ChainRecord


def _undecided(row: dict[str, int]) -> str:
    """Why a problem has no checked sample: the machinery's failures, the bank's own bugs."""
    parts = [f"{row['infra_errors']} infrastructure errors"]
    if row.get("bank_errors"):
        parts.append(f"{row['bank_errors']} bank errors (the problem's gold answer or tests are unusable)")
    return ", ".join(parts)


def _sample_lines(records: list[ChainRecord]) -> str:
    return "\n".join(
        f"sample {r.sample_index}: {r.verdict.status} (extracted {r.extracted!r}): {r.verdict.reason}"
        for r in sorted(records, key=lambda r: r.sample_index)
    )


def build_junit(
    summary: dict[str, Any],
    records: list[ChainRecord],
    *,
    suite: str,
    comparison: Comparison | None = None,
) -> ET.Element:
    by_problem: dict[str, list[ChainRecord]] = defaultdict(list)
    for r in records:
        by_problem[r.problem_id].append(r)
    regressed = {c.problem_id: c for c in comparison.regressed} if comparison else {}
    table: dict[str, dict[str, int]] = summary["per_problem"]
    root = ET.Element("testsuites", name="verify")
    ts = ET.SubElement(root, "testsuite", name=suite)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for pid, row in table.items():
        counts["tests"] += 1
        seconds = sum(r.check_seconds for r in by_problem.get(pid, []))
        case = ET.SubElement(ts, "testcase", classname=suite, name=pid, time=f"{seconds:.3f}")
        samples, correct = int(row["samples"]), int(row["correct"])
        details = _sample_lines(by_problem.get(pid, []))
        if samples == 0:
            counts["errors"] += 1
            ET.SubElement(case, "error", message=f"{_undecided(row)}, no sample checked").text = details
        elif comparison is not None and pid in regressed:
            c = regressed[pid]
            counts["failures"] += 1
            message = f"regression: accuracy {c.before:.2f} -> {c.after:.2f} ({correct}/{samples} verified)"
            ET.SubElement(case, "failure", message=message).text = details
        elif comparison is not None and correct < samples:
            counts["skipped"] += 1
            ET.SubElement(
                case, "skipped", message=f"{correct}/{samples} verified, no worse than the baseline"
            )
        elif comparison is None and correct == 0:
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=f"0/{samples} samples verified").text = details
        ET.SubElement(case, "system-out").text = f"{correct}/{samples} verified\n{details}"
    if comparison is not None and comparison.no_overlap:
        # The per-problem cases cannot show it, yet the gate failed: one case that says why.
        counts["tests"] += 1
        counts["failures"] += 1
        case = ET.SubElement(ts, "testcase", classname=suite, name="baseline overlap", time="0.000")
        ET.SubElement(case, "failure", message=comparison.lines()[0])
    for k, v in counts.items():
        ts.set(k, str(v))
    return root


def write_junit(
    path: Path,
    summary: dict[str, Any],
    records: list[ChainRecord],
    *,
    suite: str = "verify",
    comparison: Comparison | None = None,
) -> None:
    root = build_junit(summary, records, suite=suite, comparison=comparison)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(
        path, '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    )


def write_selfcheck_junit(path: Path, suites: list[tuple[str, list[str], list[str]]]) -> None:
    """`verify bank check --junit`: per bank (name, problem ids, failure lines "id: what"), one test
    case per problem that fails with its self-check failures."""
    root = ET.Element("testsuites", name="verify bank check")
    for name, ids, failures in suites:
        by_id: dict[str, list[str]] = defaultdict(list)
        for line in failures:
            pid, _, what = line.partition(": ")
            by_id[pid].append(what)
        ts = ET.SubElement(root, "testsuite", name=name, tests=str(len(ids)), failures=str(len(by_id)))
        for pid in ids:
            case = ET.SubElement(ts, "testcase", classname=name, name=pid)
            if by_id.get(pid):
                ET.SubElement(case, "failure", message=by_id[pid][0]).text = "\n".join(by_id[pid])
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(
        path, '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    )
