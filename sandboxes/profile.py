"""The one hardened container profile, fixed in code.

Callers choose sizes (memory, CPUs, pids, tmpfs) within bounds and, optionally, the gVisor runtime;
nothing here can loosen isolation: no network, read-only root, all capabilities dropped,
no-new-privileges, a non-root uid, no log driver, never privileged, no mounts, no devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docker.types import LogConfig

SANDBOX_UID = "10001:10001"
RUNTIMES = ("runc", "runsc")


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


def hardened_config(
    image: str, labels: dict[str, str], limits: ContainerLimits, runtime: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.create`` giving the hardened runner container."""
    if runtime is not None and runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, not {runtime!r}")
    memory = f"{limits.memory_mb}m"
    config: dict[str, Any] = {
        "image": image,
        "labels": dict(labels),
        "detach": True,
        "stdin_open": True,  # jobs arrive as JSON lines on the fork server's stdin (attach socket)
        "tty": False,
        "hostname": "sandbox",
        "user": SANDBOX_UID,
        "network_mode": "none",
        "network_disabled": True,
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,noexec,size={limits.tmpfs_mb}m,mode=1777"},
        "shm_size": f"{limits.shm_mb}m",
        "ipc_mode": "private",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
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
