"""The demo app: nginx with N replicas behind a LoadBalancer Service, and reaching it.

Every helper here that reads or changes the cluster returns its result together with a
:class:`~kindlb_helpers._core.hood.Hood`: the ``kubectl`` / ``curl`` lines a person would type for the
same step, built from the same objects the helper sends.
"""
from __future__ import annotations

import html
import ipaddress
import re
import secrets
import shlex
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from .._cluster import rollout as _rollout
from .._cluster.containers import PROBE_IMAGE, fetch_in_network  # noqa: F401  (re-exported: the container route)
from .._cluster.kube import Kind, delete_if_there, events_for, ip_of, server_side_apply
from .._cluster.metallb import POOL_ANNOTATION, POOL_ANNOTATIONS, pools  # noqa: F401
from .._cluster.waits import Watch, ticks, wait_until
from .._core import hood as _hood
from .._core.errors import BadInput, KindlbError, WaitTimeout
from .._core.objects import APP_LABEL, DEFAULT_IMAGE, EXTRAS, POOL_REQUEST, http_url, lb_service, nginx_objects  # noqa: F401
from .._core.page import Page  # noqa: F401  (re-exported)
from .._core.release import fact
from .no_ip import reasons

#: How often the waits here look again (seconds): an assigned IP is noticed within this time.
POLL = 0.2


def extras_table():
    """:data:`~kindlb_helpers._core.objects.EXTRAS` as a small table (extra, why), for the notebook that deploys
    nginx."""
    return pd.DataFrame(list(EXTRAS.items()), columns=["extra", "why"]).style.hide(axis="index")


def deploy(kind: Kind, name: str = "nginx", namespace: str = "default", image: str = DEFAULT_IMAGE,
           replicas: int = 3, port: int = 80, pool: str | None = None,
           traffic_policy: str | None = None) -> _hood.Done:
    """Create or update the nginx Deployment and its LoadBalancer Service (server-side apply: idempotent).

    The objects are :func:`~kindlb_helpers._core.objects.nginx_objects`; the result shows the
    ``kubectl create deployment`` / ``expose`` lines that make the same objects.
    """
    objs = nginx_objects(name, namespace, image, replicas, port, pool, traffic_policy)
    sent = list(objs)
    if namespace != "default":
        sent.insert(0, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    done = server_side_apply(kind, sent)
    return _hood.Done(f"applied {', '.join(done)} (server-side apply: re-running changes nothing)",
                      _hood.deploy_steps(kind.cluster, objs), value=objs)


def wait_rollout(kind: Kind, name: str = "nginx", namespace: str = "default", timeout: float = 180,
                 progress: bool = True) -> _hood.Done:
    """Wait until the Deployment's pods are all ready (``kubectl rollout status``)."""
    def explain() -> str:
        from .tables import pods_frame

        pods = pods_frame(kind, namespace, f"{APP_LABEL}={name}")
        bad = pods[~pods["STATUS"].isin(["Running"])]
        hint = ""
        if bad["STATUS"].isin(["ErrImagePull", "ImagePullBackOff"]).any():
            hint = ("\nthe image cannot be pulled: on a machine without internet load it into the cluster first "
                    "(kind load docker-image IMAGE --name CLUSTER) and use its exact tag")
        return "pods:\n" + pods.to_string(index=False) + hint

    text = _rollout.wait_rollout(kind, name, namespace, timeout=timeout, progress=progress, explain=explain)
    return _hood.Done(f"deployment {name}: {text}", _hood.rollout_steps(kind.cluster, name, namespace, timeout))


@dataclass(frozen=True)
class ExternalIP:
    """A Service's LoadBalancer address and where it came from."""

    service: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    pool: str | None
    in_range: str | None
    seconds: float | None = None
    hood: _hood.Hood | None = field(default=None, compare=False, repr=False)

    def _repr_html_(self) -> str:
        src = f"pool <code>{html.escape(self.pool)}</code>" if self.pool else "an unknown pool"
        rng = f" (range <code>{self.in_range}</code>)" if self.in_range else ""
        took = f", seen after {self.seconds:.1f} s" if self.seconds is not None else ""
        body = (f"<div>Service <b>{html.escape(self.service)}</b> got <b><code>{self.ip}</code></b> "
                f"from {src}{rng}{took}</div>")
        return body + (self.hood._repr_html_() if self.hood else "")


def external_ip(kind: Kind, name: str = "nginx", namespace: str = "default") -> ExternalIP | None:
    """The Service's external IP and the pool it came from, or None while it is ``<pending>``."""
    return _resolve(kind, kind.core.read_namespaced_service(name, namespace))


def _resolve(kind: Kind, svc) -> ExternalIP | None:
    """The Service's address with the MetalLB pool (and range) it lies in."""
    text = ip_of(svc)
    if text is None:
        return None
    ip = ipaddress.ip_address(text)
    ann = svc.metadata.annotations or {}
    pool_name = next((ann[a] for a in POOL_ANNOTATIONS if ann.get(a)), None)
    owner = next(((n, r) for n, r in pools(kind) if ip in r), None)
    return ExternalIP(svc.metadata.name, ip, pool_name or (owner[0] if owner else None),
                      str(owner[1]) if owner else None)


def wait_external_ip(kind: Kind, name: str = "nginx", namespace: str = "default", timeout: float = 120,
                     progress: bool = True, expect_pool: str | None = None) -> ExternalIP:
    """Wait for the Service's external IP; check it came from a MetalLB pool (``expect_pool`` if given).

    Follows the API's watch on the Service (``kubectl wait`` does the same), so the address is seen
    the moment MetalLB writes it. On timeout the error explains why from the Service events and
    MetalLB's state.
    """
    seen: list = []
    start = time.monotonic()

    def check() -> tuple[bool, str]:
        svc = kind.core.read_namespaced_service(name, namespace)
        ip = ip_of(svc)
        if ip is None:
            return False, "EXTERNAL-IP <pending>"
        seen[:] = [svc, time.monotonic() - start]
        return True, f"EXTERNAL-IP {ip}"

    follow = [Watch(kind.core.list_namespaced_service, namespace, field_selector=f"metadata.name={name}")]
    wait_until(check, timeout=timeout, desc=f"external IP of {name}", progress=progress, interval=POLL, watches=follow,
               explain=lambda: "possible reasons:\n- " + "\n- ".join(reasons(kind, name, namespace)))
    svc, seconds = seen
    got = _resolve(kind, svc)
    if got.in_range is None:
        raise KindlbError(f"{name} got {got.ip}, which is in none of MetalLB's pools: another load balancer "
                          "(cloud-provider-kind?) may be answering; remove it, or check `kubectl get svc -o yaml`")
    if expect_pool and got.pool != expect_pool:
        raise KindlbError(f"{name} got {got.ip} from pool {got.pool!r}, not from {expect_pool!r}")
    return ExternalIP(got.service, got.ip, got.pool, got.in_range, round(seconds, 1),
                      _hood.wait_ip_steps(kind.cluster, name, namespace, timeout))


def fetch(ip, port: int = 80, path: str = "/", attempts: int = 30, delay: float = 1.0,
          timeout: float = 3.0) -> Page:
    """GET the page from the LoadBalancer IP, with a bounded number of tries (ARP takes a moment)."""
    url = http_url(ip, port, path)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    start, last_error = time.monotonic(), None
    # one try every `delay` seconds (a clock, not a wait for a state: each try's answer is the result)
    for n, _ in enumerate(ticks(float("inf"), every=delay), start=1):
        try:
            with opener.open(url, timeout=timeout) as resp:
                body = resp.read().decode(errors="replace")
                m = re.search(r"<title>(.*?)</title>", body, re.S | re.I)
                return Page(url, resp.status, m.group(1).strip() if m else None, resp.headers.get("Server"),
                            n, time.monotonic() - start, body, _hood.fetch_steps(url))
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
            if n >= attempts:
                break
    raise WaitTimeout(
        f"{url} did not answer after {attempts} tries ({last_error}). On macOS and Windows the kind network is "
        "not reachable from the host: probe it from a container on the kind network instead. On Linux check "
        "that MetalLB's speakers are Ready and an L2Advertisement exists."
    )


def spread(kind: Kind, ip, requests: int = 60, name: str = "nginx", namespace: str = "default",
           port: int = 80, via: str = "host", image: str | None = None) -> pd.DataFrame:
    """Send ``requests`` GETs, each tagged with a unique query string, then count them in each pod's access log.

    ``via="host"`` sends them from this machine; ``via="container"`` from the cluster's probe container on the
    kind network (where the host cannot reach it: Docker Desktop). The counts come from nginx's own
    logs, so they show where the requests really went. The frame's ``attrs`` hold ``sent``,
    ``failed``, ``token``, ``via``, ``client`` (the container's address, None from the host) and
    ``hood`` (the request loop and the ``kubectl logs`` line that count the same).
    """
    from .._cluster.probe import get_many

    if not 1 <= requests <= 1000:
        raise BadInput(f"requests must be between 1 and 1000 (got {requests})")
    token = secrets.token_hex(4)
    sent = get_many(ip, requests, token, via=via, port=port, image=image, cluster=kind.cluster)

    def hits(log: str) -> int:  # this run's requests in one pod's log, each once
        return len(set(re.findall(rf"kindlb={token}-(\d+)", log)))

    rows = [{"pod": pod.metadata.name, "node": pod.spec.node_name, "requests": hits(log)}
            for pod, log in app_logs(kind, name, namespace, hits, requests - sent.failed)]
    frame = pd.DataFrame(rows, columns=["pod", "node", "requests"])
    frame.attrs.update(sent=requests, failed=sent.failed, token=token, via=via, client=sent.client,
                       hood=_hood.spread_steps(kind.cluster, http_url(ip, port), token, requests, name, namespace,
                                               loop=sent.loop))
    return frame


def app_logs(kind: Kind, name: str, namespace: str, count: Callable[[str], int], expected: int,
             timeout: float = 5) -> list[tuple[Any, str]]:
    """(pod, its access log) for each running pod of the app, by pod name.

    Read again until ``count`` finds ``expected`` requests in the logs together: the container runtime
    writes a line a moment after nginx answers. After ``timeout`` seconds, what is there (a lost line
    shows as a shortfall).
    """
    logs: list[tuple[Any, str]] = []

    def check() -> tuple[bool, str]:
        logs[:] = []
        pods = kind.core.list_namespaced_pod(namespace, label_selector=f"{APP_LABEL}={name}").items
        for pod in sorted(pods, key=lambda p: p.metadata.name):
            if not pod.metadata.deletion_timestamp and pod.status.phase == "Running":
                logs.append((pod, kind.core.read_namespaced_pod_log(pod.metadata.name, namespace, since_seconds=600)))
        counted = sum(count(log) for _, log in logs)
        return counted >= expected, f"{counted} of {expected} answered requests in the logs"

    try:
        wait_until(check, timeout=timeout, desc="count requests in the logs", progress=False)
    except WaitTimeout:
        pass
    return logs


def remove(kind: Kind, name: str = "nginx", namespace: str = "default") -> _hood.Done:
    """Delete the Service and the Deployment (reverse order of creation); safe to run twice."""

    gone = []
    for fn, what in ((kind.core.delete_namespaced_service, "service"),
                     (kind.apps.delete_namespaced_deployment, "deployment")):
        gone.append(f"{what}/{name} deleted" if delete_if_there(fn, name, namespace) else
                    f"{what}/{name} was not there")
    return _hood.Done(f"removed {name}", _hood.remove_steps(kind.cluster, name, namespace), gone)


# ---------- a LoadBalancer Service with nobody to serve it ----------

def create_lb_service(kind: Kind, name: str = "lb-demo", namespace: str = "default", port: int = 80) -> _hood.Done:
    """A bare ``type: LoadBalancer`` Service (no pods behind it): to watch EXTERNAL-IP stay ``<pending>``."""
    obj = lb_service(name, namespace, port)
    done = server_side_apply(kind, [obj])
    hood = _hood.Hood(f"a LoadBalancer Service {name}", [
        _hood.Step(_hood.kubectl(kind.cluster, "create", "service", "loadbalancer", name, f"--tcp={port}:{port}",
                                 namespace=namespace), "type: LoadBalancer, selector app=" + name),
        _hood.Step(_hood.kubectl(kind.cluster, "get", "service", name, namespace=namespace)),
    ])
    return _hood.Done(f"applied {', '.join(done)}", hood, value=obj)


NOT_INSTALLED = "MetalLB is not installed: nothing in this cluster hands out LoadBalancer addresses"


@dataclass
class ServiceState:
    """What the cluster says about one Service, then our reading of it.

    The evidence, as ``kubectl get service``, ``kubectl describe service`` (Events of this Service's uid),
    MetalLB's controller log (its lines naming the Service), its ready endpoints and MetalLB's
    ServiceL2Status objects for it (v0.14.6+) show it; then ``metallb``: our diagnosis.
    """

    name: str
    namespace: str
    external_ip: str
    events: pd.DataFrame
    metallb: list[str]
    hood: _hood.Hood
    controller_log: list[str] = field(default_factory=list)
    endpoints: int | None = None
    l2status: list[str] | None = None
    installed: bool = True

    @property
    def pending(self) -> bool:
        return self.external_ip == "<pending>"

    def _repr_html_(self) -> str:
        nobody = " — no controller has even looked at this Service." if not self.installed else ""
        ev = (self.events.to_html(index=False, border=0) if len(self.events)
              else f"<p><i>Events: &lt;none&gt;</i>{nobody}</p>")
        parts = [f"<div><b>What the cluster says</b> (<code>kubectl get/describe service {html.escape(self.name)}"
                 f"</code>): EXTERNAL-IP <b><code>{html.escape(self.external_ip)}</code></b>; ready endpoints: "
                 f"<b>{'?' if self.endpoints is None else self.endpoints}</b></div>", ev]
        if self.installed:
            log = "\n".join(line if len(line) <= 400 else line[:400] + " …" for line in self.controller_log)
            log = log or "(no line names this Service)"
            parts.append(f"<div>MetalLB controller's log, lines naming <code>{html.escape(self.namespace)}/"
                         f"{html.escape(self.name)}</code>:</div><pre style='font-size:11px;white-space:pre-wrap'>"
                         f"{html.escape(log)}</pre>")
            if self.l2status is not None:
                nodes = ", ".join(self.l2status) or "none: no speaker announces it"
                parts.append(f"<div>ServiceL2Status ({fact('l2status').since}+, one per announcing speaker): "
                             f"{html.escape(nodes)}</div>")
        ml = "".join(f"<li>{html.escape(m)}</li>" for m in self.metallb)
        parts.append(f"<div><b>Our reading</b> (kindlb's diagnosis, from the above and MetalLB's configuration):"
                     f"<ul>{ml}</ul></div>")
        return "".join(parts) + self.hood._repr_html_()


def service_state(kind: Kind, name: str = "lb-demo", namespace: str = "default") -> ServiceState:
    """The Service as the cluster shows it (EXTERNAL-IP or ``<pending>``, its events by uid, its ready
    endpoints, MetalLB's controller log lines and ServiceL2Status about it), then MetalLB's diagnosis."""
    from .._cluster.metallb import NAMESPACE, controller_log, installed_version, l2_status_nodes, ready_endpoints

    got = external_ip(kind, name, namespace)
    uid = kind.core.read_namespaced_service(name, namespace).metadata.uid
    events = pd.DataFrame(events_for(kind, name, namespace, uid=uid),
                          columns=["type", "reason", "from", "count", "message"])
    installed = installed_version(kind) is not None
    state = [NOT_INSTALLED] if not installed else reasons(kind, name, namespace)
    log = controller_log(kind, f'{namespace}/{name}"') if installed else []
    try:
        l2s = l2_status_nodes(kind, name, namespace) if installed else None
    except KindlbError:
        l2s = None
    steps = [
        _hood.Step(_hood.kubectl(kind.cluster, "get", "service", name, namespace=namespace)),
        _hood.Step(_hood.kubectl(kind.cluster, "describe", "service", name, namespace=namespace),
                   "the Events at the bottom say who did what"),
        _hood.Step(_hood.kubectl(kind.cluster, "get", "endpointslices", "-l", f"kubernetes.io/service-name={name}",
                                 namespace=namespace), "the Service's endpoints: which pods could serve it"),
    ]
    if installed:
        steps.append(_hood.Step(_hood.kubectl(kind.cluster, "logs", "deploy/controller", namespace=NAMESPACE)
                                + f" | grep -F {shlex.quote(f'{namespace}/{name}' + chr(34))} | tail -8",
                                "what MetalLB's controller logged about the Service"))
    if l2s is not None:
        steps.append(_hood.Step(_hood.kubectl(
            kind.cluster, "get", "servicel2statuses", "-l",
            f"metallb.io/service-name={name},metallb.io/service-namespace={namespace}", namespace=NAMESPACE),
            f"{fact('l2status').since}+: which speaker announces it (none: nobody answers ARP for its IP)"))
    return ServiceState(name, namespace, str(got.ip) if got else "<pending>", events, state,
                        _hood.Hood(f"look at Service {name}", steps), log, ready_endpoints(kind, name, namespace),
                        l2s, installed)


def delete_service(kind: Kind, name: str = "lb-demo", namespace: str = "default") -> _hood.Done:
    """Delete one Service (MetalLB takes its address back); safe to run twice."""

    what = (f"service/{name} deleted" if delete_if_there(kind.core.delete_namespaced_service, name, namespace)
            else f"service/{name} was not there")
    return _hood.Done(what, _hood.Hood(f"delete Service {name}", [
        _hood.Step(_hood.kubectl(kind.cluster, "delete", "service", name, "--ignore-not-found", namespace=namespace),
                   "its address goes back into the pool")]))
