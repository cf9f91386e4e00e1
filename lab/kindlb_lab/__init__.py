"""The offline lab: a real kind cluster with MetalLB and nginx, built from Debian packages and
Go modules on a machine without a container registry.

It is its own distribution (``pip install -e lab/`` from a clone of kindlb), so the package a
learner installs carries no build scripts and no Docker daemon changes. ``kindlb lab ...`` and
``python -m kindlb_lab ...`` run its command line. Versions come from kindlb's one list of pins,
``kindlb_helpers/_core/versions.env``.

>>> import kindlb_lab
>>> kindlb_lab.METALLB_VERSIONS == (kindlb_lab.METALLB_VERSION, "v0.12.1")
True
"""
from __future__ import annotations

from kindlb_helpers._core.versions import (
    COREDNS_VERSION,
    CRICTL_VERSION,
    ETCD_VERSION,
    K8S_VERSION,
    KIND_VERSION,
    METALLB_CONFIGMAP_VERSION,
    METALLB_VERSION,
    NGINX_IMAGE,
    NODE_IMAGE,
    PAUSE_VERSION,
    PODNET_IMAGE,
    PROBE_IMAGE,
)

from .build import (
    METALLB_VERSIONS,
    bin_dir,
    build,
    cache_dir,
    ensure_docker,
    manifest_path,
    manifest_source,
    metallb_images,
    metallb_version,
    tool_env,
)

# the cluster, the command line and the probe image load on first use (they import the Kubernetes and Docker
# clients): kindlb asks this package's offline source (kindlb_lab.offline) in every notebook's first cell
_LAZY = {"main": "cli", "probe_image": "probe",
         **{name: "cluster" for name in ("built_metallb_versions", "cluster_families", "down", "kind_subnet_v4",
                                         "load_metallb", "node_containers", "node_images", "require", "status", "up",
                                         "use_lab_tools")}}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'kindlb_lab' has no attribute {name!r}")


#: The current release's controller and speaker images.
METALLB_IMAGES = metallb_images(METALLB_VERSION)

__all__ = [
    "COREDNS_VERSION",
    "CRICTL_VERSION",
    "ETCD_VERSION",
    "K8S_VERSION",
    "KIND_VERSION",
    "METALLB_CONFIGMAP_VERSION",
    "METALLB_IMAGES",
    "METALLB_VERSION",
    "METALLB_VERSIONS",
    "NGINX_IMAGE",
    "NODE_IMAGE",
    "PAUSE_VERSION",
    "PODNET_IMAGE",
    "PROBE_IMAGE",
    "bin_dir",
    "build",
    "built_metallb_versions",
    "cache_dir",
    "cluster_families",
    "down",
    "ensure_docker",
    "kind_subnet_v4",
    "load_metallb",
    "main",
    "manifest_path",
    "manifest_source",
    "metallb_images",
    "metallb_version",
    "node_containers",
    "node_images",
    "probe_image",
    "require",
    "status",
    "tool_env",
    "up",
    "use_lab_tools",
]
