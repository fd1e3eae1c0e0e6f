"""Build the report of a run directory: numbers, plots, the page, the resample bank, the text summary."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from verifier.embedding import EMBEDDER_NAME
from verifier.errors import InputError
from verifier.generation.embedded import cache_root
from verifier.pipeline.outputs import atomic_write
from verifier.report import plots
from verifier.report.cost import CostRow, Prices, cost, wall_seconds
from verifier.report.coverage import Coverage, Embed, coverage
from verifier.report.drift import Drift, drift
from verifier.report.html import Page, render
from verifier.report.outcomes import Outcomes, outcomes, run_over_run
from verifier.report.rundir import RunDir, load_run


@dataclass(frozen=True)
class Options:
    out: Path
    baseline: Path | None = None
    prices: Prices = Prices()
    max_drift: float | None = None
    clusters: int | None = None  # None: about sqrt(n/2); 0: no embedding clusters


@dataclass(frozen=True)
class Report:
    html: Path
    plots: tuple[Path, ...]
    lines: tuple[str, ...]  # the text summary
    drift_exceeded: bool  # only ever True when Options.max_drift was given
    resample_bank: Path | None


def _cached(embed: Embed, directory: Path) -> Embed:
    """Embeddings cached per set of texts (and embedding model): the report of any run on the same bank
    skips the minutes a 1,000-problem bank costs on a CPU. A cache that cannot be read or written is
    rebuilt or skipped, never an error."""

    def cached(texts: Sequence[str]) -> np.ndarray:
        key = hashlib.sha256("\x00".join([EMBEDDER_NAME, *texts]).encode("utf-8")).hexdigest()[:32]
        path = directory / f"{key}.npy"
        try:
            vectors = np.load(path)
            if vectors.shape[0] == len(texts):
                return np.asarray(vectors, dtype=np.float32)
        except (OSError, ValueError):  # not cached yet, or damaged: embed again
            pass
        vectors = embed(texts)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.stem + ".tmp.npy")
            np.save(tmp, vectors)
            os.replace(tmp, path)
        except OSError:  # a read-only cache only costs time
            pass
        return vectors

    return cached


def _gate(d: Drift, max_drift: float | None) -> tuple[bool, str | None]:
    if max_drift is None:
        return False, None
    cmp = d.gated
    if cmp is None:
        # A gate that cannot measure must not pass: no kept chains is the worst drift of all.
        return True, f"drift gate FAILED: nothing to measure ({'; '.join(d.notes) or 'no reference'})"
    worst = cmp.worst
    verdict = "FAILED" if worst.kl > max_drift else "passed"
    return worst.kl > max_drift, (
        f"drift gate {verdict}: {worst.name} KL {worst.kl:.3f} bits vs {cmp.reference.label} "
        f"({'>' if worst.kl > max_drift else '<='} --max-drift {max_drift})"
    )


def _write_resample_bank(run: RunDir, cov: Coverage, out: Path) -> tuple[Path | None, str | None, int]:
    ids = cov.resample_ids(run)
    if not ids or run.bank is None:
        return None, None, 0
    by_id = run.bank.by_id()
    path = out / "resample-bank.jsonl"
    atomic_write(path, "".join(by_id[i].model_dump_json() + "\n" for i in ids))
    samples = run.run.get("samples")
    samples = samples if isinstance(samples, int) and samples > 0 else 10
    target = run.path.resolve().parent / f"{run.name}-resample"
    return path, f"verify --bank {path} --samples {samples} --out {target}", len(ids)


def _plots(
    run: RunDir, o: Outcomes, cov: Coverage, d: Drift, rows: list[CostRow], out: Path
) -> dict[str, Path]:
    made: dict[str, Path | None] = {
        "pass_rate_histogram": plots.pass_rate_histogram(o, out / "pass_rate_histogram.png"),
        "pass_maj_curves": plots.pass_maj_curves(o, out / "pass_maj_curves.png"),
        "breakdown": plots.breakdown(o, out / "breakdown.png"),
        "cluster_map": plots.cluster_map(
            cov, Counter(r.problem_id for r in run.kept()), out / "cluster_map.png"
        ),
        "cost": plots.cost_per_kept(rows, out / "cost.png"),
    }
    for f in cov.facets:
        slug = f.name.replace(" ", "_")
        made[f"coverage_{f.name}"] = plots.facet_shares(f, out / f"coverage_{slug}.png")
    comparisons = [c for c in (d.vs_human, d.vs_baseline) if c is not None]
    made["drift_distributions"] = plots.drift_distributions(comparisons, out / "drift_distributions.png")
    if d.vs_human is not None:
        made["drift_unigrams_human"] = plots.drift_unigrams(d.vs_human, out / "drift_unigrams_human.png")
    if d.vs_baseline is not None:
        made["drift_unigrams_baseline"] = plots.drift_unigrams(
            d.vs_baseline, out / "drift_unigrams_baseline.png"
        )
    return {k: v for k, v in made.items() if v is not None}


def _fmt(x: float | None) -> str:
    return "-" if x is None else str(x) if isinstance(x, int) else f"{x:.3f}"


def _cost_line(c: CostRow) -> str:
    parts = [f"cost {c.source}: {c.kept} kept of {c.chains}"]
    if c.tokens == 0:
        parts.append("no tokens recorded (completions made elsewhere)")
    elif c.kept:
        parts.append(
            f"{c.tokens / c.kept:.1f} tokens and {c.gen_seconds / c.kept:.3f} s generation per kept chain"
        )
    if c.tokens == 0:
        return ", ".join(parts)
    if c.kept and c.token_cost is not None:
        parts.append(f"{c.token_cost / c.kept:.6f} per kept chain (tokens)")
    if c.kept and c.gpu_cost is not None:
        parts.append(f"{c.gpu_cost / c.kept:.6f} per kept chain (GPU time)")
    return ", ".join(parts)


def _lines(
    run: RunDir, o: Outcomes, cov: Coverage, d: Drift, rows: list[CostRow], gate: str | None
) -> list[str]:
    k_max = max((k for k, v in o.pass_at_k.items() if v is not None), default=None)
    fmt = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
    lines = [
        f"{run.name}: {len(o.problems)} problems, {o.samples} samples, {o.verified} verified, {o.kept} kept",
        f"pass@1 {fmt(o.pass_at_k.get(1))}"
        + (
            f", pass@{k_max} {fmt(o.pass_at_k.get(k_max))}, maj@{k_max} {fmt(o.maj_at_k.get(k_max))}"
            if k_max
            else ""
        ),
        "where samples went: " + (", ".join(f"{k} {v}" for k, v in o.breakdown.items()) or "no samples"),
    ]
    for f in cov.facets:
        lines.append(
            f"coverage by {f.name}: {len(f.regions)} regions, evenness kept {fmt(f.evenness_kept)} vs bank "
            f"{fmt(f.evenness_bank)}, {len(f.sparse_regions())} sparse"
        )
    for cmp in (d.vs_human, d.vs_baseline):
        if cmp is not None:
            lines.append(
                f"drift vs {cmp.reference.label}: "
                + ", ".join(f"{m.name} KL {m.kl:.3f}" for m in cmp.measures)
                + f"; unigram entropy {cmp.measures[-1].entropy_kept:.2f} vs {cmp.measures[-1].entropy_reference:.2f} bits"
            )
    lines.extend(_cost_line(c) for c in rows)
    wall, kept = wall_seconds(run), sum(c.kept for c in rows)
    if wall is not None and kept:
        lines.append(f"wall time {wall:.1f} s: {wall / kept:.3f} s per kept chain")
    if gate:
        lines.append(gate)
    return lines


def build_report(run_dir: Path, options: Options, embed: Embed | None) -> Report:
    """Raises InputError for a bad run directory or baseline (file:line: field)."""
    run = load_run(run_dir)
    baseline = load_run(options.baseline) if options.baseline is not None else None
    try:
        options.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError([f"{options.out}:0: --out: cannot create: {e.strerror or e}"]) from None
    o = outcomes(run)
    if embed is not None:
        embed = _cached(embed, cache_root().parent / "embeddings")  # beside models/
    cov = coverage(run, embed if options.clusters != 0 else None, options.clusters or None)
    d = drift(run, baseline)
    rows = cost(run, options.prices)
    exceeded, gate = _gate(d, options.max_drift)
    bank_path, command, count = _write_resample_bank(run, cov, options.out)
    made = _plots(run, o, cov, d, rows, options.out)
    versus = tuple(run_over_run(o, outcomes(baseline))) if baseline is not None else ()
    page = Page(run, o, cov, d, tuple(rows), options.prices, made, command, count, gate, baseline, versus)
    html_path = options.out / "report.html"
    atomic_write(html_path, render(page))
    lines = _lines(run, o, cov, d, rows, gate)
    if baseline is not None:
        lines.append(
            f"vs baseline {baseline.name}: "
            + ", ".join(
                f"{n} {_fmt(a)} (was {_fmt(b)})" for n, a, b in versus if n not in ("problems", "samples")
            )
        )
    if command:
        lines.append(f"resample {count} problems of sparse regions: {command}")
    lines.append(f"report: {html_path}")
    return Report(html_path, tuple(made.values()), tuple(lines), exceeded, bank_path)
