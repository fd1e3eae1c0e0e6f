"""Small helpers shared by the CLI tests: run `verify` as a user would, read its outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def verify_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "verifier.cli.main", *args]


def run_verify(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "120"}
    return subprocess.run(
        verify_cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
