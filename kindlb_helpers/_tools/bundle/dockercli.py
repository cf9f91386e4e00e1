"""The Docker CLI for bundles (it streams big archives): save, load, pull, tag, rmi; the image inspector is
``cluster.dockernet.image_id`` (the SDK)."""
from __future__ import annotations

import os
import shutil

from ..._cluster.commands import run
from ..._core.errors import KindlbError, WaitTimeout
from .format import BundleError


def docker_cli(*args: str, timeout: float = 1800) -> str:
    exe = shutil.which("docker")
    if not exe:
        raise KindlbError("the docker command is not on PATH: install Docker (Docker Desktop, or apt-get install "
                          "docker.io), then try again")
    r = run([exe, *args], what=f"docker {' '.join(args[:2])}", timeout=timeout, check=False)
    if r.returncode != 0:
        raise BundleError(f"docker {' '.join(args[:2])} failed: {r.stderr.strip()[-600:]}")
    return r.stdout


def docker_answers(seconds: float = 8) -> None:
    """The engine answers ``docker version`` within SECONDS; else BundleError naming it and the fix."""
    try:
        docker_cli("version", "--format", "{{.Server.Version}}", timeout=seconds)
    except WaitTimeout:
        host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise BundleError(f"Docker at {host} did not answer `docker version` within {seconds:g} s: start or restart "
                          "the daemon, or fix DOCKER_HOST; nothing was loaded") from None


def image_id(ref: str) -> str | None:
    """The Docker image ID of REF in the local engine, or None when it is not there (``dockernet.image_id``)."""
    from ..._cluster.dockernet import image_id as inspect

    return inspect(ref)


def require_image(ref: str, pull: bool) -> str:
    found = image_id(ref)
    if found is None and pull:
        try:
            docker_cli("pull", ref)
        except BundleError as exc:
            raise BundleError(f"{ref} is not in Docker and could not be pulled ({exc}): pull or build it, "
                              "or name another with --node-image/--nginx-image/--probe-image") from None
        found = image_id(ref)
    if found is None:
        raise BundleError(f"{ref} is not in the local Docker engine: build or pull it first")
    return found
