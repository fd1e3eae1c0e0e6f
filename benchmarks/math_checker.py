"""Our math checker side by side with Math-Verify, in the same run.

    .venv/bin/python benchmarks/math_checker.py [--limit N] [--out FILE]

Measures, for both checkers: precision / recall / agreement against the labels of
gsm8k_example_model_solutions.jsonl (5,276) and qwen25math_math_cot_100.jsonl (800); the
adversarial table of tests/test_math_adversarial.py and the recall table of
tests/test_math_recall.py; throughput and p50/p99 latency on GSM CoT outputs and MATH LaTeX outputs (one thread, and ours with 16 threads on the pool); and a
pathological set (each Math-Verify item in a child process with a hard wall-clock cap, since its
signal.alarm timeout cannot stop C-level work). Prints the JSON report, then one summary line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from verifier.math import MathPool, MathStatus, check_math  # noqa: E402
from verifier.math.pool import WALL_FACTOR, WALL_SLACK_S  # noqa: E402

Item = tuple[str, str, bool]  # gold, model output, label

PATHOLOGICAL = {
    "power tower 9^{9^9}": r"\boxed{9^{9^9}}",
    "power tower 2^2^2^2^2^2": r"\boxed{2^{2^{2^{2^{2^{2}}}}}}",
    "10^{10^{10}}": r"\boxed{10^{10^{10}}}",
    "1000000!": r"\boxed{1000000!}",
    "(10^{100})!": r"\boxed{(10^{100})!}",
    "50 KB nested braces": "\\boxed{" + "{" * 25_000 + "1" + "}" * 25_000 + "}",
    "8000 nested \\boxed": "\\boxed{" * 8_000 + "1" + "}" * 8_000,
    "1+1+...+1 (20000 terms)": "\\boxed{" + "1+" * 20_000 + "1}",
    "(x+1)^{100000}": r"\boxed{(x+1)^{100000}}",
    "product of 100000 factors": r"\boxed{\prod_{k=1}^{100000} (1+x^k)}",
    "5000-digit number": "#### " + "9" * 5_000,
}


def load_gsm(limit: int | None) -> list[Item]:
    items = []
    for line in (DATA / "gsm8k_example_model_solutions.jsonl").open():
        record = json.loads(line)
        gold = record["ground_truth"].rsplit("A:", 1)[1].strip()
        for value in record.values():
            if isinstance(value, dict):
                items.append((gold, value["solution"], bool(value["is_correct"])))
    return items[:limit]


def load_math(limit: int | None) -> list[Item]:
    items = []
    for line in (DATA / "qwen25math_math_cot_100.jsonl").open():
        record = json.loads(line)
        items += [(record["gt"], c, bool(s)) for c, s in zip(record["code"], record["score"], strict=True)]
    return items[:limit]


def load_math500_pairs(limit: int | None) -> list[Item]:
    """Harder LaTeX: each MATH-500 gold against a respelled copy of itself (label True) and against
    the next problem's gold (label True only if the two golds are the same text)."""
    golds = [json.loads(line)["answer"] for line in (DATA / "math500_test.jsonl").open()]
    items = []
    for i, gold in enumerate(golds):
        respelled = gold.replace("\\frac", "\\dfrac").replace("\\sqrt", "\\sqrt ")
        nxt = golds[(i + 1) % len(golds)]
        items += [(gold, f"\\boxed{{{respelled}}}", True), (gold, f"\\boxed{{{nxt}}}", nxt == gold)]
    return items[:limit]


def math_verify_check(gold: str, pred: str) -> bool:
    """Math-Verify as its README uses it; an exception counts as 'not verified'."""
    from math_verify import parse, verify

    try:
        return bool(verify(parse(f"\\boxed{{{gold}}}"), parse(pred)))
    except Exception:  # Math-Verify's own contract: it may raise; we score that as not verified
        return False


def scores(results: list[bool], items: list[Item]) -> dict[str, Any]:
    tp = sum(r and lab for r, (_, _, lab) in zip(results, items, strict=True))
    fp = sum(r and not lab for r, (_, _, lab) in zip(results, items, strict=True))
    fn = sum(lab and not r for r, (_, _, lab) in zip(results, items, strict=True))
    agree = sum(r == lab for r, (_, _, lab) in zip(results, items, strict=True))
    return {
        "n": len(items),
        "precision": round(tp / (tp + fp), 5) if tp + fp else None,
        "recall": round(tp / (tp + fn), 5) if tp + fn else None,
        "agreement": round(agree / len(items), 5),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def speed(latencies: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000, 3),
    }


def _timed(check: Any, block: list[Item], results: list[bool], latencies: list[float]) -> None:
    for gold, pred, _ in block:
        start = time.perf_counter()
        results.append(check(gold, pred))
        latencies.append(time.perf_counter() - start)


def labelled(name: str, items: list[Item], pool: MathPool, threads: int, block: int) -> dict[str, Any]:
    def ours(gold: str, pred: str) -> bool:
        return check_math(gold=gold, pred=pred, pool=pool).correct

    # Interleaved in small blocks (``block`` items of ours, then the same items of Math-Verify, the
    # order swapped every block), so a load spike on this shared machine hits both checkers alike.
    # ``--block 1`` interleaves item by item; that charges the faster checker for the CPU caches
    # the slower one evicted between its calls (a trainer calls one checker for a whole batch).
    our_results: list[bool] = []
    our_lat: list[float] = []
    mv_results: list[bool] = []
    mv_lat: list[float] = []
    for n, first in enumerate(range(0, len(items), block)):
        chunk = items[first : first + block]
        runs = [(ours, our_results, our_lat), (math_verify_check, mv_results, mv_lat)]
        for check, results, latencies in runs if n % 2 == 0 else runs[::-1]:
            _timed(check, chunk, results, latencies)
    our_wall, mv_wall = sum(our_lat), sum(mv_lat)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as ex:
        threaded = list(ex.map(lambda it: ours(it[0], it[1]), items))
    threaded_wall = time.perf_counter() - start

    disagreements = []
    for (gold, pred, label), o, m in zip(items, our_results, mv_results, strict=True):
        if o != label or m != label or o != m:
            v = check_math(gold=gold, pred=pred, pool=pool)
            disagreements.append(
                {
                    "gold": gold,
                    "label": label,
                    "ours": o,
                    "math_verify": m,
                    "extracted": v.extracted,
                    "rule": v.rule,
                    "reason": v.reason[:200],
                    "output_tail": pred[-200:],
                }
            )
    return {
        "dataset": name,
        "interleave_block": block,
        "ours": scores(our_results, items) | speed(our_lat, our_wall),
        "math_verify": scores(mv_results, items) | speed(mv_lat, mv_wall),
        "ours_threads": {"threads": threads, "per_s": round(len(items) / threaded_wall, 1)},
        "threaded_equals_sequential": threaded == our_results,
        "speedup": round(mv_wall / our_wall, 2),
        "ours_vs_math_verify_agreement": round(
            sum(o == m for o, m in zip(our_results, mv_results, strict=True)) / len(items), 5
        ),
        "disagreements": disagreements,
    }


def adversarial(pool: MathPool) -> dict[str, Any]:
    from test_math_adversarial import CASES

    return table(CASES, pool)


def recall(pool: MathPool) -> dict[str, Any]:
    """The recall table of tests/test_math_recall.py (ten classes, positives and near misses)."""
    from test_math_recall import CASES

    report = table([(gold, pred, expected) for _, gold, pred, expected in CASES], pool)
    report["positives"] = sum(expected for *_, expected in CASES)
    report["near_misses"] = sum(not expected for *_, expected in CASES)
    return report


def table(cases: list[tuple[str, str, bool]], pool: MathPool) -> dict[str, Any]:
    """Both checkers on a table of (gold, output, expected): right, false positives, false negatives."""
    rows = {"ours": [0, 0, 0], "math_verify": [0, 0, 0]}  # right, false positives, false negatives
    misses: list[dict[str, Any]] = []
    for gold, pred, expected in cases:
        for name, got in (
            ("ours", check_math(gold=gold, pred=pred, pool=pool).correct),
            ("math_verify", math_verify_check(gold, pred)),
        ):
            rows[name][0 if got == expected else 1 if got else 2] += 1
            if got != expected:
                misses.append({"checker": name, "gold": gold, "pred": pred, "expected": expected})
    return {
        "cases": len(cases),
        **{
            name: {"right": r, "false_positives": fp, "false_negatives": fn}
            for name, (r, fp, fn) in rows.items()
        },
        "misses": misses,
    }


def _mv_child(pred: str, queue: Any) -> None:
    import logging
    import os

    logging.disable(logging.CRITICAL)  # Math-Verify logs the failing 50 KB input
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    start = time.perf_counter()
    ok = math_verify_check("5", pred)
    queue.put((ok, time.perf_counter() - start))


def pathological(pool: MathPool, timeout_s: float, mv_cap_s: float) -> dict[str, Any]:
    # The deadline is the worker's CPU time; on a loaded machine the pool's documented wall-clock
    # bound (WALL_FACTOR x + WALL_SLACK_S, docs/math-checking.md) is what a caller can rely on.
    wall_bound_s = timeout_s * WALL_FACTOR + WALL_SLACK_S
    out: dict[str, Any] = {
        "deadline_s": timeout_s,
        "wall_bound_s": wall_bound_s,
        "math_verify_cap_s": mv_cap_s,
        "items": [],
    }
    ctx = mp.get_context("fork")
    for name, pred in PATHOLOGICAL.items():
        start = time.perf_counter()
        verdict = check_math(gold="5", pred=pred, pool=pool, timeout_s=timeout_s)
        ours_s = time.perf_counter() - start
        queue = ctx.Queue()
        child = ctx.Process(target=_mv_child, args=(pred, queue))
        start = time.perf_counter()
        child.start()
        child.join(mv_cap_s)
        if child.is_alive():
            child.kill()
            child.join()
            mv = {"result": "hung (killed at cap)", "seconds": round(time.perf_counter() - start, 2)}
        elif child.exitcode != 0 or queue.empty():
            mv = {
                "result": f"crashed (exit {child.exitcode})",
                "seconds": round(time.perf_counter() - start, 2),
            }
        else:
            ok, seconds = queue.get()
            mv = {"result": "verified" if ok else "not verified", "seconds": round(seconds, 2)}
        out["items"].append(
            {
                "name": name,
                "ours": {
                    "status": verdict.status.value,
                    "seconds": round(ours_s, 3),
                    "reason": verdict.reason[:120],
                },
                "ours_within_deadline": ours_s <= timeout_s + 0.5,  # the CPU budget, when a CPU was free
                "ours_within_bound": ours_s <= wall_bound_s + 0.5
                and verdict.status is not MathStatus.CORRECT,
                "math_verify": mv,
            }
        )
    return out


def math_verify_in_a_thread() -> str:
    """What Math-Verify does when called from a worker thread (as RL trainers do)."""
    from math_verify import parse, verify

    def call() -> str:
        try:
            return f"returned {verify(parse('$2$'), parse('$2$'))}"
        except Exception as e:  # reported as text in the report, not scored
            return f"{type(e).__name__}: {str(e)[:100]}"

    with ThreadPoolExecutor(max_workers=1) as ex:
        return ex.submit(call).result()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="first N items of each labelled set (quick runs)")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=5.0, help="our per-task deadline, seconds")
    ap.add_argument("--mv-cap", type=float, default=8.0, help="hard cap per pathological Math-Verify item")
    ap.add_argument("--skip-pathological", action="store_true")
    ap.add_argument(
        "--block",
        type=int,
        default=32,
        help="items per interleaved block (1: item by item)",
    )
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    args = ap.parse_args()

    import math_verify

    report: dict[str, Any] = {"math_verify_version": getattr(math_verify, "__version__", "0.9.0")}
    with MathPool().start() as pool:
        # Warm both up outside the clock: our workers start, Math-Verify imports its grammar.
        check_math(gold=r"\sqrt{2}", pred=r"\boxed{\sqrt{2}}", pool=pool)
        math_verify_check(r"\sqrt{2}", r"\boxed{\sqrt{2}}")
        report["gsm8k_cot"] = labelled(
            "gsm8k_example_model_solutions", load_gsm(args.limit), pool, args.threads, args.block
        )
        report["math_latex"] = labelled(
            "qwen25math_math_cot_100", load_math(args.limit), pool, args.threads, args.block
        )
        report["math500_pairs"] = labelled(
            "math500 gold pairs", load_math500_pairs(args.limit), pool, args.threads, args.block
        )
        report["adversarial"] = adversarial(pool)
        report["recall"] = recall(pool)
        if not args.skip_pathological:
            report["pathological"] = pathological(pool, args.timeout, args.mv_cap)
        report["math_verify_in_a_thread"] = math_verify_in_a_thread()
        report["pool"] = {"workers": pool.size, "timeouts": pool.timeouts, "crashes": pool.crashes}

    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    g, m = report["gsm8k_cot"], report["math_latex"]
    patho = report.get("pathological", {}).get("items", [])
    print(
        f"SUMMARY gsm8k P/R ours {g['ours']['precision']}/{g['ours']['recall']} mv {g['math_verify']['precision']}/"
        f"{g['math_verify']['recall']} speed x{g['speedup']} ({g['ours']['per_s']}/s vs {g['math_verify']['per_s']}/s) | "
        f"math P/R ours {m['ours']['precision']}/{m['ours']['recall']} mv {m['math_verify']['precision']}/"
        f"{m['math_verify']['recall']} speed x{m['speedup']} | math500 pairs speed x{report['math500_pairs']['speedup']}"
        f" | recall table ours {report['recall']['ours']['right']}/{report['recall']['cases']}"
        f" mv {report['recall']['math_verify']['right']}/{report['recall']['cases']}"
        f" | adversarial FP ours "
        f"{report['adversarial']['ours']['false_positives']} mv {report['adversarial']['math_verify']['false_positives']}"
        f" | pathological within the wall bound {sum(i['ours_within_bound'] for i in patho)}/{len(patho)}"
        f" (within the CPU deadline {sum(i['ours_within_deadline'] for i in patho)})"
    )


if __name__ == "__main__":
    main()
