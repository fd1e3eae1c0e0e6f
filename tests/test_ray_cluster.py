"""`verify --ray`: generation and checking actors on a real Ray cluster started on 127.0.0.1.

A Ray run and a local run with the same seeds must write the same chains.jsonl records (order and
timings aside): the driver keeps the journal, actors only move where the steps run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, require
from verifier.distributed.ray_cluster import RaySettings, split
from verifier.generation.base import GenerationRequest

VLLM_PYTHON = REPO / ".venvs" / "vllm" / "bin" / "python"
# Ray on a loopback-only cluster: no usage statistics, and no look-up of a routable address.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
TIMING = ("gen_seconds", "check_seconds")


def _request(n: int) -> GenerationRequest:
    return GenerationRequest((("user", f"q{n}"),), tuple(range(n)))


@pytest.mark.parametrize(
    "sizes,parts,expected",
    [
        ([2, 2, 2, 2], 2, [[2, 2], [2, 2]]),
        ([4, 1, 1, 1, 1], 2, [[4], [1, 1, 1, 1]]),
        ([3], 4, [[3]]),  # never more chunks than requests
        ([1, 1, 1], 3, [[1], [1], [1]]),
        ([1, 1, 1, 1, 1], 1, [[1, 1, 1, 1, 1]]),
    ],
)
def test_split_keeps_order_and_balances_samples(sizes, parts, expected) -> None:
    requests = [_request(n) for n in sizes]
    chunks = split(requests, parts)
    assert [[len(r.seeds) for r in c] for c in chunks] == expected
    assert [r for c in chunks for r in c] == requests


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="generation_actors"):
        RaySettings(address="auto", generation_actors=0)
    with pytest.raises(ValueError, match="address"):
        RaySettings(address="")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gcs_listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def ray_head():
    """A one-node Ray cluster on 127.0.0.1 for this module. Its processes run in a session of their
    own, which teardown ends: no other Ray on the machine is touched (no `ray stop`)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        require(False, "Ray is not installed (the ray extra)")
    ray_bin = Path(sys.executable).with_name("ray")
    port = _free_port()
    start = [
        str(ray_bin), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
        "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
    ]  # fmt: skip
    head = subprocess.Popen(
        start,
        env={**os.environ, **RAY_ENV},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while not _gcs_listening(port):
            assert head.poll() is None, f"ray start exited with {head.returncode}"
            assert time.monotonic() < deadline, "the Ray head did not start within 180 s"
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, sig)
            try:
                head.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # workers the raylet left in the session
            os.killpg(head.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def mixed_bank(tmp_path_factory) -> Path:
    """Two math problems and one code problem: checks on actors use their math and sandbox pools."""
    banks = REPO / "problem_banks"
    lines = (banks / "gsm-style.jsonl").read_text().splitlines()[:2]
    lines += (banks / "code-style.jsonl").read_text().splitlines()[:1]
    path = tmp_path_factory.mktemp("bank") / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _verify(bank: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable, "-m", "verifier.cli.main", "--bank", str(bank),
        "--samples", "2", "--max-new-tokens", "48", "--seed", "5", "--out", str(out), *extra,
    ]  # fmt: skip
    env = {**os.environ, **RAY_ENV, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)


def _records(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "chains.jsonl").read_text().splitlines()]
    for r in rows:
        for k in TIMING:
            r.pop(k, None)
        r["verdict"].get("details", {}).pop("timings", None)  # the sandbox's own timings
    return sorted(rows, key=lambda r: (r["problem_id"], r["sample_index"]))


def _same_run_twice(
    bank: Path, tmp_path: Path, ray_address: str, *backend: str, resume: bool = False
) -> None:
    local = _verify(bank, tmp_path / "local", *backend)
    assert local.returncode == 0, local.stderr[-3000:]
    on_ray = _verify(bank, tmp_path / "ray", *backend, "--ray", ray_address)
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    a, b = _records(tmp_path / "local"), _records(tmp_path / "ray")
    assert len(a) == 6
    assert a == b
    assert {r["kind"] for r in a} == {"math", "code"}
    assert all(r["verdict"]["status"] not in ("error", "sandbox_error") for r in a)  # all decided
    summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert summary["samples"] == 6
    if not resume:
        return
    # The Ray run resumes like a local one: a rerun on the same directory generates nothing new.
    again = _verify(bank, tmp_path / "ray", *backend, "--ray", ray_address)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _records(tmp_path / "ray") == b


@pytest.mark.model
@pytest.mark.docker
@pytest.mark.slow
def test_ray_run_equals_local_run_transformers(
    tmp_path: Path, ray_head: str, mixed_bank: Path, embedded_model_path, sandbox_pool
) -> None:
    _same_run_twice(mixed_bank, tmp_path, ray_head, "--dtype", "float32", resume=True)


@pytest.mark.model
@pytest.mark.docker
@pytest.mark.slow
def test_ray_run_equals_local_run_vllm(
    tmp_path: Path, ray_head: str, mixed_bank: Path, embedded_model_path, sandbox_pool
) -> None:
    require(VLLM_PYTHON.exists(), "vLLM is not installed: bash scripts/vllm_env.sh")
    _same_run_twice(mixed_bank, tmp_path, ray_head, "--backend", "vllm")


@pytest.mark.parametrize("kind", ["math", "code"])
def test_a_lost_checking_actor_gives_an_undecided_record(kind: str) -> None:
    """Retried on resume and never scored as wrong, by the one verdict core."""
    from verifier.banks.loader import load_bank
    from verifier.distributed.ray_cluster import undecided_record
    from verifier.pipeline.units import Produced, Unit

    bank = "gsm-style.jsonl" if kind == "math" else "code-style.jsonl"
    problem = load_bank(REPO / "problem_banks" / bank).problems[0]
    item = Produced(Unit(problem, 3, 11), "m", [{"role": "user", "content": "q"}], "#### 1", 4, 0.5)
    record = undecided_record(item, "ray checking actor: died")
    assert record.infrastructure_failure
    assert not record.verdict.correct
    assert (record.problem_id, record.sample_index, record.seed) == (problem.id, 3, 11)


@pytest.mark.parametrize(
    "extra,message",
    [
        (("--ray", " "), "--ray: 'auto' or HOST:PORT"),
        (("--ray-generation-actors", "2"), "--ray-generation-actors: only with --ray"),
    ],
)
def test_bad_ray_options_exit_2_before_anything_loads(tmp_path: Path, extra, message) -> None:
    result = _verify(REPO / "problem_banks" / "gsm-style.jsonl", tmp_path / "out", *extra)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
