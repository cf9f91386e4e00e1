"""Pinned versions and image names of the offline lab (one place to change them)."""
from __future__ import annotations

KIND_VERSION = "v0.30.0"
#: Latest v1.34 patch the Go module proxy served on 2026-11-27 (1.35 drops cgroup v1 by default).
K8S_VERSION = "v1.34.12"
ETCD_VERSION = "v3.6.5"  # what kubeadm v1.34.12 lists (3.6.5-0); the notes said 3.6.4
COREDNS_VERSION = "v1.12.1"
PAUSE_VERSION = "3.10"
CRICTL_VERSION = "v1.34.0"
METALLB_VERSION = "v0.16.1"
DEBIAN_SUITE = "bookworm"

NODE_IMAGE = f"kindlb.local/node:{K8S_VERSION}"
#: Debian bookworm's nginx 1.22.1, foreground, logs to stdout/stderr.
NGINX_IMAGE = "kindlb.local/nginx:1.22.1"
#: The lab's CNI daemon (kind's kindnetd is not available from the Go module proxy).
PODNET_IMAGE = "kindlb.local/podnet:v1"
METALLB_IMAGES = (
    f"quay.io/metallb/controller:{METALLB_VERSION}",
    f"quay.io/metallb/speaker:{METALLB_VERSION}",
)


def script_env() -> dict[str, str]:
    """The version variables the build scripts read (see common.sh)."""
    return {
        "KIND_VERSION": KIND_VERSION,
        "K8S_VERSION": K8S_VERSION,
        "ETCD_VERSION": ETCD_VERSION,
        "COREDNS_VERSION": COREDNS_VERSION,
        "PAUSE_VERSION": PAUSE_VERSION,
        "CRICTL_VERSION": CRICTL_VERSION,
        "METALLB_VERSION": METALLB_VERSION,
        "DEBIAN_SUITE": DEBIAN_SUITE,
        "NODE_IMAGE": NODE_IMAGE,
        "NGINX_IMAGE": NGINX_IMAGE,
        "PODNET_IMAGE": PODNET_IMAGE,
    }
