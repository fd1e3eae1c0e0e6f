"""Cleanup that survives kill -9: labelled containers, and a reaper for those whose owner is gone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest
from docker.errors import NotFound

from sandboxes.image import RUNNER_IMAGE
from sandboxes.reaper import LABEL, SESSION, owner_alive, owner_labels, reap_orphans

pytestmark = pytest.mark.docker

# A verifier process that keeps the pool busy until it is killed.
BUSY = """
import sys
from sandboxes import Job, SandboxPool
with SandboxPool(size=2) as pool:
    print(pool.session, flush=True)
    while True:
        pool.run_many([Job(mode="call", program="import time\\ndef f():\\n    time.sleep(0.2)\\n", entry_point="f",
                           cases=[{}])] * 2)
        print("ran", flush=True)
"""


def session_containers(client, session: str) -> list:
    return client.containers.list(all=True, filters={"label": f"{SESSION}={session}"})


def wait_until(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_sigkill_mid_run_leaves_no_container(docker_client, sandbox_pool) -> None:
    proc = subprocess.Popen([sys.executable, "-c", BUSY], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        session = proc.stdout.readline().strip()
        assert proc.stdout.readline().strip() == "ran"  # jobs are in flight
        assert len(session_containers(docker_client, session)) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reap_orphans(docker_client)  # what every pool start-up does first
    assert wait_until(lambda: session_containers(docker_client, session) == [])
    assert sandbox_pool.stats["sandbox_error"] == 0  # our own pool's containers were not touched


def test_reaper_removes_containers_of_dead_owners_only(docker_client) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    orphan_labels = {**owner_labels(), LABEL + ".owner-pid": str(dead_pid)}
    assert not owner_alive(orphan_labels)
    mine = owner_labels()
    assert owner_alive(mine)
    sleeper = {
        "image": RUNNER_IMAGE,
        "entrypoint": ["python3", "-c", "import time; time.sleep(600)"],
        "detach": True,
        "network_mode": "none",
        "cap_drop": ["ALL"],
    }
    orphan = docker_client.containers.run(labels=orphan_labels, **sleeper)
    kept = docker_client.containers.run(labels=mine, **sleeper)
    try:
        assert reap_orphans(docker_client) >= 1
        ids = {c.id for c in docker_client.containers.list(all=True, filters={"label": LABEL})}
        assert orphan.id not in ids
        assert kept.id in ids
    finally:
        for c in (orphan, kept):
            with contextlib.suppress(NotFound):  # the reaper may have removed it already
                c.remove(force=True)
