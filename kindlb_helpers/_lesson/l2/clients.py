"""Who the pods think the client is: ``externalTrafficPolicy`` and the replicas set, tagged requests
sent, and each pod's access log read for the client address it saw; compared, drawn, and put back.
"""
from __future__ import annotations

import ipaddress
import secrets

import pandas as pd

from ..._cluster.kube import Kind
from ..._core import hood as _hood
from ..._core.errors import BadInput, KindlbError
from ..._core.objects import APP_LABEL, http_url
from .announce import current_announcer
from .neigh import checked_ip, checked_via, mac_to_node
from .parse import parse_access_log
from .where import settle


def set_traffic_policy(kind: Kind, policy: str, name: str = "nginx", namespace: str = "default") -> _hood.Done:
    """Set the Service's ``spec.externalTrafficPolicy`` (``Cluster`` or ``Local``)."""
    if policy not in ("Cluster", "Local"):
        raise BadInput(f"policy must be 'Cluster' or 'Local', not {policy!r}")
    patch = {"spec": {"externalTrafficPolicy": policy}}
    kind.core.patch_namespaced_service(name, namespace, patch)
    import json

    return _hood.Done(f"service/{name}: externalTrafficPolicy {policy}", _hood.Hood(
        f"externalTrafficPolicy: {policy}", [_hood.Step(_hood.kubectl(
            kind.cluster, "patch", "service", name, "-p", json.dumps(patch, separators=(",", ":")),
            namespace=namespace), "Local: only nodes with a ready pod take traffic, and the client address is kept")]))


def scale(kind: Kind, replicas: int, name: str = "nginx", namespace: str = "default",
          timeout: float = 180) -> _hood.Done:
    """Scale the Deployment and wait until the pods are ready."""
    from ..app import wait_rollout

    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 50:
        raise BadInput(f"replicas must be a whole number from 1 to 50 (got {replicas!r})")
    kind.apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})
    done = wait_rollout(kind, name, namespace, timeout=timeout, progress=False)
    return _hood.Done(f"deployment/{name} scaled to {replicas}: {done.headline.split(': ', 1)[-1]}", _hood.Hood(
        f"scale {name} to {replicas}", [_hood.Step(_hood.kubectl(kind.cluster, "scale", "deployment", name,
                                                                 f"--replicas={replicas}", namespace=namespace)),
                                        *done.hood.steps]))


def address_owners(kind: Kind) -> dict:
    """node name -> (InternalIP, pod CIDR network), to say whose address a client address is."""
    out = {}
    for n in kind.core.list_node().items:
        ip = next((a.address for a in n.status.addresses or [] if a.type == "InternalIP"), None)
        cidr = ipaddress.ip_network(n.spec.pod_cidr) if n.spec.pod_cidr else None
        out[n.metadata.name] = (ip, cidr)
    return out


def owner_of(addr: str, owners: dict, client: str | None, client_is: str = "this host") -> str:
    if client and addr == client:
        return f"{client_is} (the real client)"
    a = ipaddress.ip_address(addr)
    for node, (ip, cidr) in owners.items():
        if addr == ip or (cidr is not None and a in cidr):
            return f"node {node}"
    return "unknown"


def client_addresses(kind: Kind, ip, requests: int = 30, name: str = "nginx", namespace: str = "default",
                     port: int = 80, via: str = "host", image: str | None = None) -> pd.DataFrame:
    """Send tagged requests, then read each pod's access log: the client address nginx saw.

    ``via="host"`` sends them from this machine (its address on the kind network is the bridge's
    gateway); ``via="container"`` from the cluster's probe container on the kind network (its own address
    there is then the real client). One row per (pod, client address): its node, how many requests, and
    whose address that is (the real client, or a node). First waits (bounded) until the client's
    neighbour entry and MetalLB agree on one node. ``attrs``: ``policy``, ``host`` (the real client's
    address), ``via``, ``announcer``, ``entry`` / ``entry_before`` (the node whose MAC the client used
    after / before the requests), ``sent``, ``failed``, ``hood``.
    """
    from ..._cluster.dockernet import kind_network
    from ..._cluster.probe import get_many

    ip, via = checked_ip(ip), checked_via(via)
    if isinstance(requests, bool) or not isinstance(requests, int) or not 1 <= requests <= 1000:
        raise BadInput(f"requests must be a whole number from 1 to 1000 (got {requests!r})")
    svc = kind.core.read_namespaced_service(name, namespace)
    policy = svc.spec.external_traffic_policy or "Cluster"
    entry = settle(kind, ip, name, namespace, via=via, image=image)  # the node the requests will enter
    token = secrets.token_hex(4)
    sent = get_many(ip, requests, token, via=via, port=port, image=image, cluster=kind.cluster)
    client = str(kind_network().gateway(4)) if via == "host" else sent.client
    client_is = "this host" if via == "host" else "the probe container"
    from ..app import app_logs

    owners = address_owners(kind)
    rows = []
    for pod, log in app_logs(kind, name, namespace, lambda log: len(parse_access_log(log, token)),
                             requests - sent.failed):
        seen = parse_access_log(log, token)
        for addr in sorted(set(seen)) or [None]:
            rows.append({"pod": pod.metadata.name, "node": pod.spec.node_name,
                         "client address": addr, "requests": seen.count(addr) if addr else 0,
                         "whose address": owner_of(addr, owners, client, client_is) if addr else ""})
    frame = pd.DataFrame(sorted(rows, key=lambda r: (r["node"], r["pod"])),
                         columns=["pod", "node", "client address", "requests", "whose address"])
    mac_of = mac_to_node(kind.cluster)
    frame.attrs.update(policy=policy, host=client, via=via, announcer=current_announcer(kind, name, namespace),
                       entry_before=entry, entry=mac_of.get(sent.mac or ""),
                       sent=requests, failed=sent.failed, token=token,
                       hood=_clients_steps(kind.cluster, ip, port, token, requests, policy, name, namespace,
                                           loop=sent.loop))
    return frame


def _clients_steps(cluster: str, ip: str, port: int, token: str, requests: int, policy: str, name: str,
                   namespace: str, loop: str | None = None) -> _hood.Hood:
    url = f"{http_url(ip, port)}?kindlb={token}-$i"
    loop = loop or f'for i in $(seq 1 {requests}); do curl -s -o /dev/null "{url}"; done'
    logs = _hood.kubectl(cluster, "logs", "-l", f"{APP_LABEL}={name}", "--prefix", "--tail=-1", namespace=namespace)
    cols = "custom-columns=NODE:.metadata.name,IP:.status.addresses[0].address,PODCIDR:.spec.podCIDR"
    return _hood.Hood(f"{requests} requests under externalTrafficPolicy {policy}: who nginx saw as the client", [
        _hood.Step(loop, "each request carries a unique query string"),
        _hood.Step(logs + f" | grep -F kindlb={token}- | awk '{{print $1, $2}}' | sort | uniq -c",
                   "the first field of nginx's access log is the client address"),
        _hood.Step(_hood.kubectl(cluster, "get", "nodes", "-o", cols), "whose address it is: a node's, or yours"),
    ])


def compare_policies(*frames: pd.DataFrame) -> pd.DataFrame:
    """One row per :func:`client_addresses` run: what each traffic policy showed."""
    rows = [policy_summary(f) for f in frames if f is not None]
    return pd.DataFrame([{k: (", ".join(v) if isinstance(v, list) else v) for k, v in r.items()} for r in rows])


def restore(kind: Kind, name: str = "nginx", namespace: str = "default", replicas: int = 3) -> _hood.Done:
    """Back to the series' state: ``externalTrafficPolicy: Cluster`` and ``replicas`` pods."""
    policy = set_traffic_policy(kind, "Cluster", name, namespace)
    scaled = scale(kind, replicas, name, namespace)
    return _hood.Done(f"{policy.headline}; {scaled.headline}", _hood.Hood(
        f"put {name} back as it was", policy.hood.steps + scaled.hood.steps))


def policy_figure(*frames: pd.DataFrame):
    """Requests per pod, one panel per :func:`client_addresses` run; the entry node's pods in green."""
    import matplotlib.pyplot as plt

    frames = tuple(f for f in frames if f is not None)
    if not frames:
        raise KindlbError("no measurement to draw: run kh.l2.client_addresses first (it needs the host route)")
    fig, axes = plt.subplots(1, len(frames), figsize=(5.2 * len(frames), 3.4), sharey=True, squeeze=False)
    for ax, f in zip(axes[0], frames):
        per_pod = f.groupby(["pod", "node"], as_index=False)["requests"].sum()
        colours = ["#1a7f37" if n == f.attrs.get("entry") else "#8c959f" for n in per_pod["node"]]
        ax.bar([f"{p[-5:]}\n{n}" for p, n in zip(per_pod["pod"], per_pod["node"])], per_pod["requests"],
               color=colours)
        whose = ", ".join(sorted(set(f.loc[f["requests"] > 0, "whose address"]))) or "nobody"
        ax.set_title(f"externalTrafficPolicy: {f.attrs['policy']}\nnginx saw: {whose}", fontsize=9)
        ax.set_xlabel(f"pod (last 5 characters) and node; green: {f.attrs.get('entry')}, where traffic enters",
                      fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    axes[0][0].set_ylabel("requests in the pod's access log")
    fig.suptitle("Cluster spreads over every pod; Local keeps to the pods of the announcing node", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def policy_summary(frame: pd.DataFrame) -> dict:
    """What one :func:`client_addresses` run shows, as plain values (for the comparison table and ``result``)."""
    hit = frame[frame["requests"] > 0]
    return {"policy": frame.attrs["policy"], "announcer": frame.attrs["announcer"],
            "entry node": frame.attrs.get("entry"), "entry node before": frame.attrs.get("entry_before"),
            "requests counted": int(hit["requests"].sum()), "pods hit": int(hit["pod"].nunique()),
            "nodes with pods hit": sorted(set(hit["node"])),
            "client addresses": sorted(set(hit["client address"])), "whose": sorted(set(hit["whose address"])),
            "source IP kept": bool(len(hit)) and set(hit["client address"]) == {frame.attrs["host"]}}
