"""The wait for a free runner container, without Docker: a caller waits only while a container can
still come back, so a pool never started, a stuck engine or a closed pool is an InfraError, never a hang."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from sandboxes import InfraError, SandboxPool
from sandboxes.profile import ContainerLimits
from sandboxes.slots import Slots
from sandboxes.worker import Worker

pytestmark = pytest.mark.timeout(60)


def test_a_free_slot_is_taken_at_once_and_comes_back() -> None:
    slots: Slots[str] = Slots()
    slots.add("w")
    lease, item = slots.take(due_in_s=60)
    assert item == "w"
    assert slots.give_back(lease, None)  # its worker is gone: the slot comes back empty
    assert slots.take(due_in_s=60)[1] is None


def test_no_slot_at_all_fails_at_once() -> None:
    """A pool never started has no container running or starting: nothing to wait for."""
    with pytest.raises(InfraError, match="not started"):
        Slots().take(due_in_s=60)


def test_a_pool_never_started_has_no_container_to_wait_for() -> None:
    """Regression: the pool's wait for a free container blocked forever here."""
    with pytest.raises(InfraError, match="not started"):
        SandboxPool(size=1)._acquire(timeout_s=1)


def test_an_overdue_lease_fails_the_waiter_at_once() -> None:
    """The only container is out past the time it was due back (a stuck engine): no endless wait."""
    slots: Slots[str] = Slots()
    slots.add("w")
    slots.take(due_in_s=0)
    with pytest.raises(InfraError, match="stuck"):
        slots.take(due_in_s=60)


def _waiter(slots: Slots[str], out: list) -> threading.Thread:
    def wait() -> None:
        try:
            out.append(slots.take(due_in_s=60)[1])
        except InfraError as e:
            out.append(e)

    thread = threading.Thread(target=wait)
    thread.start()
    while not slots.waiting and thread.is_alive():  # until it waits (orders the test; nothing is timed)
        time.sleep(0.01)
    return thread


def test_a_waiter_gets_the_slot_given_back() -> None:
    slots: Slots[str] = Slots()
    slots.add("w")
    lease, _ = slots.take(due_in_s=60)
    out: list = []
    thread = _waiter(slots, out)
    slots.give_back(lease, "w2")
    thread.join(timeout=30)
    assert not thread.is_alive() and out == ["w2"]


def test_close_wakes_every_waiter_and_refuses_what_comes_back() -> None:
    slots: Slots[str] = Slots()
    slots.add("w")
    lease, _ = slots.take(due_in_s=60)
    out: list = []
    threads = [_waiter(slots, out) for _ in range(2)]
    assert slots.close() == []  # the only worker is out
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert [str(e) for e in out] == ["the pool is closed"] * 2
    assert not slots.give_back(lease, "w")  # the caller closes it instead


class _HalfMadeContainer:
    """Created, but the engine went away before it could be attached, and cannot remove it either."""

    id = "0123456789abcdef"

    def attach_socket(self, **_: object) -> None:
        raise requests.ConnectionError("engine gone")

    def remove(self, **_: object) -> None:
        raise requests.ConnectionError("engine gone")


class _Client:
    """The shape of docker.DockerClient that ``create_container`` uses: the raw API, then ``get``."""

    class api:  # noqa: N801
        @staticmethod
        def create_host_config(**_: object) -> dict:
            return {}

        @staticmethod
        def create_container(**_: object) -> dict:
            return {"Id": "half-made"}

    class containers:  # noqa: N801
        @staticmethod
        def get(_id: str) -> _HalfMadeContainer:
            return _HalfMadeContainer()


def test_a_worker_whose_cleanup_fails_too_is_still_an_infra_error() -> None:
    """Regression: the cleanup's ConnectionError escaped instead, out of run(), and the pool lost the
    container's slot, so the next caller waited forever."""
    with pytest.raises(InfraError, match="removing the container failed too"):
        Worker(_Client(), "img", {}, ContainerLimits())  # type: ignore[arg-type]
