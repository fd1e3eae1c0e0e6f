"""Pipeline overlap benchmark: end-to-end wall time vs generation alone, same problems and seeds.

Three runs in one process, with one loaded generator (float32, so a seed gives the same sample
whatever its batch, and every run does exactly the same generation work):

(a) generation alone: the source's engine calls back to back, nothing checked or written;
(b) sequential: each call's completions checked (thread pool) and appended before the next call,
    the loop the pipeline had before it overlapped (``for batch in produce(): check(batch)``);
(c) pipeline: ``run_pipeline`` (generation, checking and writing concurrently, bounded queues).

The target is (c) <= 1.10 x (a). Code banks make the point: each check is a Docker sandbox job.
Prints JSON on stdout and a one-line summary on stderr.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/pipeline_overlap.py \
        [--bank problem_banks/code-style.jsonl] [--problems 6] [--samples 4] [--max-new-tokens 128] \
        [--batch-rows 4]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from verifier.banks.loader import load_bank
from verifier.generation.registry import BackendSettings, make_generator
from verifier.generation.sampling import Sampling
from verifier.pipeline.budget import Budget
from verifier.pipeline.checking import chain_record
from verifier.pipeline.execute import ExecutorSettings, LocalExecutor
from verifier.pipeline.run import run_pipeline
from verifier.pipeline.sources import GeneratedSource
from verifier.pipeline.store import ChainStore
from verifier.resources import Resources

REPO = Path(__file__).resolve().parent.parent


class _Borrowed(GeneratedSource):
    """The same loaded generator for every run: the pipeline closes its source, not the model."""

    def close(self) -> None:
        return None


def _groups(source: GeneratedSource, problems: list[Any], samples: int) -> list[list[Any]]:
    per = source.problems_per_call
    units = [[source.unit(p, i) for i in range(samples)] for p in problems]
    return [sum(units[k : k + per], []) for k in range(0, len(units), per)]


def generation_alone(source: GeneratedSource, problems: list[Any], samples: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    tokens = sum(item.tokens for g in _groups(source, problems, samples) for item in source.produce(g))
    return {"wall_s": round(time.perf_counter() - t0, 3), "tokens": tokens}


def sequential(source: GeneratedSource, problems: list[Any], samples: int, out: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    verified = 0
    with (
        Resources() as resources,
        ChainStore(out / "chains.jsonl") as store,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        for group in _groups(source, problems, samples):
            records = list(pool.map(lambda item: chain_record(item, resources), source.produce(group)))
            store.append(records)
            verified += sum(r.verdict.correct for r in records)
    return {"wall_s": round(time.perf_counter() - t0, 3), "verified": verified}


def pipeline(source: GeneratedSource, bank: Any, problems: int, out: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    result = run_pipeline(
        bank,
        source,
        out,
        identity={"benchmark": "pipeline_overlap"},
        resources=Resources(),
        limit=problems,
        executor=LocalExecutor(ExecutorSettings()),
    )
    return {
        "wall_s": round(time.perf_counter() - t0, 3),
        "verified": result.summary["verified"],
        "tokens": result.summary["tokens"],
        "timing": result.summary["timing"],
    }


def _logged(name: str, result: dict[str, Any]) -> dict[str, Any]:
    print(f"  {name}: {result['wall_s']:.1f} s", file=sys.stderr, flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bank", type=Path, default=REPO / "problem_banks" / "code-style.jsonl")
    ap.add_argument("--problems", type=int, default=6)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    # One problem per engine call by default, so there are several calls for checks to overlap with.
    ap.add_argument("--batch-rows", type=int, default=4)
    args = ap.parse_args()

    bank = load_bank(args.bank)
    problems = list(bank.problems[: args.problems])
    settings = BackendSettings(
        dtype="float32",
        batch_rows=args.batch_rows,
        sampling=Sampling(max_new_tokens=args.max_new_tokens),
    )
    generator = make_generator(settings)
    per_call = max(1, args.batch_rows // args.samples)
    source = _Borrowed(generator, Budget.fixed(args.samples), run_seed=0, problems_per_call=per_call)
    source.produce([source.unit(problems[0], 0)])  # warm-up: first-call allocations out of the timing
    with tempfile.TemporaryDirectory() as tmp:
        # (a) once before and once after (c): the figure is their mean, so drift cannot favour (c).
        alone_1 = _logged("generation alone", generation_alone(source, problems, args.samples))
        seq = _logged("sequential", sequential(source, problems, args.samples, Path(tmp) / "seq"))
        piped = _logged("pipeline", pipeline(source, bank, args.problems, Path(tmp) / "pipe"))
        alone_2 = _logged("generation alone", generation_alone(source, problems, args.samples))
    generator.close()
    alone = (alone_1["wall_s"] + alone_2["wall_s"]) / 2
    out = {
        "bank": str(args.bank),
        "problems": len(problems),
        "samples": args.samples,
        "max_new_tokens": args.max_new_tokens,
        "generation_alone": {"runs": [alone_1, alone_2], "mean_wall_s": round(alone, 3)},
        "sequential": seq,
        "pipeline": piped,
        "ratio_pipeline_vs_generation": round(piped["wall_s"] / alone, 3),
        "ratio_sequential_vs_generation": round(seq["wall_s"] / alone, 3),
        "target_ratio": 1.10,
    }
    print(json.dumps(out, indent=2))
    print(
        f"pipeline_overlap: {len(problems)} problems x {args.samples} samples ({args.bank.name}): "
        f"generation alone {alone:.1f} s, sequential {seq['wall_s']:.1f} s "
        f"({out['ratio_sequential_vs_generation']}x), pipeline {piped['wall_s']:.1f} s "
        f"({out['ratio_pipeline_vs_generation']}x, target <= 1.10x); checking took "
        f"{piped['timing']['check_s']:.1f} s, generation waited {piped['timing']['generate_wait_s']:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
