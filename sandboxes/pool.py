"""The warm pool: about one hardened runner container per core, each with a fork server as PID 1.

``run(job)`` takes a free container, sends the job, reads the answer, and puts the container back;
after a timeout, out-of-memory, crash, signal, leftover process or file, and after every
``recycle_after`` jobs, the container is replaced by a fresh one in the background instead. Only
infrastructure failures (engine unreachable, container gone) are retried, with tenacity, each time
on a fresh container; what the candidate did is never retried.

A caller waits for a free container only while one can still come back (``sandboxes/slots.py``): a
pool never started, a stuck engine, or ``close()`` gives an ``InfraError`` (a ``sandbox_error``
result), never an endless wait.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import docker
from docker.errors import DockerException, ImageNotFound
from pydantic import ValidationError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from sandboxes.image import RUNNER_IMAGE
from sandboxes.profile import UID_BLOCK, UID_RANGE, ContainerLimits
from sandboxes.protocol import Job, JobResult, parse_result_channel
from sandboxes.reaper import SESSION, owner_labels, reap_orphans, remove_session
from sandboxes.slots import Lease, Slots
from sandboxes.worker import AnswerTimeout, ContainerBroken, ContainerDied, InfraError, Worker

log = logging.getLogger(__name__)

MAX_DEFAULT_SIZE = 16  # each container may use 1 CPU and 1 GiB: more is asked for, never assumed
HOST_SLACK_S = 10.0  # the fork server enforces the deadline; the host waits this much longer
# Starting a container: create, attach and start (each bounded by the client's timeout) and a ping.
START_ALLOWANCE_S = 120.0


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, cpusets), then a cgroup v2 CPU
    quota (``docker --cpus``, Kubernetes limits), where either is there; ``os.cpu_count()``
    counts the whole machine."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux (macOS has no sched_getaffinity)
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cpus, quota) if quota is not None else cpus)


def _cgroup_cpu_quota(path: str = "/sys/fs/cgroup/cpu.max") -> int | None:
    """The cgroup v2 quota in whole CPUs (rounded up), or None when unlimited or unreadable."""
    try:
        with open(path, encoding="ascii") as fh:
            text = fh.read()
    except OSError:  # no cgroup v2 file here: no quota known
        return None
    fields = text.split()
    if fields[:1] == ["max"]:
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
        return max(1, -(-quota // period))
    except (IndexError, ValueError, ZeroDivisionError):
        log.warning("unreadable CPU quota %r in %s: ignored", text.strip(), path)
        return None


class UidBlocks:
    """Each container's block of job uids: random in a range of ~500,000 blocks (so containers of
    other processes on this host collide with odds of about one in 30,000 per pair of 16-container
    pools), and never one that a live container of this process holds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[int] = set()

    def take(self) -> int:
        blocks = (UID_RANGE[1] - UID_RANGE[0]) // UID_BLOCK
        with self._lock:
            while True:
                base = UID_RANGE[0] + secrets.randbelow(blocks) * UID_BLOCK
                if base not in self._held:
                    self._held.add(base)
                    return base

    def give_back(self, base: int) -> None:
        with self._lock:
            self._held.discard(base)


UID_BLOCKS = UidBlocks()  # one per process: every pool's containers draw from it


def default_size() -> int:
    """One container per usable CPU, at most ``MAX_DEFAULT_SIZE``."""
    return min(usable_cpus(), MAX_DEFAULT_SIZE)


class Sandbox(Protocol):
    """What the code checker needs from a sandbox."""

    def run(self, job: Job) -> JobResult: ...

    def run_many(self, jobs: Iterable[Job]) -> list[JobResult]: ...


class SandboxPool:
    """A context manager: ``with SandboxPool() as pool: pool.run(job)``. Thread-safe."""

    def __init__(
        self,
        *,
        size: int | None = None,
        image: str = RUNNER_IMAGE,
        limits: ContainerLimits | None = None,
        recycle_after: int = 200,
        runtime: str | None = None,
        client: docker.DockerClient | None = None,
        attempts: int = 3,
    ):
        self.size = size or default_size()
        self.image = image
        self.limits = limits or ContainerLimits()
        self.recycle_after = recycle_after
        self.runtime = runtime
        self.attempts = attempts
        self.labels = owner_labels()
        self.session = self.labels[SESSION]
        self.stats: Counter[str] = Counter()
        self._client = client
        self._own_client = client is None
        self._slots: Slots[Worker] = Slots()
        self._live: set[Worker] = set()
        self._lock = threading.Lock()
        self._background: ThreadPoolExecutor | None = None
        self._closed = False
        self._started = False
        self._start_lock = threading.Lock()

    # ------------------------------------------------------------ life cycle

    def __enter__(self) -> SandboxPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            raise InfraError("the pool is not started")
        return self._client

    def start(self) -> SandboxPool:
        """Reap orphans, check the image, start the containers. ``run`` calls it when needed."""
        with self._start_lock:
            if not self._started:
                self._start()
                self._started = True
        return self

    def _start(self) -> None:
        if self._closed:
            raise InfraError("the pool is closed")
        try:
            if self._client is None:
                self._client = docker.from_env(timeout=60)
            self._client.ping()
            reaped = reap_orphans(self._client)
            self.stats["reaped"] += reaped
            self._client.images.get(self.image)
        except ImageNotFound as e:
            raise InfraError(f"runner image {self.image} not found: run `verify sandbox build`") from e
        except (DockerException, OSError) as e:  # OSError: requests' connection errors derive from it
            raise InfraError(f"Docker engine unreachable: {e}") from e
        self._background = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="sandbox-recycle")
        futures = [self._background.submit(self._new_worker) for _ in range(self.size)]
        workers, errors = [], []
        for f in futures:
            try:
                workers.append(f.result())
            except InfraError as e:
                errors.append(str(e))
        if errors:  # undo, but stay startable: the next run tries again
            for worker in workers:
                with self._lock:
                    self._live.discard(worker)
                self._close_worker(worker)
            self._background.shutdown(wait=True)
            self._background = None
            raise InfraError(f"could not start the pool: {errors[0]}")
        for worker in workers:
            self._slots.add(worker)

    def close(self) -> None:
        """Remove every container. Safe while other threads run jobs: they, and callers waiting for
        a container, get a sandbox_error result ("the pool is closed")."""
        with self._lock:  # with _release: no replacement is submitted after this
            if self._closed:
                return
            self._closed = True
            workers = list(self._live)
            self._live.clear()
        idle = self._slots.close()  # wakes the callers waiting for a container
        for w in workers:
            if w in idle:
                self._close_worker(w)
            else:  # a job holds it: its reader sees the stream end and closes the socket itself
                self._kill_worker(w)
        if self._background is not None:
            self._background.shutdown(wait=True)
        if self._client is not None:
            try:
                remove_session(self._client, self.session)  # anything a failed start left behind
            except (DockerException, OSError) as e:
                log.warning("final sweep of session %s failed: %s", self.session, e)
            if self._own_client:
                self._client.close()

    # ------------------------------------------------------------ jobs

    def run(self, job: Job) -> JobResult:
        """Run a job. A container that fails during the job is replaced and the job run once more
        on a fresh one; if it breaks that one too, the job did it: ``container_broken``, the
        candidate's fault. ``sandbox_error`` only for what no job can cause (no engine, no image,
        containers that cannot start)."""
        payload: dict[str, Any] = {**job.model_dump(), "op": "run", "id": secrets.token_hex(4)}
        started = time.perf_counter()
        attempt_no = 0
        broken: list[str] = []
        try:
            for attempt in Retrying(
                retry=retry_if_exception_type(InfraError),
                stop=stop_after_attempt(self.attempts),
                wait=wait_fixed(0.2),
                reraise=True,
            ):
                with attempt:
                    attempt_no = attempt.retry_state.attempt_number
                    self.start()  # a no-op once started; an unreachable engine is an InfraError
                    try:
                        result = self._run_once(payload, job)
                    except ContainerBroken as e:
                        broken.append(str(e))
                        if len(broken) >= 2:
                            self.stats["container_broken"] += 1
                            result = JobResult(
                                outcome="container_broken",
                                error="; ".join(broken)[:2000],
                                attempts=attempt_no,
                            )
                        else:
                            raise
        except InfraError as e:
            self.stats["sandbox_error"] += 1
            return JobResult(outcome="sandbox_error", error=str(e), attempts=attempt_no)
        result.host_s = time.perf_counter() - started
        result.attempts = attempt_no
        return result

    def run_many(self, jobs: Iterable[Job]) -> list[JobResult]:
        with ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="sandbox-job") as ex:
            return list(ex.map(self.run, jobs))

    def _run_once(self, payload: dict[str, Any], job: Job) -> JobResult:
        timeout_s = job.timeout_s
        lease, worker = self._acquire(timeout_s)
        recycle = True
        try:
            try:
                # The answer holds the result channel (<= 6x the budget + 64 KiB) and output excerpts.
                limit = 8 * job.output_limit + (1 << 20)
                answer = worker.request(payload, timeout=timeout_s + HOST_SLACK_S, max_bytes=limit)
            except AnswerTimeout:
                self.stats["no_answer"] += 1
                return JobResult(
                    outcome="timeout",
                    wall_s=timeout_s + HOST_SLACK_S,  # what the host waited, not a made-up 0.0 s
                    error="the fork server did not answer; container killed",
                )
            except ContainerDied as e:
                if e.oom_killed:  # the candidate took the whole container down: a verdict, not retried
                    return JobResult(outcome="oom_killed", error=str(e))
                self.stats["infra_retry"] += 1
                raise
            if "error" in answer or not isinstance(answer.get("token"), str):
                raise ContainerBroken(f"fork server error: {str(answer.get('error'))[:500]}")
            worker.jobs += 1
            recycle = bool(answer.get("recycle"))
            if not recycle and worker.jobs >= self.recycle_after:
                self.stats["rotated"] += 1  # periodic, not caused by this job
                recycle = True
            if answer.get("recycle"):
                self.stats["recycled"] += 1  # after a timeout, kill, crash or leftovers
            try:
                return self._result(answer, recycle)
            except ValidationError as e:
                raise ContainerBroken(f"fork server sent a malformed answer: {str(e)[:500]}") from e
        finally:
            self._release(lease, worker, recycle)

    @staticmethod
    def _result(answer: dict[str, Any], recycled: bool) -> JobResult:
        # The fork server made the job's token only after handing the job over; it checks nothing itself:
        # only lines carrying it count, and only if the "done" marker ends them.
        records, finished, forged = parse_result_channel(str(answer.get("result", "")), answer["token"])
        return JobResult(
            outcome=answer["outcome"],
            exit_code=answer.get("exit_code"),
            signal=answer.get("signal"),
            stdout=answer.get("stdout", ""),
            stderr=answer.get("stderr", ""),
            stdout_bytes=answer.get("stdout_bytes", 0),
            stderr_bytes=answer.get("stderr_bytes", 0),
            records=records,
            finished=finished,
            forged=forged,
            wall_s=answer.get("wall_s", 0.0),
            cpu_s=answer.get("cpu_s", 0.0),
            oom_kills=answer.get("oom_kills", 0),
            recycled=recycled,
        )

    # ------------------------------------------------------------ workers

    def _new_worker(self) -> Worker:
        uid_base = UID_BLOCKS.take()
        try:
            worker = Worker(self.client, self.image, self.labels, self.limits, self.runtime, uid_base)
        except BaseException:
            UID_BLOCKS.give_back(uid_base)
            raise
        with self._lock:
            if self._closed:
                closed = True
            else:
                closed = False
                self._live.add(worker)
        if closed:
            worker.close()
            raise InfraError("the pool is closed")
        self.stats["containers"] += 1
        return worker

    def _acquire(self, timeout_s: float) -> tuple[Lease, Worker]:
        # Due back after the job's deadline and slack, plus time to start a container first.
        lease, worker = self._slots.take(due_in_s=timeout_s + HOST_SLACK_S + START_ALLOWANCE_S)
        if worker is not None:
            return lease, worker
        try:  # a slot whose background replacement failed: try again here
            return lease, self._new_worker()
        except BaseException:
            self._slots.give_back(lease, None)  # the slot stays in the pool, still empty
            raise

    def _release(self, lease: Lease, worker: Worker, recycle: bool) -> None:
        if not recycle:
            if not self._slots.give_back(lease, worker):  # closed meanwhile
                self._close_worker(worker)
            return
        self.stats["replaced"] += 1
        with self._lock:  # with close(): nothing is submitted to a shut-down executor
            self._live.discard(worker)
            replacing = not self._closed and self._background is not None
            if replacing:
                assert self._background is not None
                self._slots.extend(lease, START_ALLOWANCE_S)
                self._background.submit(self._replace, lease, worker).add_done_callback(self._report)
        if not replacing:
            self._close_worker(worker)
            self._slots.give_back(lease, None)

    def _replace(self, lease: Lease, old: Worker) -> None:
        replacement = None
        try:
            self._close_worker(old)
            if not self._closed:
                replacement = self._new_worker()
        except InfraError as e:
            if not self._closed:
                log.warning("could not replace a runner container: %s", e)
        finally:  # the slot always comes back, with a fresh worker or empty (None)
            if not self._slots.give_back(lease, replacement) and replacement is not None:
                self._close_worker(replacement)

    def _report(self, future: Future[None]) -> None:
        """A replacement that failed in an unexpected way: its slot came back empty; say why."""
        error = future.exception()
        if error is not None:
            self.stats["background_errors"] += 1
            log.error("replacing a runner container failed", exc_info=error)

    def _close_worker(self, worker: Worker) -> None:
        try:
            worker.close()
            UID_BLOCKS.give_back(worker.uid_base)
        except (DockerException, OSError) as e:
            self.stats["close_errors"] += 1
            log.warning("could not remove container %s: %s", worker.id[:12], e)

    def _kill_worker(self, worker: Worker) -> None:
        try:
            worker.kill()
        except (DockerException, OSError) as e:
            self.stats["close_errors"] += 1
            log.warning("could not remove container %s: %s", worker.id[:12], e)
