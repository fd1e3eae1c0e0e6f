"""Anchor stage: keep chains whose nearest human reference, by embedding cosine, lies in a band.

Chains and anchors (the bank's reference solutions, or an --anchor-file) are embedded with
all-MiniLM-L6-v2 (verifier/embedding.py). Above the band a chain is redundant with the human data;
below it, it has drifted away from human reasoning (the model-collapse risk). The nearest anchor is
found exactly, by blocked matrix products over the unit vectors: memory is one block of scores, never
chains x anchors.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from verifier.embedding import EMBEDDER_NAME, Embedder, load_embedder
from verifier.errors import InputError
from verifier.filters.base import Group, Scope, StageOutcome, drop, flatten, keep, regroup
from verifier.generation.embedded import cache_root
from verifier.schema import CodeProblem, MathProblem

DEFAULT_BAND = (0.65, 0.92)


@dataclass(frozen=True)
class Anchors:
    ids: tuple[str, ...]  # where each anchor comes from (a problem id, or file:line)
    texts: tuple[str, ...]

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for text in self.texts:
            h.update(text.encode("utf-8") + b"\0")
        return h.hexdigest()[:16]


def bank_anchors(problems: Sequence[MathProblem | CodeProblem]) -> Anchors:
    pairs = [(p.id, p.solution if isinstance(p, MathProblem) else p.reference_solution) for p in problems]
    kept = [(i, t) for i, t in pairs if t]
    return Anchors(tuple(i for i, _ in kept), tuple(t for _, t in kept))


def file_anchors(path: Path) -> Anchors:
    """JSONL, one anchor a line: {"text": ...} (or a bank line with "solution"/"reference_solution")."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError([f"{path}:0: --anchor-file: cannot read: {e}"]) from None
    ids, texts, errors = [], [], []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{path}:{lineno}: <json>: {e.msg}")
            continue
        text = next(
            (
                obj[k]
                for k in ("text", "solution", "reference_solution")
                if isinstance(obj, dict) and obj.get(k)
            ),
            None,
        )
        if not isinstance(text, str):
            errors.append(f"{path}:{lineno}: text: missing (a non-empty string)")
            continue
        ids.append(str(obj.get("id", f"{path.name}:{lineno}")))
        texts.append(text)
    if not texts and not errors:
        errors.append(f"{path}:0: --anchor-file: no anchors in the file")
    if errors:
        raise InputError(errors)
    return Anchors(tuple(ids), tuple(texts))


def nearest(queries: np.ndarray, anchors: np.ndarray, block: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """(best cosine, index of the best anchor) per query row; rows are unit vectors."""
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    where = np.zeros(len(queries), dtype=np.int64)
    for start in range(0, len(anchors), block):
        scores = queries @ anchors[start : start + block].T
        idx = scores.argmax(axis=1)
        top = scores[np.arange(len(queries)), idx]
        better = top > best
        best[better], where[better] = top[better], idx[better] + start
    return best, where


def embed_anchors(embedder: Embedder, anchors: Anchors) -> np.ndarray:
    """Anchor vectors, cached on disk by the anchors' digest (the bank's 1,319 take ~1 min here)."""
    path = cache_root().parent / "anchors" / f"{EMBEDDER_NAME}-{anchors.digest}.npy"
    if path.exists():
        cached = np.load(path)
        if cached.shape == (len(anchors.texts), embedder.dimension):
            return cached
    vectors = embedder.encode(anchors.texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


@dataclass
class AnchorStage:
    anchors: Anchors
    band: tuple[float, float] = DEFAULT_BAND
    source: str = "bank"  # where the anchors come from, for the record
    _embedder: Embedder | None = field(default=None, init=False, repr=False)
    _vectors: np.ndarray | None = field(default=None, init=False, repr=False)
    embed_seconds: float = field(default=0.0, init=False)  # time spent embedding chains (benchmarks)
    search_seconds: float = field(default=0.0, init=False)  # and finding their nearest anchors

    name = "anchor"
    scope = Scope.CHAIN
    score = "cosine"

    def __post_init__(self) -> None:
        lo, hi = self.band
        if not -1.0 <= lo <= hi <= 1.0:
            raise ValueError(f"--band: need -1 <= low <= high <= 1, got {lo},{hi}")
        if not self.anchors.texts:
            raise ValueError("anchor: no anchors (the bank has no reference solutions; pass --anchor-file)")

    def settings(self) -> dict[str, Any]:
        return {"band": list(self.band), "anchors": self.anchors.digest, "model": EMBEDDER_NAME}

    def _ready(self) -> tuple[Embedder, np.ndarray]:
        if self._embedder is None or self._vectors is None:
            self._embedder = load_embedder()
            self._vectors = embed_anchors(self._embedder, self.anchors)
        return self._embedder, self._vectors

    def judge(self, groups: Sequence[Group]) -> list[list[StageOutcome]]:
        embedder, vectors = self._ready()
        chains = flatten(groups)
        t0 = time.perf_counter()
        queries = embedder.encode([c.completion for c in chains])
        t1 = time.perf_counter()
        best, where = nearest(queries, vectors)
        self.embed_seconds += t1 - t0
        self.search_seconds += time.perf_counter() - t1
        lo, hi = self.band
        flat = []
        for chain, cosine, k in zip(chains, best.tolist(), where.tolist(), strict=True):
            anchor = self.anchors.ids[k]
            details = {
                "cosine": round(cosine, 4),
                "anchor": anchor,
                "own_reference": anchor == chain.problem_id,
            }
            if cosine > hi:
                flat.append(
                    drop(
                        f"cosine {cosine:.3f} to {anchor} above {hi}: redundant with the human data",
                        **details,
                    )
                )
            elif cosine < lo:
                flat.append(
                    drop(
                        f"cosine {cosine:.3f} to {anchor} below {lo}: drifted from human reasoning", **details
                    )
                )
            else:
                flat.append(keep(f"cosine {cosine:.3f} to {anchor} in the band", **details))
        return regroup(groups, flat)

    def close(self) -> None:
        self._vectors = None  # the embedder is shared by the process (verifier/embedding.py)
