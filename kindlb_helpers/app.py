"""The demo app: nginx with N replicas behind a LoadBalancer Service, and reaching it."""
from __future__ import annotations

import html
import ipaddress
import re
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pandas as pd

from .errors import KindlbError, WaitTimeout
from .kube import Kind, apply
from .metallb import POOL_ANNOTATION, diagnose, pools
from .waits import wait_until

DEFAULT_IMAGE = "nginx:1.27"
APP_LABEL = "app.kubernetes.io/name"
#: The Service annotations that ask MetalLB for a named pool (the old name for releases before v0.14).
POOL_REQUEST = ("metallb.io/address-pool", "metallb.universe.tf/address-pool")


def nginx_objects(name: str = "nginx", namespace: str = "default", image: str = DEFAULT_IMAGE,
                  replicas: int = 3, port: int = 80, pool: str | None = None) -> list[dict]:
    """The Deployment and the LoadBalancer Service, as ``kubectl create deploy`` + ``expose`` make them.

    ``pool`` asks MetalLB for an IP from that pool by name (needed for pools with autoAssign off).
    """
    if not isinstance(replicas, int) or replicas < 1:
        raise KindlbError(f"replicas must be a whole number of at least 1 (got {replicas!r})")
    labels = {APP_LABEL: name, "app.kubernetes.io/managed-by": "kindlb"}
    selector = {APP_LABEL: name}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{
                    "name": "nginx", "image": image, "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": port, "name": "http"}],
                    "readinessProbe": {"httpGet": {"path": "/", "port": port}, "periodSeconds": 2},
                }]},
            },
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels,
                     **({"annotations": {a: pool for a in POOL_REQUEST}} if pool else {})},
        "spec": {"type": "LoadBalancer", "selector": selector,
                 "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}]},
    }
    return [deployment, service]


def deploy(kind: Kind, name: str = "nginx", namespace: str = "default", image: str = DEFAULT_IMAGE,
           replicas: int = 3, port: int = 80, pool: str | None = None) -> list[str]:
    """Create or update the nginx Deployment and its LoadBalancer Service (idempotent)."""
    objs = nginx_objects(name, namespace, image, replicas, port, pool)
    if namespace != "default":
        objs.insert(0, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    return apply(kind, objs)


def rollout_status(kind: Kind, name: str, namespace: str) -> tuple[bool, str]:
    dep = kind.apps.read_namespaced_deployment(name, namespace)
    want = dep.spec.replicas or 0
    st = dep.status
    ready, updated = st.ready_replicas or 0, st.updated_replicas or 0
    done = (st.observed_generation or 0) >= dep.metadata.generation and ready == want and updated == want
    return done, f"{ready}/{want} replicas ready"


def wait_rollout(kind: Kind, name: str = "nginx", namespace: str = "default", timeout: float = 180,
                 progress: bool = True) -> str:
    def explain() -> str:
        from .tables import pods_frame

        pods = pods_frame(kind, namespace, f"{APP_LABEL}={name}")
        bad = pods[~pods["STATUS"].isin(["Running"])]
        hint = ""
        if bad["STATUS"].isin(["ErrImagePull", "ImagePullBackOff"]).any():
            hint = ("\nthe image cannot be pulled: on a machine without internet load it into the cluster first "
                    "(kind load docker-image IMAGE --name CLUSTER) and use its exact tag")
        return "pods:\n" + pods.to_string(index=False) + hint

    return wait_until(lambda: rollout_status(kind, name, namespace), timeout=timeout,
                      desc=f"deployment {name}", progress=progress, interval=2, explain=explain)


@dataclass(frozen=True)
class ExternalIP:
    """A Service's LoadBalancer address and where it came from."""

    service: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    pool: str | None
    in_range: str | None

    def _repr_html_(self) -> str:
        src = f"pool <code>{html.escape(self.pool)}</code>" if self.pool else "an unknown pool"
        rng = f" (range <code>{self.in_range}</code>)" if self.in_range else ""
        return f"<div>Service <b>{html.escape(self.service)}</b> got <b><code>{self.ip}</code></b> from {src}{rng}</div>"


def external_ip(kind: Kind, name: str = "nginx", namespace: str = "default") -> ExternalIP | None:
    svc = kind.core.read_namespaced_service(name, namespace)
    ingress = (svc.status.load_balancer.ingress if svc.status and svc.status.load_balancer else None) or []
    ips = [i.ip for i in ingress if i.ip]
    if not ips:
        return None
    ip = ipaddress.ip_address(ips[0])
    pool_name = (svc.metadata.annotations or {}).get(POOL_ANNOTATION)
    owner = next(((n, r) for n, r in pools(kind) if ip in r), None)
    return ExternalIP(name, ip, pool_name or (owner[0] if owner else None), str(owner[1]) if owner else None)


def wait_external_ip(kind: Kind, name: str = "nginx", namespace: str = "default", timeout: float = 120,
                     progress: bool = True, expect_pool: str | None = None) -> ExternalIP:
    """Wait for the Service's external IP; check it came from a MetalLB pool (``expect_pool`` if given).

    On timeout the error explains why from the Service events and MetalLB's state.
    """
    seen: list[ExternalIP] = []

    def check() -> tuple[bool, str]:
        got = external_ip(kind, name, namespace)
        if got is None:
            return False, "EXTERNAL-IP <pending>"
        seen[:] = [got]
        return True, f"EXTERNAL-IP {got.ip}"

    wait_until(check, timeout=timeout, desc=f"external IP of {name}", progress=progress, interval=1,
               explain=lambda: "possible reasons:\n- " + "\n- ".join(diagnose(kind, name, namespace)))
    got = seen[0]
    if got.in_range is None:
        raise KindlbError(f"{name} got {got.ip}, which is in none of MetalLB's pools: another load balancer "
                          "(cloud-provider-kind?) may be answering; remove it, or check `kubectl get svc -o yaml`")
    if expect_pool and got.pool != expect_pool:
        raise KindlbError(f"{name} got {got.ip} from pool {got.pool!r}, not from {expect_pool!r}")
    return got


@dataclass(frozen=True)
class Page:
    """An HTTP answer: status, <title>, server header, and how many tries it took."""

    url: str
    status: int
    title: str | None
    server: str | None
    attempts: int
    seconds: float
    body: str = field(repr=False)

    def _repr_html_(self) -> str:
        return (f"<div><code>GET {html.escape(self.url)}</code> &rarr; <b>{self.status}</b>, title "
                f"<b>{html.escape(self.title or '')}</b>, server <code>{html.escape(self.server or '?')}</code> "
                f"({self.attempts} tries, {self.seconds:.2f}s)</div>")


def _url(ip, port: int, path: str = "/") -> str:
    host = f"[{ip}]" if ipaddress.ip_address(str(ip)).version == 6 else str(ip)
    return f"http://{host}:{port}{path}"


def fetch(ip, port: int = 80, path: str = "/", attempts: int = 30, delay: float = 1.0,
          timeout: float = 3.0) -> Page:
    """GET the page from the LoadBalancer IP, with a bounded number of tries (ARP takes a moment)."""
    url = _url(ip, port, path)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    start, last_error = time.monotonic(), None
    for n in range(1, attempts + 1):
        try:
            with opener.open(url, timeout=timeout) as resp:
                body = resp.read().decode(errors="replace")
                m = re.search(r"<title>(.*?)</title>", body, re.S | re.I)
                return Page(url, resp.status, m.group(1).strip() if m else None, resp.headers.get("Server"),
                            n, time.monotonic() - start, body)
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
            time.sleep(delay)
    raise WaitTimeout(
        f"{url} did not answer after {attempts} tries ({last_error}). On macOS and Windows the kind network is "
        "not reachable from the host: probe it from a container on the kind network instead. On Linux check "
        "that MetalLB's speakers are Ready and an L2Advertisement exists."
    )


PROBE_IMAGE = "busybox:1.36"


def fetch_in_network(ip, port: int = 80, path: str = "/", network: str | None = None,
                     image: str = PROBE_IMAGE, attempts: int = 30, delay: int = 1) -> Page:
    """GET the page from a throwaway container on the kind network (busybox ``wget``).

    For Docker Desktop on macOS and Windows, where the host cannot reach the kind bridge: the
    container sits next to the nodes, so the LoadBalancer IP answers there as on a Linux host.
    """
    from .dockernet import docker_client, kind_network_name

    if not 1 <= attempts <= 300:
        raise KindlbError(f"attempts must be between 1 and 300 (got {attempts})")
    url = _url(ip, port, path)
    script = (f"i=0; while [ $i -lt {attempts} ]; do i=$((i+1)); "
              f"if wget -q -S -O /tmp/body '{url}' 2>/tmp/head; then cat /tmp/head >&2; cat /tmp/body; "
              f"echo \"kindlb-attempts $i\" >&2; exit 0; fi; sleep {delay}; done; cat /tmp/head >&2; exit 1")
    client = docker_client()
    start = time.monotonic()
    box = client.containers.run(image, ["sh", "-c", script], network=network or kind_network_name(),
                                detach=True, labels={"app.kubernetes.io/managed-by": "kindlb"})
    try:  # (no wget -T: Debian's static busybox crashes with it; the wait below bounds the run)
        try:
            code = box.wait(timeout=attempts * (delay + 5) + 30).get("StatusCode", 1)
        except Exception:  # the bound above ran out: a connection that hangs
            code = 124
        body = box.logs(stdout=True, stderr=False).decode(errors="replace")
        head = box.logs(stdout=False, stderr=True).decode(errors="replace") or "no answer in time"
    finally:
        box.remove(force=True)
    if code != 0:
        raise WaitTimeout(f"{url} did not answer from inside network {network or kind_network_name()} "
                          f"after {attempts} tries: {head.strip()[-300:]}")
    status = re.search(r"HTTP/[\d.]+ (\d{3})", head)
    server = re.search(r"^\s*Server: (.+)$", head, re.M | re.I)
    tries = re.search(r"kindlb-attempts (\d+)", head)
    title = re.search(r"<title>(.*?)</title>", body, re.S | re.I)
    return Page(url, int(status.group(1)) if status else 200, title.group(1).strip() if title else None,
                server.group(1).strip() if server else None, int(tries.group(1)) if tries else 1,
                time.monotonic() - start, body)


def spread(kind: Kind, ip, requests: int = 60, name: str = "nginx", namespace: str = "default",
           port: int = 80) -> pd.DataFrame:
    """Send ``requests`` GETs, each tagged with a unique query string, then count them in each pod's access log.

    The counts come from nginx's own logs, so they show where the requests really went.
    """
    if not 1 <= requests <= 1000:
        raise KindlbError(f"requests must be between 1 and 1000 (got {requests})")
    token = secrets.token_hex(4)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    failed = 0
    for i in range(requests):
        try:
            with opener.open(_url(ip, port, f"/?kindlb={token}-{i}"), timeout=3) as resp:
                resp.read()
        except OSError:
            failed += 1
    time.sleep(1)  # let the container runtime flush the log lines
    rows = []
    pods = kind.core.list_namespaced_pod(namespace, label_selector=f"{APP_LABEL}={name}").items
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        if pod.metadata.deletion_timestamp or pod.status.phase != "Running":
            continue
        log = kind.core.read_namespaced_pod_log(pod.metadata.name, namespace, since_seconds=600)
        count = len(set(re.findall(rf"kindlb={token}-(\d+)", log)))
        rows.append({"pod": pod.metadata.name, "node": pod.spec.node_name, "requests": count})
    frame = pd.DataFrame(rows, columns=["pod", "node", "requests"])
    frame.attrs.update(sent=requests, failed=failed, token=token)
    return frame


def remove(kind: Kind, name: str = "nginx", namespace: str = "default") -> list[str]:
    """Delete the Service and the Deployment (reverse order of creation); safe to run twice."""
    from kubernetes.client.exceptions import ApiException

    gone = []
    for fn, what in ((kind.core.delete_namespaced_service, "service"),
                     (kind.apps.delete_namespaced_deployment, "deployment")):
        try:
            fn(name, namespace)
            gone.append(f"{what}/{name} deleted")
        except ApiException as exc:
            if exc.status != 404:
                raise
            gone.append(f"{what}/{name} was not there")
    return gone
