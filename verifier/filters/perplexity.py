"""Perplexity stage: drop chains whose perplexity under the generator model is an outlier.

Teacher-forced: the model reads the prompt the chain was sampled with, then the chain, and the
perplexity is exp(mean negative log-likelihood) of the chain's tokens only. Repetition loops score
far below anything a human writes; garbage far above. The band is set from the human references of
the same bank, read under the same prompt: ``band`` gives two quantiles of the references'
perplexities and ``margin`` widens them (low / margin, high * margin), because a model's own samples
are, by construction, likelier under it than human text is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from verifier.filters.base import Group, Scope, StageOutcome, drop, flatten, keep, regroup
from verifier.generation.prompts import build_messages
from verifier.schema import ChainRecord, CodeProblem, MathProblem

Messages = tuple[tuple[str, str], ...]
DEFAULT_BAND = (0.0, 1.0)  # quantiles of the references' perplexities
DEFAULT_MARGIN = 2.0
MAX_CHAIN_TOKENS = 1024


class PerplexityScorer:
    """A local causal LM that scores (prompt, continuation) pairs; loads like the transformers backend."""

    def __init__(self, model: str | None, *, batch_rows: int = 8):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from verifier.generation.transformers_backend import resolve_model

        path, self.name = resolve_model(model)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        self.model.eval()
        self.batch_rows = batch_rows
        self._pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def _ids(self, messages: Messages, text: str) -> tuple[list[int], int]:
        chat = [{"role": r, "content": c} for r, c in messages]
        prompt = str(self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))
        head = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        tail = self.tokenizer(text, add_special_tokens=False)["input_ids"][:MAX_CHAIN_TOKENS]
        return head + tail, len(head)

    def perplexities(self, pairs: Sequence[tuple[Messages, str]]) -> list[float]:
        """exp(mean NLL) of each continuation's tokens; nan for an empty continuation."""
        import torch  # here, not at import: the CLI lists stages without loading torch

        with torch.inference_mode():
            return self._perplexities(pairs, torch)

    def _perplexities(self, pairs: Sequence[tuple[Messages, str]], torch: Any) -> list[float]:
        encoded = [self._ids(m, t) for m, t in pairs]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
        out = [math.nan] * len(encoded)
        for start in range(0, len(order), self.batch_rows):
            rows = order[start : start + self.batch_rows]
            width = max(len(encoded[i][0]) for i in rows)
            ids = torch.full((len(rows), width), self._pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            scored = torch.zeros((len(rows), width), dtype=torch.bool)
            for r, i in enumerate(rows):
                seq, head = encoded[i]
                ids[r, : len(seq)] = torch.tensor(seq)
                mask[r, : len(seq)] = 1
                scored[r, head : len(seq)] = True
            logits = self.model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            nll = torch.nn.functional.cross_entropy(
                logits.transpose(1, 2), ids[:, 1:], reduction="none"
            )  # nll[:, t] is the loss of token t+1
            take = scored[:, 1:]
            for r, i in enumerate(rows):
                n = int(take[r].sum())
                if n:
                    out[i] = math.exp(float(nll[r][take[r]].mean()))
        return out

    def close(self) -> None:
        del self.model


def chain_messages(chain: ChainRecord) -> Messages:
    """The prompt the chain was sampled with."""
    if isinstance(chain.prompt, list):
        return tuple((m["role"], m["content"]) for m in chain.prompt)
    return (("user", chain.prompt),)


def reference_pairs(problems: Sequence[MathProblem | CodeProblem], limit: int) -> list[tuple[Messages, str]]:
    """(prompt, reference) for the first ``limit`` problems with a reference, under the generation prompt."""
    out = []
    for p in problems:
        text = p.solution if isinstance(p, MathProblem) else p.reference_solution
        if text:
            out.append((build_messages(p), text))
        if len(out) >= limit:
            break
    return out


@dataclass
class PerplexityStage:
    model: str | None  # local HF directory or .gguf; None = the embedded model
    references: list[tuple[Messages, str]]
    band: tuple[float, float] = DEFAULT_BAND
    margin: float = DEFAULT_MARGIN
    batch_rows: int = 8
    _scorer: PerplexityScorer | None = field(default=None, init=False, repr=False)
    _limits: tuple[float, float] | None = field(default=None, init=False, repr=False)
    reference_perplexities: list[float] = field(default_factory=list, init=False, repr=False)

    name = "perplexity"
    scope = Scope.CHAIN
    score = "perplexity"

    def __post_init__(self) -> None:
        lo, hi = self.band
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"--perplexity-band: need 0 <= low <= high <= 1 (quantiles), got {lo},{hi}")
        if self.margin < 1.0:
            raise ValueError(f"--perplexity-margin: must be at least 1, got {self.margin}")
        if not self.references:
            raise ValueError("perplexity: the bank has no reference solutions to set the band from")

    def settings(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "band": list(self.band),
            "margin": self.margin,
            "references": len(self.references),
            "max_chain_tokens": MAX_CHAIN_TOKENS,
        }

    def limits(self) -> tuple[float, float]:
        """(low, high) perplexity: the references' band quantiles, widened by the margin."""
        if self._limits is None:
            scorer = self._load()
            values = np.array([v for v in scorer.perplexities(self.references) if not math.isnan(v)])
            self.reference_perplexities = values.tolist()
            lo, hi = np.quantile(values, list(self.band))
            self._limits = (float(lo) / self.margin, float(hi) * self.margin)
        return self._limits

    def _load(self) -> PerplexityScorer:
        if self._scorer is None:
            self._scorer = PerplexityScorer(self.model, batch_rows=self.batch_rows)
        return self._scorer

    def judge(self, groups: Sequence[Group]) -> list[list[StageOutcome]]:
        lo, hi = self.limits()
        chains = flatten(groups)
        values = self._load().perplexities([(chain_messages(c), c.completion) for c in chains])
        flat = []
        for v in values:
            details = {
                "perplexity": None if math.isnan(v) else round(v, 4),
                "low": round(lo, 4),
                "high": round(hi, 4),
            }
            if math.isnan(v):
                flat.append(drop("empty chain: no tokens to score", **details))
            elif v < lo:
                flat.append(
                    drop(f"perplexity {v:.2f} below {lo:.2f}: a repetition loop or copied text", **details)
                )
            elif v > hi:
                flat.append(
                    drop(
                        f"perplexity {v:.2f} above {hi:.2f}: unlike anything the model or a human writes",
                        **details,
                    )
                )
            else:
                flat.append(keep(f"perplexity {v:.2f} in [{lo:.2f}, {hi:.2f}]", **details))
        return regroup(groups, flat)

    def close(self) -> None:
        if self._scorer is not None:
            self._scorer.close()
            self._scorer = None
