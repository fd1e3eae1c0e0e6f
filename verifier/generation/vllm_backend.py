"""The vllm generator: vLLM's offline engine, one engine call per batch of problems.

vLLM pins a transformers older than the project's, so it lives in its own virtualenv
(``scripts/vllm_env.sh`` -> ``.venvs/vllm``) and the engine runs in a worker process under that
interpreter (``vllm_worker.py``), driven over JSON lines on its stdin/stdout. A worker rather than
vLLM's HTTP server: one ``LLM.chat`` call per batch (the whole batch scheduled together, prefix
caching across each problem's samples), no port to find, no HTTP in the way; the server route is
the openai backend's job. Every sample is its own engine request with its own seed, so a resumed run
regenerates exactly the samples it lacks (vLLM's ``n`` would derive them from one seed).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from verifier.errors import InputError
from verifier.generation.base import Capabilities, Completion, GenerationError, GenerationRequest
from verifier.generation.registry import BackendSettings
from verifier.generation.seeds import engine_seed

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("vllm_worker.py")
_CLOSE_GRACE_S = 20.0


class _Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    tokens: int
    finish_reason: str
    prompt_tokens: int
    top_logprobs: list[list[tuple[str, float]]] | None = None


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ready: dict[str, Any] | None = None
    results: list[list[_Sample]] | None = None
    error: str | None = None


def vllm_python(explicit: str | None) -> str:
    """The interpreter to run vLLM with: the one given, else .venvs/vllm, else this one if it has vLLM."""
    if explicit:
        if not Path(explicit).exists():
            raise InputError([f"--vllm-python: {explicit} does not exist"])
        return explicit
    local = REPO / ".venvs" / "vllm" / "bin" / "python"
    if local.exists():
        return str(local)
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    raise InputError(
        ["--backend vllm: vLLM is not installed: run `bash scripts/vllm_env.sh` (or pass --vllm-python)"]
    )


def engine_env(kv_cache_gb: int) -> dict[str, str]:
    """vLLM reads these from its environment (they are vLLM's settings, not ours), for the offline
    engine and for its server alike."""
    cpus = sorted(os.sched_getaffinity(0))
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # Never phone home: usage statistics would leave the machine.
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gb),
        "VLLM_CPU_OMP_THREADS_BIND": f"{cpus[0]}-{cpus[-1]}"
        if cpus == list(range(cpus[0], cpus[-1] + 1))
        else ",".join(map(str, cpus)),
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
        "TOKENIZERS_PARALLELISM": "false",
    }


def _kill_group(proc: subprocess.Popen[str], timeout_s: float = 10.0) -> None:
    """SIGKILL what is left of the worker's process group (vLLM's engine core and its workers) and
    wait until the group is empty, so a closed generator leaves no engine behind."""
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    proc.wait()  # reap the leader; the others are reaped by init once their parent is gone
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            log.warning("vLLM process group %d still has members %g s after SIGKILL", pgid, timeout_s)
            return
        time.sleep(0.1)


class VllmGenerator:
    """Generator backed by vLLM's offline engine in a worker process (see the module docstring)."""

    capabilities = Capabilities(n=True, seeds=True, logprobs=True)

    def __init__(self, settings: BackendSettings):
        from verifier.generation.transformers_backend import resolve_model

        self.settings = settings
        self.sampling = settings.sampling
        python = vllm_python(settings.vllm_python)
        path, self._name = resolve_model(settings.model)
        fd, log_path = tempfile.mkstemp(prefix="verifier-vllm-", suffix=".log")
        self.log_path = Path(log_path)
        self._log = os.fdopen(fd, "w")
        self._proc = subprocess.Popen(
            [python, "-I", str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=engine_env(settings.kv_cache_gb),
            text=True,
            start_new_session=True,  # its own process group: close() ends vLLM's engine processes too
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self._proc.stdout is not None
        threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True).start()
        self._closed = False
        config = {
            "model": str(path),
            "dtype": settings.dtype if settings.dtype not in (None, "auto") else None,
            "tensor_parallel_size": settings.tensor_parallel_size,
            "max_model_len": settings.max_model_len,
            "gpu_memory_utilization": settings.gpu_memory_utilization,
        }
        try:
            reply = self._exchange(config, settings.load_timeout_s)
        except GenerationError as e:
            self.close()
            raise GenerationError(f"vLLM did not start: {e}") from e
        if reply.ready is None:
            self.close()
            raise GenerationError(f"{reply.error} (log: {self.log_path})")
        self.engine = reply.ready
        self.load_seconds = float(reply.ready.get("load_seconds", 0.0))

    @property
    def name(self) -> str:
        return self._name

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def _tail(self) -> str:
        self._log.flush()
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-15:])

    def _exchange(self, message: dict[str, Any], timeout: float | None) -> _Reply:
        if self._proc.poll() is not None or self._proc.stdin is None:
            raise GenerationError(
                f"the vLLM worker has exited ({self._proc.returncode}); log {self.log_path}"
            )
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise GenerationError(
                f"the vLLM worker is gone ({e}); log {self.log_path}:\n{self._tail()}"
            ) from e
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty as e:
            raise GenerationError(
                f"no answer from the vLLM worker within {timeout:g} s; log {self.log_path}"
            ) from e
        if line is None:
            self._proc.wait(timeout=30)
            raise GenerationError(
                f"the vLLM worker exited ({self._proc.returncode}); log {self.log_path}:\n{self._tail()}"
            )
        try:
            return _Reply.model_validate_json(line)
        except ValidationError as e:
            raise GenerationError(f"the vLLM worker sent a bad line: {line[:200]!r}") from e

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        prompts = []
        for r in requests:
            s = r.sampling or self.sampling
            prompts.append(
                {
                    "messages": [{"role": role, "content": content} for role, content in r.messages],
                    "seeds": [engine_seed(seed) for seed in r.seeds],
                    "max_tokens": s.max_new_tokens,
                    "temperature": s.temperature,
                    "top_p": s.top_p,
                    "logprobs": r.logprobs,
                }
            )
        reply = self._exchange({"op": "generate", "prompts": prompts}, None)
        if reply.results is None:
            raise GenerationError(f"vLLM: {reply.error} (log: {self.log_path})")
        if [len(x) for x in reply.results] != [len(r.seeds) for r in requests]:
            raise GenerationError("vLLM worker answered a different number of samples than asked")
        return [
            [
                Completion(
                    text=x.text,
                    tokens=x.tokens,
                    finish_reason=x.finish_reason,
                    prompt_tokens=x.prompt_tokens,
                    top_logprobs=tuple(tuple(p) for p in x.top_logprobs)
                    if x.top_logprobs is not None
                    else None,
                )
                for x in samples
            ]
            for samples in reply.results
        ]

    def close(self) -> None:
        """Ask the worker to stop, then end its process group (vLLM's engine core included)."""
        if self._closed:
            return
        self._closed = True
        if self._proc.poll() is None and self._proc.stdin is not None:
            try:
                self._proc.stdin.write(json.dumps({"op": "close"}) + "\n")
                self._proc.stdin.close()
            except (BrokenPipeError, OSError):
                log.info("vLLM worker already gone at close")
            try:
                self._proc.wait(timeout=_CLOSE_GRACE_S)
            except subprocess.TimeoutExpired:
                log.warning("vLLM worker did not stop in %g s: killing it", _CLOSE_GRACE_S)
        _kill_group(self._proc)
        self._log.close()
        if self._proc.returncode == 0:  # a clean stop: the log holds nothing worth keeping
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> VllmGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
