"""The end-to-end proof on a lab cluster: MetalLB, an L2 pool, nginx behind a LoadBalancer.

Used by ``python -m kindlb_lab smoke`` and by the cluster tests. Every kubectl call
names the ``kind-NAME`` context; HTTP goes only to addresses inside the kind docker network.
"""
from __future__ import annotations

import ipaddress
import time

from kindlb_helpers._cluster import metallb
from kindlb_helpers._cluster.dockernet import kind_network
from kindlb_helpers._cluster.kube import Kind, connect, delete, get_or_none
from kindlb_helpers._cluster.network import clusters_on, plan_for
from kindlb_helpers._cluster.waits import wait_until
from kindlb_helpers._core import versions as v
from kindlb_helpers._core.errors import LabError
from kindlb_helpers._core.manifests import NAMESPACE, metallb_manifests, uses_crds
from kindlb_helpers._core.pool import Reserved
from kindlb_helpers._lesson import app, l2

from .build import manifest_source, metallb_version
from .cluster import kind_subnet_v4, use_lab_tools


def _kind(name: str) -> Kind:
    use_lab_tools()
    return connect(name)


def free_range(name: str, size: int = 250) -> str:
    """A free pool on the kind network: clear of nodes, containers, this cluster's pools and other clusters'."""
    net = kind_network()
    taken = metallb.other_clusters_pools(name, clusters_on(net))
    taken += [Reserved(f"pool {pool}", rng) for pool, rng in metallb.pools(_kind(name))]
    return str(plan_for(net, 4, size, taken)[0])


def install_metallb(name: str, timeout: float = 300, version: str | None = None) -> list[str]:
    """Apply the lab's MetalLB manifest of VERSION (default: the current release; the ConfigMap
    era's without its PodSecurityPolicies), wait for the controller and every speaker."""
    ver = metallb_version(version)
    k = _kind(name)
    notes = metallb.install(k, ver, manifest_source(ver))
    metallb.wait_ready(k, timeout=timeout, progress=False)
    return notes


def apply_pool(name: str, pool: str, addresses: str, auto_assign: bool = True,
               timeout: float = 120, version: str | None = None) -> None:
    """Create/update the pool: IPAddressPool + L2Advertisement (current release; retries while the
    webhook starts), or the ConfigMap ``config`` (ConfigMap era)."""
    ver = metallb_version(version)
    metallb.apply_pool(_kind(name), metallb_manifests(addresses, ver, pool, auto_assign), timeout=timeout)


def _wait_not_terminating(k: Kind, namespace: str, timeout: float = 120) -> None:
    """A namespace being deleted still accepts updates of its old objects: wait until it is gone."""
    def check() -> tuple[bool, str]:
        ns = get_or_none(k.core.read_namespace, namespace)
        return ns is None or ns.status.phase != "Terminating", f"namespace {namespace} terminating"

    wait_until(check, timeout=timeout, desc=f"namespace {namespace} gone", progress=False, interval=2)


def deploy_nginx(name: str, namespace: str, app_name: str = "nginx", replicas: int = 3,
                 pool: str | None = None, timeout: float = 180) -> None:
    """An nginx Deployment (image NGINX_IMAGE) and a LoadBalancer Service, both named APP_NAME."""
    k = _kind(name)
    _wait_not_terminating(k, namespace)
    app.deploy(k, app_name, namespace, image=v.NGINX_IMAGE, replicas=replicas, pool=pool)
    app.wait_rollout(k, app_name, namespace, timeout=timeout, progress=False)


def lb_ip(name: str, namespace: str, svc: str, timeout: float = 120, pool: str | None = None) -> str:
    """Wait until the Service has an ingress IP from MetalLB (from POOL when given); return it."""
    got = app.wait_external_ip(_kind(name), svc, namespace, timeout=timeout, progress=False, expect_pool=pool)
    return str(got.ip)


def http_get(ip: str, timeout: float = 60, subnet: str | None = None) -> str:
    """GET http://IP/ with bounded retries; IP must lie in the kind network (or loopback)."""
    addr = ipaddress.ip_address(ip)
    allowed = ipaddress.ip_network(subnet or kind_subnet_v4())
    if addr not in allowed and not addr.is_loopback:
        raise LabError(f"{ip} is outside the kind network {allowed}: refusing to send traffic there")
    return app.fetch(ip, attempts=max(1, int(timeout)), delay=1.0, timeout=3.0).body


def announcing_nodes(name: str, namespace: str, svc: str) -> list[tuple[str, str]]:
    """(time, node) of the Service's ``nodeAssigned`` events, oldest first (``kindlb_helpers._lesson.l2``)."""
    return [(str(t or ""), node) for t, node in l2.announcements(_kind(name), svc, namespace)]


def remove_demo(name: str, namespace: str, pool: str, version: str | None = None) -> None:
    """Delete a demo namespace and its pool (MetalLB itself stays installed)."""
    k = _kind(name)
    delete(k, "v1", "Namespace", namespace)
    _wait_not_terminating(k, namespace)
    if uses_crds(metallb_version(version)):
        for kind_name in ("L2Advertisement", "IPAddressPool"):
            delete(k, "metallb.io/v1beta1", kind_name, pool, NAMESPACE)
    else:
        delete(k, "v1", "ConfigMap", "config", NAMESPACE)


def smoke(name: str = "kindlb", namespace: str = "kindlb-smoke", keep: bool = False,
          version: str | None = None) -> dict:
    """MetalLB + a free pool at the top of the subnet + 3 nginx replicas behind a LoadBalancer; GET the page.

    Unless KEEP, the namespace and the pool are deleted afterwards, so that the pool range is
    free again for the notebooks.
    """
    t0 = time.monotonic()
    pool = "kindlb-smoke-pool"
    ver = metallb_version(version)
    install_metallb(name, version=ver)
    subnet = kind_subnet_v4()
    addresses = free_range(name)
    try:
        apply_pool(name, pool, addresses, version=ver)
        deploy_nginx(name, namespace)
        ip = lb_ip(name, namespace, "nginx", pool=pool)
        page = http_get(ip, subnet=subnet)
        if "<title>Welcome to nginx!</title>" not in page:
            raise LabError(f"http://{ip}/ answered, but not with the nginx welcome page:\n{page[:300]}")
        announcing = announcing_nodes(name, namespace, "nginx")
    finally:
        if not keep:
            remove_demo(name, namespace, pool, version=ver)
    return {"metallb_version": ver, "pool": addresses, "ip": ip, "title": "Welcome to nginx!", "announcing": announcing,
            "kept": keep, "seconds": round(time.monotonic() - t0, 1)}
