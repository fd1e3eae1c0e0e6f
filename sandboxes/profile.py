"""The one hardened container profile, fixed in code.

Callers choose sizes (memory, CPUs, pids, tmpfs) within bounds, the container's uid block and,
optionally, the gVisor runtime; nothing here can loosen isolation: no network, read-only root, a
private cgroup namespace, our seccomp profile (``sandboxes/seccomp.json``), masked and read-only
paths in /proc and /sys, no-new-privileges, never privileged, no mounts, no devices, no log driver.

The fork server starts as root with only the capabilities in ``CAPABILITIES``: it needs them to give
every job two fresh uids of the container's block (``--uids``) and to clean up after them; no job
process keeps any of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import docker
from docker.types import LogConfig

RUNTIMES = ("runc", "runsc")
SECCOMP_PROFILE = Path(__file__).resolve().parent / "seccomp.json"
# The fork server's (and the zygote's): uids for jobs, signals to them, and emptying their 0700
# directories after them. Every job process drops all of them when it takes its uid.
CAPABILITIES = ["SETUID", "SETGID", "KILL", "DAC_OVERRIDE", "FOWNER"]
# Job uids: a block of UID_BLOCK per container, from a range no host account uses.
UID_RANGE = (1 << 24, 1 << 31)
UID_BLOCK = 4096

# Docker's defaults (masking replaces them, so they are repeated) and ours: what identifies the host
# or its hardware, and the cgroup's cumulative counters, which one job could move and the next read.
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    "/proc/sys/kernel/random/boot_id",
    "/proc/cmdline",
    "/proc/uptime",
    "/proc/diskstats",
    "/proc/partitions",
    "/proc/modules",
    "/proc/kallsyms",
    "/proc/vmstat",
    "/proc/zoneinfo",
    "/proc/buddyinfo",
    "/proc/pagetypeinfo",
    "/proc/slabinfo",
    "/proc/schedstat",
    "/proc/softirqs",
    "/proc/interrupts",
    "/proc/locks",
    "/proc/swaps",
    "/proc/key-users",
    "/proc/consoles",
    "/proc/devices",
    "/proc/misc",
    "/proc/crypto",
    "/proc/pressure",
    "/sys/block",
    "/sys/bus",
    "/sys/class",
    "/sys/dev",
    "/sys/kernel",
    "/sys/module",
    "/sys/power",
    "/sys/hypervisor",
    "/sys/devices/virtual",
    "/sys/fs/bpf",
    "/sys/fs/fuse",
    "/sys/fs/pstore",
    *(
        f"/sys/fs/cgroup/{name}"
        for name in (
            "memory.peak",
            "memory.stat",
            "memory.current",
            "memory.numa_stat",
            "memory.swap.current",
            "memory.swap.peak",
            "memory.swap.events",
            "memory.zswap.current",
            "memory.pressure",
            "memory.events.local",
            "cpu.stat",
            "cpu.stat.local",
            "cpu.pressure",
            "io.stat",
            "io.pressure",
            "irq.pressure",
            "pids.current",
            "pids.peak",
            "pids.events",
            "pids.events.local",
            "cgroup.stat",
            "cgroup.events",
            "misc.current",
            "misc.events",
            "rdma.current",
            # cgroup v1: whole controllers, and the memory controller's counters (its
            # memory.oom_control stays: the fork server reads OOM kills there)
            "blkio",
            "cpu",
            "cpuacct",
            "cpu,cpuacct",
            "pids",
            "freezer",
            "devices",
            "systemd",
            "hugetlb",
            "net_cls",
            "net_prio",
            "net_cls,net_prio",
            "perf_event",
            "rdma",
            "misc",
            *(
                f"memory/memory.{counter}"
                for counter in (
                    "failcnt",
                    "max_usage_in_bytes",
                    "usage_in_bytes",
                    "stat",
                    "numa_stat",
                    "kmem.failcnt",
                    "kmem.max_usage_in_bytes",
                    "kmem.usage_in_bytes",
                    "kmem.slabinfo",
                    "kmem.tcp.failcnt",
                    "kmem.tcp.max_usage_in_bytes",
                    "kmem.tcp.usage_in_bytes",
                    "memsw.failcnt",
                    "memsw.max_usage_in_bytes",
                    "memsw.usage_in_bytes",
                )
            ),
        )
    ),
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


@dataclass(frozen=True)
class ContainerLimits:
    """Sizes of one runner container. Job-level limits (CPU time, address space) are set per job."""

    memory_mb: int = 1024
    cpus: float = 1.0
    pids: int = 128
    tmpfs_mb: int = 64
    shm_mb: int = 8

    def __post_init__(self) -> None:
        bounds = {
            "memory_mb": (64, 16384),
            "cpus": (0.1, 64.0),
            "pids": (16, 4096),
            "tmpfs_mb": (4, 4096),
            "shm_mb": (1, 1024),
        }
        for name, (lo, hi) in bounds.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"ContainerLimits.{name}={value} is outside [{lo}, {hi}]")


@lru_cache(maxsize=1)
def seccomp_profile() -> str:
    """Our seccomp profile as the engine takes it (JSON text), checked to parse."""
    return json.dumps(json.loads(SECCOMP_PROFILE.read_text(encoding="utf-8")), separators=(",", ":"))


def hardened_config(
    image: str,
    labels: dict[str, str],
    limits: ContainerLimits,
    runtime: str | None = None,
    uid_base: int = UID_RANGE[0],
) -> dict[str, Any]:
    """Everything the runner container is created with (``create_container`` applies it)."""
    if runtime is not None and runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, not {runtime!r}")
    if not (UID_RANGE[0] <= uid_base and uid_base + UID_BLOCK <= UID_RANGE[1]):
        raise ValueError(f"uid_base {uid_base} is outside {UID_RANGE}")
    memory = f"{limits.memory_mb}m"
    config: dict[str, Any] = {
        "image": image,
        "command": ["--uids", str(uid_base), str(UID_BLOCK)],
        "labels": dict(labels),
        "detach": True,
        "stdin_open": True,  # jobs arrive as JSON lines on the fork server's stdin (attach socket)
        "tty": False,
        "hostname": "sandbox",
        "user": "0:0",  # with CAPABILITIES only; jobs run as fresh uids of the block
        "network_mode": "none",
        "network_disabled": True,
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,noexec,size={limits.tmpfs_mb}m,mode=1777"},
        "shm_size": f"{limits.shm_mb}m",
        "ipc_mode": "private",
        "cgroupns": "private",
        "cap_drop": ["ALL"],
        "cap_add": list(CAPABILITIES),
        "security_opt": ["no-new-privileges:true", f"seccomp={seccomp_profile()}"],
        "masked_paths": list(MASKED_PATHS),
        "readonly_paths": list(READONLY_PATHS),
        "privileged": False,
        "pids_limit": limits.pids,
        "mem_limit": memory,
        "memswap_limit": memory,  # equal to memory: no swap
        "nano_cpus": int(limits.cpus * 1e9),
        # The fork server is PID 1 on purpose: it reaps orphans like an init, and the kernel ignores
        # signals sent to a namespace's init from inside, so a candidate cannot kill it.
        "init": False,
        "log_config": LogConfig(type=LogConfig.types.NONE),
        "auto_remove": True,
        "environment": {},
        "volumes": {},
        "devices": [],
    }
    if runtime is not None:
        config["runtime"] = runtime
    return config


def create_container(client: docker.DockerClient, config: dict[str, Any]) -> Any:
    """Create the container from ``hardened_config``'s dict through the engine API (docker-py's
    high-level ``create`` has no masked or read-only paths)."""
    host = client.api.create_host_config(
        network_mode=config["network_mode"],
        read_only=config["read_only"],
        tmpfs=config["tmpfs"],
        shm_size=config["shm_size"],
        ipc_mode=config["ipc_mode"],
        cgroupns=config["cgroupns"],
        cap_drop=config["cap_drop"],
        cap_add=config["cap_add"],
        security_opt=config["security_opt"],
        privileged=config["privileged"],
        pids_limit=config["pids_limit"],
        mem_limit=config["mem_limit"],
        memswap_limit=config["memswap_limit"],
        nano_cpus=config["nano_cpus"],
        init=config["init"],
        log_config=config["log_config"],
        auto_remove=config["auto_remove"],
        devices=config["devices"],
        runtime=config.get("runtime"),
    )
    host["MaskedPaths"] = config["masked_paths"]
    host["ReadonlyPaths"] = config["readonly_paths"]
    created = client.api.create_container(
        image=config["image"],
        command=config["command"],
        entrypoint=config.get("entrypoint"),  # only tests replace the fork server (a broken one)
        hostname=config["hostname"],
        user=config["user"],
        detach=config["detach"],
        stdin_open=config["stdin_open"],
        tty=config["tty"],
        environment=config["environment"],
        labels=config["labels"],
        network_disabled=config["network_disabled"],
        host_config=host,
    )
    return client.containers.get(created["Id"])
