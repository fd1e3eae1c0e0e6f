"""Pool behaviour: infrastructure failures are retried on a fresh container, a candidate's failure
never is, and an unreachable engine is a sandbox_error verdict, never a wrong answer."""

from __future__ import annotations

import contextlib
import threading
import time

import docker
import pytest

from sandboxes import InfraError, Job, SandboxPool
from sandboxes import worker as worker_module
from sandboxes.image import RUNNER_IMAGE
from sandboxes.profile import ContainerLimits, hardened_config
from sandboxes.reaper import SESSION, owner_labels
from verifier.code import CodeStatus, check_code

pytestmark = pytest.mark.docker

SLOW_OK = Job(
    mode="call",
    program="import time\ndef f():\n    time.sleep(1.0)\n    return 1\n",
    entry_point="f",
    cases=[{}],
)


def test_container_killed_mid_job_is_retried_on_a_fresh_one(docker_client) -> None:
    with SandboxPool(size=1, client=docker_client) as pool:
        result: dict = {}
        worker = threading.Thread(target=lambda: result.update(r=pool.run(SLOW_OK)))
        worker.start()
        time.sleep(0.4)  # the job is running (this sleep orders events; nothing is timed)
        for c in docker_client.containers.list(filters={"label": f"{SESSION}={pool.session}"}):
            c.kill()
        worker.join(timeout=60)
        r = result["r"]
        assert r.outcome == "exited" and r.finished and r.records[0]["value"] == 1
        assert r.attempts == 2
        assert pool.stats["infra_retry"] == 1


def test_a_candidate_failure_is_not_retried(sandbox_pool) -> None:
    r = sandbox_pool.run(
        Job(mode="call", program="while True:\n    pass\n", entry_point="f", cases=[{}], timeout_s=1)
    )
    # The harness reports the deadline itself (a "timeout" record) or the fork server kills the job.
    late = r.outcome == "timeout" or any(rec.get("timeout") for rec in r.records)
    assert late and r.attempts == 1 and r.recycled


def test_unreachable_engine_is_a_sandbox_error(monkeypatch) -> None:
    client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    with pytest.raises(InfraError):
        SandboxPool(size=1, client=client).start()
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    verdict = check_code(
        problem=PROBLEM, completion="def f():\n    return 1\n"
    )  # the default pool cannot start
    assert verdict.status is CodeStatus.SANDBOX_ERROR and not verdict.correct
    assert "unreachable" in verdict.reason


PROBLEM = {
    "id": "p",
    "kind": "code",
    "prompt": "Write f() returning 1.",
    "tests": {"style": "call", "entry_point": "f", "cases": [{"expected": 1}]},
}


def test_a_pool_starts_itself_on_first_use(docker_client) -> None:
    pool = SandboxPool(size=1, client=docker_client)
    try:
        r = pool.run(Job(mode="call", program="def f():\n    return 1\n", entry_point="f", cases=[{}]))
        assert r.outcome == "exited" and r.records[0]["value"] == 1
    finally:
        pool.close()


def test_an_unstarted_pool_on_a_dead_engine_answers_sandbox_error() -> None:
    dead = docker.DockerClient(base_url="tcp://127.0.0.1:9", timeout=2, version="1.41")
    r = SandboxPool(size=1, client=dead, attempts=2).run(Job(mode="call", program="x = 1", entry_point="f"))
    assert r.outcome == "sandbox_error" and r.attempts == 2 and "unreachable" in r.error


def _run_in_thread(pool: SandboxPool, job: Job, out: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.append(pool.run(job)))
    thread.start()
    return thread


@pytest.mark.timeout(180)
def test_close_while_a_job_runs_and_another_waits_gives_both_a_sandbox_error(docker_client) -> None:
    """Regression: the waiting caller blocked forever, the running one raised AttributeError (its
    socket was closed under it)."""
    pool = SandboxPool(size=1, client=docker_client).start()
    slow = Job(
        mode="call", program="import time\ndef f():\n    time.sleep(60)\n", entry_point="f", cases=[{}]
    )
    out: list = []
    threads = [_run_in_thread(pool, slow, out)]
    while pool._slots._free:  # until the first job holds the only container
        time.sleep(0.01)
    threads.append(_run_in_thread(pool, slow, out))
    while not pool._slots.waiting:  # until the second waits for it (orders events; nothing is timed)
        time.sleep(0.01)
    closers = [threading.Thread(target=pool.close) for _ in range(2)]
    for t in closers:
        t.start()
    for t in threads + closers:
        t.join(timeout=60)
        assert not t.is_alive()
    assert [(r.outcome, r.error) for r in out] == [("sandbox_error", "the pool is closed")] * 2
    assert not docker_client.containers.list(all=True, filters={"label": f"{SESSION}={pool.session}"})


@pytest.mark.timeout(180)
def test_engine_unreachable_after_start_is_a_sandbox_error_not_a_hang(docker_client) -> None:
    """The engine goes away under a started pool: the container dies, no fresh one can be made (the
    client points at a socket where no engine answers); the job and check_code get sandbox_error."""
    with SandboxPool(size=1, client=docker_client) as pool:
        for c in docker_client.containers.list(filters={"label": f"{SESSION}={pool.session}"}):
            c.kill()
        pool._client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
        r = pool.run(Job(mode="call", program="def f():\n    return 1\n", entry_point="f", cases=[{}]))
        assert r.outcome == "sandbox_error" and r.attempts == pool.attempts
        verdict = check_code(problem=PROBLEM, completion="def f():\n    return 1\n", sandbox=pool)
        assert verdict.status is CodeStatus.SANDBOX_ERROR and not verdict.correct
        pool._client = docker_client  # so close() sweeps the session


@pytest.mark.parametrize(
    "script,words,stays_up",
    [
        # The fork server answers the ping with garbage and stays up: an InfraError.
        ("print('not json', flush=True); import time; time.sleep(300)", "malformed line", True),
        # It exits at once: the ping sees the stream end (ContainerDied).
        ("import os; os._exit(3)", "closed its output", False),
    ],
    ids=["malformed_pong", "died"],
)
def test_a_container_whose_ping_fails_is_removed(docker_client, monkeypatch, script, words, stays_up) -> None:
    """Only Docker/OS errors and timeouts used to close a half-made worker; an InfraError from the
    ping (ContainerDied, a malformed answer) left the container running and its socket open."""

    def config(*args, **kwargs):
        return {**hardened_config(*args, **kwargs), "entrypoint": ["python3", "-c", script]}

    monkeypatch.setattr(worker_module, "hardened_config", config)
    labels = owner_labels()
    session = {"label": f"{SESSION}={labels[SESSION]}"}
    try:
        with pytest.raises(InfraError, match=words) as e:
            worker_module.Worker(docker_client, RUNNER_IMAGE, labels, ContainerLimits())
        assert "cannot start a runner container" in str(e.value)
        if stays_up:  # (one that exited is auto-removed by the engine in its own time)
            left = docker_client.api.containers(all=True, filters=session)
            assert left == [], [c["Status"] for c in left]
    finally:  # what a failure of this test would leave (the raw API: no inspect of a vanishing one)
        for c in docker_client.api.containers(all=True, filters=session):
            with contextlib.suppress(docker.errors.APIError):  # 404 gone, 409 being removed
                docker_client.api.remove_container(c["Id"], force=True)


@pytest.mark.parametrize("breaks", [1, 2], ids=["once_then_fine", "twice"])
def test_a_job_that_breaks_its_container_is_the_candidates_fault(
    sandbox_pool, monkeypatch, breaks: int
) -> None:
    """A container that fails during a job is replaced and the job run again on a fresh one; a job
    that breaks that one too is ``container_broken``: a runtime_error, never a sandbox_error."""
    from sandboxes.worker import ContainerBroken

    real = sandbox_pool._run_once
    calls = {"n": 0}

    def flaky(payload, job):
        calls["n"] += 1
        if calls["n"] <= breaks:
            raise ContainerBroken("fork server sent a malformed line")
        return real(payload, job)

    monkeypatch.setattr(sandbox_pool, "_run_once", flaky)
    before = sandbox_pool.stats["sandbox_error"]
    verdict = check_code(problem=PROBLEM, completion="def f():\n    return 1\n", sandbox=sandbox_pool)
    assert sandbox_pool.stats["sandbox_error"] == before
    if breaks == 1:
        assert verdict.correct, verdict.reason
    else:
        assert verdict.status is CodeStatus.RUNTIME_ERROR and verdict.rule == "container_broken", (
            verdict.reason
        )
