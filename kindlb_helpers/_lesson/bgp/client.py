"""A client behind the router, and how its requests spread: a container whose route to the BGP pool goes
through the router sends requests, and nginx's access logs say which node each one entered.

NETWORK RULE: every request to a BGP address runs inside this client container (``docker exec``).
"""
from __future__ import annotations

import html
import ipaddress
import secrets
import shlex
from dataclasses import dataclass

import pandas as pd

from ..._cluster import router as _router
from ..._cluster.kube import Kind
from ..._core import hood as _hood
from ..._core.errors import BadInput
from ..._core.objects import APP_LABEL
from .peering import Router
from .plan import Plan
from .routes import SERVICE, traffic_policy
from .show import frame


@dataclass
class Client:
    """The client container behind the router: its name and address on the kind network."""

    name: str
    ip: str
    hood: _hood.Hood

    def _repr_html_(self) -> str:
        return (f"<div>Client <b>{html.escape(self.name)}</b> at <code>{self.ip}</code>: its route to the BGP pool "
                "goes through the router</div>" + self.hood._repr_html_())


def start_client(p: Plan, router: Router) -> Client:
    """A container on the kind network whose route to the BGP pool goes via the router."""
    routes_ = {_bgp_prefix(p): router.ip}
    box = _router.start_client(p.cluster, router.image, p.network, routes_)
    hood = _hood.Hood(f"a client behind the router: {box.name}",
                      _router.client_steps(p.cluster, router.image, p.network, routes_))
    return Client(box.name, box.ip, hood)


def _bgp_prefix(p: Plan) -> str:
    c = p.core.pool.cidr
    return str(c) if c is not None else p.pool


def _parse_log(log: str, token: str) -> list[str]:
    from ..l2.parse import parse_access_log

    return parse_access_log(log, token)


def spread(kind: Kind, client: Client, ip, requests: int = 30, service: str = SERVICE, app: str = "nginx",
           namespace: str = "default") -> pd.DataFrame:
    """``requests`` GETs from the client (each a new connection), counted in nginx's access logs by the node
    they entered: the node whose address nginx saw (``Cluster``: kube-proxy rewrote the source), or the
    pod's own node (``Local``: the source is the client). One row per node."""
    from ..app import app_logs
    from ..l2.clients import address_owners, owner_of

    if isinstance(requests, bool) or not isinstance(requests, int) or not 1 <= requests <= 1000:
        raise BadInput(f"requests must be a whole number from 1 to 1000 (got {requests!r})")
    ip = str(ipaddress.ip_address(str(ip)))
    token = secrets.token_hex(4)
    url = f"http://{ip}/?kindlb={token}-"
    loop = (f'ok=0; for i in $(seq 1 {requests}); do wget -q -T 3 -O /dev/null "{url}$i" && ok=$((ok+1)); done; '
            'echo "answered $ok"')
    code, out = _router.exec_in(client.name, ["sh", "-c", loop], check=False)
    answered = int(out.split("answered", 1)[1].split()[0]) if "answered" in out else 0
    owners = address_owners(kind)
    policy = traffic_policy(kind, service, namespace)
    counts: dict[str, int] = {}
    pods: dict[str, int] = {}
    for pod, log in app_logs(kind, app, namespace, lambda log: len(_parse_log(log, token)), answered):
        for addr in _parse_log(log, token):
            whose = owner_of(addr, owners, client.ip)
            node = whose[5:] if whose.startswith("node ") else pod.spec.node_name
            counts[node] = counts.get(node, 0) + 1
            pods[pod.spec.node_name] = pods.get(pod.spec.node_name, 0) + 1
    all_nodes = sorted(set(owners))
    rows = [{"node": n, "requests entered": counts.get(n, 0), "served by its pods": pods.get(n, 0)}
            for n in all_nodes]
    hood = _hood.Hood(f"{requests} requests from {client.name} to {ip}, counted per node", [
        _hood.Step(shlex.join(["docker", "exec", client.name, "sh", "-c",
                               f'for i in $(seq 1 {requests}); do wget -q -O /dev/null "{url}$i"; done']),
                   "each wget is a new connection, with a new source port"),
        _hood.Step(_hood.kubectl(kind.cluster, "logs", "-l", f"{APP_LABEL}={app}", "--prefix", "--tail=-1",
                                 namespace=namespace)
                   + f" | grep -F kindlb={token}- | awk '{{print $2}}' | sort | uniq -c",
                   "the client address nginx logged: a node's own address under Cluster (SNAT), "
                   "the client's under Local")])
    return frame(rows, ["node", "requests entered", "served by its pods"], hood, service=service, ip=ip,
                  policy=policy, sent=requests, answered=answered, token=token)


def spread_figure(**frames: pd.DataFrame):
    """Bars: requests entered per node, one group per measurement (e.g. layer 2 vs BGP)."""
    import matplotlib.pyplot as plt

    nodes = sorted({n for f in frames.values() for n in f["node"]})
    fig, ax = plt.subplots(figsize=(7, 3))
    width = 0.8 / max(len(frames), 1)
    for i, (label, f) in enumerate(frames.items()):
        counts = dict(zip(f["node"], f["requests entered"]))
        ax.bar([x + i * width for x in range(len(nodes))], [counts.get(n, 0) for n in nodes], width, label=label)
    ax.set_xticks([x + width * (len(frames) - 1) / 2 for x in range(len(nodes))], nodes)
    ax.set_ylabel("requests entered (count)")
    ax.set_title("Which node the requests entered: layer 2 uses one, BGP spreads over the advertising nodes")
    ax.legend()
    fig.tight_layout()
    plt.close(fig)
    return fig
