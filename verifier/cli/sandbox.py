"""`verify sandbox build` and `verify sandbox doctor`: the runner image and a health report."""

from __future__ import annotations

import time

import typer

from verifier.cli.console import EXIT_FAILED, console, err_console

sandbox_app = typer.Typer(help="The Docker sandbox for code problems.", no_args_is_help=True)

# Run inside a sandbox job by `doctor`: what the candidate would see of its own confinement. The
# network is checked by inspection only (interfaces, routes): nothing is ever sent anywhere.
PROBE = r"""
import os, socket

def probe():
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    routes = [l for l in open("/proc/net/route").read().splitlines()[1:] if l.strip()]
    facts = {
        "fresh_uid": os.getuid() >= 1 << 24 and os.getgroups() == [],
        "cap_eff": status["CapEff"].strip(),
        "no_new_privs": status.get("NoNewPrivs", "?").strip(),
        "seccomp": status.get("Seccomp", "?").strip(),
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "routes": len(routes),
        "cgroup_namespace": all(l.endswith(":/") for l in open("/proc/self/cgroup").read().split()),
        "boot_id_hidden": open("/proc/sys/kernel/random/boot_id").read() == "",
    }
    try:
        open("/etc/verifier-probe", "w")
        facts["rootfs_writable"] = True
    except OSError:
        facts["rootfs_writable"] = False
    return facts
"""
EXPECTED = {
    "fresh_uid": True,
    "cap_eff": "0000000000000000",
    "no_new_privs": "1",
    "seccomp": "2",
    "interfaces": ["lo"],
    "routes": 0,
    "cgroup_namespace": True,
    "boot_id_hidden": True,
    "rootfs_writable": False,
}


def _client():  # type: ignore[no-untyped-def]
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except (DockerException, OSError) as e:  # OSError: requests' connection errors derive from it
        err_console.print(f"no Docker engine answers: {e}")
        raise typer.Exit(EXIT_FAILED) from None
    return client


@sandbox_app.command()
def build(
    base: str | None = typer.Option(
        None, "--base", help="base image (default: python:3.12-slim, else a debootstrap base)"
    ),
    force: bool = typer.Option(False, "--force", help="rebuild even when the image is up to date"),
) -> None:
    """Build the runner image; instant when it is already up to date."""
    from sandboxes.image import build_runner

    client = _client()
    started = time.perf_counter()
    try:
        outcome = build_runner(
            client, base=base, force=force, log=lambda m: console.print(f"[sandbox] {m}", markup=False)
        )
    except RuntimeError as e:
        err_console.print(str(e), markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        client.close()
    what = f"built from {outcome.base}" if outcome.built else "up to date"
    console.print(
        f"[sandbox] {outcome.image} {what} ({outcome.digest[:12]}, {time.perf_counter() - started:.1f} s)",
        markup=False,
    )


@sandbox_app.command()
def doctor(
    runtime: str | None = typer.Option(None, "--runtime", help="runc (default) or runsc (gVisor)"),
) -> None:
    """Report the engine, the image, the security profile and a test run; exit 1 if anything is wrong."""
    from sandboxes import ContainerLimits, Job, SandboxPool, hardened_config
    from sandboxes.image import RUNNER_IMAGE, image_hash, runner_hash
    from sandboxes.profile import SECCOMP_PROFILE
    from sandboxes.runner.codec import decode
    from sandboxes.worker import InfraError

    client = _client()
    ok = True
    info = client.info()
    console.print(
        f"engine: Docker {info.get('ServerVersion')}, cgroup v{info.get('CgroupVersion', '?')}, "
        f"runtimes {sorted(info.get('Runtimes', {}))}, {info.get('NCPU')} CPUs",
        markup=False,
    )
    have, want = image_hash(client, RUNNER_IMAGE), runner_hash()
    if have is None:
        console.print(f"image: {RUNNER_IMAGE} missing: run `verify sandbox build`", markup=False)
        raise typer.Exit(EXIT_FAILED)
    console.print(
        f"image: {RUNNER_IMAGE} {'up to date' if have == want else 'OUT OF DATE: run `verify sandbox build`'}",
        markup=False,
    )
    ok &= have == want
    config = hardened_config(RUNNER_IMAGE, {}, ContainerLimits(), runtime)
    shown = (
        "network_mode",
        "read_only",
        "tmpfs",
        "cap_drop",
        "pids_limit",
        "mem_limit",
        "memswap_limit",
        "nano_cpus",
        "user",
        "cap_add",
        "cgroupns",
        "privileged",
        "ipc_mode",
    )
    console.print(
        "profile: "
        + ", ".join(f"{k}={config[k]}" for k in shown)
        + f", seccomp={SECCOMP_PROFILE.name}, {len(config['masked_paths'])} masked paths, log driver none",
        markup=False,
    )
    try:
        with SandboxPool(size=1, runtime=runtime, client=client) as pool:
            started = time.perf_counter()
            result = pool.run(Job(mode="call", program=PROBE, entry_point="probe", cases=[{}]))
            seconds = time.perf_counter() - started
    except InfraError as e:
        console.print(f"test run: FAILED to start the pool: {e}", markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        client.close()
    facts = decode(result.records[0].get("value")) if result.records else None
    if not result.finished or not isinstance(facts, dict):
        console.print(
            f"test run: FAILED: {result.outcome} {result.error} {result.stderr[-500:]}", markup=False
        )
        raise typer.Exit(EXIT_FAILED)
    for key, expected in EXPECTED.items():
        good = facts.get(key) == expected
        ok &= good
        console.print(
            f"  {'ok ' if good else 'BAD'} {key} = {facts.get(key)!r} (expected {expected!r})", markup=False
        )
    console.print(f"test run: {seconds * 1000:.1f} ms round trip", markup=False)
    if not ok:
        raise typer.Exit(EXIT_FAILED)
    console.print("sandbox: healthy", markup=False)
