"""Generation benchmark: the backends side by side on the same prompts and seeds, in one run.

For the first ``--problems`` math problems of the bank, ``--samples`` samples each (seeds from
``sample_seed(problem, i, 0)``, as a run makes them), every backend generates the same set in one
``generate`` call and every sample is checked with ``check_math``:

  ours             our transformers loop (the default backend), in this process
  vllm             vLLM's offline engine (the vllm backend: a worker under .venvs/vllm)
  vllm-server      vLLM's OpenAI server on 127.0.0.1 through the openai backend
  llamacpp-server  llama.cpp's server on 127.0.0.1 through the openai backend (it ignores n)
  hf-generate      transformers' own ``generate`` (num_return_sequences, per-row stop rule)

For each: load seconds, generation seconds, tokens/s and verified chains/s (generation time only;
checking is timed apart). Engines start one at a time and stop before the next, so each has the
machine to itself. Then the openai backend's overhead: the same requests against the same vLLM
server, through ``OpenAIGenerator.generate`` and as direct HTTP calls (same bodies, same
concurrency, JSON parsed and nothing else), alternated ``--overhead-rounds`` times; the best of each
is compared (target: <= 5%).

Prints JSON on stdout (also written to ``--out``) and a one-line summary on stderr.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/generation.py [--problems 4] [--samples 10] \
        [--max-new-tokens 256] [--backends ours,vllm,vllm-server,llamacpp-server] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx

from verifier.banks.loader import load_bank
from verifier.generation.base import Completion, GenerationRequest, Generator
from verifier.generation.openai_backend import OpenAIGenerator
from verifier.generation.prompts import build_messages
from verifier.generation.registry import BackendSettings, make_generator
from verifier.generation.sampling import Sampling
from verifier.generation.seeds import sample_seed
from verifier.generation.servers import SERVED_NAME, llamacpp_server, vllm_server
from verifier.math import check_math
from verifier.schema import MathProblem

REPO = Path(__file__).resolve().parent.parent
ALL = ("ours", "vllm", "vllm-server", "llamacpp-server", "hf-generate")


def _requests(problems: list[MathProblem], n: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(build_messages(p), tuple(sample_seed(p.id, i, 0) for i in range(n)))
        for p in problems
    ]


def _measure(
    gen: Generator, problems: list[MathProblem], n: int, load_s: float, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    requests = _requests(problems, n)
    gen.generate(requests[:1])  # warm-up: first-call costs (kernels, caches) are not throughput
    t0 = time.perf_counter()
    outputs = gen.generate(requests)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    verified = sum(
        check_math(gold=p.answer, pred=c.text).correct
        for p, outs in zip(problems, outputs, strict=True)
        for c in outs
    )
    check_s = time.perf_counter() - t1
    tokens = sum(c.tokens for outs in outputs for c in outs)
    finish = [c.finish_reason for outs in outputs for c in outs]
    return {
        "name": gen.name,
        "load_seconds": round(load_s, 1),
        "seconds": round(seconds, 2),
        "tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 1),
        "samples": len(finish),
        "verified": verified,
        "verified_per_s": round(verified / seconds, 3),
        "check_seconds": round(check_s, 2),
        "cut_at_length": finish.count("length"),
        **(extra or {}),
    }


def _timed_make(settings: BackendSettings) -> tuple[Generator, float]:
    t0 = time.perf_counter()
    gen = make_generator(settings)
    return gen, time.perf_counter() - t0


def bench_ours(problems: list[MathProblem], n: int, sampling: Sampling, dtype: str) -> dict[str, Any]:
    gen, load = _timed_make(BackendSettings(sampling=sampling, dtype=dtype))
    try:
        return _measure(gen, problems, n, load, {"dtype": dtype})
    finally:
        gen.close()


def bench_vllm(
    problems: list[MathProblem], n: int, sampling: Sampling, python: str | None, model: str | None
) -> dict[str, Any]:
    settings = BackendSettings(backend="vllm", model=model, sampling=sampling, vllm_python=python)
    gen, load = _timed_make(settings)
    try:
        return _measure(gen, problems, n, load, {"engine": getattr(gen, "engine", {})})
    finally:
        gen.close()


def _direct(gen: OpenAIGenerator, requests: list[GenerationRequest], concurrency: int) -> float:
    """The same HTTP bodies the backend sends, posted with plain httpx on as many threads."""
    prompts = [gen._prompt(r.messages) for r in requests]
    bodies = [
        gen._payload(prompts[c.request], requests[c.request], c)
        for i, r in enumerate(requests)
        for c in gen._plan(i, r)
    ]
    url = f"{gen.settings.base_url}/chat/completions"
    with httpx.Client(timeout=600.0, limits=httpx.Limits(max_connections=concurrency)) as client:

        def post(body: dict[str, Any]) -> Any:
            response = client.post(url, json=body)
            response.raise_for_status()
            return response.json()

        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(post, bodies))
        return time.perf_counter() - t0


def bench_vllm_server(
    problems: list[MathProblem], n: int, sampling: Sampling, rounds: int, concurrency: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    from verifier.generation.transformers_backend import resolve_model

    model_dir, _ = resolve_model(None)
    t0 = time.perf_counter()
    with vllm_server(model_dir) as server:
        load = time.perf_counter() - t0
        settings = BackendSettings(
            backend="openai",
            base_url=server.base_url,
            api_model=SERVED_NAME,
            sampling=sampling,
            concurrency=concurrency,
        )
        gen = make_generator(settings)
        assert isinstance(gen, OpenAIGenerator)
        try:
            result = _measure(gen, problems, n, load)
            result["n_honoured"] = gen.capabilities.n
            requests = _requests(problems, n)
            backend_s, direct_s = [], []
            for k in range(rounds):
                # Alternate which goes first, so neither always meets a warmer prefix cache.
                if k % 2:
                    direct_s.append(_direct(gen, requests, concurrency))
                t1 = time.perf_counter()
                gen.generate(requests)
                backend_s.append(time.perf_counter() - t1)
                if not k % 2:
                    direct_s.append(_direct(gen, requests, concurrency))
        finally:
            gen.close()
    best_b, best_d = min(backend_s), min(direct_s)
    overhead = {
        "rounds": rounds,
        "concurrency": concurrency,
        "backend_seconds": [round(x, 2) for x in backend_s],
        "direct_seconds": [round(x, 2) for x in direct_s],
        "overhead_pct": round(100 * (best_b - best_d) / best_d, 1),
        "target_pct": 5.0,
    }
    return result, overhead


def bench_llamacpp_server(problems: list[MathProblem], n: int, sampling: Sampling) -> dict[str, Any]:
    t0 = time.perf_counter()
    with llamacpp_server() as server:
        load = time.perf_counter() - t0
        settings = BackendSettings(
            backend="openai",
            base_url=server.base_url,
            api_model=SERVED_NAME,
            sampling=sampling,
            concurrency=2,
        )
        gen = make_generator(settings)
        assert isinstance(gen, OpenAIGenerator)
        try:
            result = _measure(gen, problems, n, load)
            result["n_honoured"] = gen.capabilities.n  # after the calls that found out
            return result
        finally:
            gen.close()


def bench_hf_generate(problems: list[MathProblem], n: int, sampling: Sampling, dtype: str) -> dict[str, Any]:
    """transformers' generate with a per-row stop rule, wrapped as a Generator for _measure."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    from verifier.generation.transformers_backend import _DONE, TransformersGenerator

    t0 = time.perf_counter()
    ours = TransformersGenerator(None, sampling=sampling, dtype=dtype)
    load = time.perf_counter() - t0

    class RowDone(StoppingCriteria):
        def __init__(self, prompt_len: int):
            self.prompt_len = prompt_len

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            texts = ours.tokenizer.batch_decode(input_ids[:, self.prompt_len :], skip_special_tokens=True)
            return torch.tensor([bool(_DONE.search(t)) for t in texts], dtype=torch.bool)

    class HFGenerate:
        name = f"{ours.name} (HF generate)"
        capabilities = ours.capabilities

        def close(self) -> None:
            """The model goes with the object."""

        def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
            out: list[list[Completion]] = []
            for r in requests:
                torch.manual_seed(r.seeds[0])
                enc = ours.tokenizer([ours._prompt_text(r.messages)], return_tensors="pt")
                plen = enc["input_ids"].shape[1]
                with torch.inference_mode():
                    ids = ours.model.generate(
                        **enc,
                        do_sample=True,
                        temperature=sampling.temperature,
                        top_p=sampling.top_p,
                        top_k=None,
                        num_return_sequences=len(r.seeds),
                        max_new_tokens=sampling.max_new_tokens,
                        stopping_criteria=StoppingCriteriaList([RowDone(plen)]),
                        pad_token_id=ours.tokenizer.pad_token_id,
                    )
                rows = []
                for row in ids[:, plen:]:
                    toks = [t for t in row.tolist() if t != ours.tokenizer.pad_token_id]
                    text = str(ours.tokenizer.decode(toks, skip_special_tokens=True))
                    rows.append(Completion(text, len(toks) + (len(toks) < len(row)), "stop"))
                out.append(rows)
            return out

    return _measure(HFGenerate(), problems, n, load, {"dtype": dtype})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", default=str(REPO / "problem_banks" / "gsm-style.jsonl"))
    ap.add_argument("--problems", type=int, default=4)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--dtype", default="bfloat16", help="ours / hf-generate (vLLM on CPU runs float32)")
    ap.add_argument("--backends", default="ours,vllm,vllm-server,llamacpp-server")
    ap.add_argument("--overhead-rounds", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=8, help="openai backend and direct calls")
    ap.add_argument(
        "--model", default=None, help="vllm: a local HF dir or GGUF (default: the embedded model)"
    )
    ap.add_argument("--vllm-python", default=None, help="interpreter with vLLM (default .venvs/vllm)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(wanted) - set(ALL))
    if unknown:
        ap.error(f"--backends: unknown {', '.join(unknown)} (known: {', '.join(ALL)})")
    problems = [p for p in load_bank(args.bank).problems if isinstance(p, MathProblem)][: args.problems]
    sampling = Sampling(max_new_tokens=args.max_new_tokens)
    n = args.samples
    results: dict[str, Any] = {}
    overhead: dict[str, Any] | None = None
    for name in wanted:
        print(f"[generation] {name} ...", file=sys.stderr)
        if name == "ours":
            results[name] = bench_ours(problems, n, sampling, args.dtype)
        elif name == "vllm":
            results[name] = bench_vllm(problems, n, sampling, args.vllm_python, args.model)
        elif name == "vllm-server":
            results[name], overhead = bench_vllm_server(
                problems, n, sampling, args.overhead_rounds, args.concurrency
            )
        elif name == "llamacpp-server":
            results[name] = bench_llamacpp_server(problems, n, sampling)
        else:
            results[name] = bench_hf_generate(problems, n, sampling, args.dtype)
    report: dict[str, Any] = {
        "problems": len(problems),
        "samples_per_problem": n,
        "max_new_tokens": args.max_new_tokens,
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "backends": results,
        "openai_overhead": overhead,
    }
    if "ours" in results:
        base = results["ours"]["tokens_per_s"]
        report["tokens_per_s_vs_ours"] = {k: round(v["tokens_per_s"] / base, 2) for k, v in results.items()}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    parts = [f"{k} {v['tokens_per_s']} tok/s {v['verified_per_s']} verified/s" for k, v in results.items()]
    line = f"generation ({len(problems)}x{n}, load {report['load_average_1m']}): " + "; ".join(parts)
    if "tokens_per_s_vs_ours" in report and "vllm" in results:
        line += f"; vllm/ours {report['tokens_per_s_vs_ours']['vllm']}x (target >= 2)"
    if overhead:
        line += f"; openai overhead {overhead['overhead_pct']}% (target <= 5%)"
    print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
