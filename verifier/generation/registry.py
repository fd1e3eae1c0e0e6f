"""Where backends are found: one settings value in, one ready Generator out.

``BackendSettings`` holds every knob of every backend (each backend reads the ones it needs);
``make_generator`` checks them once, at the edge, and raises ``InputError`` naming the option at
fault, so a bad ``--base-url`` never reaches a traceback. Backends are imported lazily: the openai
backend needs no torch, the vllm backend needs no vLLM in this interpreter (it runs in its own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from verifier.errors import InputError
from verifier.generation.base import Generator
from verifier.generation.sampling import Sampling

BACKENDS = ("transformers", "vllm", "openai")
ENDPOINTS = ("chat", "completions")
N_MODES = ("auto", "n", "seeds")  # openai: detect n support / always n per request / one request per seed
DTYPES = ("bfloat16", "float32", "float16", "auto")


@dataclass(frozen=True)
class BackendSettings:
    backend: str = "transformers"
    # transformers/vllm: a local HF directory or .gguf (None = the embedded model). openai with the
    # completions endpoint: the model whose chat template renders the prompt (None = embedded).
    model: str | None = None
    dtype: str | None = None  # None = the backend's best here: transformers bfloat16, vllm float32 on CPU
    batch_rows: int = 32  # transformers: rows per forward batch
    sampling: Sampling = field(default_factory=Sampling)
    # openai
    base_url: str | None = None  # e.g. http://127.0.0.1:8000/v1
    api_model: str | None = None  # the model name the server expects
    api_key_env: str = "OPENAI_API_KEY"  # the variable holding the key (unset: no Authorization header)
    endpoint: str = "chat"
    n_mode: str = "auto"
    concurrency: int = 8  # HTTP requests in flight at once
    timeout_s: float = 600.0  # per HTTP request
    retry_s: float = 300.0  # give up on a request after retrying this long
    # vllm
    tensor_parallel_size: int = 1
    vllm_python: str | None = None  # interpreter with vLLM installed (None: .venvs/vllm, else this one)
    kv_cache_gb: int = 2  # CPU builds: KV cache size in GiB (VLLM_CPU_KVCACHE_SPACE)
    gpu_memory_utilization: float | None = None  # None: 0.85 on a GPU
    max_model_len: int = 2048
    load_timeout_s: float = 900.0  # vllm: engine start-up allowance


def settings_problems(s: BackendSettings) -> list[str]:
    """Every bad setting as ``--option: why`` (empty when usable)."""
    out: list[str] = []
    if s.backend not in BACKENDS:
        out.append(f"--backend: must be one of {', '.join(BACKENDS)}, got {s.backend!r}")
    if s.dtype is not None and s.dtype not in DTYPES:
        out.append(f"--dtype: must be one of {', '.join(DTYPES)}, got {s.dtype!r}")
    if s.batch_rows < 1:
        out.append(f"--batch-rows: must be at least 1, got {s.batch_rows}")
    if s.backend == "transformers" and s.dtype == "float16":
        out.append("--dtype: float16 is not supported by the transformers backend on CPU")
    if s.backend == "openai":
        if not s.base_url:
            out.append("--base-url: required with --backend openai (e.g. http://127.0.0.1:8000/v1)")
        elif not s.base_url.startswith(("http://", "https://")):
            out.append(f"--base-url: must start with http:// or https://, got {s.base_url!r}")
        if not s.api_model:
            out.append("--api-model: required with --backend openai (the model name the server serves)")
        if s.endpoint not in ENDPOINTS:
            out.append(f"--endpoint: must be one of {', '.join(ENDPOINTS)}, got {s.endpoint!r}")
        if s.n_mode not in N_MODES:
            out.append(f"--n-mode: must be one of {', '.join(N_MODES)}, got {s.n_mode!r}")
        if not 1 <= s.concurrency <= 1024:
            out.append(f"--concurrency: must be in 1..1024, got {s.concurrency}")
        if not s.timeout_s > 0:
            out.append(f"--timeout: must be positive, got {s.timeout_s}")
        if s.retry_s < 0:
            out.append(f"--retry-s: must not be negative, got {s.retry_s}")
    if s.backend == "vllm":
        if s.tensor_parallel_size < 1:
            out.append(f"--tensor-parallel-size: must be at least 1, got {s.tensor_parallel_size}")
        if s.kv_cache_gb < 1:
            out.append(f"--kv-cache-gb: must be at least 1, got {s.kv_cache_gb}")
        if s.gpu_memory_utilization is not None and not 0 < s.gpu_memory_utilization <= 1:
            out.append(f"--gpu-memory-utilization: must be in (0, 1], got {s.gpu_memory_utilization}")
        if s.max_model_len < 16:
            out.append(f"--max-model-len: must be at least 16, got {s.max_model_len}")
    return out


def _transformers(s: BackendSettings) -> Generator:
    from verifier.generation.transformers_backend import TransformersGenerator

    return TransformersGenerator(
        s.model, sampling=s.sampling, dtype=s.dtype or "bfloat16", batch_rows=s.batch_rows
    )


def _vllm(s: BackendSettings) -> Generator:
    from verifier.generation.vllm_backend import VllmGenerator

    return VllmGenerator(s)


def _openai(s: BackendSettings) -> Generator:
    from verifier.generation.openai_backend import OpenAIGenerator

    return OpenAIGenerator(s)


_FACTORIES: dict[str, Callable[[BackendSettings], Generator]] = {
    "transformers": _transformers,
    "vllm": _vllm,
    "openai": _openai,
}


def make_generator(settings: BackendSettings) -> Generator:
    """A loaded generator. InputError for bad settings or a model/engine that is not there
    (FileNotFoundError from model resolution becomes an InputError naming --model)."""
    problems = settings_problems(settings)
    if problems:
        raise InputError(problems)
    try:
        return _FACTORIES[settings.backend](settings)
    except FileNotFoundError as e:  # model resolution names --model (or the missing package) itself
        raise InputError([str(e)]) from e
