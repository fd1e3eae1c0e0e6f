"""What a run checks with: the math worker pool and the Docker sandbox pool (with its runtime).

One object, made by whoever starts the run and handed to the pipeline, which closes it. The sandbox
pool starts on first use, so a math-only run never touches Docker. Settings come in as arguments
(``runtime``), never through environment variables.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sandboxes.pool import SandboxPool
from sandboxes.profile import RUNTIMES
from sandboxes.worker import InfraError
from verifier.math.pool import MathPool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResourceSettings:
    runtime: str | None = None  # container runtime for code problems: runc (default) or runsc (gVisor)
    sandbox_size: int | None = None  # containers in the pool (None: the pool's default, one per core)
    math_workers: int | None = None  # SymPy worker processes (None: the pool's default)

    def __post_init__(self) -> None:
        if self.runtime is not None and self.runtime not in RUNTIMES:
            raise ValueError(f"runtime: must be one of {', '.join(RUNTIMES)}, not {self.runtime!r}")


class Resources:
    """The run's checker pools. ``sandbox()`` starts the Docker pool on first call (thread-safe);
    ``close()`` is idempotent and closes what was started."""

    def __init__(self, settings: ResourceSettings | None = None):
        self.settings = settings or ResourceSettings()
        workers = self.settings.math_workers
        self.math_pool = MathPool() if workers is None else MathPool(workers)
        self._sandbox: SandboxPool | None = None
        self._lock = threading.Lock()
        self._closed = False

    def sandbox(self) -> SandboxPool:
        """The sandbox pool, made on first call (thread-safe). It starts its containers on its first
        job; an engine that cannot start them gives sandbox_error results, never an exception."""
        with self._lock:
            if self._closed:
                raise RuntimeError("resources are closed")
            if self._sandbox is None:
                size = self.settings.sandbox_size
                self._sandbox = SandboxPool(runtime=self.settings.runtime, size=size)
            return self._sandbox

    def prestart_sandbox(self) -> None:
        """Start the containers in the background (while the model loads and writes its first
        batch), so the first code check does not wait for them."""
        pool = self.sandbox()

        def start() -> None:
            try:
                pool.start()
            except InfraError as e:  # the first check tries again and reports sandbox_error
                log.warning("sandbox pool did not start ahead of the checks: %s", e)

        threading.Thread(target=start, name="sandbox-start", daemon=True).start()

    @property
    def sandbox_started(self) -> bool:
        return self._sandbox is not None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sandbox, self._sandbox = self._sandbox, None
        try:
            if sandbox is not None:
                sandbox.close()
        finally:
            self.math_pool.close()

    def __enter__(self) -> Resources:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
