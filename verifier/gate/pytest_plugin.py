"""pytest plugin: ``pytest --verify-bank BANK [--verify-responses R]``, one test item per problem.

Without responses each item is the bank's self-check of that problem (gold against itself and its
reference solution; code references in the sandbox). With responses each item checks that every
response for the problem verifies; a problem with no response is skipped, and a response for a
problem in none of the banks is a usage error (as ``verify --responses`` rejects it). The responses
are checked in the item's setup, so one the checker could not decide (infrastructure failure) is
reported as an error (``ERROR at setup``, ``<error>`` in JUnit), not a failure. Registered through the
``pytest11`` entry point, so it is on wherever the package is installed; it does nothing unless
``--verify-bank`` is given. With no test paths on the command line only the banks are collected.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from verifier.banks.loader import Bank
    from verifier.errors import InputError
    from verifier.rewards.result import RewardResult

_BANKS = pytest.StashKey[set[Path]]()
_LOADED = pytest.StashKey["dict[Path, Bank | InputError]"]()
_RESPONSES = pytest.StashKey[dict[str, list[str]] | None]()
_SANDBOX = pytest.StashKey[Any]()  # the session's sandbox pool, made on first use


class VerifyFailure(Exception):
    """A problem failed its check: the message is the report."""


class VerifyInfraError(Exception):
    """The checker could not decide: reported as an error (in setup), not a failure."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("verify", "problem banks as tests (verifier)")
    group.addoption(
        "--verify-bank",
        action="append",
        default=[],
        metavar="FILE",
        help="make each problem of this bank a test",
    )
    group.addoption(
        "--verify-responses",
        default=None,
        metavar="FILE",
        help='check these {"problem_id", "completion"} lines instead of the bank self-check',
    )
    group.addoption(
        "--verify-runtime",
        default=None,
        metavar="RUNTIME",
        help="container runtime for code problems: runc (default) or runsc (gVisor)",
    )


def _load_responses(path: Path, known_ids: set[str] | None = None) -> dict[str, list[str]]:
    """Completions by problem id. With ``known_ids`` (the banks' ids), a response for any other id
    is an error naming its file:line, as ``verify --responses`` reports it."""
    from pydantic import TypeAdapter

    from verifier.banks.jsonl import read_jsonl
    from verifier.schema import ResponseRecord

    responses: dict[str, list[str]] = defaultdict(list)
    errors: list[str] = []
    for lineno, record, errs in read_jsonl(path, TypeAdapter(ResponseRecord)):
        errors.extend(errs)
        if record is None:
            continue
        if known_ids is not None and record.problem_id not in known_ids:
            errors.append(
                f"{path}:{lineno}: problem_id: {record.problem_id!r} is not in the bank (--verify-bank)"
            )
            continue
        responses[record.problem_id].append(record.completion)
    if errors:
        raise pytest.UsageError("--verify-responses:\n" + "\n".join(errors))
    return dict(responses)


def _load_banks(banks: list[Path]) -> dict[Path, Bank | InputError]:
    """Each bank, or why it could not be loaded (reported when it is collected)."""
    from verifier.banks.loader import load_bank
    from verifier.errors import InputError

    loaded: dict[Path, Bank | InputError] = {}
    for path in banks:
        try:
            loaded[path] = load_bank(path)
        except InputError as e:
            loaded[path] = e
    return loaded


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "verify_bank: a problem of a --verify-bank bank")
    banks = [Path(b).resolve() for b in config.getoption("verify_bank")]
    if not banks:
        return
    runtime = config.getoption("verify_runtime")
    from sandboxes.profile import RUNTIMES

    if runtime is not None and runtime not in RUNTIMES:
        raise pytest.UsageError(f"--verify-runtime: must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    missing = [str(b) for b in banks if not b.is_file()]
    if missing:
        raise pytest.UsageError(f"--verify-bank: no such file: {', '.join(missing)}")
    config.stash[_BANKS] = set(banks)
    loaded = config.stash[_LOADED] = _load_banks(banks)
    responses = config.getoption("verify_responses")
    if responses:
        from verifier.banks.loader import Bank

        # An unloadable bank is a collection error of its own; its ids are unknown, so skip the check.
        known = None
        if all(isinstance(b, Bank) for b in loaded.values()):
            known = {p.id for b in loaded.values() if isinstance(b, Bank) for p in b.problems}
        config.stash[_RESPONSES] = _load_responses(Path(responses), known)
    else:
        config.stash[_RESPONSES] = None
    # Collection reads config.args later: with no paths given, collect only the banks.
    explicit = config.args_source is pytest.Config.ArgsSource.ARGS
    config.args = [*config.args, *map(str, banks)] if explicit else list(map(str, banks))


def pytest_unconfigure(config: pytest.Config) -> None:
    pool = config.stash.get(_SANDBOX, None)
    if pool is not None:
        pool.close()


def _sandbox(config: pytest.Config) -> Any:
    """One sandbox pool for the session, with --verify-runtime (started on first code check)."""
    pool = config.stash.get(_SANDBOX, None)
    if pool is None:
        from sandboxes.pool import SandboxPool

        pool = config.stash[_SANDBOX] = SandboxPool(runtime=config.getoption("verify_runtime"))
    return pool


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    banks = parent.config.stash.get(_BANKS, set())
    if file_path.resolve() in banks:
        return BankFile.from_parent(parent, path=file_path)
    return None


class BankFile(pytest.File):
    def collect(self) -> Any:
        from verifier.banks.loader import load_bank
        from verifier.errors import InputError

        bank = self.config.stash.get(_LOADED, {}).get(self.path.resolve())
        if bank is None:
            try:
                bank = load_bank(self.path)
            except InputError as e:
                bank = e
        if isinstance(bank, InputError):
            raise self.CollectError("\n".join(bank.messages))
        responses = self.config.stash.get(_RESPONSES, None)
        for problem in bank.problems:
            completions = None if responses is None else responses.get(problem.id, [])
            yield ProblemItem.from_parent(self, name=problem.id, problem=problem, completions=completions)


class ProblemItem(pytest.Item):
    def __init__(self, *, problem: Any, completions: list[str] | None, **kwargs: Any):
        super().__init__(**kwargs)
        self.problem = problem
        self.completions = completions
        self.results: list[RewardResult] = []
        self.add_marker(pytest.mark.verify_bank)

    def setup(self) -> None:
        # Checking happens here so that an undecided check is a setup error, not a test failure.
        if self.completions:
            try:
                self.results = self._score(self.completions)
            except VerifyInfraError as e:
                pytest.fail(str(e), pytrace=False)  # in setup: an error; the message, no traceback

    def runtest(self) -> None:
        if self.completions is None:
            self._selfcheck()
        elif not self.completions:
            pytest.skip("no response for this problem")
        else:
            self._judge(self.results)

    def _selfcheck(self) -> None:
        from verifier.banks.selfcheck import selfcheck

        sandbox = _sandbox(self.config) if self.problem.kind == "code" else None
        report = selfcheck([self.problem], sandbox=sandbox)
        if report.failures:
            raise VerifyFailure("\n".join(report.failures))

    @staticmethod
    def _lines(results: list[RewardResult]) -> str:
        return "\n".join(
            f"response {i}: {r.status} (extracted {r.extracted!r}): {r.reason}" for i, r in enumerate(results)
        )

    def _score(self, completions: list[str]) -> list[RewardResult]:
        from verifier.rewards.core import RewardOptions, score_batch

        options = RewardOptions(sandbox=_sandbox(self.config) if self.problem.kind == "code" else None)
        results = score_batch([(self.problem, c) for c in completions], options=options)
        if any(r.score is None for r in results):
            raise VerifyInfraError("the checker could not decide:\n" + self._lines(results))
        return results

    def _judge(self, results: list[RewardResult]) -> None:
        if not all(r.correct for r in results):
            bad = sum(not r.correct for r in results)
            raise VerifyFailure(f"{bad}/{len(results)} responses do not verify:\n" + self._lines(results))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, VerifyFailure | VerifyInfraError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.problem.kind} problem {self.problem.id}"
