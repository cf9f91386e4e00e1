"""The plan of BGP mode: every input checked against the cluster and the kind network before anything is
applied (AS numbers, the pool, the router's address, MetalLB's release), and the router's files written.
"""
from __future__ import annotations

import html
import ipaddress
from dataclasses import dataclass, field

import pandas as pd
import yaml

from ..._cluster import router as _router
from ..._cluster.kube import Kind, get_or_none
from ..._cluster.metallb import installed_version, pools
from ..._core import bgp_config as _bgp
from ..._core.errors import MetalLBError
from ..render import PRE
from .show import frame


@dataclass
class Plan:
    """The checked plan: MetalLB's release, the nodes (one neighbour each), the pool, the router's files."""

    cluster: str
    version: str
    network: str
    subnet: str
    image: str
    router_ip: str | None
    core: _bgp.BgpPlan
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def frr_conf(self) -> str:
        return _bgp.frr_config(self.core)

    @property
    def pool(self) -> str:
        return self.core.pool.as_cidr_or_range()

    def neighbours(self) -> pd.DataFrame:
        rows = [{"node": n, "role": self.roles.get(n, ""), "address": ip, "AS": self.core.metallb_asn}
                for n, ip in self.core.neighbours]
        return frame(rows, ["node", "role", "address", "AS"])

    def _repr_html_(self) -> str:
        p = self.core
        kind = "eBGP (two AS numbers)" if not p.ibgp else "iBGP (one AS number)"
        head = (f"<div>Router AS <b>{p.router_asn}</b>, MetalLB AS <b>{p.metallb_asn}</b> ({kind}); BGP pool "
                f"<b><code>{html.escape(self.pool)}</code></b>, outside the kind subnet <code>{self.subnet}</code>; "
                f"hold time <b>{p.hold_time} s</b>; router image <code>{html.escape(self.image)}</code>, address "
                f"<code>{self.router_ip or 'picked by Docker'}</code>. Nothing is applied yet.</div>")
        conf = (f"<details open><summary><code>frr.conf</code>: the file a person would write "
                f"({len(self.frr_conf.splitlines())} lines)</summary><pre style='{PRE}'>"
                f"{html.escape(self.frr_conf)}</pre></details>")
        return head + self.neighbours().to_html(index=False) + conf


def _nodes(kind: Kind) -> list[tuple[str, str, str]]:
    """(name, InternalIP, role) of every node, control plane first."""
    out = []
    for n in kind.core.list_node().items:
        ip = next((a.address for a in n.status.addresses or [] if a.type == "InternalIP"), None)
        labels = n.metadata.labels or {}
        role = "control-plane" if "node-role.kubernetes.io/control-plane" in labels else "worker"
        if ip and ipaddress.ip_address(ip).version == 4:
            out.append((n.metadata.name, ip, role))
    return sorted(out, key=lambda t: (t[2] != "control-plane", t[0]))


def _cluster_cidrs(kind: Kind) -> list[tuple[str, str]]:
    """The pod and Service CIDRs kubeadm was given (kube-system/kubeadm-config), and each node's pod CIDR."""
    out = []
    cm = get_or_none(kind.core.read_namespaced_config_map, "kubeadm-config", "kube-system")
    conf = yaml.safe_load((cm.data or {}).get("ClusterConfiguration", "") or "{}") if cm else {}
    net = (conf or {}).get("networking") or {}
    for key, label in (("podSubnet", "pod network"), ("serviceSubnet", "Service network")):
        for cidr in str(net.get(key) or "").split(","):
            if cidr.strip() and ipaddress.ip_network(cidr.strip(), strict=False).version == 4:
                out.append((label, cidr.strip()))
    return out


def resolve_image(image: str = "auto") -> str:
    """``"auto"``: the one resolver's router image (a loaded bundle's, else the offline lab's FRR, else FRR's own)."""
    from ..._cluster.sources import resolve

    return resolve("router", image).value


def plan(kind: Kind, router_asn: int = _bgp.ROUTER_ASN, metallb_asn: int = _bgp.METALLB_ASN,
         pool: str = _bgp.DEFAULT_POOL, router_ip: str = "", hold_time: int = _bgp.LAB_HOLD_TIME,
         image: str = "auto") -> Plan:
    """Check every input against the cluster and the kind network, and write the router's config.

    Refused with a message that names the fix, before anything is applied: an AS number out of range,
    a pool inside the kind subnet or overlapping another pool or the cluster's own networks, a router
    address that is taken or not on the kind network, MetalLB missing.
    """
    from ..._cluster.dockernet import kind_network
    from ..._cluster.network import taken_on

    _bgp.check_asn(router_asn, "router_asn")
    _bgp.check_asn(metallb_asn, "metallb_asn")
    _bgp.check_hold_time(hold_time)
    version = installed_version(kind)
    if version is None:
        raise MetalLBError(f"MetalLB is not installed in {kind.cluster!r}: run notebook 02_install_metallb first")
    net = kind_network()
    subnet = net.subnet(4)
    others = [(n, r) for n, r in pools(kind) if n != _bgp.POOL_NAME]
    rng = _bgp.check_pool(pool, subnet, others, _cluster_cidrs(kind))
    nodes = _nodes(kind)
    ip = None
    if router_ip:
        mine = _router.router_name(kind.cluster)
        taken = [(str(t).rsplit(" ", 1)[0], str(t.range.first)) for t in taken_on(net)
                 if str(t) != f"container {mine} {t.range.first}"]
        ip = _bgp.check_router_ip(router_ip, subnet, taken, others)
    core = _bgp.plan(router_asn, metallb_asn, [(n, a) for n, a, _ in nodes], rng, hold_time,
                     _router.router_name(kind.cluster))
    return Plan(kind.cluster, version, net.name, str(subnet), resolve_image(image), ip, core,
                {n: r for n, _, r in nodes})


def neighbour_names(p: Plan) -> dict[str, str]:
    """Each neighbour's address -> its node's name (what the router's tables are read with)."""
    return {ip: n for n, ip in p.core.neighbours}
