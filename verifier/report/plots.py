"""The report's PNG plots. matplotlib's object API (Figure, no pyplot): no global state, no display,
the Agg canvas renders to a file. Each function draws one plot and returns its path, or None when
there is nothing to draw."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from verifier.report.cost import CostRow
from verifier.report.coverage import Coverage, Facet
from verifier.report.drift import Comparison
from verifier.report.outcomes import Outcomes
from verifier.report.stats import shared_bins, unigrams

DPI = 110
KEPT, REF, BASE = "#1f77b4", "#ff7f0e", "#2ca02c"


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png")
    return path


def pass_rate_histogram(o: Outcomes, path: Path) -> Path | None:
    rates = o.pass_rates
    if not rates:
        return None
    fig = Figure(figsize=(5.6, 3.2))
    ax = fig.subplots()
    values = sorted(set(rates))
    if len(values) <= 12:  # few samples per problem: the rates are a few fractions, one bar each
        counts = [sum(1 for r in rates if r == v) for v in values]
        gap = min((b - a for a, b in zip(values, values[1:], strict=False)), default=1.0)
        ax.bar(values, counts, width=min(0.08, gap * 0.7), color=KEPT)
        ax.set_xticks(values, [f"{v:.2f}" for v in values])
    else:
        ax.hist(rates, bins=[i / 10 for i in range(11)], color=KEPT, edgecolor="white")
    ax.set_xlim(-0.05, 1.05)
    ax.set_xlabel("pass rate of the problem (verified / decided samples)")
    ax.set_ylabel("problems")
    ax.set_title(f"per-problem pass rate ({len(rates)} problems)")
    return _save(fig, path)


def pass_maj_curves(o: Outcomes, path: Path) -> Path | None:
    passk = {k: v for k, v in o.pass_at_k.items() if v is not None}
    majk = {k: v for k, v in o.maj_at_k.items() if v is not None}
    ks = list(passk)
    if not ks:
        return None
    fig = Figure(figsize=(5.6, 3.2))
    ax = fig.subplots()
    ax.plot(ks, list(passk.values()), "o-", color=KEPT, label="pass@k")
    ax.plot(list(majk), list(majk.values()), "s--", color=REF, label="maj@k")
    ax.set_xlabel("k (samples per problem)")
    ax.set_ylabel("mean over problems")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(ks if len(ks) <= 16 else ks[:: max(1, len(ks) // 16)])
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("unbiased pass@k and maj@k")
    return _save(fig, path)


def breakdown(o: Outcomes, path: Path) -> Path | None:
    if not o.breakdown:
        return None
    names = list(o.breakdown)[::-1]
    values = [o.breakdown[n] for n in names]
    fig = Figure(figsize=(5.6, 0.5 + 0.32 * len(names) + 0.8))
    ax = fig.subplots()
    colors = [
        "#2ca02c" if n == "verified" else "#9467bd" if n.startswith("dropped") else "#d62728" for n in names
    ]
    ax.barh(names, values, color=colors)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v}", va="center", fontsize=8)
    ax.set_xlabel("samples")
    ax.set_title(f"where the {o.samples} samples went")
    ax.set_xlim(0, max(values) * 1.15 + 1)
    return _save(fig, path)


def facet_shares(f: Facet, path: Path, top: int = 20) -> Path | None:
    regions = sorted(f.regions, key=lambda r: -r.bank_problems)[:top]
    if not regions:
        return None
    shares = [f.shares(r) for r in regions]
    y = np.arange(len(regions))
    fig = Figure(figsize=(6.4, 0.8 + 0.3 * len(regions) + 0.8))
    ax = fig.subplots()
    ax.barh(y - 0.2, [s[0] for s in shares], height=0.4, color=REF, label="share of bank problems")
    ax.barh(y + 0.2, [s[1] for s in shares], height=0.4, color=KEPT, label="share of kept chains")
    ax.set_yticks(y, [r.name[:40] for r in regions], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"coverage by {f.name}")
    return _save(fig, path)


def cluster_map(c: Coverage, kept_per_problem: dict[str, int], path: Path) -> Path | None:
    if c.cluster_xy is None or c.cluster_labels is None or len(c.cluster_ids) == 0:
        return None
    xy, labels = c.cluster_xy, c.cluster_labels
    kept = np.array([kept_per_problem.get(pid, 0) for pid in c.cluster_ids])
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    cmap = matplotlib.colormaps["tab20"]
    colours = [cmap(int(lab) % 20) for lab in labels]
    none = kept == 0
    ax.scatter(xy[none, 0], xy[none, 1], s=14, facecolors="none", edgecolors=np.array(colours)[none], lw=0.8)
    ax.scatter(xy[~none, 0], xy[~none, 1], s=14 + 10 * kept[~none], c=np.array(colours)[~none], alpha=0.85)
    for lab in sorted(set(int(v) for v in labels)):
        centre = xy[labels == lab].mean(axis=0)
        ax.annotate(f"c{lab:02d}", centre, fontsize=8, weight="bold", ha="center")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("problems by embedding (PCA); filled = has kept chains, size = how many")
    return _save(fig, path)


def _overlay(ax: Axes, series: Sequence[tuple[str, Sequence[int], str]], xlabel: str) -> None:
    edges = shared_bins(*[s for _, s, _ in series])
    for label, values, colour in series:
        ax.hist(values, bins=list(edges), density=True, histtype="step", lw=1.8, color=colour, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(fontsize=8)


def drift_distributions(comparisons: Sequence[Comparison], path: Path) -> Path | None:
    if not comparisons:
        return None
    kept = comparisons[0].kept
    fig = Figure(figsize=(8.8, 3.2))
    a1, a2 = fig.subplots(1, 2)
    colours = (REF, BASE)
    length = [(kept.label, kept.lengths, KEPT)] + [
        (c.reference.label, c.reference.lengths, colours[i]) for i, c in enumerate(comparisons)
    ]
    step = [(kept.label, kept.steps, KEPT)] + [
        (c.reference.label, c.reference.steps, colours[i]) for i, c in enumerate(comparisons)
    ]
    _overlay(a1, length, "chain length (words)")
    _overlay(a2, step, "steps (non-empty lines)")
    a1.set_title("length")
    a2.set_title("steps")
    return _save(fig, path)


def drift_unigrams(comparison: Comparison, path: Path, top: int = 20) -> Path | None:
    ua, ub = unigrams(comparison.kept.texts), unigrams(comparison.reference.texts)
    ta, tb = sum(ua.values()), sum(ub.values())
    if not ta or not tb:
        return None
    union = {w for w, _ in ub.most_common(top)} | {w for w, _ in ua.most_common(top)}
    # The words whose frequency differs most between the two sides.
    diff = sorted(union, key=lambda w: -abs(ua[w] / ta - ub[w] / tb))[:top]
    y = np.arange(len(diff))
    fig = Figure(figsize=(6.4, 0.8 + 0.28 * len(diff) + 0.8))
    ax = fig.subplots()
    ax.barh(y - 0.2, [ub[w] / tb for w in diff], height=0.4, color=REF, label=comparison.reference.label)
    ax.barh(y + 0.2, [ua[w] / ta for w in diff], height=0.4, color=KEPT, label=comparison.kept.label)
    ax.set_yticks(y, [repr(w) for w in diff], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("frequency")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("the token unigrams that differ most")
    return _save(fig, path)


def cost_per_kept(rows: Sequence[CostRow], path: Path) -> Path | None:
    rows = [r for r in rows if r.kept]
    if not rows:
        return None
    names = [r.source[-40:] for r in rows]
    y = np.arange(len(rows))
    if any(r.tokens for r in rows):
        fig = Figure(figsize=(8.8, 0.8 + 0.4 * len(rows) + 0.8))
        a1, a2 = fig.subplots(1, 2)
        a1.barh(names, [r.tokens / r.kept for r in rows], color=KEPT)
        a1.set_xlabel("tokens generated per kept chain")
        labels = [""] * len(rows)
    else:  # completions made elsewhere: only the checking time is this run's
        fig = Figure(figsize=(6.4, 0.8 + 0.4 * len(rows) + 0.8))
        a2 = fig.subplots()
        labels = names
    a2.barh(y - 0.2, [r.gen_seconds / r.kept for r in rows], height=0.4, color=REF, label="generation")
    a2.barh(y + 0.2, [r.check_seconds / r.kept for r in rows], height=0.4, color=BASE, label="verification")
    a2.set_yticks(y, labels)
    a2.set_xlabel("seconds per kept chain")
    a2.legend(fontsize=8)
    return _save(fig, path)
