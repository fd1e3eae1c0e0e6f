"""The local executor: generation, checking and writing at the same time, joined by bounded queues.

    scheduler ──rounds──► [generate thread] ──completions──► [check threads] ──records──► [writer]
        ▲                        (bounded queue)                  (bounded queue)           │
        └─────────────────── verdicts decide the next round of a problem ◄──────────────────┘

The writer is the calling thread: it alone appends to chains.jsonl (fsync per drained batch) and
owns the scheduler. A slow check only stalls generation once the completions queue is full. On an
error or Ctrl-C the records already checked are written before the exception goes up, so a rerun
resumes from everything that was finished.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from verifier.pipeline.scheduler import Round, Scheduler
from verifier.pipeline.units import Produced, Unit
from verifier.schema import ChainRecord

_POLL_S = 0.2  # how often blocked threads look at the stop flag
_DRAIN_S = {"error": 120.0, "interrupt": 15.0}  # how long a stopping run goes on checking what it has


class _End:
    """Queue sentinel: no more items."""


END = _End()


@dataclass
class Timing:
    """Seconds of this invocation, per side. ``*_wait_s``: blocked on the other side (a full queue
    or no input); the check figures are summed over the check threads."""

    generate_s: float = 0.0
    generate_wait_s: float = 0.0  # completions queue full (checking behind)
    generate_idle_s: float = 0.0  # no round to produce (waiting for verdicts that decide the next)
    check_s: float = 0.0
    check_wait_s: float = 0.0  # no completion to check (generation behind)
    write_s: float = 0.0
    check_threads: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **seconds: float) -> None:
        with self._lock:
            for name, value in seconds.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self, wall_s: float) -> dict[str, Any]:
        names = ("generate_s", "generate_wait_s", "generate_idle_s", "check_s", "check_wait_s", "write_s")
        return {
            **{n: round(getattr(self, n), 3) for n in names},
            "check_threads": self.check_threads,
            "wall_s": round(wall_s, 3),
        }


class Produce(Protocol):
    def __call__(self, units: list[Unit]) -> list[Produced]: ...


Check = Callable[[Produced], ChainRecord]
Write = Callable[[list[ChainRecord]], None]


@dataclass(frozen=True)
class Steps:
    """The three steps of a run, as plain callables an executor may place anywhere."""

    produce: Produce  # a group of units -> their completions (one engine call)
    check: Check  # one completion -> its chain record
    write: Write  # records -> chains.jsonl (append + fsync)
    problems_per_call: int


@dataclass(frozen=True)
class ExecutorSettings:
    check_threads: int = 8
    queue_size: int = 256  # completions waiting to be checked (and records waiting to be written)

    def __post_init__(self) -> None:
        if self.check_threads < 1 or self.queue_size < 1:
            raise ValueError(f"check_threads and queue_size must be >= 1, got {self}")


class LocalExecutor:
    def __init__(self, settings: ExecutorSettings | None = None):
        self.settings = settings or ExecutorSettings()

    def run(
        self,
        scheduler: Scheduler,
        steps: Steps,
        *,
        on_progress: Callable[[int], None] = lambda n: None,
        on_scheduled: Callable[[int], None] = lambda n: None,
    ) -> tuple[list[ChainRecord], Timing]:
        """Run until the scheduler has nothing in flight; the new records and the timing.

        Raises the first error of any thread (or KeyboardInterrupt) after writing what was checked.
        """
        return _Run(scheduler, steps, self.settings, on_progress, on_scheduled).run()


class _Run:
    def __init__(
        self,
        scheduler: Scheduler,
        steps: Steps,
        settings: ExecutorSettings,
        on_progress: Callable[[int], None],
        on_scheduled: Callable[[int], None],
    ):
        self.scheduler = scheduler
        self.steps = steps
        self.settings = settings
        self.on_progress = on_progress
        self.on_scheduled = on_scheduled
        self.rounds: queue.Queue[Round | _End] = queue.Queue()  # unbounded: the writer never blocks
        self.completions: queue.Queue[Produced | _End] = queue.Queue(settings.queue_size)
        self.records: queue.Queue[ChainRecord] = queue.Queue(settings.queue_size)
        self.stop_generating = threading.Event()  # an error or Ctrl-C: produce nothing more
        self.abandon = threading.Event()  # past the drain deadline: threads give up at once
        self.errors: list[BaseException] = []
        self.timing = Timing(check_threads=settings.check_threads)
        self.new: list[ChainRecord] = []
        self.late: list[ChainRecord] = []  # checked while the run was stopping

    # ------------------------------------------------------------------ threads

    def _guard(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as e:  # handed to the writer thread, which raises it
                self.errors.append(e)
                self.stop_generating.set()

        return run

    @staticmethod
    def _put(q: queue.Queue[Any], item: object, give_up: threading.Event) -> bool:
        """Blocking put that gives up once ``give_up`` is set; whether the item went in."""
        while not give_up.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _generate(self) -> None:
        while not self.stop_generating.is_set():
            t0 = time.perf_counter()
            first = self.rounds.get()
            batch: list[Round] = []
            ended = isinstance(first, _End)
            if not isinstance(first, _End):
                batch.append(first)
            while not ended and len(batch) < self.steps.problems_per_call:
                try:
                    more = self.rounds.get_nowait()
                except queue.Empty:
                    break
                if isinstance(more, _End):
                    ended = True
                else:
                    batch.append(more)
            t1 = time.perf_counter()
            produced = self.steps.produce([u for r in batch for u in r]) if batch else []
            t2 = time.perf_counter()
            for item in produced:
                if not self._put(self.completions, item, self.stop_generating):
                    return
            self.timing.add(
                generate_idle_s=t1 - t0, generate_s=t2 - t1, generate_wait_s=time.perf_counter() - t2
            )
            if ended:
                return

    def _check(self) -> None:
        busy = wait = 0.0
        try:
            while not self.abandon.is_set():  # until END: a stopping run checks what was generated
                t0 = time.perf_counter()
                try:
                    item = self.completions.get(timeout=_POLL_S)
                except queue.Empty:
                    wait += time.perf_counter() - t0
                    continue
                t1 = time.perf_counter()
                wait += t1 - t0
                if isinstance(item, _End):
                    return
                record = self.steps.check(item)
                busy += time.perf_counter() - t1
                if not self._put(self.records, record, self.abandon):
                    self.late.append(record)  # the run is stopping: the writer still writes it
                    return
        finally:
            self.timing.add(check_s=busy, check_wait_s=wait)

    # ------------------------------------------------------------------ the writer (calling thread)

    def _write(self, batch: list[ChainRecord]) -> None:
        t0 = time.perf_counter()
        self.steps.write(batch)
        self.timing.add(write_s=time.perf_counter() - t0)
        self.new.extend(batch)
        self.on_progress(len(batch))

    def _drain(self) -> list[ChainRecord]:
        batch = []
        while True:
            try:
                batch.append(self.records.get_nowait())
            except queue.Empty:
                return batch

    def _schedule(self, rounds: list[Round]) -> None:
        for r in rounds:
            self.rounds.put(r)
            self.on_scheduled(len(r))

    def run(self) -> tuple[list[ChainRecord], Timing]:
        self._schedule(self.scheduler.start())
        if self.scheduler.done:
            return [], self.timing
        generator = threading.Thread(target=self._guard(self._generate), name="generate", daemon=True)
        checkers = [
            threading.Thread(target=self._guard(self._check), name=f"check-{i}", daemon=True)
            for i in range(self.settings.check_threads)
        ]
        for t in (generator, *checkers):
            t.start()
        try:
            while not self.scheduler.done and not self.errors:
                try:
                    first = self.records.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                batch = [first, *self._drain()]
                self._write(batch)
                for record in batch:
                    self._schedule([r for r in [self.scheduler.record(record)] if r])
        except BaseException:  # Ctrl-C (or a failing write): keep what is checked, then go up
            self._shutdown(generator, checkers, _DRAIN_S["interrupt"])
            raise
        self._shutdown(generator, checkers, _DRAIN_S["error"] if self.errors else None)
        if self.errors:
            raise self.errors[0]
        return self.new, self.timing

    def _shutdown(
        self, generator: threading.Thread, checkers: list[threading.Thread], drain_s: float | None
    ) -> None:
        """Stop generating; check and write what was generated (for at most ``drain_s`` seconds,
        no limit on a clean end, where nothing is left in flight), then let every thread go."""
        self.stop_generating.set()
        self.rounds.put(END)
        if drain_s is None:
            generator.join()
        deadline = None if drain_s is None else time.monotonic() + drain_s
        ends = 0
        while any(t.is_alive() for t in checkers) and (deadline is None or time.monotonic() < deadline):
            if ends < len(checkers):  # behind the completions already queued, one END per checker
                try:
                    self.completions.put(END, timeout=_POLL_S)
                    ends += 1
                except queue.Full:
                    pass
            try:
                batch = [self.records.get(timeout=_POLL_S if ends == len(checkers) else 0), *self._drain()]
            except queue.Empty:
                continue
            self._write(batch)
        self.abandon.set()
        late = self._drain() + self.late
        if late:
            self._write(late)
