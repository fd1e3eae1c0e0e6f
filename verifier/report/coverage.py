"""Coverage: where the kept chains fall over the bank's problem space (tags, subject, level, and
clusters of the problems' embeddings), how even that is (Shannon entropy vs the bank's own), and the
sparse regions, with the problems to resample there."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from verifier.report.clusters import cluster
from verifier.report.rundir import RunDir
from verifier.report.stats import entropy, normalised_entropy
from verifier.schema import CodeProblem, MathProblem

# A region is sparse when its share of the kept chains is under this fraction of its share of the bank.
SPARSE_RATIO = 0.5
# Embedding more problems than this costs minutes on a CPU; a larger bank is sampled for the clusters.
MAX_EMBEDDED = 2000

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Region:
    name: str
    bank_problems: int
    run_problems: int
    kept_chains: int
    covered_problems: int  # problems of the region with at least one kept chain
    problem_ids: tuple[str, ...]  # the region's bank problems

    def sparse(self, bank_share: float, kept_share: float) -> bool:
        return self.bank_problems > 0 and (self.kept_chains == 0 or kept_share < SPARSE_RATIO * bank_share)


@dataclass(frozen=True)
class Facet:
    """One way of dividing the bank (by tag, subject, level, embedding cluster)."""

    name: str
    regions: tuple[Region, ...]

    @property
    def bank_total(self) -> int:
        return sum(r.bank_problems for r in self.regions)

    @property
    def kept_total(self) -> int:
        return sum(r.kept_chains for r in self.regions)

    def shares(self, region: Region) -> tuple[float, float]:
        """(share of the bank's problems, share of the kept chains) of a region."""
        bank = region.bank_problems / self.bank_total if self.bank_total else 0.0
        kept = region.kept_chains / self.kept_total if self.kept_total else 0.0
        return bank, kept

    @property
    def entropy_kept(self) -> float:
        return entropy([r.kept_chains for r in self.regions])

    @property
    def entropy_bank(self) -> float:
        return entropy([r.bank_problems for r in self.regions])

    @property
    def evenness_kept(self) -> float | None:
        return normalised_entropy([r.kept_chains for r in self.regions], len(self.regions))

    @property
    def evenness_bank(self) -> float | None:
        return normalised_entropy([r.bank_problems for r in self.regions], len(self.regions))

    def sparse_regions(self) -> list[Region]:
        return [r for r in self.regions if r.sparse(*self.shares(r))]


@dataclass(frozen=True)
class Coverage:
    facets: tuple[Facet, ...]
    cluster_xy: np.ndarray | None  # 2-D view of the embedded problems, rows as cluster_ids
    cluster_ids: tuple[str, ...]
    cluster_labels: np.ndarray | None
    notes: tuple[str, ...]

    def resample_ids(self, run: RunDir) -> list[str]:
        """Bank problems in a sparse region (of any facet) that have no kept chain yet, in bank order."""
        kept = {r.problem_id for r in run.kept()}
        wanted = {pid for f in self.facets for r in f.sparse_regions() for pid in r.problem_ids}
        bank = run.bank.problems if run.bank else ()
        return [p.id for p in bank if p.id in wanted and p.id not in kept]


def problem_text(p: MathProblem | CodeProblem) -> str:
    return p.question if isinstance(p, MathProblem) else p.prompt


def _facet(name: str, groups: dict[str, list[str]], run: RunDir) -> Facet:
    in_run = {r.problem_id for r in run.chains}
    kept = Counter(r.problem_id for r in run.kept())
    regions = tuple(
        Region(
            name=g,
            bank_problems=len(ids),
            run_problems=sum(1 for i in ids if i in in_run),
            kept_chains=sum(kept[i] for i in ids),
            covered_problems=sum(1 for i in ids if kept[i]),
            problem_ids=tuple(ids),
        )
        for g, ids in sorted(groups.items(), key=lambda kv: kv[0])
    )
    return Facet(name, regions)


def _meta_groups(problems: Sequence[MathProblem | CodeProblem]) -> dict[str, dict[str, list[str]]]:
    facets: dict[str, dict[str, list[str]]] = {"kind": {}, "tag": {}, "subject": {}, "level": {}}
    for p in problems:
        facets["kind"].setdefault(p.kind, []).append(p.id)
        for tag in p.tags or ["(no tag)"]:
            facets["tag"].setdefault(tag, []).append(p.id)
        for key in ("subject", "level"):
            if key in p.meta:
                facets[key].setdefault(str(p.meta[key]), []).append(p.id)
    # A division with a single group, or whose groups all hold the same problems (every problem tagged
    # "demo" and "easy"), says nothing about coverage.
    return {
        name: groups for name, groups in facets.items() if len({tuple(ids) for ids in groups.values()}) >= 2
    }


def coverage(run: RunDir, embed: Embed | None, k: int | None = None) -> Coverage:
    """``embed`` maps texts to L2-normalised rows (verifier.embedding); None skips the clusters."""
    if run.bank is None:
        return Coverage((), None, (), None, ("no bank: coverage needs the problems' tags and texts",))
    problems = list(run.bank.problems)
    facets = [_facet(name, groups, run) for name, groups in _meta_groups(problems).items()]
    notes: list[str] = []
    xy: np.ndarray | None = None
    labels: np.ndarray | None = None
    ids: tuple[str, ...] = ()
    if embed is None:
        notes.append("embedding clusters skipped")
    elif len(problems) < 4:
        notes.append("embedding clusters need at least 4 problems in the bank")
    else:
        chosen = _embedded_subset(problems, {r.problem_id for r in run.chains})
        if len(chosen) < len(problems):
            notes.append(f"clusters from {len(chosen)} of the bank's {len(problems)} problems (a sample)")
        texts = [problem_text(p) for p in chosen]
        try:
            vectors = embed(texts)
        except (OSError, ImportError) as e:  # the model package is missing or unreadable: no clusters
            notes.append(f"embedding clusters skipped: {e}")
        else:
            found = cluster(texts, vectors, k)
            ids, xy, labels = tuple(p.id for p in chosen), found.xy, found.labels
            groups: dict[str, list[str]] = {}
            for pid, lab in zip(ids, found.labels, strict=True):
                groups.setdefault(f"c{int(lab):02d}: {found.names[int(lab)]}", []).append(pid)
            facets.append(_facet("embedding cluster", groups, run))
    return Coverage(tuple(facets), xy, ids, labels, tuple(notes))


def _embedded_subset(
    problems: list[MathProblem | CodeProblem], in_run: set[str]
) -> list[MathProblem | CodeProblem]:
    """Every problem when the bank is small; else the run's problems plus an even sample of the rest."""
    if len(problems) <= MAX_EMBEDDED:
        return problems
    ran = [p for p in problems if p.id in in_run][:MAX_EMBEDDED]
    rest = [p for p in problems if p.id not in in_run]
    room = MAX_EMBEDDED - len(ran)
    step = max(1, len(rest) // max(1, room))
    picked = {p.id for p in ran} | {p.id for p in rest[::step][:room]}
    return [p for p in problems if p.id in picked]
