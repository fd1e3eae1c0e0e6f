"""Filter stages on 10,000 chains, each beside a naive baseline in the same run.

The corpus is real GSM8K text: for each test problem its human reference and the four labelled
model solutions (/work/shared/data/gsm8k_example_model_solutions.jsonl), then formatting variants
(exact duplicates after normalisation) and one-sentence edits (near-duplicates) until ``--chains``
chains. They are written as a run directory (chains.jsonl, all marked verified) and each stage runs
through the real runner (``run_filters``: streamed in batches, filters.jsonl appended), so the times
include reading, judging and logging.

  arithmetic   ours: the step checker (exact rationals)      baseline: every step's sides in SymPy
  dedup        ours: MinHash-LSH per problem                  baseline: all-pairs exact Jaccard per problem
               + corpus-wide near-duplicate search: LSH vs all-pairs Jaccard over every chain
  anchor       ours: blocked matrix-product nearest anchor    baseline: pairwise cosine, pair by pair
               (the embedding time, common to both, is reported apart)
  critic       ours: one greedy token + logprobs, batched     baseline: a free-text answer (16 tokens)
  perplexity   ours: batched teacher forcing                   baseline: one chain per forward pass
               (the model stages run on ``--model-chains`` chains: a 135M model on this CPU scores tens
               of chains a second; their 10,000-chain time is that rate, stated as extrapolated)

A baseline that would run past ``--baseline-cap`` seconds is measured on a prefix and extrapolated
(marked). Peak RSS of the process is reported after each stage.

Prints JSON on stdout (also written to ``--out``) and a one-line summary on stderr.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/filters.py [--chains 10000] [--model-chains 200] \
        [--stages arithmetic,dedup,anchor,critic,perplexity] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from verifier.banks.loader import load_bank
from verifier.filters.anchor import AnchorStage, bank_anchors, embed_anchors
from verifier.filters.arithmetic import ArithmeticStage
from verifier.filters.base import Stage
from verifier.filters.calculations import find_steps
from verifier.filters.critic import CriticStage, make_critics
from verifier.filters.dedup import DedupStage, shingles
from verifier.filters.perplexity import PerplexityScorer, PerplexityStage, chain_messages, reference_pairs
from verifier.filters.runner import run_filters
from verifier.filters.store import FilterLog
from verifier.generation.prompts import build_messages
from verifier.generation.registry import BackendSettings
from verifier.schema import ChainRecord, VerdictRecord

REPO = Path(__file__).resolve().parent.parent
BANK = REPO / "problem_banks" / "gsm8k-test.jsonl"
LABELLED = REPO.parent / "shared" / "data" / "gsm8k_example_model_solutions.jsonl"
ALL = ("arithmetic", "dedup", "anchor", "critic", "perplexity")


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def build_corpus(n: int, seed: int = 0) -> list[ChainRecord]:
    bank = load_bank(BANK)
    by_question = {p.question: p for p in bank.problems}
    texts: dict[str, list[str]] = defaultdict(list)
    for line in LABELLED.open(encoding="utf-8"):
        row = json.loads(line)
        problem = by_question[row["question"]]
        texts[problem.id].append(problem.solution or "")
        for sol in row.values():
            if isinstance(sol, dict):
                texts[problem.id].append(re.sub(r"\nA: *(.*)$", r"\n#### \1", sol["solution"]))
    rng = random.Random(seed)
    ids = list(texts)
    total = sum(len(v) for v in texts.values())
    while total < n:  # variants: a formatting change (exact dup) or one sentence dropped (near dup)
        pid = rng.choice(ids)
        base = rng.choice(texts[pid][:5])
        if rng.random() < 0.5:
            variant = base.replace("\n", "\n\n").replace(" = ", "  =  ")
        else:
            sentences = base.split("\n")
            if len(sentences) > 2:
                del sentences[rng.randrange(len(sentences) - 1)]
            variant = "\n".join(sentences) + " "
        texts[pid].append(variant)
        total += 1
    records = []
    for pid in ids:
        for i, text in enumerate(texts[pid]):
            records.append(
                ChainRecord(
                    problem_id=pid,
                    sample_index=i,
                    kind="math",
                    seed=i,
                    model="labelled",
                    prompt=[{"role": r, "content": c} for r, c in build_messages(bank.by_id()[pid])],
                    completion=text,
                    tokens=len(text.split()),
                    extracted=None,
                    verdict=VerdictRecord(status="correct", correct=True),
                )
            )
    return records[:n]


def write_run(records: list[ChainRecord], where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / "run.json").write_text(json.dumps({"bank": str(BANK), "mode": "responses"}))
    with (where / "chains.jsonl").open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(r.model_dump_json() + "\n")
    return where


def timed_stage(run: Path, stage: Stage, bank: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    result = run_filters(run, [stage], bank=bank, bank_label=str(BANK))
    report = result.stages[0]
    return {
        "seconds": round(time.perf_counter() - t0, 3),
        "chains": report.judged,
        "kept": report.kept,
        "dropped": report.dropped,
        "peak_rss_mb": rss_mb(),
    }


def capped(fn: Callable[[int], None], total: int, cap_s: float, probe: int) -> dict[str, Any]:
    """Run fn over ``total`` items, or over a prefix and extrapolate when the whole would pass the cap."""
    t0 = time.perf_counter()
    fn(min(probe, total))
    first = time.perf_counter() - t0
    if probe >= total:
        return {"seconds": round(first, 3), "extrapolated": False}
    estimate = first / probe * total
    if estimate <= cap_s:
        t0 = time.perf_counter()
        fn(total)
        return {"seconds": round(time.perf_counter() - t0, 3), "extrapolated": False}
    return {"seconds": round(estimate, 3), "extrapolated": True, "measured_on": probe}


def bench_arithmetic(records: list[ChainRecord], run: Path, bank: Any, cap: float) -> dict[str, Any]:
    ours = timed_stage(run, ArithmeticStage(), bank)
    import sympy

    failed = [0]  # steps SymPy could not read (counted, like ours counts undecided steps)

    def sympy_steps(k: int) -> None:
        for r in records[:k]:
            for step in find_steps(r.completion):
                try:
                    left = sympy.sympify(step.left.replace("^", "**").replace("%", "/100"))
                    right = sympy.sympify(step.right.replace("^", "**").replace("%", "/100"))
                    sympy.simplify(left - right)
                except (sympy.SympifyError, SyntaxError, TypeError, ValueError, ZeroDivisionError):
                    failed[0] += 1

    baseline = capped(sympy_steps, len(records), cap, 500)
    return {"ours": ours, "baseline_sympy": {**baseline, "unreadable_steps": failed[0]}}


def bench_dedup(records: list[ChainRecord], run: Path, bank: Any, cap: float) -> dict[str, Any]:
    ours = timed_stage(run, DedupStage(), bank)
    groups: dict[str, list[str]] = defaultdict(list)
    for r in records:
        groups[r.problem_id].append(r.completion)

    def pairwise_per_problem(k: int) -> None:
        for texts in list(groups.values())[:k]:
            sets = [shingles(t) for t in texts]
            for i in range(len(sets)):
                for j in range(i):
                    len(sets[i] & sets[j]) / max(1, len(sets[i] | sets[j]))

    from datasketch import MinHash, MinHashLSH

    def lsh_corpus() -> float:
        t0 = time.perf_counter()
        lsh = MinHashLSH(threshold=0.8, num_perm=128)
        for start in range(0, len(records), 1000):  # streamed: signatures in batches, the index grows
            chunk = records[start : start + 1000]
            for k, h in enumerate(MinHash.bulk([shingles(r.completion) for r in chunk], num_perm=128)):
                lsh.query(h)
                lsh.insert(start + k, h)
        return time.perf_counter() - t0

    all_sets: list[set[bytes]] = []

    def pairwise_corpus(k: int) -> None:
        if not all_sets:
            all_sets.extend(shingles(r.completion) for r in records)
        for i in range(k):
            a = all_sets[i]
            for j in range(i):
                len(a & all_sets[j]) / max(1, len(a | all_sets[j]))

    per_problem = capped(pairwise_per_problem, len(groups), cap, len(groups))
    corpus_lsh = round(lsh_corpus(), 3)
    # all pairs grows with i: time rows [0, probe) then scale by the pair count
    probe = min(len(records), 1500)
    t0 = time.perf_counter()
    pairwise_corpus(probe)
    took = time.perf_counter() - t0
    n = len(records)
    corpus_pairs = {
        "seconds": round(took * (n * (n - 1) / 2) / (probe * (probe - 1) / 2), 3),
        "extrapolated": probe < n,
        "measured_on_rows": probe,
    }
    return {
        "ours": ours,
        "baseline_pairwise_per_problem": per_problem,
        "corpus_wide": {"lsh_seconds": corpus_lsh, "pairwise_jaccard": corpus_pairs},
    }


def bench_anchor(records: list[ChainRecord], run: Path, bank: Any, cap: float) -> dict[str, Any]:
    from verifier.embedding import load_embedder

    stage = AnchorStage(bank_anchors(bank.problems))
    embedder = load_embedder()
    t0 = time.perf_counter()
    anchors = embed_anchors(embedder, stage.anchors)  # cached on disk after the first run
    anchor_s = time.perf_counter() - t0
    ours = timed_stage(run, stage, bank)
    probe = embedder.encode([r.completion for r in records[:50]])

    def pairwise(k: int) -> None:  # the naive search, on the same kind of vectors, query by query
        for q in np.resize(probe, (k, probe.shape[1])):
            top = -2.0
            for a in anchors:
                top = max(top, float(np.dot(q, a) / (np.linalg.norm(q) * np.linalg.norm(a))))

    best = np.array(
        [r.details["cosine"] for r in FilterLog(run / "filters.jsonl").outcomes().values() if r.stage == "anchor"]
    )
    quantiles = {
        str(q): round(float(np.quantile(best, q)), 4) for q in (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
    }
    return {
        "ours": ours,
        "anchors": len(anchors),
        "anchor_embedding_seconds": round(anchor_s, 3),
        "chain_embedding_seconds": round(stage.embed_seconds, 3),
        "search_ours_seconds": round(stage.search_seconds, 4),
        "search_baseline_pairwise_cosine": capped(pairwise, len(records), cap, 50),
        "best_cosine_quantiles": quantiles,
        "in_band": int(((best >= 0.65) & (best <= 0.92)).sum()),
        "above": int((best > 0.92).sum()),
        "below": int((best < 0.65).sum()),
    }


def bench_critic(records: list[ChainRecord], run: Path, bank: Any, n: int) -> dict[str, Any]:
    sub = write_run(records[:n], run.parent / "critic-run")
    stage = CriticStage(make_critics(1, BackendSettings(dtype="float32", batch_rows=16), []))
    t0 = time.perf_counter()
    stage._generator(stage.critics[0].backend)  # load once, outside the timed part
    load_s = time.perf_counter() - t0
    ours = timed_stage(sub, stage, bank)
    from verifier.generation.base import GenerationRequest
    from verifier.generation.sampling import Sampling

    generator = stage._generator(stage.critics[0].backend)
    prompt = stage.critics[0].prompt
    t0 = time.perf_counter()
    generator.generate(
        [
            GenerationRequest(
                (
                    ("system", prompt.system),
                    ("user", prompt.question.format(problem="", solution=r.completion)),
                ),
                seeds=(0,),
                sampling=Sampling(max_new_tokens=16, temperature=0.0, top_p=1.0),
            )
            for r in records[:n]
        ]
    )
    baseline_s = time.perf_counter() - t0
    stage.close()
    rate = n / ours["seconds"]
    return {
        "chains": n,
        "load_seconds": round(load_s, 3),
        "ours": ours,
        "baseline_free_text_16_tokens": {"seconds": round(baseline_s, 3)},
        "ours_10000_chains_seconds_extrapolated": round(10_000 / rate, 1),
    }


def bench_perplexity(records: list[ChainRecord], run: Path, bank: Any, n: int) -> dict[str, Any]:
    sub = write_run(records[:n], run.parent / "perplexity-run")
    stage = PerplexityStage(None, reference_pairs(bank.problems, 100), batch_rows=8)
    t0 = time.perf_counter()
    lo, hi = stage.limits()
    band_s = time.perf_counter() - t0
    ours = timed_stage(sub, stage, bank)
    scorer = PerplexityScorer(None, batch_rows=1)
    t0 = time.perf_counter()
    for r in records[:n]:
        scorer.perplexities([(chain_messages(r), r.completion)])
    baseline_s = time.perf_counter() - t0
    rate = n / ours["seconds"]
    refs = np.array(stage.reference_perplexities)
    return {
        "chains": n,
        "band_from_100_references_seconds": round(band_s, 3),
        "band": [round(lo, 3), round(hi, 3)],
        "reference_perplexity_quantiles": {
            str(q): round(float(np.quantile(refs, q)), 3) for q in (0, 0.05, 0.5, 0.95, 1)
        },
        "ours": ours,
        "baseline_one_chain_per_pass": {"seconds": round(baseline_s, 3)},
        "ours_10000_chains_seconds_extrapolated": round(10_000 / rate, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=10_000)
    parser.add_argument("--model-chains", type=int, default=200)
    parser.add_argument("--stages", default=",".join(ALL))
    parser.add_argument("--baseline-cap", type=float, default=300.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    stages = [s for s in args.stages.split(",") if s]
    records = build_corpus(args.chains)
    bank = load_bank(BANK)
    result: dict[str, Any] = {
        "chains": len(records),
        "problems": len({r.problem_id for r in records}),
        "cpus": os.cpu_count(),
        "load_avg_start": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        run = write_run(records, Path(tmp) / "run")
        for name in stages:
            print(f"[filters bench] {name}", file=sys.stderr)
            if name == "arithmetic":
                result[name] = bench_arithmetic(records, run, bank, args.baseline_cap)
            elif name == "dedup":
                result[name] = bench_dedup(records, run, bank, args.baseline_cap)
            elif name == "anchor":
                result[name] = bench_anchor(records, run, bank, args.baseline_cap)
            elif name == "critic":
                result[name] = bench_critic(records, run, bank, args.model_chains)
            elif name == "perplexity":
                result[name] = bench_perplexity(records, run, bank, args.model_chains)
            if args.out:
                args.out.write_text(json.dumps(result, indent=2) + "\n")
    result["load_avg_end"] = os.getloadavg()[0]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    parts = []
    for name in stages:
        r = result[name]
        base = next(
            (v for k, v in r.items() if k.startswith("baseline") or k.startswith("search_baseline")), None
        )
        ours_s = r["ours"]["seconds"]
        parts.append(
            f"{name} {ours_s:.1f}s on {r['ours']['chains']}"
            + (f" (baseline {base['seconds']:.1f}s)" if base else "")
        )
    print(f"filters on {len(records)} chains: " + "; ".join(parts), file=sys.stderr)


if __name__ == "__main__":
    main()
