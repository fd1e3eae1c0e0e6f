"""Security battery against the real pool: each attack gets the expected verdict, and the pool is
healthy afterwards (a trivial job still passes, no container is left over)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from sandboxes import SandboxPool
from sandboxes.reaper import SESSION
from sandboxes.runner.codec import decode
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
SLOW_CALL = {**CALL, "limits": {"timeout_s": 20.0, "memory_mb": 256}}  # a busy 2-core machine is slow
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
ZYGOTE = (
    "import os\nZ = next(int(p) for p in os.listdir('/proc') if p.isdigit() "
    "and open(f'/proc/{p}/comm').read().strip() == 'verifier-zygote')\n"
)
PTRACE = (
    "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "if libc.ptrace(16, {pid}, 0, 0) != 0:\n    raise OSError(ctypes.get_errno(), 'EPERM' if ctypes.get_errno() == 1 else 'ptrace')\n"
)
SYSCALL = (
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "if libc.syscall({nr}, {args}) < 0 and ctypes.get_errno() == 1:\n    raise OSError(1, 'EPERM')\n"
)

BATTERY = [
    # name, problem, candidate code, expected verdict, a phrase the reason must contain
    (
        "fork_bomb",
        CALL,
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        S.TIMEOUT,
        "",
    ),
    ("memory_bomb", SLOW_CALL, "x = []\nwhile True:\n    x.append(bytearray(10 ** 7))\n", S.OOM, ""),
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
        "docker_socket",
        CALL,
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/var/run/docker.sock')\n",
        S.RUNTIME_ERROR,
        "FileNotFoundError",
    ),
    ("write_rootfs", CALL, "open('/var/tmp/x', 'w').write('x')\n", S.RUNTIME_ERROR, "Read-only file system"),
    ("write_etc_passwd", CALL, "open('/etc/passwd', 'a').write('x')\n", S.RUNTIME_ERROR, "Permission denied"),
    ("write_runner_code", CALL, "open('/opt/verifier/runner/modes.py', 'w')\n", S.RUNTIME_ERROR, "Error"),
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
        "protocol",
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
    (  # PID 1 is root; the job has its own uid: EPERM
        "kill_pid1",
        CALL,
        "import os, signal\nos.kill(1, signal.SIGKILL)\n" + GOOD,
        S.RUNTIME_ERROR,
        "PermissionError",
    ),
    (
        "kill_everything",
        CALL,
        "import os\ntry:\n    os.kill(-1, 9)\nexcept ProcessLookupError:\n    pass\n" + GOOD,
        S.PASS,  # the server (PID 1) is immune; the zygote dies, so the container is recycled
        "",
    ),
    ("kill_parent", CALL, "import os\nos.kill(os.getppid(), 9)\n" + GOOD, S.RUNTIME_ERROR, "PermissionError"),
    (
        "kill_test_process",  # assert style: the process running the tests has another uid
        ASSERT,
        "import os\ndef f():\n    os.kill(os.getppid(), 9)\n    return 1\n",
        S.RUNTIME_ERROR,
        "PermissionError",
    ),
    (
        "kill_zygote",  # the process that forks job processes: root, so EPERM
        CALL,
        "import os\nfor p in os.listdir('/proc'):\n    if p.isdigit() and open(f'/proc/{p}/comm').read().strip() == 'verifier-zygote':\n"
        "        os.kill(int(p), 9)\n" + GOOD,
        S.RUNTIME_ERROR,
        "PermissionError",
    ),
    (
        "stop_zygote",
        CALL,
        "import os\nfor p in os.listdir('/proc'):\n    if p.isdigit() and open(f'/proc/{p}/comm').read().strip() == 'verifier-zygote':\n"
        "        os.kill(int(p), 19)\n" + GOOD,
        S.RUNTIME_ERROR,
        "PermissionError",
    ),
    ("read_server_memory", CALL, "open('/proc/1/mem', 'rb')\n", S.RUNTIME_ERROR, "PermissionError"),
    ("read_server_fds", CALL, "import os\nos.listdir('/proc/1/fd')\n", S.RUNTIME_ERROR, "PermissionError"),
    ("setuid_root", CALL, "import os\nos.setuid(0)\n", S.RUNTIME_ERROR, "PermissionError"),
    # ---- issue 12: one uid for everything (now a fresh uid per job; nothing outside it is reachable)
    (  # a WRONG answer that first lowers PID 1's RLIMIT_NOFILE: still a plain wrong answer
        "wrong_answer_prlimit_pid1",
        CALL,
        "import resource\ntry:\n    resource.prlimit(1, resource.RLIMIT_NOFILE, (3, 3))\nexcept OSError:\n    pass\n"
        "def f():\n    return 2\n",
        S.WRONG,
        "",
    ),
    (
        "prlimit_pid1",
        CALL,
        "import resource\nresource.prlimit(1, resource.RLIMIT_NOFILE, (3, 3))\n",
        S.RUNTIME_ERROR,
        "PermissionError",
    ),
    (
        "prlimit_zygote_data",  # a lowered RLIMIT_DATA on the zygote would reach every later job
        CALL,
        ZYGOTE + "import resource\nresource.prlimit(Z, resource.RLIMIT_DATA, (1 << 20, 1 << 20))\n" + GOOD,
        S.RUNTIME_ERROR,
        "PermissionError",
    ),
    (
        "renice_zygote",
        CALL,
        ZYGOTE + "import os\nos.setpriority(os.PRIO_PROCESS, Z, 19)\n" + GOOD,
        S.RUNTIME_ERROR,
        "PermissionError",
    ),
    (
        "pin_zygote",
        CALL,
        ZYGOTE + "import os\nos.sched_setaffinity(Z, {0})\n" + GOOD,
        S.RUNTIME_ERROR,
        "PermissionError",
    ),
    (
        "renice_pid1",
        CALL,
        "import os\nos.setpriority(os.PRIO_PROCESS, 1, 19)\n" + GOOD,
        S.RUNTIME_ERROR,
        "PermissionError",
    ),
    ("ptrace_pid1", CALL, PTRACE.format(pid="1") + GOOD, S.RUNTIME_ERROR, "EPERM"),
    ("ptrace_parent", CALL, PTRACE.format(pid="os.getppid()") + GOOD, S.RUNTIME_ERROR, "EPERM"),
    # ---- issue 12: call style (the candidate never holds the result channel or the token)
    (
        "forged_broken_tests_record",  # would have been sandbox_error ("the tests are broken")
        CALL,
        'import os\nfor fd in range(3, 256):\n    try:\n        os.write(fd, b\'x {"phase":"harness","error":"E"}\\n\')\n'
        "    except OSError:\n        pass\ndef f():\n    return 2\n",
        S.RUNTIME_ERROR,
        "protocol",
    ),
    (  # the line to the tests answers the program's load with a forged "tests are broken"
        "forged_load_answer",
        CALL,
        "import os\nfor fd in range(3, 256):\n    try:\n"
        '        os.write(fd, b\'{"phase":"harness","error":"E","message":"broken tests"}\\n\')\n'
        "    except OSError:\n        pass\nimport time\ntime.sleep(1)\n",
        S.RUNTIME_ERROR,
        "broken tests",
    ),
    (
        "record_nested_200000_deep",
        CALL,
        "import os\ndef f():\n    for fd in range(3, 256):\n        try:\n"
        "            os.write(fd, b'x ' + b'[' * 200000 + b']' * 200000 + b'\\n')\n        except OSError:\n            pass\n    return 1\n",
        S.RUNTIME_ERROR,
        "nested",
    ),
    (
        "return_nested_200000_deep",
        CALL,
        "def f():\n    x = []\n    for _ in range(200000):\n        x = [x]\n    return x\n",
        S.WRONG,
        "",
    ),
    # ---- issue 12: deadline whatever the candidate does to its fds or signals
    (
        "close_fds_and_sleep_call",
        CALL,
        "import os, time\ndef f():\n    for fd in (1, 2, 3):\n        try:\n            os.close(fd)\n        except OSError:\n            pass\n    time.sleep(60)\n",
        S.TIMEOUT,
        "",
    ),
    (  # closing its own line to the tests ends the run at once: the candidate's fault
        "close_fds_and_sleep_assert",
        ASSERT,
        "import os, time\ndef f():\n    os.closerange(0, 256)\n    time.sleep(60)\n",
        S.RUNTIME_ERROR,
        "exited",
    ),
    (
        "close_fds_and_sleep_stdio",
        STDIO,
        "import os, time, signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nos.closerange(0, 256)\ntime.sleep(60)\n",
        S.TIMEOUT,
        "",
    ),
    # ---- issue 12: less of the host visible
    ("io_uring_setup", CALL, SYSCALL.format(nr=425, args="8, 0") + GOOD, S.RUNTIME_ERROR, "EPERM"),
    ("userfaultfd", CALL, SYSCALL.format(nr=323, args="0") + GOOD, S.RUNTIME_ERROR, "EPERM"),
    ("keyctl", CALL, SYSCALL.format(nr=250, args="0, 0") + GOOD, S.RUNTIME_ERROR, "EPERM"),
    ("bpf", CALL, SYSCALL.format(nr=321, args="0, 0, 0") + GOOD, S.RUNTIME_ERROR, "EPERM"),
    (
        "perf_event_open",
        CALL,
        SYSCALL.format(nr=298, args="0, 0, -1, -1, 0") + GOOD,
        S.RUNTIME_ERROR,
        "EPERM",
    ),
    ("unshare_user_ns", CALL, SYSCALL.format(nr=272, args="0x10000000") + GOOD, S.RUNTIME_ERROR, "EPERM"),
    # ---- issue 12: MemoryError raised by the program is not oom
    (
        "memory_error_raised",
        CALL,
        "def f():\n    raise MemoryError('pretend')\n",
        S.RUNTIME_ERROR,
        "MemoryError",
    ),
    (
        "memory_error_raised_assert",
        ASSERT,
        "def f():\n    raise MemoryError('pretend')\n",
        S.RUNTIME_ERROR,
        "MemoryError",
    ),
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
    if status is S.TIMEOUT:  # the sandbox's own deadline stopped it, not the host's slack
        assert sandbox_pool.stats["no_answer"] == 0 and "(0.0 s)" not in verdict.reason, verdict.reason
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
    def comm(p):
        return open(f'/proc/{p}/comm').read().strip()
    def parent(p):
        return int(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1])
    def ours(p):  # the fork server, the zygote, this job, the next job's spare (made meanwhile)
        return (int(p) in (1, os.getpid(), os.getppid()) or parent(p) == os.getpid()
                or comm(p) in ('verifier-zygote', 'verifier-job')
                or (comm(p) == 'candidate' and comm(parent(p)) == 'verifier-job'))
    names = os.listdir('/tmp')  # first: the next spare may make its homes meanwhile
    pids = [p for p in os.listdir('/proc') if p.isdigit()]
    uids = {os.stat(f'/proc/{p}').st_uid for p in pids if ours(p)}  # and so their homes in /tmp
    seen = [n for n in names if os.stat(f'/tmp/{n}').st_uid not in uids]
    seen += os.listdir('/dev/shm')
    procs = [p for p in pids if not ours(p)]
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


# ---------------------------------------------------------------- network: by inspection, and loopback only

NETWORK_FACTS = """import socket
def f():
    routes = [l.split() for l in open('/proc/net/route').read().splitlines()[1:] if l.strip()]
    try:
        routes6 = [l for l in open('/proc/net/ipv6_route').read().splitlines() if not l.split()[-1] == 'lo']
    except OSError:
        routes6 = []
    return {'interfaces': sorted(n for _, n in socket.if_nameindex()), 'routes': routes, 'routes6': routes6}
"""


def test_network_is_only_loopback_by_inspection(sandbox_pool) -> None:
    """Inside the container: the only interface is ``lo`` and there is no route anywhere. Nothing is sent."""
    problem = {
        **CALL,
        "tests": {
            **CALL["tests"],
            "cases": [{"args": [], "expected": {"interfaces": ["lo"], "routes": [], "routes6": []}}],
        },
    }
    verdict = check_code(problem=problem, completion=NETWORK_FACTS, sandbox=sandbox_pool)
    assert verdict.correct, verdict.reason
    assert_healthy(sandbox_pool)


def test_a_listener_on_the_hosts_loopback_is_unreachable(sandbox_pool) -> None:
    """We listen on the host's 127.0.0.1; the container's 127.0.0.1 is its own: refused, and our
    listener never sees a connection."""
    import socket as socket_module

    with socket_module.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n" + GOOD
        verdict = check_code(problem=CALL, completion=code, sandbox=sandbox_pool)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert verdict.status is S.RUNTIME_ERROR and "ConnectionRefusedError" in verdict.reason, verdict.reason
    assert_healthy(sandbox_pool)


# ---------------------------------------------------------------- less of the host visible

HOST_FACTS = """import os
def f():
    def read(path):
        try:
            return open(path).read()
        except OSError as e:
            return type(e).__name__
    def listing(path):
        try:
            return sorted(os.listdir(path))
        except OSError as e:
            return type(e).__name__
    return {
        'cgroup': all(line.endswith(':/') for line in read('/proc/self/cgroup').split()),
        'boot_id': read('/proc/sys/kernel/random/boot_id'),
        'sys_block': listing('/sys/block'),
        # a counter readable by a number (v2 or v1 names): masked files read empty, the rest are absent
        'memory_peak': any(c.isdigit() for c in read('/sys/fs/cgroup/memory.peak') + read('/sys/fs/cgroup/memory/memory.max_usage_in_bytes')),
        'cpu_stat': any(c.isdigit() for c in read('/sys/fs/cgroup/cpu.stat') + read('/sys/fs/cgroup/cpuacct/cpuacct.usage')),
        'cwd_is_random': len(os.path.basename(os.getcwd())) == 24 and 'job' not in os.getcwd(),
        'uid_fresh': os.getuid() >= 1 << 24 and os.getuid() == os.getgid() and os.getgroups() == [],
        'cap_eff': [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0],
        'seccomp': [l.split()[1] for l in open('/proc/self/status') if l.startswith('Seccomp:')][0],
    }
"""
HIDDEN = {
    "cgroup": True,  # private cgroup namespace: every hierarchy is "/", no container id or host path
    "boot_id": "",
    "sys_block": [],
    "memory_peak": False,
    "cpu_stat": False,
    "cwd_is_random": True,
    "uid_fresh": True,
    "cap_eff": "0000000000000000",
    "seccomp": "2",
}


def test_less_of_the_host_is_visible(sandbox_pool) -> None:
    problem = {**CALL, "tests": {**CALL["tests"], "cases": [{"args": [], "expected": HIDDEN}]}}
    verdict = check_code(problem=problem, completion=HOST_FACTS, sandbox=sandbox_pool)
    assert verdict.correct, verdict.reason


# ---------------------------------------------------------------- privilege separation

UIDS = """import os
def f():
    def owner(p):
        return [int(x) for x in open(f'/proc/{p}/status').read().split('Uid:')[1].split()[:1]][0]
    owners = {}
    for p in os.listdir('/proc'):
        if p.isdigit():
            try:
                owners[p] = owner(p)
            except OSError:  # the next spare is being made meanwhile: its short-lived helper is gone
                pass
    return {'me': os.getuid(), 'parent': owner(os.getppid()), 'pid1': owner(1),
            'mine_elsewhere': [p for p, u in owners.items() if u == os.getuid() and int(p) != os.getpid()],
            'uids': sorted(set(owners.values()))}
"""


def test_every_job_has_its_own_uid_that_owns_nothing_else(docker_client) -> None:
    problem = {**CALL, "tests": {**CALL["tests"], "cases": [{"args": [], "expected": 0}]}}
    with SandboxPool(size=2, client=docker_client) as pool:
        results = [pool.run(job_for_code(problem, UIDS)) for _ in range(4)]
    facts = [decode(r.records[0]["value"]) for r in results]
    mine = [f["me"] for f in facts]
    assert len(set(mine)) == 4, mine  # fresh per job, across both containers
    for i, f in enumerate(facts):
        assert f["pid1"] == 0 and f["parent"] not in (0, f["me"])  # root server; the tests' own uid
        assert f["mine_elsewhere"] == [], f  # no other process runs as this job's uid
        earlier = {u for g in facts[:i] for u in (g["me"], g["parent"])}
        assert not earlier & set(f["uids"]), f  # and no earlier job's uid is left anywhere


def job_for_code(problem: dict, code: str):
    from verifier.code.check import as_problem
    from verifier.code.program import job_for

    return job_for(as_problem(problem), code)


# ---------------------------------------------------------------- every job starts from the same state

# One bit, carried through every channel we could think of; the next job reads them all.
WRITER = """import os, resource, ctypes, socket, time
BIT = {bit}
def f():
    if not BIT:
        return 1
    tried = []
    def attempt(name, fn):
        try:
            fn()
            tried.append(name)
        except OSError:
            pass
    z = next(int(p) for p in os.listdir('/proc') if p.isdigit() and open(f'/proc/{{p}}/comm').read().strip() == 'verifier-zygote')
    for pid in (1, z, os.getppid()):
        attempt('nice', lambda: os.setpriority(os.PRIO_PROCESS, pid, 7))
        attempt('affinity', lambda: os.sched_setaffinity(pid, {{0}}))
        for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_DATA, resource.RLIMIT_NPROC, resource.RLIMIT_STACK):
            attempt('rlimit', lambda: resource.prlimit(pid, r, (1 << 20, resource.prlimit(pid, r)[1])))
    attempt('tmp', lambda: open('/tmp/bit', 'w').write('1'))
    attempt('shm', lambda: open('/dev/shm/bit', 'w').write('1'))
    attempt('home', lambda: open('bit', 'w').write('1'))
    os.umask(0o000)
    os.environ['BIT'] = '1'
    os.nice(5)
    resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))
    os.sched_setaffinity(0, {{min(os.sched_getaffinity(0))}})
    for _ in range(40):  # pids: the next job's pids would move
        if os.fork() == 0:
            os._exit(0)
        os.wait()
    if os.fork() == 0:  # a daemon that answers on an abstract socket
        os.setsid()
        s = socket.socket(socket.AF_UNIX)
        s.bind(b'\\0bit')
        s.listen(1)
        time.sleep(60)
    x = bytearray(100 << 20)  # the cgroup's memory peak and CPU counters
    t = time.time()
    while time.time() - t < 0.3:
        pass
    time.sleep(0.1)
    return 1
"""
READER = """import os, resource, socket
def f():
    def read(path):
        try:
            return open(path).read()
        except OSError as e:
            return type(e).__name__
    z = next(int(p) for p in os.listdir('/proc') if p.isdigit() and open(f'/proc/{p}/comm').read().strip() == 'verifier-zygote')
    def strangers():  # processes that are neither ours, this job's, nor the next spare's
        def comm(p):
            return open(f'/proc/{p}/comm').read().strip()
        def parent(p):
            return int(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1])
        found = []
        for p in os.listdir('/proc'):
            if not p.isdigit():
                continue
            try:
                uid = os.stat(f'/proc/{p}').st_uid
                spare = comm(p) == 'verifier-job' or (comm(p) == 'candidate' and comm(parent(p)) == 'verifier-job')
            except OSError:
                continue  # gone meanwhile
            if uid not in (0, os.getuid(), os.stat(f'/proc/{os.getppid()}').st_uid) and not spare:
                found.append(comm(p))
        return found
    def orphans(root):  # entries no live process's uid owns (the next spare makes its homes meanwhile)
        names = os.listdir(root)
        live = {os.stat(f'/proc/{p}').st_uid for p in os.listdir('/proc') if p.isdigit()}
        return sorted(n for n in names if os.path.lexists(f'{root}/{n}') and os.lstat(f'{root}/{n}').st_uid not in live)
    seen = {'limits': [read(f'/proc/{p}/limits') for p in (1, z, os.getpid())],
            'nice': [open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[16] for p in (1, z, os.getpid())],
            'affinity': sorted(os.sched_getaffinity(0)),
            'umask': os.umask(0o077),
            'env': sorted((k, len(v) if k in ('HOME', 'TMPDIR') else v) for k, v in os.environ.items()),
            'files': orphans('/tmp'), 'shm': orphans('/dev/shm'),
            'home': os.listdir('.'), 'memory_peak': read('/sys/fs/cgroup/memory.peak') + read('/sys/fs/cgroup/memory/memory.max_usage_in_bytes'),
            'cpu_stat': read('/sys/fs/cgroup/cpu.stat') + read('/sys/fs/cgroup/cpuacct/cpuacct.usage'), 'cwd_len': len(os.getcwd()),
            'procs': strangers()}
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(b'\\0bit')
        seen['socket'] = True
    except OSError:
        seen['socket'] = False
    return seen
"""


def test_no_bit_crosses_from_one_job_to_the_next(docker_client) -> None:
    """Two runs, writer(bit) then reader, each on a one-container pool: what the reader sees must not
    depend on the bit. (Not covered: the pid counter and thus the job count of a container; see
    docs/sandbox.md.)"""
    problem = {**SLOW_CALL, "tests": {**CALL["tests"], "cases": [{"args": [], "expected": 1}]}}
    seen = []
    for bit in (0, 1):
        with SandboxPool(size=1, client=docker_client) as pool:
            wrote = check_code(problem=problem, completion=WRITER.format(bit=bit), sandbox=pool)
            assert wrote.correct, wrote.reason
            read = pool.run(job_for_code(problem, READER))
            assert read.finished and read.records, read
            seen.append(decode(read.records[0]["value"]))
            assert pool.stats["sandbox_error"] == 0
    assert seen[0] == seen[1]


def test_a_stdio_program_cannot_write_the_memory_of_the_process_that_reports_it(sandbox_pool) -> None:
    code = (
        "import os\ntry:\n    open(f'/proc/{os.getppid()}/mem', 'r+b')\n    print('open')\n"
        "except OSError as e:\n    print(type(e).__name__)\n"
    )
    problem = {**STDIO, "tests": {"style": "stdio", "cases": [{"stdin": "", "stdout": "PermissionError"}]}}
    verdict = check_code(problem=problem, completion=f"```python\n{code}\n```", sandbox=sandbox_pool)
    assert verdict.correct, verdict.reason
    assert_healthy(sandbox_pool)
