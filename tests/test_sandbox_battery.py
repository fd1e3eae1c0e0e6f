"""Security battery against the real pool: each attack gets the expected verdict, and the pool is
healthy afterwards (a trivial job still passes, no container is left over)."""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

import pytest

from sandboxes import SandboxPool
from sandboxes.reaper import SESSION
from verifier.code import CodeStatus, check_code

pytestmark = pytest.mark.docker

S = CodeStatus
# A call-style problem: f() must return 1. Attacks live in the candidate's code.
CALL = {
    "id": "battery-call",
    "kind": "code",
    "prompt": "Write f() returning 1.",
    "tests": {"style": "call", "entry_point": "f", "cases": [{"args": [], "expected": 1}]},
    "limits": {"timeout_s": 2.0, "memory_mb": 256},
}
ASSERT = {
    "id": "battery-assert",
    "kind": "code",
    "prompt": "def f():\n    '''Return 1.'''\n",
    "tests": {
        "style": "assert",
        "code": "def check(candidate):\n    assert candidate() == 1\n",
        "entry_point": "f",
    },
    "limits": {"timeout_s": 2.0, "memory_mb": 256},
}
STDIO = {
    "id": "battery-stdio",
    "kind": "code",
    "prompt": "Print 1.",
    "tests": {"style": "stdio", "cases": [{"stdin": "", "stdout": "1"}]},
    "limits": {"timeout_s": 2.0, "memory_mb": 256},
}

GOOD = "def f():\n    return 1\n"

BATTERY = [
    # name, problem, candidate code, expected verdict, a phrase the reason must contain
    (
        "fork_bomb",
        CALL,
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        S.TIMEOUT,
        "",
    ),
    ("memory_bomb", CALL, "x = []\nwhile True:\n    x.append(bytearray(10 ** 7))\n", S.OOM, ""),
    (
        "disk_fill_many_files",
        CALL,
        "i = 0\nwhile True:\n    open(f'/tmp/fill{i}', 'wb').write(b'x' * (8 << 20))\n    i += 1\n",
        S.RUNTIME_ERROR,
        "OSError",
    ),
    (
        "disk_fill_one_file",
        CALL,
        "with open('big', 'wb') as fh:\n    while True:\n        fh.write(b'x' * (1 << 20))\n",
        S.RUNTIME_ERROR,
        "File too large",
    ),
    (
        "stdout_1gb",
        CALL,
        "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n",
        S.OUTPUT_LIMIT,
        "",
    ),
    (
        "stdout_1gb_stdio",
        STDIO,
        "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n",
        S.OUTPUT_LIMIT,
        "",
    ),
    (
        "network_public",
        CALL,
        "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=3)\n",
        S.RUNTIME_ERROR,
        "OSError",
    ),
    (
        "network_dns",
        CALL,
        "import socket\nsocket.getaddrinfo('pypi.org', 443)\n",
        S.RUNTIME_ERROR,
        "gaierror",
    ),
    (
        "docker_socket",
        CALL,
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/var/run/docker.sock')\n",
        S.RUNTIME_ERROR,
        "FileNotFoundError",
    ),
    ("write_rootfs", CALL, "open('/var/tmp/x', 'w').write('x')\n", S.RUNTIME_ERROR, "Read-only file system"),
    ("write_etc_passwd", CALL, "open('/etc/passwd', 'a').write('x')\n", S.RUNTIME_ERROR, "Permission denied"),
    ("write_runner_code", CALL, "open('/opt/verifier-runner/harness.py', 'w')\n", S.RUNTIME_ERROR, "Error"),
    ("sleep_past_deadline", CALL, "import time\ntime.sleep(30)\n", S.TIMEOUT, ""),
    ("busy_loop_past_deadline", CALL, "while True:\n    pass\n", S.TIMEOUT, ""),
    (
        "busy_loop_ignoring_signals",
        CALL,
        "import signal\nfor s in (signal.SIGTERM, signal.SIGXCPU, signal.SIGINT):\n    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n",
        S.TIMEOUT,
        "",
    ),
    ("sys_exit_0_before_tests", ASSERT, "import sys\nsys.exit(0)\n", S.RUNTIME_ERROR, "SystemExit"),
    ("os_exit_0_before_tests", ASSERT, "import os\nos._exit(0)\n", S.RUNTIME_ERROR, "exited"),
    ("os_exit_0_during_tests", ASSERT, "import os\ndef f():\n    os._exit(0)\n", S.RUNTIME_ERROR, "exited"),
    (
        "forged_marker",
        ASSERT,
        'import os\nprint(\'harness finished: all tests passed\')\nos.write(3, b\'x {"phase":"test","ok":true}\\nx {"done":true}\\n\')\nos._exit(0)\n',
        S.RUNTIME_ERROR,
        "Bad file descriptor",
    ),
    (
        "forged_marker_call_style",
        CALL,
        'import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b\'x {"case":0,"value":1}\\nx {"done":true}\\n\')\n'
        "    except OSError:\n        pass\nos._exit(0)\n",
        S.RUNTIME_ERROR,
        "did not finish",
    ),
    (
        "harness_introspection",
        ASSERT,
        "import gc, os\nfor o in gc.get_objects():\n    if type(o).__name__ == 'Reporter':\n"
        "        o.emit({'phase': 'test', 'ok': True})\n        o.emit({'done': True})\n        os._exit(0)\n"
        "def f():\n    return 2\n",
        S.WRONG,
        "",
    ),
    (
        "find_tests_in_memory",  # the candidate process is forked before the job arrives: no tests to find
        ASSERT,
        "import gc\ndef f():\n    for o in gc.get_objects():\n        if isinstance(o, dict) and 'test_code' in o:\n"
        "            return 1\n    return 2\n",
        S.WRONG,
        "",
    ),
    (
        "find_tests_in_frames",  # walk up the inherited stack into the fork server's frames
        ASSERT,
        "import sys\ndef f():\n    frame = sys._getframe()\n    while frame is not None:\n"
        "        for v in list(frame.f_locals.values()):\n            if 'check(' + 'candidate)' in repr(v)[:100000]:\n"
        "                return 1\n        frame = frame.f_back\n    return 2\n",
        S.WRONG,
        "",
    ),
    (
        "always_equal_assert",
        ASSERT,
        "class A:\n    def __eq__(self, o):\n        return True\n    def __ne__(self, o):\n        return False\n\ndef f():\n    return A()\n",
        S.WRONG,
        "",
    ),
    (
        "always_equal_int_subclass",
        ASSERT,
        "class A(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n\ndef f():\n    return A(7)\n",
        S.WRONG,
        "",
    ),
    (
        "always_equal_call",
        CALL,
        "class A:\n    def __eq__(self, o):\n        return True\n\ndef f():\n    return A()\n",
        S.WRONG,
        "",
    ),
    (
        "kill_pid1",
        CALL,
        "import os, signal\nos.kill(1, signal.SIGKILL)\nos.kill(1, signal.SIGSTOP)\n" + GOOD,
        S.PASS,
        "",
    ),
    (
        "kill_everything",
        CALL,
        "import os\ntry:\n    os.kill(-1, 9)\nexcept ProcessLookupError:\n    pass\n" + GOOD,
        S.PASS,  # the server (PID 1) is immune; the zygote dies, so the container is recycled
        "",
    ),
    ("kill_parent", CALL, "import os\nos.kill(os.getppid(), 9)\n" + GOOD, S.PASS, ""),
    (
        "kill_test_process",  # assert style: the candidate process kills the process running the tests
        ASSERT,
        "import os\ndef f():\n    os.kill(os.getppid(), 9)\n    return 1\n",
        S.RUNTIME_ERROR,
        "SIGKILL",
    ),
    (
        "kill_zygote",  # the process that forks job processes: the container is recycled after this job
        CALL,
        "import os\nfor p in os.listdir('/proc'):\n    if p.isdigit() and open(f'/proc/{p}/comm').read().strip() == 'verifier-zygote':\n"
        "        os.kill(int(p), 9)\n" + GOOD,
        S.PASS,
        "",
    ),
    (
        "stop_zygote",  # the fork server wakes it again after the job
        CALL,
        "import os\nfor p in os.listdir('/proc'):\n    if p.isdigit() and open(f'/proc/{p}/comm').read().strip() == 'verifier-zygote':\n"
        "        os.kill(int(p), 19)\n" + GOOD,
        S.PASS,
        "",
    ),
    ("read_server_memory", CALL, "open('/proc/1/mem', 'rb')\n", S.RUNTIME_ERROR, "PermissionError"),
    ("read_server_fds", CALL, "import os\nos.listdir('/proc/1/fd')\n", S.RUNTIME_ERROR, "PermissionError"),
    ("setuid_root", CALL, "import os\nos.setuid(0)\n", S.RUNTIME_ERROR, "PermissionError"),
    (
        "chmod_setuid_python",
        CALL,
        "import os, sys\nos.chmod(sys.executable, 0o4755)\n",
        S.RUNTIME_ERROR,
        "Error",
    ),
]


def assert_healthy(pool: SandboxPool) -> None:
    verdict = check_code(problem=CALL, completion=GOOD, sandbox=pool)
    assert verdict.correct, f"pool unhealthy after the attack: {verdict.status} {verdict.reason}"
    assert pool.stats["sandbox_error"] == 0


@pytest.mark.parametrize("name,problem,code,status,phrase", BATTERY, ids=[b[0] for b in BATTERY])
def test_attack_is_contained(
    sandbox_pool, name: str, problem: dict, code: str, status: CodeStatus, phrase: str
) -> None:
    verdict = check_code(problem=problem, completion=f"```python\n{code}\n```", sandbox=sandbox_pool)
    print(f"{name}: {verdict.status.value}: {verdict.reason}")
    assert verdict.status is status, verdict.reason
    assert phrase in verdict.reason + " ".join(t.reason for t in verdict.tests), verdict.reason
    assert_healthy(sandbox_pool)


def test_host_marker_file_is_invisible(sandbox_pool, tmp_path: Path) -> None:
    marker = Path("/tmp") / f"verifier-marker-{secrets.token_hex(8)}"
    marker.write_text("secret")
    try:
        code = f"def f():\n    return len(open({str(marker)!r}).read()) - 5\n"
        verdict = check_code(problem=CALL, completion=code, sandbox=sandbox_pool)
    finally:
        marker.unlink()
    assert verdict.status is S.RUNTIME_ERROR and "FileNotFoundError" in verdict.reason + str(verdict.tests)
    assert_healthy(sandbox_pool)


def test_docker_host_gateway_unreachable(sandbox_pool, docker_client) -> None:
    ipam = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    gateway = ipam.get("Gateway") or str(ipaddress.ip_network(ipam["Subnet"])[1])
    code = f"import socket\nsocket.create_connection(({gateway!r}, 2375), timeout=3)\n" + GOOD
    verdict = check_code(problem=CALL, completion=code, sandbox=sandbox_pool)
    assert verdict.status is S.RUNTIME_ERROR and "OSError" in verdict.reason, verdict.reason
    assert_healthy(sandbox_pool)


LEAVE = """import os, time
def f():
    open('/tmp/left-in-tmp', 'w').write('x')
    open('/dev/shm/left-in-shm', 'w').write('x')
    open('left-in-workdir', 'w').write('x')
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(60)
        os._exit(0)
    time.sleep(0.05)
    return 1
"""
LEAVE_FILES_ONLY = "def f():\n    open('/tmp/left-in-tmp', 'w').write('x')\n    open('/dev/shm/left', 'w').write('x')\n    return 1\n"
LOOK = """import os
def f():
    mine = os.path.basename(os.getcwd())
    seen = [n for n in os.listdir('/tmp') if n != mine] + os.listdir('/dev/shm')
    def ours(p):  # the fork server, the zygote that forks job processes, this job's own processes
        parent = int(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1])
        return (int(p) in (1, os.getpid(), os.getppid()) or parent == os.getpid()
                or open(f'/proc/{p}/comm').read().strip() == 'verifier-zygote')
    procs = [p for p in os.listdir('/proc') if p.isdigit() and not ours(p)]
    return 1 if not seen and not procs else {'files': seen, 'procs': procs}
"""


@pytest.mark.parametrize("leftover", [LEAVE, LEAVE_FILES_ONLY], ids=["files_and_daemon", "files_only"])
def test_next_job_sees_no_files_or_processes(docker_client, leftover: str) -> None:
    with SandboxPool(
        size=1, client=docker_client
    ) as pool:  # one container: the next job runs where the last ran
        first = check_code(problem=CALL, completion=leftover, sandbox=pool)
        assert first.correct, first.reason
        second = check_code(problem=CALL, completion=LOOK, sandbox=pool)
        assert second.correct, f"the next job saw leftovers: {second.reason}"


def test_no_container_left_after_close(docker_client) -> None:
    with SandboxPool(size=2, client=docker_client) as pool:
        session = pool.session
        check_code(problem=CALL, completion="while True:\n    pass\n", sandbox=pool)  # forces a recycle
        assert docker_client.containers.list(all=True, filters={"label": f"{SESSION}={session}"})
    assert docker_client.containers.list(all=True, filters={"label": f"{SESSION}={session}"}) == []
