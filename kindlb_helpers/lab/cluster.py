"""Start, inspect and delete the lab's kind cluster, using the binaries ``build()`` made."""
from __future__ import annotations

import json
import os
import subprocess
import time

from ..dockernet import kind_network
from ..errors import ClusterNotFound, LabError, WaitTimeout
from ..waits import wait_until
from . import versions as v
from .build import bin_dir, build, cache_dir, ensure_docker, manifest_path, tool_env


def _run(argv: list[str], timeout: float | None = 300, check: bool = True,
         input: str | None = None) -> subprocess.CompletedProcess:
    env = tool_env()
    snap = os.environ.get("KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER")
    if snap:
        env["KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER"] = snap
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, input=input,
                       check=False)
    if check and r.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed (exit {r.returncode}):\n{r.stderr.strip()[-2000:]}")
    return r


def kind(*args: str, timeout: float | None = 300, check: bool = True) -> subprocess.CompletedProcess:
    """Run the lab's ``kind`` binary."""
    return _run([str(bin_dir() / "kind"), *args], timeout=timeout, check=check)


def kubectl(name: str, *args: str, timeout: float | None = 120, check: bool = True,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run the lab's ``kubectl`` against ``kind-NAME`` only (never the current context)."""
    return _run([str(bin_dir() / "kubectl"), "--context", f"kind-{name}", *args],
                timeout=timeout, check=check, input=input)


def clusters() -> list[str]:
    """Names of the kind clusters on this Docker engine."""
    if not (bin_dir() / "kind").exists():
        return []
    r = kind("get", "clusters", check=False)
    return [c for c in r.stdout.split() if c]


def _nodes(name: str) -> list[dict]:
    r = kubectl(name, "get", "nodes", "-o", "json", check=False, timeout=30)
    if r.returncode != 0:
        return []
    out = []
    for item in json.loads(r.stdout)["items"]:
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in item["status"]["conditions"])
        roles = [k.split("/", 1)[1] for k in item["metadata"].get("labels", {})
                 if k.startswith("node-role.kubernetes.io/")]
        addr = next((a["address"] for a in item["status"].get("addresses", [])
                     if a["type"] == "InternalIP"), "")
        out.append({"name": item["metadata"]["name"], "ready": ready, "roles": ",".join(roles) or "worker",
                    "internal_ip": addr, "version": item["status"]["nodeInfo"]["kubeletVersion"]})
    return out


def _wait(what: str, check, timeout: float, interval: float = 3.0) -> None:
    """Poll ``check()`` until it is true (the library's wait, silent: the lab logs to stderr)."""
    wait_until(lambda: (bool(check()), what), timeout=timeout, desc=what, interval=interval, progress=False)


def _coredns_running(name: str) -> bool:
    r = kubectl(name, "-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o", "json",
                check=False, timeout=30)
    if r.returncode != 0:
        return False
    pods = json.loads(r.stdout)["items"]
    return bool(pods) and all(
        p["status"].get("phase") == "Running"
        and all(c.get("ready") for c in p["status"].get("containerStatuses", [])) for p in pods)


def _kind_config(workers: int) -> str:
    return "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n" + \
        "".join("- role: worker\n" for _ in range(workers))


def _healthy(name: str, workers: int) -> bool:
    nodes = _nodes(name)
    return len(nodes) == workers + 1 and all(n["ready"] for n in nodes)


def _load_images(name: str) -> None:
    for image in (*v.METALLB_IMAGES, v.NGINX_IMAGE):
        kind("load", "docker-image", "--name", name, image, timeout=600)


def up(name: str = "kindlb", workers: int = 2, timeout: float = 600) -> dict:
    """Build (cached), create or reuse the kind cluster NAME, preload MetalLB and nginx images.

    >>> up()["context"]                # doctest: +SKIP
    'kind-kindlb'
    """
    t0 = time.monotonic()
    ensure_docker()
    build()
    created = False
    if name in clusters() and not _healthy(name, workers):
        # An existing cluster may still be starting (e.g. after a Docker restart): give it a minute.
        try:
            _wait(f"nodes of {name} Ready", lambda: _healthy(name, workers), 60)
        except WaitTimeout:
            kind("delete", "cluster", "--name", name, timeout=300)
    if name not in clusters():
        cfg = cache_dir() / f"kind-{name}.yaml"
        cfg.write_text(_kind_config(workers))
        # KINDLB_LAB_RETAIN=1 keeps failed node containers around for debugging.
        retain = ["--retain"] if os.environ.get("KINDLB_LAB_RETAIN") else []
        kind("create", "cluster", "--name", name, "--image", v.NODE_IMAGE, "--config", str(cfg),
             *retain, timeout=timeout)
        created = True
    _load_images(name)
    _wait(f"{workers + 1} nodes of {name} Ready", lambda: _healthy(name, workers), timeout)
    _wait(f"CoreDNS of {name} Running", lambda: _coredns_running(name), timeout)
    return {"name": name, "context": f"kind-{name}", "created": created, "node_image": v.NODE_IMAGE,
            "metallb_manifest": str(manifest_path()), "metallb_version": v.METALLB_VERSION,
            "nginx_image": v.NGINX_IMAGE, "bin_dir": str(bin_dir()),
            "seconds": round(time.monotonic() - t0, 1)}


def down(name: str = "kindlb") -> dict:
    """Delete the kind cluster NAME (no error when it does not exist)."""
    existed = name in clusters()
    if existed:
        kind("delete", "cluster", "--name", name, timeout=300)
    return {"name": name, "deleted": existed}


def status(name: str = "kindlb") -> dict:
    """What exists: the cluster, its nodes, the built node image, the MetalLB manifest."""
    exists = name in clusters()
    image_ok = subprocess.run(["docker", "image", "inspect", v.NODE_IMAGE],
                              capture_output=True, check=False).returncode == 0
    return {"name": name, "context": f"kind-{name}", "exists": exists,
            "nodes": _nodes(name) if exists else [], "node_image": v.NODE_IMAGE,
            "node_image_built": image_ok, "metallb_manifest": str(manifest_path()),
            "metallb_manifest_exists": manifest_path().is_file(), "bin_dir": str(bin_dir())}


def require(name: str = "kindlb") -> None:
    """Raise ClusterNotFound with the fix when the cluster NAME does not run."""
    if name not in clusters():
        raise ClusterNotFound(f"kind cluster {name!r} does not exist: run "
                              f"`python -m kindlb_helpers.lab up --name {name}`")


def kind_subnet_v4(network: str | None = None) -> str:
    """IPv4 subnet of the kind docker network, e.g. ``172.18.0.0/16``."""
    return str(kind_network(network).subnet(4))


def node_containers(name: str) -> list[str]:
    """Docker container names of the cluster's nodes."""
    r = kind("get", "nodes", "--name", name, check=False)
    return sorted(r.stdout.split())


def node_images(name: str, node: str) -> list[str]:
    """Image references in a node's containerd (``crictl images``)."""
    r = subprocess.run(["docker", "exec", node, "crictl", "images", "-o", "json"],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise LabError(f"crictl images failed on {node}: {r.stderr.strip()}")
    return sorted(t for img in json.loads(r.stdout)["images"] for t in img.get("repoTags") or [])


__all__ = [
    "clusters",
    "down",
    "kind",
    "kind_subnet_v4",
    "kubectl",
    "node_containers",
    "node_images",
    "require",
    "status",
    "up",
]
