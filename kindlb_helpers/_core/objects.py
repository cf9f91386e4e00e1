"""The Kubernetes objects of the demo app and the kind cluster config, as plain data (pure core).

:func:`nginx_objects` returns what ``kubectl create deployment`` and ``kubectl expose`` create,
field for field, plus the extras :data:`EXTRAS` names (a readiness probe). Nothing here talks to
a cluster; :mod:`kindlb_helpers._lesson.app` applies these objects and :mod:`kindlb_helpers._core.hood` turns
the very same data into the command lines a person would type.

>>> dep, svc = nginx_objects(image="nginx:1.27")
>>> dep["spec"]["selector"], svc["spec"]["selector"], svc["spec"]["type"]
({'matchLabels': {'app': 'nginx'}}, {'app': 'nginx'}, 'LoadBalancer')
"""
from __future__ import annotations

import ipaddress

import yaml

from .errors import BadInput
from .inputs import cut
from .names import dns1123_label, dns1123_subdomain, image_ref, service_name
from .versions import NGINX_ONLINE_IMAGE

DEFAULT_IMAGE = NGINX_ONLINE_IMAGE  # (pins: versions.env)
#: The label ``kubectl create deployment NAME`` puts on the Deployment, its pods and (via
#: ``kubectl expose``) the Service: ``app=NAME``.
APP_LABEL = "app"
#: The Service annotations that ask MetalLB for a named pool (the old name for releases before v0.14).
POOL_REQUEST = ("metallb.io/address-pool", "metallb.universe.tf/address-pool")


def container_name(image: str) -> str:
    """The container name ``kubectl create deployment --image IMAGE`` derives: the last path
    part of the image, without tag or digest.

    >>> container_name("kindlb.local/nginx:1.22.1"), container_name("nginx@sha256:ab")
    ('nginx', 'nginx')
    """
    last = image.split("/")[-1]
    return last.split("@")[0].split(":")[0].replace("_", "-").lower()


def readiness_probe(port: int = 80) -> dict:
    """The one extra the helper adds to ``kubectl create deployment``'s pod: a readiness probe.

    Without it a pod counts as ready the moment nginx's process starts; with it, only once nginx
    answers ``GET /``. So "3/3 ready" means three pods that really serve the page, and the
    Service only sends traffic to those.
    """
    return {"httpGet": {"path": "/", "port": port}, "periodSeconds": 2}


#: What :func:`nginx_objects` adds to kubectl's objects, and why (the notebook shows this).
EXTRAS = {
    "readinessProbe": "GET / on port 80 every 2 s: a pod joins the Service only once nginx answers",
}


def nginx_objects(name: str = "nginx", namespace: str = "default", image: str = DEFAULT_IMAGE,
                  replicas: int = 3, port: int = 80, pool: str | None = None,
                  traffic_policy: str | None = None, readiness: bool = True) -> list[dict]:
    """The Deployment and the LoadBalancer Service, as ``kubectl create deploy`` + ``expose`` make them.

    - labels ``app=<name>`` on the Deployment, its pods and the Service; the selector matches them;
    - the Service's port ``port`` → the pods' ``port`` over TCP, ``type: LoadBalancer``;
    - ``readiness``: add :func:`readiness_probe` (named in :data:`EXTRAS`);
    - ``pool``: ask MetalLB for an address from that pool by name (pools with ``autoAssign: false``);
    - ``traffic_policy``: ``"Local"`` or ``"Cluster"`` (``spec.externalTrafficPolicy``).
    """
    service_name(name, "app name")  # it names the Service too: a DNS-1035 label (starts with a letter)
    dns1123_label(namespace, "namespace")
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 50:
        raise BadInput(f"replicas must be a whole number from 1 to 50 (got {replicas!r})")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise BadInput(f"port must be a whole number from 1 to 65535 (got {port!r})")
    image_ref(image)
    if pool is not None:
        dns1123_subdomain(pool, "pool name")  # it goes into an annotation MetalLB matches against pool names
    if traffic_policy not in (None, "Cluster", "Local"):
        raise BadInput(f"traffic_policy must be 'Cluster' or 'Local' (got {cut(traffic_policy)})")
    labels = {APP_LABEL: name}
    container = {"name": container_name(image), "image": image}
    if readiness:
        container["readinessProbe"] = readiness_probe(port)
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}},
        },
    }
    meta: dict = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if pool:
        meta["annotations"] = {a: pool for a in POOL_REQUEST}
    spec: dict = {"type": "LoadBalancer", "selector": dict(labels),
                  "ports": [{"port": port, "protocol": "TCP", "targetPort": port}]}
    if traffic_policy:
        spec["externalTrafficPolicy"] = traffic_policy
    service = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}
    return [deployment, service]


def lb_service(name: str, namespace: str = "default", port: int = 80, selector: dict | None = None) -> dict:
    """A bare ``type: LoadBalancer`` Service (``kubectl create service loadbalancer NAME --tcp=80:80``).

    >>> lb_service("lb-demo")["spec"]["selector"]
    {'app': 'lb-demo'}
    """
    labels = {APP_LABEL: name}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"type": "LoadBalancer", "selector": selector or dict(labels),
                     "ports": [{"name": f"{port}-{port}", "port": port, "protocol": "TCP", "targetPort": port}]}}


def kind_config(workers: int = 2, ip_family: str = "ipv4") -> str:
    """kind's cluster config: one control-plane and ``workers`` workers (the article's shape); with
    ``ip_family="dual"`` (or ``"ipv6"``) also ``networking.ipFamily``, which is all kind needs for a
    dual-stack cluster. The default writes no ``networking`` at all (kind's default is IPv4).

    >>> print(kind_config(1), end="")
    kind: Cluster
    apiVersion: kind.x-k8s.io/v1alpha4
    nodes:
    - role: control-plane
    - role: worker
    >>> print(kind_config(0, ip_family="dual"), end="")
    kind: Cluster
    apiVersion: kind.x-k8s.io/v1alpha4
    networking:
      ipFamily: dual
    nodes:
    - role: control-plane
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or not 0 <= workers <= 10:
        raise BadInput(f"workers must be a whole number from 0 to 10 (got {workers!r})")
    if ip_family not in ("ipv4", "dual", "ipv6"):
        raise BadInput(f"ip_family must be 'ipv4', 'dual' or 'ipv6' (kind's networking.ipFamily), not {ip_family!r}")
    nodes = [{"role": "control-plane"}] + [{"role": "worker"} for _ in range(workers)]
    config: dict = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4"}
    if ip_family != "ipv4":
        config["networking"] = {"ipFamily": ip_family}
    config["nodes"] = nodes
    return yaml.safe_dump(config, sort_keys=False)


def http_url(ip, port: int = 80, path: str = "/") -> str:
    """``http://IP:PORT/PATH``, with brackets around an IPv6 address.

    >>> http_url("172.19.255.1"), http_url("fc00::1", 8080)
    ('http://172.19.255.1:80/', 'http://[fc00::1]:8080/')
    """
    host = f"[{ip}]" if ipaddress.ip_address(str(ip)).version == 6 else str(ip)
    return f"http://{host}:{port}{path}"

