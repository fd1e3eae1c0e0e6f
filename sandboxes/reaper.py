"""Labels on every runner container, and the reaper that removes those whose owner process is gone.

A container records the pid, start time and host of the process that made it. ``finally`` removes
containers normally; after a kill -9 nothing runs, so every pool start-up reaps first.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

import docker
from docker.errors import APIError, NotFound

LABEL = "io.verifier.sandbox"
OWNER_PID = f"{LABEL}.owner-pid"
OWNER_START = f"{LABEL}.owner-start"
OWNER_HOST = f"{LABEL}.owner-host"
SESSION = f"{LABEL}.session"

log = logging.getLogger(__name__)


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner_labels(session: str | None = None) -> dict[str, str]:
    pid = os.getpid()
    return {
        LABEL: "1",
        OWNER_PID: str(pid),
        OWNER_START: process_start(pid) or "",
        OWNER_HOST: socket.gethostname(),
        SESSION: session or uuid.uuid4().hex,
    }


def owner_alive(labels: dict[str, str]) -> bool:
    try:
        pid = int(labels.get(OWNER_PID, ""))
    except ValueError:
        return False
    start = process_start(pid)
    return start is not None and start == labels.get(OWNER_START, start)


def reap_orphans(client: docker.DockerClient) -> int:
    """Remove labelled containers made on this host by processes that no longer exist."""
    removed = 0
    host = socket.gethostname()
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        labels = container.labels
        if labels.get(OWNER_HOST) != host or owner_alive(labels):
            continue
        removed += _remove(container)
    if removed:
        log.info("reaped %d orphaned sandbox container(s)", removed)
    return removed


def remove_session(client: docker.DockerClient, session: str) -> int:
    """Remove every container of one session (used by ``SandboxPool.close`` as a last sweep)."""
    removed = 0
    for container in client.containers.list(all=True, filters={"label": f"{SESSION}={session}"}):
        removed += _remove(container)
    return removed


def _remove(container: Any) -> bool:
    """Force-remove; False when it is already gone or its removal is already under way."""
    try:
        container.remove(force=True)
        return True
    except NotFound:
        return False
    except APIError as e:
        if e.status_code != 409:  # 409: removal already in progress (auto_remove)
            raise
        return False
