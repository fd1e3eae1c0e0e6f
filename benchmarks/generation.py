"""Generation benchmark: our sampling loop vs transformers' own `generate`, same model, same prompts,
same run. Both sample `--samples` completions per problem of the demo bank, one batched call per
problem, with the same stop rule (a finished '#### N' line or EOS), temperature and top-p.

(a) baseline: `model.generate(do_sample=True, num_return_sequences=n)` with a per-row stop rule
    (StoppingCriteria); finished rows stay in the batch until the longest row ends, and the prompt
    is prefilled once per sample.
(b) ours: `TransformersGenerator`, which prefills each prompt once, shares its KV cache with its
    samples and drops rows from the batch as they finish.

Prints JSON on stdout and a one-line summary on stderr.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/generation.py [--problems 4] [--samples 10] [--max-new-tokens 256]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from verifier.banks.loader import load_bank
from verifier.generation.base import GenerationRequest
from verifier.generation.prompts import build_messages
from verifier.generation.transformers_backend import _DONE, SamplingConfig, TransformersGenerator
from verifier.math import check_math
from verifier.schema import MathProblem

REPO = Path(__file__).resolve().parent.parent


class _RowDone(StoppingCriteria):
    def __init__(self, tokenizer: Any, prompt_len: int):
        self.tokenizer, self.prompt_len = tokenizer, prompt_len

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len :], skip_special_tokens=True)
        return torch.tensor([bool(_DONE.search(t)) for t in texts], dtype=torch.bool)


def baseline(
    gen: TransformersGenerator, problems: list[MathProblem], n: int, cfg: SamplingConfig
) -> dict[str, Any]:
    tokens = correct = 0
    torch.manual_seed(0)
    t0 = time.perf_counter()
    for p in problems:
        enc = gen.tokenizer([gen._prompt_text(build_messages(p))], return_tensors="pt")
        plen = enc["input_ids"].shape[1]
        with torch.inference_mode():
            out = gen.model.generate(
                **enc,
                do_sample=True,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                top_k=None,
                num_return_sequences=n,
                max_new_tokens=cfg.max_new_tokens,
                stopping_criteria=StoppingCriteriaList([_RowDone(gen.tokenizer, plen)]),
                pad_token_id=gen.tokenizer.pad_token_id,
            )
        for row in out[:, plen:]:
            ids = [t for t in row.tolist() if t != gen.tokenizer.pad_token_id]
            tokens += len(ids) + (len(ids) < len(row))  # the EOS that ended a row counts, as in ours
            text = gen.tokenizer.decode(ids, skip_special_tokens=True)
            correct += check_math(gold=p.answer, pred=text).correct
    return _result(time.perf_counter() - t0, tokens, correct, len(problems) * n)


def ours(gen: TransformersGenerator, problems: list[MathProblem], n: int) -> dict[str, Any]:
    tokens = correct = 0
    t0 = time.perf_counter()
    for p in problems:  # one call per problem, like the baseline
        [completions] = gen.generate([GenerationRequest(build_messages(p), tuple(range(n)))])
        tokens += sum(c.tokens for c in completions)
        correct += sum(check_math(gold=p.answer, pred=c.text).correct for c in completions)
    return _result(time.perf_counter() - t0, tokens, correct, len(problems) * n)


def _result(seconds: float, tokens: int, correct: int, samples: int) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 2),
        "tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 1),
        "samples": samples,
        "correct": correct,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", default=str(REPO / "problem_banks" / "gsm-style.jsonl"))
    ap.add_argument("--problems", type=int, default=4)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--dtype", default="bfloat16")
    args = ap.parse_args()
    problems = [p for p in load_bank(args.bank).problems if isinstance(p, MathProblem)][: args.problems]
    cfg = SamplingConfig(max_new_tokens=args.max_new_tokens, dtype=args.dtype)
    gen = TransformersGenerator(None, cfg)
    gen.generate([GenerationRequest(build_messages(problems[0]), (0,))])  # warm-up
    base = baseline(gen, problems, args.samples, cfg)
    our = ours(gen, problems, args.samples)
    report = {
        "model": gen.name,
        "dtype": args.dtype,
        "problems": len(problems),
        "samples_per_problem": args.samples,
        "max_new_tokens": args.max_new_tokens,
        "torch_threads": torch.get_num_threads(),
        "hf_generate": base,
        "ours": our,
        "speedup_wall": round(base["seconds"] / our["seconds"], 2),
    }
    print(json.dumps(report, indent=2))
    print(
        f"generation: ours {our['seconds']} s ({our['tokens_per_s']} tok/s) vs HF generate {base['seconds']} s "
        f"({base['tokens_per_s']} tok/s) for {report['problems']}x{args.samples} samples: "
        f"{report['speedup_wall']}x faster wall time",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
