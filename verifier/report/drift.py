"""Drift: how the kept chains' distributions (length, steps, token unigrams) differ from a reference,
either the bank's human solutions or a baseline run's kept chains. KL divergence (smoothed, bits) of
kept from reference, and the entropy of each side: a shrinking entropy is the homogenisation warning."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from verifier.report.rundir import RunDir
from verifier.report.stats import binned, entropy, kl_divergence, shared_bins, steps, unigrams, words
from verifier.schema import MathProblem

MEASURES = ("chain length (words)", "steps (non-empty lines)", "token unigrams")


@dataclass(frozen=True)
class Texts:
    """One side of a comparison."""

    label: str
    texts: tuple[str, ...]

    @property
    def lengths(self) -> list[int]:
        return [len(words(t)) for t in self.texts]

    @property
    def steps(self) -> list[int]:
        return [steps(t) for t in self.texts]


@dataclass(frozen=True)
class Measure:
    name: str
    kl: float  # KL(kept || reference), bits
    entropy_kept: float
    entropy_reference: float


@dataclass(frozen=True)
class Comparison:
    kept: Texts
    reference: Texts
    measures: tuple[Measure, ...]

    @property
    def worst(self) -> Measure:
        return max(self.measures, key=lambda m: m.kl)


def kept_texts(run: RunDir, label: str = "kept chains", problems: set[str] | None = None) -> Texts:
    return Texts(
        label, tuple(r.completion for r in run.kept() if problems is None or r.problem_id in problems)
    )


def human_texts(run: RunDir) -> Texts | None:
    """The bank's reference solutions of the problems this run sampled; None when there are none."""
    if run.bank is None:
        return None
    in_run = {r.problem_id for r in run.chains}
    texts = []
    for p in run.bank.problems:
        if p.id not in in_run:
            continue
        ref = p.solution if isinstance(p, MathProblem) else p.reference_solution
        if ref:
            texts.append(ref)
    return Texts("human solutions (bank)", tuple(texts)) if texts else None


def _numeric(name: str, a: Sequence[int], b: Sequence[int]) -> Measure:
    edges = shared_bins(a, b)
    pa, pb = binned(a, edges), binned(b, edges)
    return Measure(name, kl_divergence(pa, pb), entropy(pa), entropy(pb))


# Unigrams are compared over the most frequent words of both sides, the rest pooled as one outcome:
# over the full vocabulary, every rare word one side happens not to use adds smoothed mass, so a small
# run would look far from a large one drawn from the same distribution.
VOCABULARY = 300
OTHER = "<other>"


def _top_vocabulary(a: Counter[str], b: Counter[str]) -> tuple[Counter[str], Counter[str]]:
    ta, tb = sum(a.values()) or 1, sum(b.values()) or 1
    score = {w: a[w] / ta + b[w] / tb for w in set(a) | set(b)}
    keep = set(sorted(score, key=lambda w: (-score[w], w))[:VOCABULARY])

    def pooled(c: Counter[str]) -> Counter[str]:
        out = Counter({w: n for w, n in c.items() if w in keep})
        rest = sum(n for w, n in c.items() if w not in keep)
        if rest:
            out[OTHER] = rest
        return out

    return pooled(a), pooled(b)


def compare(kept: Texts, reference: Texts) -> Comparison | None:
    """None when either side has no text: there is no distribution to compare."""
    if not kept.texts or not reference.texts:
        return None
    ua, ub = _top_vocabulary(unigrams(kept.texts), unigrams(reference.texts))
    measures = (
        _numeric(MEASURES[0], kept.lengths, reference.lengths),
        _numeric(MEASURES[1], kept.steps, reference.steps),
        Measure(MEASURES[2], kl_divergence(ua, ub), entropy(ua), entropy(ub)),
    )
    return Comparison(kept, reference, measures)


@dataclass(frozen=True)
class Drift:
    vs_human: Comparison | None
    vs_baseline: Comparison | None
    notes: tuple[str, ...]

    @property
    def gated(self) -> Comparison | None:
        """The comparison --max-drift checks: against the baseline when there is one, else human."""
        return self.vs_baseline if self.vs_baseline is not None else self.vs_human


def drift(run: RunDir, baseline: RunDir | None) -> Drift:
    kept = kept_texts(run)
    notes = []
    if not kept.texts:
        notes.append("no kept chains: nothing to compare")
    human = human_texts(run)
    if human is None:
        notes.append("no human solutions in the bank for this run's problems")
    vs_baseline = None
    if baseline is not None:
        # Run over run on the problems both runs sampled: other problems would differ in topic and
        # numbers, which is not drift.
        common = {r.problem_id for r in run.chains} & {r.problem_id for r in baseline.chains}
        base = kept_texts(baseline, f"kept chains of {baseline.name}", common)
        if not base.texts:
            notes.append(f"the baseline {baseline.name} has no kept chains on this run's problems")
        vs_baseline = compare(kept_texts(run, "kept chains", common), base)
    return Drift(compare(kept, human) if human else None, vs_baseline, tuple(notes))
