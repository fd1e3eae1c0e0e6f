"""Cost per verified chain, for each backend/model of a run: tokens, generation and checking time,
and money at a price per million tokens or per GPU hour."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from verifier.report.rundir import RunDir
from verifier.schema import ChainRecord


@dataclass(frozen=True)
class Prices:
    per_million_tokens: float | None = None
    gpu_hour: float | None = None

    def __post_init__(self) -> None:
        for name, v in (("per_million_tokens", self.per_million_tokens), ("gpu_hour", self.gpu_hour)):
            if v is not None and v < 0:
                raise ValueError(f"{name} must be >= 0, got {v}")


@dataclass(frozen=True)
class CostRow:
    source: str  # backend/model
    chains: int
    kept: int
    tokens: int
    gen_seconds: float
    check_seconds: float
    token_cost: float | None  # at Prices.per_million_tokens
    gpu_cost: float | None  # generation time at Prices.gpu_hour

    def per_kept(self, value: float | None) -> float | None:
        return None if value is None or self.kept == 0 else value / self.kept


def _source(r: ChainRecord, run: dict[str, object]) -> str:
    backend = getattr(r, "backend", None) or run.get("backend") or run.get("mode") or "?"
    return f"{backend}/{r.model}"


def cost(run: RunDir, prices: Prices) -> list[CostRow]:
    kept = {(r.problem_id, r.sample_index) for r in run.kept()}
    groups: dict[str, list[ChainRecord]] = defaultdict(list)
    for r in run.chains:
        groups[_source(r, run.run)].append(r)
    rows = []
    for source, records in sorted(groups.items()):
        tokens = sum(r.tokens for r in records)
        gen = sum(r.gen_seconds for r in records)
        rows.append(
            CostRow(
                source=source,
                chains=len(records),
                kept=sum((r.problem_id, r.sample_index) in kept for r in records),
                tokens=tokens,
                gen_seconds=gen,
                check_seconds=sum(r.check_seconds for r in records),
                token_cost=None
                if prices.per_million_tokens is None
                else tokens / 1e6 * prices.per_million_tokens,
                gpu_cost=None if prices.gpu_hour is None else gen / 3600 * prices.gpu_hour,
            )
        )
    return rows


def wall_seconds(run: RunDir) -> float | None:
    """The run's wall time from summary.json (generation and checking overlap, so this, not their
    sum, is what a machine was held for); None for a run that did not finish."""
    summary = run.summary or {}
    timing = summary.get("timing")
    value = timing.get("wall_s") if isinstance(timing, dict) else None
    value = summary.get("wall_seconds") if value is None else value
    return float(value) if isinstance(value, int | float) and value > 0 else None
