"""Build the runner image from ``Dockerfile.runner`` and ``sandboxes/runner/``.

Idempotent: the image carries a hash of exactly those files, and a build is skipped when it matches.
The base is ``python:3.12-slim`` where a registry answers; with no registry (air-gapped CI) we make
a Debian base with debootstrap (``--variant=minbase --include=python3``) and import it.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, DockerException, ImageNotFound

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO_ROOT / "Dockerfile.runner"
RUNNER_DIR = Path(__file__).resolve().parent / "runner"
RUNNER_IMAGE = os.environ.get("VERIFIER_RUNNER_IMAGE", "verifier-runner:latest")
DEFAULT_BASE = "python:3.12-slim"
LOCAL_BASE = "verifier-base:bookworm"
HASH_LABEL = "io.verifier.runner-hash"
DEBIAN_SUITE = "bookworm"

Log = Callable[[str], None]


@dataclass(frozen=True)
class BuildOutcome:
    image: str
    built: bool  # False: the image was already up to date
    base: str | None
    digest: str


def context_files() -> list[tuple[str, bytes]]:
    """(path in the build context, content) of everything the image is built from, in a fixed order."""
    files = [("Dockerfile.runner", DOCKERFILE.read_bytes())]
    for path in sorted(RUNNER_DIR.rglob("*.py")):
        files.append((f"sandboxes/runner/{path.relative_to(RUNNER_DIR).as_posix()}", path.read_bytes()))
    return files


def runner_hash() -> str:
    h = hashlib.sha256()
    for name, data in context_files():
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:32]


def image_hash(client: docker.DockerClient, image: str = RUNNER_IMAGE) -> str | None:
    """The hash label of the built image, or None when there is no such image."""
    try:
        labels = client.images.get(image).labels or {}
    except ImageNotFound:
        return None
    return labels.get(HASH_LABEL)


def is_up_to_date(client: docker.DockerClient, image: str = RUNNER_IMAGE) -> bool:
    return image_hash(client, image) == runner_hash()


def build_runner(
    client: docker.DockerClient,
    *,
    image: str = RUNNER_IMAGE,
    base: str | None = None,
    force: bool = False,
    log: Log = print,
) -> BuildOutcome:
    digest = runner_hash()
    if not force and image_hash(client, image) == digest:
        return BuildOutcome(image=image, built=False, base=None, digest=digest)
    base = base or choose_base(client, log)
    log(f"building {image} from base {base}")
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in context_files():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    previous = _image_id(client, image)
    try:
        client.images.build(
            fileobj=context,
            custom_context=True,
            dockerfile="Dockerfile.runner",
            tag=image,
            buildargs={"BASE": base},
            labels={HASH_LABEL: digest},
            pull=False,
            rm=True,
            forcerm=True,
        )
    except BuildError as e:
        tail = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in e.build_log)[-2000:]
        raise RuntimeError(f"building {image} failed: {e.msg}\n{tail}") from e
    if previous is not None and previous != _image_id(client, image):
        try:  # the old image lost its tag to the new one: do not let rebuilds pile up
            if not client.images.get(previous).tags:  # unless someone else still tags it
                client.images.remove(previous)
        except APIError as e:
            log(f"could not remove the previous image {previous[:19]}: {e.explanation}")
    return BuildOutcome(image=image, built=True, base=base, digest=digest)


def _image_id(client: docker.DockerClient, image: str) -> str | None:
    try:
        return str(client.images.get(image).id)
    except ImageNotFound:
        return None


def choose_base(client: docker.DockerClient, log: Log = print) -> str:
    """A local python:3.12-slim, else our debootstrap base, else a pull, else build that base now."""
    for candidate in (DEFAULT_BASE, LOCAL_BASE):
        try:
            client.images.get(candidate)
            return candidate
        except ImageNotFound:
            continue
    try:
        log(f"pulling {DEFAULT_BASE}")
        client.images.pull(DEFAULT_BASE)
        return DEFAULT_BASE
    except (APIError, DockerException) as e:
        log(
            f"cannot pull {DEFAULT_BASE} ({str(e).splitlines()[0][:160]}); building a local base with debootstrap"
        )
    return build_debootstrap_base(client, log)


def build_debootstrap_base(client: docker.DockerClient, log: Log = print, tag: str | None = None) -> str:
    """Debian minbase + python3, imported as ``tag`` (default ``LOCAL_BASE``), which is returned.
    Needs root and debootstrap (installed when missing)."""
    tag = tag or LOCAL_BASE
    if os.geteuid() != 0:
        raise RuntimeError(
            f"no base image: {DEFAULT_BASE} cannot be pulled and building {tag} with debootstrap needs root"
        )
    if shutil.which("debootstrap") is None:
        log("installing debootstrap")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "debootstrap"], check=True, env=env, stdout=subprocess.DEVNULL
        )
    with tempfile.TemporaryDirectory(prefix="verifier-base-") as tmp:
        root = Path(tmp) / "rootfs"
        log(f"debootstrap --variant=minbase --include=python3 {DEBIAN_SUITE} (about a minute)")
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3", DEBIAN_SUITE, str(root)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"debootstrap failed:\n{(done.stdout + done.stderr)[-2000:]}")
        log(f"importing {tag}")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        try:
            repository, _, version = tag.partition(":")
            client.api.import_image(
                src=tar.stdout, repository=repository, tag=version or "latest", stream_src=True
            )
        finally:
            tar.stdout.close()
            if tar.wait() != 0:
                raise RuntimeError("tar of the debootstrap root failed")
    return tag
