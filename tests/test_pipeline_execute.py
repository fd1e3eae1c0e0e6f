"""The local executor's concurrency logic, with small fakes for the three steps.

The real steps (the embedded model, SymPy, Docker) are exercised by tests/test_cli_end_to_end.py;
here the fakes make the interleavings deterministic: a check that blocks on an event shows whether
generation goes on without it, without any timing assertion.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from verifier.pipeline.budget import Budget
from verifier.pipeline.execute import ExecutorSettings, LocalExecutor, Steps, Timing
from verifier.pipeline.scheduler import Scheduler
from verifier.pipeline.units import Produced, Unit
from verifier.schema import ChainRecord, CodeProblem, MathProblem, VerdictRecord

WAIT_S = 30.0  # a generous bound on waiting for an event, never a timing assertion


def problems(n: int) -> list[MathProblem]:
    return [MathProblem(id=f"p{i}", kind="math", question=f"q{i}", answer="1") for i in range(n)]


class FakeSource:
    """Budget per problem, units with seeds, and a produce step that logs its calls."""

    def __init__(self, budget: Budget, problems_per_call: int = 1):
        self._budget = budget
        self.problems_per_call = problems_per_call
        self.model = "fake"
        self.calls: list[list[tuple[str, int]]] = []
        self.lock = threading.Lock()

    def budget(self, problem: MathProblem | CodeProblem) -> Budget:
        return self._budget

    def unit(self, problem: MathProblem | CodeProblem, sample_index: int) -> Unit:
        return Unit(problem, sample_index, 1000 + sample_index)

    def produce(self, units: list[Unit]) -> list[Produced]:
        with self.lock:
            self.calls.append([u.key for u in units])
        return [Produced(u, "fake", [], f"{u.problem.id}/{u.sample_index}", 1, 0.0) for u in units]

    def close(self) -> None:
        return None


def record(item: Produced, correct: bool) -> ChainRecord:
    u = item.unit
    return ChainRecord(
        problem_id=u.problem.id,
        sample_index=u.sample_index,
        kind="math",
        seed=u.seed,
        model=item.model,
        prompt=item.prompt,
        completion=item.completion,
        tokens=item.tokens,
        extracted=None,
        verdict=VerdictRecord(status="correct" if correct else "wrong", correct=correct),
    )


def run(
    source: FakeSource,
    n_problems: int,
    check: Callable[[Produced], ChainRecord],
    *,
    known: dict[str, dict[int, bool]] | None = None,
    settings: ExecutorSettings | None = None,
) -> tuple[list[ChainRecord], list[list[ChainRecord]]]:
    written: list[list[ChainRecord]] = []
    scheduler = Scheduler(source, problems(n_problems), known or {})
    steps = Steps(source.produce, check, written.append, source.problems_per_call)
    new, _timing = LocalExecutor(settings).run(scheduler, steps)
    return new, written


def keys(records: list[ChainRecord]) -> list[tuple[str, int]]:
    return sorted((r.problem_id, r.sample_index) for r in records)


def test_every_unit_is_produced_checked_and_written_once() -> None:
    source = FakeSource(Budget.fixed(3), problems_per_call=2)
    new, written = run(source, 5, lambda item: record(item, True), settings=ExecutorSettings(check_threads=4))
    expected = [(f"p{i}", s) for i in range(5) for s in range(3)]
    assert keys(new) == expected
    assert keys([r for batch in written for r in batch]) == expected
    # All samples of a problem travel in one call; calls hold up to problems_per_call problems.
    for call in source.calls:
        assert len({pid for pid, _ in call}) <= 2
        assert all(sum(1 for c in source.calls for k in c if k[0] == pid) == 3 for pid, _ in call)


def test_resume_produces_only_missing_units() -> None:
    source = FakeSource(Budget.fixed(3))
    known = {"p0": {0: True, 1: False, 2: True}, "p1": {1: False}}
    new, _ = run(source, 2, lambda item: record(item, False), known=known)
    assert keys(new) == [("p1", 0), ("p1", 2)]
    assert source.calls == [[("p1", 0), ("p1", 2)]]


def test_a_slow_check_does_not_stall_generation_while_the_queue_has_room() -> None:
    """Every check blocks until generation has produced every unit: that can only finish if
    generation runs ahead of checking (queue_size covers all units)."""
    source = FakeSource(Budget.fixed(2))
    all_produced = threading.Event()

    def produce(units: list[Unit]) -> list[Produced]:
        out = FakeSource.produce(source, units)
        if sum(len(c) for c in source.calls) == 10:
            all_produced.set()
        return out

    def slow_check(item: Produced) -> ChainRecord:
        assert all_produced.wait(WAIT_S), "generation waited for checking"
        return record(item, True)

    written: list[list[ChainRecord]] = []
    scheduler = Scheduler(source, problems(5), {})
    steps = Steps(produce, slow_check, written.append, 1)
    new, timing = LocalExecutor(ExecutorSettings(check_threads=1, queue_size=16)).run(scheduler, steps)
    assert len(new) == 10 and len(source.calls) == 5
    assert timing.check_s > 0 and timing.generate_s >= 0


def test_a_full_queue_holds_generation_back() -> None:
    """With room for one completion and a check that holds, generation stops after filling it."""
    source = FakeSource(Budget.fixed(1))
    release = threading.Event()
    checking = threading.Event()

    def held_check(item: Produced) -> ChainRecord:
        checking.set()
        assert release.wait(WAIT_S)
        return record(item, True)

    written: list[list[ChainRecord]] = []
    scheduler = Scheduler(source, problems(6), {})
    steps = Steps(source.produce, held_check, written.append, 1)
    result: list[tuple[list[ChainRecord], Timing]] = []
    runner = threading.Thread(
        target=lambda: result.append(
            LocalExecutor(ExecutorSettings(check_threads=1, queue_size=1)).run(scheduler, steps)
        )
    )
    runner.start()
    assert checking.wait(WAIT_S)
    # One unit in the check, one in the queue, one produced and waiting to be queued: no more.
    for _ in range(50):
        threading.Event().wait(0.01)  # let the generator run as far as it can
    assert len(source.calls) <= 3
    release.set()
    runner.join(WAIT_S)
    assert not runner.is_alive()
    assert len(result[0][0]) == 6


def test_until_verified_samples_in_rounds_and_stops_per_problem() -> None:
    """p0 verifies on its first sample, p1 never does: p0 gets one round, p1 all of M."""
    source = FakeSource(Budget(round_size=2, max_samples=6, until_verified=1))
    new, _ = run(source, 2, lambda item: record(item, item.unit.problem.id == "p0"))
    assert keys(new) == [("p0", 0), ("p0", 1), *[("p1", i) for i in range(6)]]
    # A problem's next round is asked for only once its previous round is checked.
    rounds_p1 = [sorted(i for pid, i in c if pid == "p1") for c in source.calls]
    assert [r for r in rounds_p1 if r] == [[0, 1], [2, 3], [4, 5]]


def test_until_verified_resumes_from_the_records_on_disk() -> None:
    source = FakeSource(Budget(round_size=2, max_samples=6, until_verified=1))
    known = {"p0": {0: False, 1: False, 2: False}}  # killed in the middle of round 2
    new, _ = run(source, 1, lambda item: record(item, item.unit.sample_index == 3), known=known)
    assert keys(new) == [("p0", 3)]


def test_an_error_in_a_step_stops_the_run_after_writing_what_was_checked() -> None:
    source = FakeSource(Budget.fixed(1))

    def check(item: Produced) -> ChainRecord:
        if item.unit.problem.id == "p3":
            raise RuntimeError("checker broke")
        return record(item, True)

    written: list[list[ChainRecord]] = []
    scheduler = Scheduler(
        source, problems(3) + [MathProblem(id="p3", kind="math", question="q", answer="1")], {}
    )
    steps = Steps(source.produce, check, written.append, 1)
    with pytest.raises(RuntimeError, match="checker broke"):
        LocalExecutor(ExecutorSettings(check_threads=1)).run(scheduler, steps)
    assert keys([r for batch in written for r in batch]) == [("p0", 0), ("p1", 0), ("p2", 0)]


def test_a_generation_error_is_raised_in_the_caller() -> None:
    source = FakeSource(Budget.fixed(1))

    def produce(units: list[Unit]) -> list[Produced]:
        if units[0].problem.id == "p1":
            raise ConnectionError("server went away")
        return FakeSource.produce(source, units)

    written: list[list[ChainRecord]] = []
    scheduler = Scheduler(source, problems(3), {})
    steps = Steps(produce, lambda item: record(item, True), written.append, 1)
    with pytest.raises(ConnectionError):
        LocalExecutor().run(scheduler, steps)
    assert ("p0", 0) in keys([r for batch in written for r in batch])


def test_nothing_to_do_starts_no_thread() -> None:
    source = FakeSource(Budget.fixed(1))
    new, written = run(source, 1, lambda item: record(item, True), known={"p0": {0: True}})
    assert new == [] and written == [] and source.calls == []
