"""The hardened profile is fixed in code and is what the engine actually applies; the image build is idempotent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandboxes import ContainerLimits, hardened_config
from sandboxes.image import RUNNER_IMAGE, build_runner, is_up_to_date, runner_hash

FIXED = {
    "network_mode": "none",
    "network_disabled": True,
    "read_only": True,
    "cap_drop": ["ALL"],
    "cap_add": ["SETUID", "SETGID", "KILL", "DAC_OVERRIDE", "FOWNER"],  # the fork server's only
    "cgroupns": "private",
    "privileged": False,
    "user": "0:0",
    "ipc_mode": "private",
    "volumes": {},
    "devices": [],
}


@pytest.mark.parametrize(
    "limits", [ContainerLimits(), ContainerLimits(memory_mb=256, cpus=0.5, pids=32, tmpfs_mb=16)]
)
def test_profile_is_fixed_whatever_the_sizes(limits: ContainerLimits) -> None:
    config = hardened_config("img", {"a": "b"}, limits)
    for key, value in FIXED.items():
        assert config[key] == value, key
    assert config["mem_limit"] == config["memswap_limit"] == f"{limits.memory_mb}m"
    assert config["pids_limit"] == limits.pids
    assert config["log_config"].type == "none"
    assert "size=" in config["tmpfs"]["/tmp"] and "noexec" in config["tmpfs"]["/tmp"]
    assert config["security_opt"][0] == "no-new-privileges:true"
    assert config["security_opt"][1].startswith("seccomp=")
    assert (
        "/proc/sys/kernel/random/boot_id" in config["masked_paths"] and "/sys/block" in config["masked_paths"]
    )


def test_seccomp_profile_denies_what_the_issue_names() -> None:
    import json

    from sandboxes.profile import seccomp_profile

    profile = json.loads(seccomp_profile())
    allowed = {n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    denied = {n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ERRNO" for n in r["names"]}
    named = {"io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key", "request_key"}
    named |= {"userfaultfd", "perf_event_open", "bpf"}
    assert named <= denied and not named & allowed
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"


@pytest.mark.parametrize("bad", [{"memory_mb": 10**6}, {"pids": 0}, {"cpus": 0.0}, {"tmpfs_mb": 0}])
def test_limits_are_bounded(bad: dict) -> None:
    with pytest.raises(ValueError):
        ContainerLimits(**bad)


def test_only_known_runtimes() -> None:
    assert hardened_config("img", {}, ContainerLimits(), "runsc")["runtime"] == "runsc"
    with pytest.raises(ValueError):
        hardened_config("img", {}, ContainerLimits(), "privileged-runtime")


@pytest.mark.docker
def test_engine_applies_the_profile(docker_client, sandbox_pool) -> None:
    containers = docker_client.containers.list(
        filters={"label": f"io.verifier.sandbox.session={sandbox_pool.session}"}
    )
    assert containers
    host = containers[0].attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == ["DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"]
    assert host["CgroupnsMode"] == "private"
    assert host["SecurityOpt"][0] == "no-new-privileges:true" and host["SecurityOpt"][1].startswith(
        "seccomp="
    )
    assert "/sys/block" in host["MaskedPaths"] and "/proc/sys" in host["ReadonlyPaths"]
    assert host["Privileged"] is False
    assert host["Memory"] == host["MemorySwap"] > 0
    assert host["PidsLimit"] > 0 and host["NanoCpus"] > 0
    assert host["LogConfig"]["Type"] == "none"
    assert not host.get("Binds") and not containers[0].attrs.get("Mounts")
    assert containers[0].attrs["Config"]["User"] == "0:0"


@pytest.mark.docker
def test_build_is_idempotent(docker_client) -> None:
    build_runner(docker_client, log=lambda _m: None)
    assert is_up_to_date(docker_client)
    again = build_runner(docker_client, log=lambda _m: None)
    assert again.built is False and again.digest == runner_hash() and again.image == RUNNER_IMAGE


@pytest.mark.docker
@pytest.mark.parametrize("command", [["build"], ["doctor"]])
def test_sandbox_cli(docker_client, command: list[str]) -> None:
    verify = Path(sys.executable).parent / "verify"
    assert verify.exists(), "the project is installed with its console script (scripts/bootstrap.sh)"
    done = subprocess.run([str(verify), "sandbox", *command], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("up to date" in done.stdout) if command == ["build"] else ("sandbox: healthy" in done.stdout)
