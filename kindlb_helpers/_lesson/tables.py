"""DataFrame views of cluster objects, with the columns (and values) kubectl prints, of the kind network, and of the
packets captured on its bridge."""
from __future__ import annotations

import datetime as dt
import html
from dataclasses import fields
from typing import TYPE_CHECKING

import pandas as pd

from .._cluster.dockernet import KindNetwork, kind_network
from .._cluster.kube import Kind, ingress
from .._core import hood as _hood

if TYPE_CHECKING:
    from .._cluster.capture import Captured

NODE_COLUMNS = ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP",
                "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
SERVICE_COLUMNS = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
POD_COLUMNS = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]


def human_age(seconds: float) -> str:
    """kubectl's way of printing an age: ``95s``, ``3m12s``, ``4h10m``, ``3d2h``, ``2y5d``.

    >>> [human_age(s) for s in (5, 119, 125, 600, 3 * 3600 + 60, 9 * 3600, 50 * 3600)]
    ['5s', '119s', '2m5s', '10m', '3h1m', '9h', '2d2h']
    """
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def _age(ts: dt.datetime | None, now: dt.datetime | None = None) -> str:
    if ts is None:
        return "<unknown>"
    now = now or dt.datetime.now(dt.timezone.utc)
    return human_age((now - ts).total_seconds())


def node_row(node, now: dt.datetime | None = None) -> dict:
    """One row of ``kubectl get nodes -o wide`` for a V1Node."""
    labels = node.metadata.labels or {}
    ready = next((c.status for c in node.status.conditions or [] if c.type == "Ready"), None)
    status = {"True": "Ready", "False": "NotReady"}.get(ready, "Unknown")
    if node.spec.unschedulable:
        status += ",SchedulingDisabled"
    roles = sorted({k.split("/", 1)[1] for k in labels
                    if k.startswith("node-role.kubernetes.io/") and k.split("/", 1)[1]}
                   | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set()))
    addrs = node.status.addresses or []
    first = lambda t: next((a.address for a in addrs if a.type == t), "<none>")  # noqa: E731
    info = node.status.node_info
    return {
        "NAME": node.metadata.name, "STATUS": status, "ROLES": ",".join(roles) or "<none>",
        "AGE": _age(node.metadata.creation_timestamp, now), "VERSION": info.kubelet_version,
        "INTERNAL-IP": first("InternalIP"), "EXTERNAL-IP": first("ExternalIP"),
        "OS-IMAGE": info.os_image, "KERNEL-VERSION": info.kernel_version,
        "CONTAINER-RUNTIME": info.container_runtime_version,
    }


def nodes_frame(kind: Kind) -> pd.DataFrame:
    """The nodes as ``kubectl get nodes -o wide`` shows them."""
    nodes = sorted(kind.core.list_node().items, key=lambda n: n.metadata.name)
    frame = pd.DataFrame([node_row(n) for n in nodes], columns=NODE_COLUMNS)
    frame.attrs["hood"] = _hood.Hood("the nodes",
                                     [_hood.Step(_hood.kubectl(kind.cluster, "get", "nodes", "-o", "wide"))])
    return frame


def _ports(svc) -> str:
    parts = []
    for p in svc.spec.ports or []:
        text = f"{p.port}:{p.node_port}" if p.node_port else f"{p.port}"
        parts.append(f"{text}/{p.protocol}")
    return ",".join(parts) or "<none>"


def _external(svc) -> str:
    ips = [i.ip or i.hostname for i in ingress(svc) if i.ip or i.hostname] + list(svc.spec.external_ips or [])
    if ips:
        return ",".join(ips)
    if svc.spec.type == "LoadBalancer":
        return "<pending>"
    if svc.spec.type == "ExternalName":
        return svc.spec.external_name or "<none>"
    return "<none>"


def services_frame(kind: Kind, namespace: str = "default") -> pd.DataFrame:
    """The Services of ``namespace`` as ``kubectl get service`` shows them."""
    rows = []
    for svc in sorted(kind.core.list_namespaced_service(namespace).items, key=lambda s: s.metadata.name):
        rows.append({
            "NAME": svc.metadata.name, "TYPE": svc.spec.type, "CLUSTER-IP": svc.spec.cluster_ip or "<none>",
            "EXTERNAL-IP": _external(svc), "PORT(S)": _ports(svc), "AGE": _age(svc.metadata.creation_timestamp),
        })
    frame = pd.DataFrame(rows, columns=SERVICE_COLUMNS)
    frame.attrs["hood"] = _hood.Hood("the Services", [
        _hood.Step(_hood.kubectl(kind.cluster, "get", "services", namespace=namespace))])
    return frame


def pods_frame(kind: Kind, namespace: str, selector: str | None = None) -> pd.DataFrame:
    """Pods as ``kubectl get pods -o wide`` shows them (the first seven columns)."""
    rows = []
    pods = kind.core.list_namespaced_pod(namespace, label_selector=selector or "").items
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        statuses = pod.status.container_statuses or []
        waiting = next((s.state.waiting.reason for s in statuses if s.state and s.state.waiting), None)
        status = "Terminating" if pod.metadata.deletion_timestamp else (waiting or pod.status.phase)
        rows.append({
            "NAME": pod.metadata.name,
            "READY": f"{sum(1 for s in statuses if s.ready)}/{len(pod.spec.containers)}",
            "STATUS": status, "RESTARTS": sum(s.restart_count for s in statuses),
            "AGE": _age(pod.metadata.creation_timestamp), "IP": pod.status.pod_ip or "<none>",
            "NODE": pod.spec.node_name or "<none>",
        })
    frame = pd.DataFrame(rows, columns=POD_COLUMNS)
    args = ["get", "pods", "-o", "wide"] + (["-l", selector] if selector else [])
    frame.attrs["hood"] = _hood.Hood("the pods", [_hood.Step(_hood.kubectl(kind.cluster, *args, namespace=namespace))])
    return frame


def highlight(frame: pd.DataFrame, column: str, good: tuple[str, ...]):
    """A Styler that colours ``column`` green where its value is in ``good``, red elsewhere."""
    def colour(value):
        ok = any(str(value).startswith(g) for g in good)
        return "color: #1a7f37; font-weight: bold" if ok else "color: #cf222e; font-weight: bold"

    return frame.style.map(colour, subset=[column]).hide(axis="index")


def node_containers(cluster: str) -> pd.DataFrame:
    """kind cluster ``cluster``'s node containers with their addresses on the kind network (Docker API)."""
    import shlex

    from .._cluster.dockernet import CLUSTER_LABEL, kind_network_name, kind_nodes

    network = kind_network_name()
    rows = [{"CONTAINER": n.name, "ROLE": n.role or "", "IPV4": str(n.ipv4 or "<none>"),
             "IPV6": str(n.ipv6 or "<none>")} for n in kind_nodes(cluster, network=network)]
    frame = pd.DataFrame(rows, columns=["CONTAINER", "ROLE", "IPV4", "IPV6"])
    fmt = '{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.IPv6Address}}{{"\\n"}}{{end}}'
    frame.attrs["hood"] = _hood.Hood("the node containers", [
        _hood.Step(shlex.join(["docker", "ps", "--filter", f"label={CLUSTER_LABEL}={cluster}"]),
                   "one container per node"),
        _hood.Step(shlex.join(["docker", "network", "inspect", network, "--format", fmt]),
                   "their addresses on the kind bridge"),
    ])
    return frame


def network_frame(net: KindNetwork) -> pd.DataFrame:
    """One row per address family: network, family (4 or 6), subnet, gateway (strings)."""
    rows = [{"network": net.name, "family": fam, "subnet": str(sub),
             "gateway": str(net.gateways.get(fam, ""))} for fam, sub in sorted(net.subnets.items())]
    return pd.DataFrame(rows, columns=["network", "family", "subnet", "gateway"])


def endpoints_frame(net: KindNetwork) -> pd.DataFrame:
    """One row per attached container: name, cluster, role, ipv4, ipv6 (strings, "" if none)."""
    rows = [{"name": e.name, "cluster": e.cluster or "", "role": e.role or "",
             "ipv4": str(e.ipv4 or ""), "ipv6": str(e.ipv6 or "")} for e in net.endpoints]
    return pd.DataFrame(rows, columns=["name", "cluster", "role", "ipv4", "ipv6"])


def captured_frame(captured: Captured) -> pd.DataFrame:
    """A capture's packets (ARP, or NDP and ARP) as a table of its columns; ``attrs``: ``via``, ``why``, ``bridge``
    and ``hood`` (the ``tcpdump`` or ``nft`` lines that capture the same, which :func:`~.render.show` adds)."""
    frame = pd.DataFrame(captured.records, columns=captured.columns)
    frame.attrs.update(via=captured.via, why=captured.why, bridge=captured.bridge, hood=captured.hood)
    return frame


class ShownNetwork(KindNetwork):
    """The kind network as notebook 03 shows it: its subnets and the containers on it, as tables."""

    def _repr_html_(self) -> str:
        head = (f"<p><b>Docker network <code>{html.escape(self.name)}</code></b> "
                f"(id {html.escape(self.id[:12])}, IPv6 {'on' if self.ipv6_enabled else 'off'})</p>")
        parts = [head, network_frame(self).drop(columns="network").to_html(index=False)]
        if self.extra_subnets:
            extra = ", ".join(str(s) for s in self.extra_subnets)
            parts.append(f"<p>Further subnets, not used: {html.escape(extra)}</p>")
        if self.endpoints:
            parts.append(endpoints_frame(self).to_html(index=False))
        else:
            parts.append("<p><i>No running containers attached.</i></p>")
        return "<div>" + "\n".join(parts) + "</div>"


def shown(net: KindNetwork) -> ShownNetwork:
    """``net`` as a notebook shows it (the same data)."""
    return ShownNetwork(**{f.name: getattr(net, f.name) for f in fields(net)})


def network(name: str | None = None) -> ShownNetwork:
    """The kind network (``docker network inspect kind``), shown as tables in a notebook."""
    return shown(kind_network(name))
