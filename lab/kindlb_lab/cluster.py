"""Start, inspect and delete the lab's kind cluster with the library's kube/dockernet/waits, using
the binaries ``build()`` made; what is the lab's own is loading the images it built."""
from __future__ import annotations

import json
import os
import subprocess
import time

from kindlb_helpers._cluster import kube
from kindlb_helpers._cluster.dockernet import image_id, kind_network, kind_nodes
from kindlb_helpers._cluster.kind import kind_load
from kindlb_helpers._cluster.rollout import wait_rollout
from kindlb_helpers._core import versions as v
from kindlb_helpers._core.errors import ClusterNotFound, CommandFailed, LabError, WaitTimeout

from .build import (
    METALLB_VERSIONS,
    bin_dir,
    build,
    ensure_docker,
    manifest_source,
    metallb_images,
    metallb_version,
)


def use_lab_tools() -> None:
    """Make the library run the lab's ``kind`` and ``kubectl`` (built for this node image)."""
    kind_exe = bin_dir() / "kind"
    if kind_exe.exists():
        os.environ["KINDLB_KIND"] = str(kind_exe)
    path = os.environ.get("PATH", "")
    if not path.startswith(f"{bin_dir()}{os.pathsep}"):
        os.environ["PATH"] = f"{bin_dir()}{os.pathsep}{path}"


def _kind_load(name: str, images: tuple[str, ...] | list[str]) -> None:
    """``kind load docker-image`` of locally built images into every node of cluster NAME (the library's)."""
    use_lab_tools()
    try:
        kind_load(name, list(images), timeout=900)
    except CommandFailed as exc:
        raise LabError(str(exc)) from exc


def _image_exists(ref: str) -> bool:
    return image_id(ref) is not None


def built_metallb_versions() -> list[str]:
    """The MetalLB releases whose images are in the local Docker engine."""
    return [m for m in METALLB_VERSIONS if all(_image_exists(i) for i in metallb_images(m))]


def load_metallb(name: str = "kindlb", version: str | None = None) -> dict:
    """Load MetalLB VERSION's images (built first when missing) into the existing cluster NAME."""
    ver = metallb_version(version)
    use_lab_tools()
    if name not in kube.kind_clusters():
        raise ClusterNotFound(f"kind cluster {name!r} does not exist: run `kindlb lab up --name {name}` first")
    if ver not in built_metallb_versions():
        build(metallb=[ver])
    t0 = time.monotonic()
    _kind_load(name, metallb_images(ver))
    return {"name": name, "metallb_version": ver, "images": list(metallb_images(ver)),
            "metallb_source": str(manifest_source(ver)), "seconds": round(time.monotonic() - t0, 1)}


def cluster_families(name: str) -> tuple[int, ...]:
    """The address families the running cluster NAME gives pods: those of its nodes' podCIDRs ((4,) or (4, 6))."""
    k = kube.connect(name)
    fams = {6 if ":" in c else 4 for n in k.core.list_node().items for c in (n.spec.pod_cidrs or [])}
    return tuple(sorted(fams))


_FAMILIES = {"ipv4": (4,), "dual": (4, 6)}


def up(name: str = "kindlb", workers: int = 2, timeout: float = 600, metallb: str | None = None,
       ip_family: str = "ipv4") -> dict:
    """Build (cached), create or reuse the kind cluster NAME, preload nginx and MetalLB images:
    those of release METALLB, or of every release built when None.

    ``ip_family="dual"`` makes a dual-stack cluster (kind's ``networking.ipFamily: dual``): pods and
    Services get IPv4 and IPv6 addresses, the lab's CNI (podnet) routes both. An existing cluster of the
    other family is not reused: LabError says to delete it first.

    >>> up()["context"]                # doctest: +SKIP
    'kind-kindlb'
    """
    if ip_family not in _FAMILIES:
        raise LabError(f"ip_family must be 'ipv4' or 'dual' (got {ip_family!r})")
    t0 = time.monotonic()
    ensure_docker()
    releases = [metallb_version(metallb)] if metallb else None
    build(metallb=releases)
    use_lab_tools()
    created, _ = kube.ensure_cluster(name, workers=workers, image=v.NODE_IMAGE, ip_family=ip_family,
                                     by="kindlb lab up")
    k = kube.connect(name)
    if not created:
        # An existing cluster may still be starting (e.g. after a Docker restart): give it a minute.
        try:
            kube.wait_nodes_ready(k, workers + 1, timeout=60, progress=False)
        except WaitTimeout:
            kube.delete_cluster(name)
            created, _ = kube.ensure_cluster(name, workers=workers, image=v.NODE_IMAGE, ip_family=ip_family,
                                             by="kindlb lab up")
            k = kube.connect(name)
        have = cluster_families(name)
        if have and have != _FAMILIES[ip_family]:
            word = "dual-stack" if len(have) > 1 else "IPv4-only"
            raise LabError(f"kind cluster {name!r} exists and is {word}, not {ip_family}: delete it first "
                           f"(`kindlb lab down --name {name}`), or use another --name")
    loaded = releases or built_metallb_versions()
    _kind_load(name, [*(i for m in loaded for i in metallb_images(m)), v.NGINX_IMAGE])
    kube.wait_nodes_ready(k, workers + 1, timeout=timeout, progress=False)
    wait_rollout(k, "coredns", "kube-system", timeout=timeout)
    return {"name": name, "context": kube.kind_context(name), "created": created, "node_image": v.NODE_IMAGE,
            "metallb_version": loaded[0] if loaded else v.METALLB_VERSION, "metallb_loaded": loaded,
            "metallb_manifest": str(manifest_source(loaded[0] if loaded else None)),
            "ip_family": ip_family, "nginx_image": v.NGINX_IMAGE, "bin_dir": str(bin_dir()),
            "seconds": round(time.monotonic() - t0, 1)}


def down(name: str = "kindlb") -> dict:
    """Delete the kind cluster NAME (no error when it does not exist)."""
    use_lab_tools()
    return {"name": name, "deleted": kube.delete_cluster(name)}


def status(name: str = "kindlb") -> dict:
    """What exists: the cluster, its nodes, the built node image, the MetalLB releases built."""
    use_lab_tools()
    exists = (bin_dir() / "kind").exists() and name in kube.kind_clusters()
    nodes = ""
    if exists:
        try:
            nodes = kube.nodes_ready(kube.connect(name))[1]
        except Exception as exc:  # noqa: BLE001  (status reports an unreachable API, it does not fail)
            nodes = f"unknown ({exc})"
    built = built_metallb_versions()
    return {"name": name, "context": kube.kind_context(name), "exists": exists, "nodes": nodes,
            "node_image": v.NODE_IMAGE, "node_image_built": _image_exists(v.NODE_IMAGE),
            "metallb_built": {m: str(manifest_source(m)) for m in built}, "bin_dir": str(bin_dir())}


def require(name: str = "kindlb") -> None:
    """Raise ClusterNotFound with the fix when the cluster NAME does not run."""
    use_lab_tools()
    if name not in kube.kind_clusters():
        raise ClusterNotFound(f"kind cluster {name!r} does not exist: run `kindlb lab up --name {name}`")


def kind_subnet_v4(network: str | None = None) -> str:
    """IPv4 subnet of the kind docker network, e.g. ``172.18.0.0/16``."""
    return str(kind_network(network).subnet(4))


def node_containers(name: str) -> list[str]:
    """Docker container names of the cluster's nodes."""
    return sorted(n.name for n in kind_nodes(name))


def node_images(name: str, node: str) -> list[str]:
    """Image references in a node's containerd (``crictl images``): what loading put there."""
    r = subprocess.run(["docker", "exec", node, "crictl", "images", "-o", "json"],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise LabError(f"crictl images failed on {node}: {r.stderr.strip()}")
    return sorted(t for img in json.loads(r.stdout)["images"] for t in img.get("repoTags") or [])


__all__ = [
    "built_metallb_versions",
    "cluster_families",
    "down",
    "kind_subnet_v4",
    "load_metallb",
    "node_containers",
    "node_images",
    "require",
    "status",
    "up",
    "use_lab_tools",
]
