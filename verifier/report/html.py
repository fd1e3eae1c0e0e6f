"""The report page: one self-contained HTML file (inline CSS, PNGs as base64 data URIs, no script,
nothing fetched), so it can be mailed, archived as a CI artefact, or opened offline."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from verifier.report.cost import CostRow, Prices, wall_seconds
from verifier.report.coverage import Coverage
from verifier.report.drift import Comparison, Drift
from verifier.report.outcomes import Outcomes
from verifier.report.rundir import RunDir
from verifier.schema import MathProblem

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
main{max-width:1320px;margin:0 auto;padding:18px 24px 60px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #dde}
h3{font-size:15px;margin:18px 0 6px}.muted{color:#667}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px}.card span{color:#667;font-size:12px}
.bad b{color:#c62828}.good b{color:#2e7d32}
table{border-collapse:collapse;background:#fff;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #dde;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef0f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots img{background:#fff;border:1px solid #dde;border-radius:6px;max-width:100%}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:4px 10px;margin:4px 0}
code,pre{background:#eef0f5;border-radius:4px;padding:1px 4px;font-size:12.5px}pre{padding:8px;overflow-x:auto}
.sparse{color:#c62828;font-weight:600}
"""


@dataclass(frozen=True)
class Page:
    run: RunDir
    outcomes: Outcomes
    coverage: Coverage
    drift: Drift
    cost: tuple[CostRow, ...]
    prices: Prices
    plots: dict[str, Path]  # plot key -> PNG file
    resample_command: str | None
    resample_count: int
    gate: str | None  # the --max-drift verdict line, when asked
    baseline: RunDir | None = None
    run_over_run: tuple[tuple[str, float | None, float | None], ...] = ()
    extra_notes: tuple[str, ...] = field(default_factory=tuple)


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _num(x: float | int | None, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.{digits}f}"


def _img(path: Path | None, alt: str) -> str:
    if path is None or not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[bool] = ()) -> str:
    """Cells are HTML already (escape with _e before)."""
    out = ["<table><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        cells = (
            f'<td class="n">{c}</td>' if i < len(numeric) and numeric[i] else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _card(label: str, value: str, cls: str = "") -> str:
    return f'<div class="card {cls}"><b>{_e(value)}</b><span>{_e(label)}</span></div>'


def _plots(page: Page, *keys: str) -> str:
    imgs = [_img(page.plots.get(k), k) for k in keys]
    return '<div class="plots">' + "".join(i for i in imgs if i) + "</div>"


def _header(p: Page) -> str:
    r, o = p.run, p.outcomes
    run = r.run
    what = run.get("model") or run.get("responses") or run.get("mode") or "?"
    k_max = max((k for k, v in o.pass_at_k.items() if v is not None), default=None)
    kept_cost = [c for c in p.cost if c.kept]
    tokens_per_kept = sum(c.tokens for c in kept_cost) / o.kept if o.kept and kept_cost else None
    gated = p.drift.gated
    cards = [
        _card("problems", _num(len(o.problems))),
        _card("samples", _num(o.samples)),
        _card("verified chains", _num(o.verified)),
        _card("kept chains", _num(o.kept), "good" if o.kept else "bad"),
        _card("pass@1", _num(o.pass_at_k.get(1))),
    ]
    if k_max and k_max > 1:
        cards.append(_card(f"pass@{k_max}", _num(o.pass_at_k.get(k_max))))
        cards.append(_card(f"maj@{k_max}", _num(o.maj_at_k.get(k_max))))
    if gated is not None:
        cards.append(_card(f"drift: worst KL vs {gated.reference.label} (bits)", _num(gated.worst.kl)))
    if tokens_per_kept is not None and tokens_per_kept > 0:
        cards.append(_card("tokens per kept chain", _num(tokens_per_kept, 1)))
    notes = [*r.notes, *p.coverage.notes, *p.drift.notes, *p.extra_notes]
    return (
        f"<h1>Run report: {_e(r.name)}</h1>"
        f'<div class="muted">{_e(r.path)} · {_e(run.get("mode", "?"))} · {_e(what)} · bank '
        f"{_e(run.get('bank', '?'))} · made {_e(datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))}</div>"
        + (f'<div class="note"><b>{_e(p.gate)}</b></div>' if p.gate else "")
        + '<div class="cards">'
        + "".join(cards)
        + "</div>"
        + "".join(f'<div class="note">{_e(n)}</div>' for n in notes)
    )


def _outcomes(p: Page) -> str:
    o = p.outcomes
    bank = p.run.bank.by_id() if p.run.bank else {}
    rows = []
    for row in o.hardest(12):
        prob = bank.get(row.problem_id)
        text = (prob.question if isinstance(prob, MathProblem) else prob.prompt) if prob else ""
        gold = prob.answer if isinstance(prob, MathProblem) else ""
        rows.append(
            (
                _e(row.problem_id),
                _num(row.samples),
                _num(row.correct),
                _num(row.pass_rate, 2),
                _e(gold),
                _e(row.top_wrong or ""),
                _e(text[:160] + ("…" if len(text) > 160 else "")),
            )
        )
    breakdown = [
        (_e(k), _num(v), _num(v / o.samples if o.samples else 0.0, 3)) for k, v in o.breakdown.items()
    ]
    kk = [k for k, v in o.pass_at_k.items() if v is not None]
    curve = [(str(k), _num(o.pass_at_k[k]), _num(o.maj_at_k.get(k))) for k in kk]
    return (
        "<h2>1. Outcomes</h2>"
        + _plots(p, "pass_rate_histogram", "pass_maj_curves", "breakdown")
        + "<h3>Where the samples went</h3>"
        + _table(("category", "samples", "share"), breakdown, (False, True, True))
        + '<p class="muted">"sandbox error" and "checker error" are the checker\'s failures, not the '
        "answer's: they are left out of pass@k. A filter stage drops verified chains before the data set.</p>"
        + (
            "<h3>Filter stages</h3>"
            + _table(
                ("stage", "judged", "kept", "dropped"),
                ((_e(s), _num(k + d), _num(k), _num(d)) for s, (k, d) in o.stages.items()),
                (False, True, True, True),
            )
            + '<p class="muted">Each stage judges the verified chains on its own; above, a chain two stages '
            "dropped counts under the first.</p>"
            if o.stages
            else ""
        )
        + "<h3>pass@k and maj@k</h3>"
        + _table(("k", "pass@k", "maj@k"), curve, (True, True, True))
        + "<h3>The hardest problems</h3>"
        + _table(
            ("problem", "samples", "verified", "pass rate", "gold", "most common wrong answer", "question"),
            rows,
            (False, True, True, True),
        )
    )


def _coverage(p: Page) -> str:
    c = p.coverage
    if not c.facets:
        return (
            "<h2>2. Coverage</h2><p class='muted'>No bank with tags, metadata or texts: nothing to show.</p>"
        )
    parts = ["<h2>2. Coverage</h2>"]
    parts.append(
        _table(
            (
                "division",
                "regions",
                "entropy of kept chains (bits)",
                "entropy of bank",
                "evenness kept / bank",
                "sparse",
            ),
            (
                (
                    _e(f.name),
                    _num(len(f.regions)),
                    _num(f.entropy_kept),
                    _num(f.entropy_bank),
                    f"{_num(f.evenness_kept)} / {_num(f.evenness_bank)}",
                    _num(len(f.sparse_regions())),
                )
                for f in c.facets
            ),
            (False, True, True, True, True, True),
        )
    )
    parts.append(
        '<p class="muted">Evenness is entropy / log2(regions): 1 spreads the chains evenly, 0 piles them in '
        "one region. Kept evenness well under the bank's means the data piles up where the model is already "
        "good. A region is <span class='sparse'>sparse</span> when its share of kept chains is under half its share of the bank.</p>"
    )
    parts.append(_plots(p, "cluster_map"))
    for f in c.facets:
        parts.append(f"<h3>By {_e(f.name)}</h3>")
        parts.append(_plots(p, f"coverage_{f.name}"))
        rows = []
        for r in sorted(f.regions, key=lambda r: -r.bank_problems)[:40]:
            bank_share, kept_share = f.shares(r)
            sparse = r.sparse(bank_share, kept_share)
            rows.append(
                (
                    f"<span class='sparse'>{_e(r.name)}</span>" if sparse else _e(r.name),
                    _num(r.bank_problems),
                    _num(r.run_problems),
                    _num(r.covered_problems),
                    _num(r.kept_chains),
                    _num(bank_share),
                    _num(kept_share),
                )
            )
        parts.append(
            _table(
                (
                    "region",
                    "bank problems",
                    "run problems",
                    "problems covered",
                    "kept chains",
                    "bank share",
                    "kept share",
                ),
                rows,
                (False, True, True, True, True, True, True),
            )
        )
    if p.resample_command:
        parts.append(
            f"<h3>Resample the sparse regions</h3><p>{p.resample_count} problems of sparse regions have no kept "
            f"chain. They are written as a bank of their own; run:</p><pre>{_e(p.resample_command)}</pre>"
        )
    return "".join(parts)


def _comparison_table(cmp: Comparison) -> str:
    return (
        f"<h3>Kept chains ({len(cmp.kept.texts)}) vs {_e(cmp.reference.label)} ({len(cmp.reference.texts)})</h3>"
        + _table(
            ("measure", "KL(kept ‖ reference), bits", "entropy kept", "entropy reference", "entropy change"),
            (
                (
                    _e(m.name),
                    _num(m.kl),
                    _num(m.entropy_kept),
                    _num(m.entropy_reference),
                    _num(m.entropy_kept - m.entropy_reference),
                )
                for m in cmp.measures
            ),
            (False, True, True, True, True),
        )
    )


def _drift(p: Page) -> str:
    d = p.drift
    parts = ["<h2>3. Drift</h2>"]
    if d.vs_human is None and d.vs_baseline is None and not p.run_over_run:
        return parts[0] + "<p class='muted'>Nothing to compare (see the notes above).</p>"
    parts.append(
        '<p class="muted">KL divergence of the kept chains from the reference, smoothed (½ per outcome), in '
        "bits; 0 is the same distribution. Length and steps are compared on shared integer bins, unigrams on "
        "lower-cased words, numbers and symbols. A negative entropy change is a contraction: the synthetic "
        "text is more uniform than its reference.</p>"
    )
    for cmp in (d.vs_human, d.vs_baseline):
        if cmp is not None:
            parts.append(_comparison_table(cmp))
    if p.run_over_run and p.baseline is not None:
        parts.append(f"<h3>Run over run: this run vs {_e(p.baseline.name)}</h3>")
        parts.append(
            _table(
                ("measure", "this run", "baseline", "change"),
                (
                    (_e(name), _num(a), _num(b), _num(a - b) if a is not None and b is not None else "–")
                    for name, a, b in p.run_over_run
                ),
                (False, True, True, True),
            )
        )
    parts.append(_plots(p, "drift_distributions", "drift_unigrams_human", "drift_unigrams_baseline"))
    return "".join(parts)


def _cost(p: Page) -> str:
    rows = []
    for c in p.cost:
        rows.append(
            (
                _e(c.source),
                _num(c.chains),
                _num(c.kept),
                _num(c.tokens),
                _num(c.per_kept(c.tokens), 1),
                _num(c.per_kept(c.gen_seconds), 3),
                _num(c.per_kept(c.check_seconds), 4),
                _num(c.per_kept(c.token_cost), 6),
                _num(c.per_kept(c.gpu_cost), 6),
            )
        )
    prices = (
        f"at {_num(p.prices.per_million_tokens, 2)} per million tokens"
        if p.prices.per_million_tokens is not None
        else "no --price-per-million-tokens"
    ) + (
        f", {_num(p.prices.gpu_hour, 2)} per GPU hour"
        if p.prices.gpu_hour is not None
        else ", no --gpu-hour-price"
    )
    kept = sum(c.kept for c in p.cost)
    wall = wall_seconds(p.run)
    whole = ""
    if wall is not None:
        whole = f"<p>The whole run held its machine {_num(wall, 1)} s (wall time)"
        if kept:
            whole += f": {_num(wall / kept, 3)} s per kept chain"
            if p.prices.gpu_hour is not None:
                whole += f", {_num(wall / 3600 * p.prices.gpu_hour / kept, 6)} per kept chain at the GPU-hour price"
        whole += ".</p>"
    return (
        "<h2>4. Cost</h2>"
        + f'<p class="muted">Per kept chain, for each backend/model; money {_e(prices)}. Generation time is the '
        "batch's wall time shared out over its rows; a --responses run generated nothing here (0 tokens).</p>"
        + _table(
            (
                "backend/model",
                "chains",
                "kept",
                "tokens",
                "tokens / kept",
                "gen s / kept",
                "check s / kept",
                "token cost / kept",
                "GPU cost / kept",
            ),
            rows,
            (False, True, True, True, True, True, True, True, True),
        )
        + whole
        + _plots(p, "cost")
    )


def render(page: Page) -> str:
    body = _header(page) + _outcomes(page) + _coverage(page) + _drift(page) + _cost(page)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>verify report: {_e(page.run.name)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
