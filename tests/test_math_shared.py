"""The shared math server: started once by the first process that needs it, used by the others
(verl prime's fresh processes every batch), deadlines as in the pool, gone when idle or stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from verifier.math import MathStatus, check_math
from verifier.math.shared import SharedMathPool, socket_path


@pytest.fixture
def sock(tmp_path: Path):
    path = tmp_path / "math.sock"
    yield path
    SharedMathPool(path).stop_server()


def _server_pid(path: Path) -> int:
    out = subprocess.run(["pgrep", "-f", f"verifier.math.shared {path}"], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 1, pids
    return pids[0]


@pytest.mark.timeout(300)
def test_the_first_client_starts_the_server_and_the_others_use_it(sock: Path) -> None:
    first = SharedMathPool(sock, workers=2)
    assert check_math(gold="2", pred=r"\boxed{\sqrt{4}}", pool=first, timeout_s=1.0).correct
    assert first.startup_wait_s() > 0  # it started the server, outside the answer's deadline
    # A fresh process (as verl prime makes every batch) finds it running: no start of its own.
    code = (
        "import sys; from pathlib import Path; from verifier.math import check_math\n"
        "from verifier.math.shared import SharedMathPool\n"
        f"p = SharedMathPool(Path({str(sock)!r}))\n"
        "v = check_math(gold=r'\\sqrt{8}', pred=r'\\boxed{2\\sqrt{2}}', pool=p, timeout_s=1.0)\n"
        "assert v.correct, v; assert p.startup_wait_s() == 0, p.startup_wait_s()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    second = SharedMathPool(sock)
    assert check_math(gold="x+1", pred=r"\boxed{\frac{x^2-1}{x-1}}", pool=second).correct
    assert second.startup_wait_s() == 0
    first.close()
    second.close()
    assert sock.exists()  # the server outlives its clients until idle or stopped


@pytest.mark.timeout(300)
def test_deadlines_and_a_lost_server(sock: Path) -> None:
    pool = SharedMathPool(sock, workers=1).start()
    first = _server_pid(sock)
    busy = ThreadPoolExecutor(1).submit(pool.run, {"op": "spin", "seconds": "30"}, timeout_s=3)
    time.sleep(1.0)
    os.kill(first, signal.SIGKILL)  # dies under a request in flight: a new one answers it
    spun = busy.result()
    assert (spun.status, spun.rule) == (MathStatus.TIMEOUT, "deadline"), spun
    assert _server_pid(sock) != first
    assert pool.compare("2", r"\sqrt{4}", timeout_s=5).status is MathStatus.CORRECT
    first = _server_pid(sock)
    os.kill(first, signal.SIGKILL)  # gone between requests: the idle connection is stale
    time.sleep(0.5)
    assert pool.compare("2", r"\sqrt{4}", timeout_s=5).status is MathStatus.CORRECT
    assert _server_pid(sock) != first


@pytest.mark.timeout(300)
def test_the_server_exits_when_idle(sock: Path) -> None:
    pool = SharedMathPool(sock, workers=1, idle_exit_s=1.0)
    assert pool.compare("2", r"\sqrt{4}", timeout_s=5).status is MathStatus.CORRECT
    pool.close()
    for _ in range(100):
        if not sock.exists():
            break
        time.sleep(0.1)
    assert not sock.exists()


def test_the_default_socket_is_private_to_the_user() -> None:
    path = socket_path()
    assert path.parent.name == f"verifier-{os.getuid()}" and path.name.startswith("math-")


@pytest.mark.timeout(300)
def test_connections_are_reused_across_threads(sock: Path) -> None:
    """The reward core makes new threads every batch: a connection per thread would leak them."""
    import threading

    pool = SharedMathPool(sock, workers=2)
    for _ in range(10):
        thread = threading.Thread(target=lambda: pool.compare("2", r"\sqrt{4}", timeout_s=5))
        thread.start()
        thread.join()
    assert len(pool._conns) == 1
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda _: pool.compare("2", r"\sqrt{4}", timeout_s=5).status, range(16)))
    assert got == [MathStatus.CORRECT] * 16 and len(pool._conns) <= 4
    pool.close()
    assert not pool._conns
