"""Reward benchmark, both implementations in the same run; prints JSON, then a one-line summary.

1. Scoring 1,024 GSM8K model completions (gsm8k_example_model_solutions.jsonl, each with an
   ``is_correct`` label) in one call, as GRPOTrainer calls a reward: our TRL adapter
   (``verifier.rewards.for_trl``) against an open-r1-style ``accuracy_reward`` built on Math-Verify's
   ``parse``/``verify`` (parse the gold, parse the completion, verify; an exception is None).
   Two Math-Verify variants: its default extraction (LaTeX and plain expressions) and open-r1's own
   LaTeX-only configuration (boxed first, nothing unanchored). Each is timed ``--repeats`` times
   after a warm-up; agreement is measured against the labels.
2. ``verify serve`` latency: a real server process on 127.0.0.1, 4 concurrent clients, each sending
   256-completion OpenRLHF requests to POST /get_reward; p50/p99 per request.

    .venv/bin/python benchmarks/rewards.py [--n 1024] [--repeats 3] [--requests 8]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"

Item = tuple[str, str, bool]  # gold, completion, label


def load_gsm(n: int) -> list[Item]:
    items: list[Item] = []
    with (DATA / "gsm8k_example_model_solutions.jsonl").open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            gold = record["ground_truth"].rsplit("A:", 1)[1].strip()
            for value in record.values():
                if isinstance(value, dict):
                    items.append((gold, value["solution"], bool(value["is_correct"])))
    return items[:n]


def open_r1_accuracy_reward(latex_only: bool) -> Callable[..., list[float | None]]:
    """The shape of open-r1's accuracy_reward: TRL's reward signature over Math-Verify parse/verify."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
    from math_verify.parser import NormalizationConfig

    if latex_only:  # open-r1's configuration
        normalization = NormalizationConfig(
            nits=False, malformed_operators=False, basic_latex=True, equations=True, boxed="all", units=True
        )
        configs: list[Any] = [
            LatexExtractionConfig(
                normalization_config=normalization, boxed_match_priority=0, try_extract_without_anchor=False
            )
        ]
    else:
        configs = [LatexExtractionConfig(), ExprExtractionConfig()]

    def accuracy_reward(
        completions: list[list[dict[str, str]]], solution: list[str], **_: Any
    ) -> list[float | None]:
        rewards: list[float | None] = []
        for completion, gold in zip(completions, solution, strict=True):
            gold_parsed = parse(gold, extraction_mode="first_match")
            if not gold_parsed:
                rewards.append(None)  # open-r1 skips examples whose gold it cannot parse
                continue
            answer = parse(completion[0]["content"], extraction_config=configs, extraction_mode="first_match")
            try:
                rewards.append(float(verify(gold_parsed, answer)))
            except Exception:  # noqa: BLE001 - open-r1 scores a verify failure as None
                rewards.append(None)
        return rewards

    accuracy_reward.__name__ = "accuracy_reward"
    return accuracy_reward


def agreement(rewards: list[float | None], items: list[Item]) -> dict[str, Any]:
    said = [r == 1.0 for r in rewards]
    labels = [lab for _, _, lab in items]
    tp = sum(s and lab for s, lab in zip(said, labels, strict=True))
    fp = sum(s and not lab for s, lab in zip(said, labels, strict=True))
    fn = sum(lab and not s for s, lab in zip(said, labels, strict=True))
    return {
        "agreement": round(sum(s == lab for s, lab in zip(said, labels, strict=True)) / len(items), 4),
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "false_positives": fp,
        "false_negatives": fn,
        "none": sum(r is None for r in rewards),
    }


def timed(
    name: str, call: Callable[[], list[float | None]], items: list[Item], repeats: int
) -> dict[str, Any]:
    call()  # warm-up: imports, parsers, the checker's worker pool
    walls, rewards = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rewards = call()
        walls.append(time.perf_counter() - t0)
    best = min(walls)
    return {
        "name": name,
        "items": len(items),
        "wall_s_best": round(best, 4),
        "wall_s_median": round(statistics.median(walls), 4),
        "per_s_best": round(len(items) / best, 1),
        **agreement(rewards, items),
    }


def bench_trl(items: list[Item], repeats: int) -> dict[str, Any]:
    from verifier.math import MathPool
    from verifier.rewards import RewardOptions, for_trl

    completions = [[{"role": "assistant", "content": c}] for _, c, _ in items]
    golds = [g for g, _, _ in items]
    with MathPool() as pool:
        pool.start()
        ours = for_trl(answer_column="solution")
        ours.options = RewardOptions(math_pool=pool)
        results = [timed("verifier.for_trl", lambda: ours(completions, solution=golds), items, repeats)]
    for latex_only, name in ((False, "open_r1_accuracy_reward[math_verify default extraction]"),
                             (True, "open_r1_accuracy_reward[open-r1 latex-only config]")):  # fmt: skip
        reward = open_r1_accuracy_reward(latex_only)
        results.append(timed(name, lambda r=reward: r(completions, solution=golds), items, repeats))  # type: ignore[misc]
    return {
        "batch": results,
        "speedup_vs_default": round(results[0]["per_s_best"] / results[1]["per_s_best"], 2),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_serve(items: list[Item], clients: int, requests: int, size: int) -> dict[str, Any]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "verifier.cli.main",
            "serve",
            "--port",
            str(port),
            "--max-concurrent",
            str(clients),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(url + "/health", timeout=5):
                    break
            except OSError:
                time.sleep(0.1)
        prompt = "<|im_start|>user\nSolve the problem.<|im_end|>\n<|im_start|>assistant\n"
        batches = []
        for k in range(clients * requests):
            chunk = [items[(k * size + j) % len(items)] for j in range(size)]
            body = {
                "query": [prompt + c for _, c, _ in chunk],
                "prompts": [prompt] * size,
                "labels": [g for g, _, _ in chunk],
            }
            batches.append(json.dumps(body).encode())

        def send(body: bytes) -> float:
            request = urllib.request.Request(
                url + "/get_reward", data=body, headers={"Content-Type": "application/json"}
            )
            t0 = time.perf_counter()
            with urllib.request.urlopen(request, timeout=300) as response:
                answer = json.loads(response.read())
            assert len(answer["rewards"]) == size
            return time.perf_counter() - t0

        send(batches[0])  # warm-up
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as ex:
            latencies = sorted(ex.map(send, batches))
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "clients": clients,
        "requests": len(latencies),
        "completions_per_request": size,
        "p50_s": round(q[49], 4),
        "p99_s": round(q[98], 4),
        "max_s": round(latencies[-1], 4),
        "completions_per_s": round(len(latencies) * size / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=8, help="requests per client")
    parser.add_argument("--size", type=int, default=256, help="completions per request")
    args = parser.parse_args()
    import math_verify

    items = load_gsm(args.n)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "math_verify_version": getattr(math_verify, "__version__", "0.9.0"),
        "labels_true": sum(lab for _, _, lab in items),
        "trl_batch": bench_trl(items, args.repeats),
        "serve": bench_serve(items, args.clients, args.requests, args.size),
    }
    print(json.dumps(report, indent=2))
    ours, mv, r1 = report["trl_batch"]["batch"]
    s = report["serve"]
    print(
        f"SUMMARY {len(items)} GSM completions: ours {ours['per_s_best']}/s agreement {ours['agreement']} "
        f"(P {ours['precision']} R {ours['recall']}) | math-verify default {mv['per_s_best']}/s agreement "
        f"{mv['agreement']} | open-r1 latex-only {r1['per_s_best']}/s agreement {r1['agreement']} | "
        f"speedup x{report['trl_batch']['speedup_vs_default']} | serve {s['clients']} clients x "
        f"{s['completions_per_request']}: p50 {s['p50_s']}s p99 {s['p99_s']}s"
    )


if __name__ == "__main__":
    main()
