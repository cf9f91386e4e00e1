"""kind, the program: finding it, running it, loading images into nodes. kind talks to Docker only, never to a
kube context. Which clusters exist needs no kind program: ``clusters.kind_clusters`` reads Docker.

One finder: ``$KINDLB_KIND``, else ``kind`` on PATH, else the kind an installed offline source brings (the
offline lab's build). Every caller (kube, bundle, the doctor, the lab) uses the same one.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from .._core.errors import KindlbError
from .._core.versions import KIND_VERSION
from .commands import run


def kind_binary() -> str:
    """The kind program: $KINDLB_KIND, else ``kind`` on PATH, else an offline source's; a message otherwise."""
    from .offline import sources

    exe = os.environ.get("KINDLB_KIND") or shutil.which("kind")
    if exe:
        return exe
    for src in sources().values():
        found = src.kind_binary()
        if found is not None and os.access(found, os.X_OK):
            return str(found)
    raise KindlbError(
        f"the kind program is not on PATH: install it (go install sigs.k8s.io/kind@{KIND_VERSION}, or see "
        "https://kind.sigs.k8s.io/docs/user/quick-start/#installation), or build the offline lab: kindlb lab build"
    )


def kind(*args: str, timeout: float = 60, check: bool = False, what: str | None = None) -> subprocess.CompletedProcess:
    """Run ``kind ARGS`` with the one kind program (``what`` names the step in a failure's message)."""
    return run([kind_binary(), *args], what=what or f"kind {' '.join(args[:2])}", timeout=timeout, check=check,
               hint="is Docker answering? (`docker ps`)")


def kind_load(cluster: str, images: list[str] | tuple[str, ...] = (), archive: str | None = None,
              timeout: float = 1800) -> None:
    """``kind load docker-image IMAGES`` (or ``image-archive ARCHIVE``) into every node of CLUSTER.

    kind skips the nodes that have an image already, so this is cheap to repeat. CommandFailed names
    what kind said.
    """
    if archive is not None:
        args = ["load", "image-archive", "--name", cluster, archive]
    elif images:
        args = ["load", "docker-image", "--name", cluster, *images]
    else:
        return
    kind(*args, timeout=timeout, check=True, what=f"kind {args[0]} {args[1]} into {cluster}")
