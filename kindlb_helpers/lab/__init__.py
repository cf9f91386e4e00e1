"""The offline lab: a real kind cluster with MetalLB and nginx, built from Debian packages and
Go modules on a machine without a container registry.

>>> from kindlb_helpers import lab
>>> lab.METALLB_VERSION
'v0.16.1'
"""
from __future__ import annotations

from .build import bin_dir, build, cache_dir, ensure_docker, manifest_path, tool_env
from .cli import main
from .cluster import (
                      clusters,
                      down,
                      kind,
                      kind_subnet_v4,
                      kubectl,
                      node_containers,
                      node_images,
                      require,
                      status,
                      up,
)
from .versions import (
                      COREDNS_VERSION,
                      CRICTL_VERSION,
                      ETCD_VERSION,
                      K8S_VERSION,
                      KIND_VERSION,
                      METALLB_IMAGES,
                      METALLB_VERSION,
                      NGINX_IMAGE,
                      NODE_IMAGE,
                      PAUSE_VERSION,
                      PODNET_IMAGE,
)

__all__ = [
                      "COREDNS_VERSION",
                      "CRICTL_VERSION",
                      "ETCD_VERSION",
                      "K8S_VERSION",
                      "KIND_VERSION",
                      "METALLB_IMAGES",
                      "METALLB_VERSION",
                      "NGINX_IMAGE",
                      "NODE_IMAGE",
                      "PAUSE_VERSION",
                      "PODNET_IMAGE",
                      "bin_dir",
                      "build",
                      "cache_dir",
                      "clusters",
                      "down",
                      "ensure_docker",
                      "kind",
                      "kind_subnet_v4",
                      "kubectl",
                      "main",
                      "manifest_path",
                      "node_containers",
                      "node_images",
                      "require",
                      "status",
                      "tool_env",
                      "up",
]
