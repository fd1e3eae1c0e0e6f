"""Sandbox benchmark: latency p50/p99 and throughput, for a trivial program and for the 164 HumanEval
reference solutions, under (a) a bare host subprocess (unsafe baseline), (b) a hardened container
per run, (c) `docker exec` into a warm hardened container, (d) our warm pool (end to end, verdicts
included). Prints JSON on stdout and a one-line summary on stderr.

    .venv/bin/python benchmarks/sandbox.py [--trivial-runs 40] [--container-runs 20] [--skip-container-humaneval]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker

from sandboxes import ContainerLimits, Job, SandboxPool, hardened_config
from sandboxes.image import RUNNER_IMAGE
from sandboxes.profile import create_container
from sandboxes.reaper import owner_labels
from verifier.banks.loader import load_bank
from verifier.code import check_code_many
from verifier.code.program import assemble
from verifier.schema import AssertTests, CodeProblem

REPO = Path(__file__).resolve().parent.parent
TRIVIAL = "pass"
# The system interpreter, not a shim (a pyenv shim is a shell script and would flatter the pool).
PYTHON = os.environ.get("BENCH_PYTHON") or next(
    (p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)),
    shutil.which("python3") or sys.executable,
)


def summarise(latencies: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "throughput_per_s": round(len(ordered) / wall, 1),
        "wall_s": round(wall, 2),
    }


def timed(fn: Callable[[Any], None], items: list[Any], concurrency: int) -> dict[str, float]:
    latencies: list[float] = []

    def one(item: Any) -> None:
        t = time.perf_counter()
        fn(item)
        latencies.append(time.perf_counter() - t)

    started = time.perf_counter()
    if concurrency == 1:
        for item in items:
            one(item)
    else:
        with ThreadPoolExecutor(concurrency) as ex:
            list(ex.map(one, items))
    return summarise(latencies, time.perf_counter() - started)


def humaneval_program(p: CodeProblem) -> str:
    assert isinstance(p.tests, AssertTests) and p.reference_solution is not None
    return f"{assemble(p, p.reference_solution)}\n\n{p.tests.code}\n\ncheck({p.tests.entry_point})\n"


# ---------------------------------------------------------------- (a) bare host


def host_run(code: str) -> None:
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode()[-500:])


# ---------------------------------------------------------------- (b) hardened container per run


def container_config(labels: dict[str, str], entrypoint: list[str]) -> dict[str, Any]:
    config = hardened_config(RUNNER_IMAGE, labels, ContainerLimits())
    # The same profile, running one program as an unprivileged uid instead of our fork server.
    config.update(entrypoint=entrypoint, command=[], stdin_open=False, auto_remove=False, user="65534:65534")
    return config


def container_run(client: docker.DockerClient, labels: dict[str, str], code: str) -> None:
    container = create_container(client, container_config(labels, ["python3", "-c", code]))
    try:
        container.start()
        status = container.wait(timeout=60)
        if status["StatusCode"] != 0:
            raise RuntimeError(f"container exited {status['StatusCode']}")
    finally:
        container.remove(force=True)


# ---------------------------------------------------------------- (c) docker exec into a warm container


def exec_run(container: Any, code: str) -> None:
    code_, out = container.exec_run(["python3", "-c", code], user="65534:65534", workdir="/tmp")
    if code_ != 0:
        raise RuntimeError(out.decode()[-500:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trivial-runs", type=int, default=40)
    ap.add_argument(
        "--container-runs", type=int, default=20, help="trivial runs for the container-per-run mode"
    )
    ap.add_argument(
        "--skip-container-humaneval", action="store_true", help="skip 164 container starts (~30 s)"
    )
    args = ap.parse_args()

    problems = [
        p
        for p in load_bank(REPO / "problem_banks" / "code-style.jsonl").problems
        if isinstance(p, CodeProblem)
    ]
    programs = [humaneval_program(p) for p in problems]
    client = docker.from_env(timeout=120)
    labels = owner_labels()
    size = os.cpu_count() or 1
    out: dict[str, Any] = {
        "machine": {"cpus": size, "python": PYTHON, "image": RUNNER_IMAGE},
        "trivial": {},
        "humaneval": {},
    }

    # (a) bare host subprocess
    out["trivial"]["a_host_subprocess"] = timed(host_run, [TRIVIAL] * args.trivial_runs, 1)
    out["humaneval"]["a_host_subprocess"] = timed(host_run, programs, size)

    # (b) hardened container per run
    out["trivial"]["b_container_per_run"] = timed(
        lambda c: container_run(client, labels, c), [TRIVIAL] * args.container_runs, 1
    )
    if not args.skip_container_humaneval:
        out["humaneval"]["b_container_per_run"] = timed(
            lambda c: container_run(client, labels, c), programs, size
        )

    # (c) docker exec into warm hardened containers (one per core)
    warm = []
    try:
        for _ in range(size):
            config = container_config(labels, ["python3", "-c", "import time; time.sleep(3600)"])
            warm.append(create_container(client, config))
            warm[-1].start()
        out["trivial"]["c_docker_exec"] = timed(
            lambda c: exec_run(warm[0], c), [TRIVIAL] * args.trivial_runs, 1
        )
        slots = iter(range(10**9))
        out["humaneval"]["c_docker_exec"] = timed(
            lambda c: exec_run(warm[next(slots) % size], c), programs, size
        )
    finally:
        for c in warm:
            c.remove(force=True)

    # (d) our pool: end to end, including extraction, judging and verdicts
    with SandboxPool(size=size, client=client) as pool:
        job = Job(mode="call", program="def f():\n    return 1\n", entry_point="f", cases=[{}])
        for _ in range(5):
            pool.run(job)  # warm-up
        out["trivial"]["d_pool"] = timed(lambda j: pool.run(j), [job] * (args.trivial_runs * 5), 1)
        started = time.perf_counter()
        verdicts = check_code_many(
            [(p, p.reference_solution or "") for p in problems], sandbox=pool, raw_code=True
        )
        wall = time.perf_counter() - started
        per_item = [v.timings.get("host_s", 0.0) for v in verdicts]
        out["humaneval"]["d_pool"] = {**summarise(per_item, wall), "passed": sum(v.correct for v in verdicts)}
        out["pool_stats"] = dict(pool.stats)
    client.close()

    t, h = out["trivial"], out["humaneval"]
    out["targets"] = {
        "pool_p50_over_host_p50": round(t["d_pool"]["p50_ms"] / t["a_host_subprocess"]["p50_ms"], 3),
        "container_p50_over_pool_p50": round(t["b_container_per_run"]["p50_ms"] / t["d_pool"]["p50_ms"], 1),
        "humaneval_164_end_to_end_s": h["d_pool"]["wall_s"],
    }
    print(json.dumps(out, indent=2))
    g = out["targets"]
    print(  # on stderr, so that stdout stays one JSON document
        f"SUMMARY trivial p50: host {t['a_host_subprocess']['p50_ms']} ms, container/run {t['b_container_per_run']['p50_ms']} ms, "
        f"exec {t['c_docker_exec']['p50_ms']} ms, pool {t['d_pool']['p50_ms']} ms "
        f"(pool/host {g['pool_p50_over_host_p50']}x, container/pool {g['container_p50_over_pool_p50']}x); "
        f"HumanEval 164: pool {h['d_pool']['passed']}/164 in {h['d_pool']['wall_s']} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
