"""The end-to-end proof on a lab cluster: MetalLB, an L2 pool, nginx behind a LoadBalancer.

Used by ``python -m kindlb_helpers.lab smoke`` and by the cluster tests. Every kubectl call
names the ``kind-NAME`` context; HTTP goes only to addresses inside the kind docker network.
"""
from __future__ import annotations

import ipaddress
import json
import time
import urllib.request

from ..errors import LabError, MetalLBError, WaitTimeout
from . import versions as v
from .build import manifest_path
from .cluster import kind_subnet_v4, kubectl


def top_range(subnet: str, first: int = 1, last: int = 250) -> str:
    """The pool range in the last /24 of a subnet.

    >>> top_range("172.18.0.0/16")
    '172.18.255.1-172.18.255.250'
    """
    net = ipaddress.ip_network(subnet)
    base = net.broadcast_address - 255
    return f"{base + first}-{base + last}"


def install_metallb(name: str, timeout: float = 300) -> None:
    """Apply the native manifest, wait for the controller and every speaker."""
    kubectl(name, "apply", "-f", str(manifest_path()), timeout=120)
    kubectl(name, "-n", "metallb-system", "rollout", "status", "deployment/controller",
            f"--timeout={int(timeout)}s", timeout=timeout + 10)
    kubectl(name, "-n", "metallb-system", "rollout", "status", "daemonset/speaker",
            f"--timeout={int(timeout)}s", timeout=timeout + 10)


def apply_pool(name: str, pool: str, addresses: str, auto_assign: bool = True,
               timeout: float = 120) -> None:
    """Create/update an IPAddressPool and its L2Advertisement (retries while the webhook starts)."""
    doc = f"""apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: {pool}, namespace: metallb-system}}
spec:
  addresses: [{addresses}]
  autoAssign: {str(auto_assign).lower()}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {{name: {pool}, namespace: metallb-system}}
spec:
  ipAddressPools: [{pool}]
"""
    deadline = time.monotonic() + timeout
    while True:
        r = kubectl(name, "apply", "-f", "-", input=doc, check=False)
        if r.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise MetalLBError(f"cannot create pool {pool}: {r.stderr.strip()}")
        time.sleep(3)  # the webhook answers only once the controller serves it


def _wait_not_terminating(name: str, namespace: str, timeout: float = 120) -> None:
    """A namespace being deleted still accepts updates of its old objects: wait until it is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = kubectl(name, "get", "namespace", namespace, "-o", "jsonpath={.status.phase}", check=False)
        if r.returncode != 0 or r.stdout.strip() != "Terminating":
            return
        time.sleep(2)
    raise WaitTimeout(f"namespace {namespace} is still terminating after {timeout:.0f} s")


def deploy_nginx(name: str, namespace: str, app: str = "nginx", replicas: int = 3,
                 pool: str | None = None, timeout: float = 180) -> None:
    """An nginx Deployment (image NGINX_IMAGE) and a LoadBalancer Service, both named APP."""
    ann = f"\n  annotations: {{metallb.io/address-pool: {pool}}}" if pool else ""
    doc = f"""apiVersion: v1
kind: Namespace
metadata: {{name: {namespace}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {app}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {app}}}}}
  template:
    metadata: {{labels: {{app: {app}}}}}
    spec:
      containers:
      - name: nginx
        image: {v.NGINX_IMAGE}
        ports: [{{containerPort: 80}}]
        readinessProbe: {{httpGet: {{path: /, port: 80}}, periodSeconds: 2}}
---
apiVersion: v1
kind: Service
metadata:
  name: {app}
  namespace: {namespace}{ann}
spec:
  type: LoadBalancer
  selector: {{app: {app}}}
  ports: [{{port: 80, targetPort: 80}}]
"""
    _wait_not_terminating(name, namespace)
    kubectl(name, "apply", "-f", "-", input=doc)
    kubectl(name, "-n", namespace, "rollout", "status", f"deployment/{app}", f"--timeout={int(timeout)}s",
            timeout=timeout + 10)


def lb_ip(name: str, namespace: str, svc: str, timeout: float = 120) -> str:
    """Wait until the Service has an ingress IP from MetalLB; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = kubectl(name, "-n", namespace, "get", "svc", svc, "-o", "json", check=False)
        if r.returncode == 0:
            ingress = json.loads(r.stdout)["status"].get("loadBalancer", {}).get("ingress") or []
            if ingress and ingress[0].get("ip"):
                return ingress[0]["ip"]
        time.sleep(2)
    raise WaitTimeout(f"Service {namespace}/{svc} got no LoadBalancer IP within {timeout:.0f} s: "
                      "check the IPAddressPool and `kubectl -n metallb-system logs deploy/controller`")


def http_get(ip: str, timeout: float = 60, subnet: str | None = None) -> str:
    """GET http://IP/ with bounded retries; IP must lie in the kind network (or loopback)."""
    addr = ipaddress.ip_address(ip)
    allowed = ipaddress.ip_network(subnet or kind_subnet_v4())
    if addr not in allowed and not addr.is_loopback:
        raise LabError(f"{ip} is outside the kind network {allowed}: refusing to send traffic there")
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{ip}/", timeout=3) as resp:
                return resp.read().decode()
        except OSError as e:  # refused, unreachable, timeout
            last = e
            time.sleep(1)
    raise WaitTimeout(f"http://{ip}/ did not answer within {timeout:.0f} s (last error: {last})")


def announcing_nodes(name: str, namespace: str, svc: str) -> list[tuple[str, str]]:
    """(lastTimestamp, node) of the Service's ``nodeAssigned`` events, oldest first."""
    r = kubectl(name, "-n", namespace, "get", "events", "-o", "json",
                "--field-selector", f"involvedObject.name={svc},reason=nodeAssigned")
    out = []
    for e in json.loads(r.stdout)["items"]:
        msg = e.get("message", "")
        # 'announcing from node "kindlb-worker" with protocol "layer2"'
        if 'node "' in msg:
            node = msg.split('node "', 1)[1].split('"', 1)[0]
            out.append((e.get("lastTimestamp") or e.get("eventTime") or "", node))
    return sorted(out)


def remove_demo(name: str, namespace: str, pool: str) -> None:
    """Delete a demo namespace and its pool (MetalLB itself stays installed)."""
    kubectl(name, "delete", "namespace", namespace, "--ignore-not-found", "--timeout=120s",
            check=False, timeout=150)
    kubectl(name, "-n", "metallb-system", "delete", f"l2advertisement/{pool}",
            f"ipaddresspool/{pool}", "--ignore-not-found", check=False)


def smoke(name: str = "kindlb", namespace: str = "kindlb-smoke", keep: bool = False) -> dict:
    """MetalLB + top-of-subnet pool + 3 nginx replicas behind a LoadBalancer; GET the page.

    Unless KEEP, the namespace and the pool are deleted afterwards, so that the pool range is
    free again for the notebooks.
    """
    t0 = time.monotonic()
    pool = "kindlb-smoke-pool"
    install_metallb(name)
    subnet = kind_subnet_v4()
    addresses = top_range(subnet)
    try:
        apply_pool(name, pool, addresses)
        deploy_nginx(name, namespace)
        ip = lb_ip(name, namespace, "nginx")
        page = http_get(ip, subnet=subnet)
        if "<title>Welcome to nginx!</title>" not in page:
            raise LabError(f"http://{ip}/ answered, but not with the nginx welcome page:\n{page[:300]}")
        announcing = announcing_nodes(name, namespace, "nginx")
    finally:
        if not keep:
            remove_demo(name, namespace, pool)
    return {"pool": addresses, "ip": ip, "title": "Welcome to nginx!", "announcing": announcing,
            "kept": keep, "seconds": round(time.monotonic() - t0, 1)}
