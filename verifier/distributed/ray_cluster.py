"""Ray as a place to run the pipeline's steps: generation actors and checking actors on a cluster.

Only *where* the steps run changes; the logic stays the pipeline's own. The driver (the `verify`
process) keeps the scheduler, the journal (``chains.jsonl``) and resume, so a Ray run writes the
same files in the same way as a local run:

- ``RayGenerator`` is a ``Generator``: each ``generate`` call is split over the generation actors
  (one per GPU, or ``generation_actors`` model replicas), each of which built its own engine from the
  same ``BackendSettings``. A sample depends only on its prompt and seed, so the split changes
  nothing in the records.
- ``RayChecker`` is the pipeline's check step: one checking actor per alive node, each with its own
  math worker pool and Docker sandbox pool (``Resources``), serving several checks at once.

Ray is an optional extra (``pip install 'verifier[ray]'``); nothing here imports it at module import.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from verifier.errors import InputError
from verifier.generation.base import Capabilities, Completion, GenerationError, GenerationRequest
from verifier.generation.registry import BackendSettings
from verifier.pipeline.checking import record_of
from verifier.pipeline.units import Produced
from verifier.resources import ResourceSettings
from verifier.schema import ChainRecord, VerdictRecord

LOOPBACK = ("127.", "localhost", "[::1]")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RaySettings:
    address: str  # "auto" (the cluster this machine belongs to) or HOST:PORT of its head
    generation_actors: int | None = None  # None: one per GPU in the cluster, or one without GPUs
    check_concurrency: int = 8  # checks each checking actor runs at once
    start_timeout_s: float = 900.0  # actors placed and their engines loaded
    check_timeout_s: float = 900.0  # one check on an actor (a code job's limit is at most 300 s)
    namespace: str = "verifier"

    def __post_init__(self) -> None:
        if not self.address:
            raise ValueError("address: 'auto' or HOST:PORT")
        if self.generation_actors is not None and self.generation_actors < 1:
            raise ValueError(f"generation_actors: must be >= 1, got {self.generation_actors}")
        if self.check_concurrency < 1:
            raise ValueError(f"check_concurrency: must be >= 1, got {self.check_concurrency}")
        if not (self.start_timeout_s > 0 and self.check_timeout_s > 0):
            raise ValueError("start_timeout_s and check_timeout_s must be positive")


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(["--ray: Ray is not installed (pip install 'verifier[ray]')"]) from None
    return ray


def connect(settings: RaySettings) -> Any:
    """Join the cluster (never start one: a cluster is the user's, ours only attach to it)."""
    # Ray would otherwise send usage statistics out, and on a loopback-only cluster it would look up
    # this machine's routable address; neither belongs in a verification run.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if settings.address.startswith(LOOPBACK):
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = _import_ray()
    if not ray.is_initialized():
        try:
            ray.init(
                address=settings.address,
                namespace=settings.namespace,
                log_to_driver=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise InputError([f"--ray: cannot join the Ray cluster at {settings.address!r}: {e}"]) from None
    return ray


class _GenerationActor:
    """One engine replica. Built inside the actor's process from settings, never shipped."""

    def __init__(self, backend: BackendSettings):
        from verifier.generation.registry import make_generator

        self.generator = make_generator(backend)

    def describe(self) -> tuple[str, Capabilities]:
        return self.generator.name, self.generator.capabilities

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        return self.generator.generate(requests)

    def close(self) -> None:
        self.generator.close()


class _CheckingActor:
    """A node's checker: its own math pool and sandbox pool, several checks at once (threaded actor)."""

    def __init__(self, resources: ResourceSettings):
        from verifier.resources import Resources

        self.resources = Resources(resources)

    def check(self, item: Produced) -> ChainRecord:
        from verifier.pipeline.checking import chain_record

        return chain_record(item, self.resources)

    def close(self) -> None:
        self.resources.close()


def split(requests: list[GenerationRequest], parts: int) -> list[list[GenerationRequest]]:
    """Contiguous chunks with about the same number of samples each (none empty, order kept)."""
    parts = max(1, min(parts, len(requests)))
    total = sum(len(r.seeds) for r in requests)
    chunks: list[list[GenerationRequest]] = [[]]
    done = 0
    for i, r in enumerate(requests):
        left_requests = len(requests) - i
        left_chunks = parts - len(chunks)
        target = total * len(chunks) / parts
        if chunks[-1] and (done >= target or left_requests <= left_chunks):
            chunks.append([])
        chunks[-1].append(r)
        done += len(r.seeds)
    return chunks


class RayGenerator:
    """A ``Generator`` whose engines are Ray actors (one per GPU or replica)."""

    def __init__(self, ray: Any, backend: BackendSettings, settings: RaySettings):
        self._ray = ray
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        per_actor_gpus = backend.tensor_parallel_size if gpus else 0
        count = settings.generation_actors or max(1, gpus // max(1, per_actor_gpus))
        need, have = (count * per_actor_gpus, gpus) if gpus else (count, int(resources.get("CPU", 0)))
        if need > have:  # Ray would wait for ever for resources that are not there
            unit = "GPUs" if gpus else "CPUs"
            raise InputError([f"--ray: {count} generation actors need {need} {unit}, the cluster has {have}"])
        # A lost actor is restarted and its call retried: a sample depends only on its prompt and seed.
        actor = ray.remote(
            num_gpus=per_actor_gpus, num_cpus=0 if gpus else 1, max_restarts=2, max_task_retries=2
        )(_GenerationActor)
        self._actors = [actor.remote(backend) for _ in range(count)]
        try:
            described = ray.get([a.describe.remote() for a in self._actors], timeout=settings.start_timeout_s)
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise InputError(
                [f"--ray: the generation actors were not ready within {settings.start_timeout_s:.0f} s"]
            ) from None
        except ray.exceptions.RayError as e:
            self.close()
            raise InputError(
                [f"--ray: a generation actor failed to load the model: {_first_line(e)}"]
            ) from None
        self._name, self._capabilities = described[0]

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def actors(self) -> int:
        return len(self._actors)

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        if not requests:
            return []
        chunks = split(requests, len(self._actors))
        refs = [a.generate.remote(c) for a, c in zip(self._actors, chunks, strict=False)]
        try:
            parts = self._ray.get(refs)
        except self._ray.exceptions.RayError as e:
            raise GenerationError(f"ray generation actor: {_first_line(e)}") from None
        return [out for part in parts for out in part]

    def close(self) -> None:
        actors, self._actors = self._actors, []
        _close_actors(self._ray, actors)


class RayChecker:
    """The pipeline's check step on checking actors, one per alive node (round robin)."""

    def __init__(self, ray: Any, resources: ResourceSettings, settings: RaySettings):
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self._ray = ray
        nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
        # A lost actor comes back (new pools); the checks it had in flight are undecided, not wrong.
        actor = ray.remote(num_cpus=0, max_concurrency=settings.check_concurrency, max_restarts=3)(
            _CheckingActor
        )
        self._actors = [
            actor.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(
                resources
            )
            for node in nodes
        ]
        self.concurrency = settings.check_concurrency * len(self._actors)
        self._timeout_s = settings.check_timeout_s
        self._next = itertools.cycle(range(len(self._actors)))
        self._lock = threading.Lock()

    @property
    def actors(self) -> int:
        return len(self._actors)

    def __call__(self, item: Produced) -> ChainRecord:
        with self._lock:
            actor = self._actors[next(self._next)]
        try:
            record: ChainRecord = self._ray.get(actor.check.remote(item), timeout=self._timeout_s)
        except self._ray.exceptions.GetTimeoutError:
            return undecided_record(item, f"ray checking actor: no verdict within {self._timeout_s:.0f} s")
        except self._ray.exceptions.RayError as e:
            return undecided_record(item, f"ray checking actor: {_first_line(e)}")
        return record

    def close(self) -> None:
        actors, self._actors = self._actors, []
        _close_actors(self._ray, actors)


def undecided_record(item: Produced, reason: str) -> ChainRecord:
    """The record of a unit whose checker was lost: infrastructure (retried on resume, never wrong)."""
    code = item.unit.problem.kind == "code"
    status = "sandbox_error" if code else "error"
    return record_of(item, VerdictRecord(status=status, correct=False, rule="worker", reason=reason))


def _close_actors(ray: Any, actors: list[Any]) -> None:
    """Ask each actor to free its engine or pools, then end it (an actor already gone is fine)."""
    if not actors:
        return
    try:
        ray.get([a.close.remote() for a in actors], timeout=120)
    except (
        ray.exceptions.RayError
    ) as e:  # an actor died with its engine or pools: killing is all that is left
        log.warning("a Ray actor could not close cleanly: %s", _first_line(e))
    for a in actors:
        ray.kill(a)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1] if text else type(e).__name__
