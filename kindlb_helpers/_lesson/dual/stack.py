"""The dual-stack cluster and its network: which families the cluster serves, the kind network's two subnets,
and one pool with a range of each, planned and checked as notebook 3 does for IPv4.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from ..._cluster.dockernet import KindNetwork
from ..._cluster.kube import Kind
from ..._cluster.network import taken_on
from ..._core import hood as _hood
from ..._core.errors import KindlbError, PoolError
from ..._core.pool import PoolRange, Reserved, plan_pool
from ..._core.pool.families import FAMILY_NAMES, family_word, validate_families


def families_of(kind: Kind) -> tuple[int, ...]:
    """The families the cluster gives pods and Services: those of its nodes' podCIDRs ((4,) or (4, 6))."""
    fams = {6 if ":" in c else 4 for n in kind.core.list_node().items for c in (n.spec.pod_cidrs or [])}
    return tuple(sorted(fams)) or (4,)


def cluster_table(kind: Kind) -> pd.DataFrame:
    """One row per node: its addresses on the kind network and its pod ranges, per family.

    ``attrs``: ``families`` (the cluster's), ``hood`` (the ``kubectl`` lines that show the same).
    """
    rows = []
    for n in sorted(kind.core.list_node().items, key=lambda n: n.metadata.name):
        ips = [a.address for a in (n.status.addresses or []) if a.type == "InternalIP"]
        cidrs = n.spec.pod_cidrs or []
        rows.append({"node": n.metadata.name,
                     "IPv4 address": next((a for a in ips if ":" not in a), None),
                     "IPv6 address": next((a for a in ips if ":" in a), None),
                     "IPv4 pods": next((c for c in cidrs if ":" not in c), None),
                     "IPv6 pods": next((c for c in cidrs if ":" in c), None)})
    frame = pd.DataFrame(rows, columns=["node", "IPv4 address", "IPv6 address", "IPv4 pods", "IPv6 pods"])
    frame.attrs.update(families=families_of(kind), hood=_hood.Hood(f"the nodes of {kind.cluster}, per family", [
        _hood.Step(_hood.kubectl(kind.cluster, "get", "nodes", "-o",
                                 "custom-columns=NODE:.metadata.name,ADDRESSES:.status.addresses[*].address,"
                                 "PODCIDRS:.spec.podCIDRs"),
                   "a dual-stack node has an InternalIP and a pod range of each family"),
    ]))
    return frame


def pods_table(kind: Kind, app: str = "nginx", namespace: str = "default") -> pd.DataFrame:
    """The app's pods with their addresses of each family (``status.podIPs``)."""
    pods = kind.core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
    rows = []
    for p in sorted(pods, key=lambda p: p.metadata.name):
        ips = [i.ip for i in (p.status.pod_ips or [])]
        rows.append({"pod": p.metadata.name, "node": p.spec.node_name,
                     "IPv4": next((i for i in ips if ":" not in i), None),
                     "IPv6": next((i for i in ips if ":" in i), None)})
    frame = pd.DataFrame(rows, columns=["pod", "node", "IPv4", "IPv6"])
    frame.attrs["hood"] = _hood.Hood(f"the {app} pods' addresses", [
        _hood.Step(_hood.kubectl(kind.cluster, "get", "pods", "-l", f"app={app}", "-o",
                                 "custom-columns=POD:.metadata.name,IPS:.status.podIPs[*].ip", namespace=namespace),
                   "podIPs: one address per family the cluster has")])
    return frame


def subnets_table(net: KindNetwork) -> pd.DataFrame:
    """The kind network's subnets, one row per family: the subnet, the bridge's own address, the nodes'."""
    rows = []
    for fam in sorted(net.subnets):
        nodes = [str(e.ipv4 if fam == 4 else e.ipv6) for e in net.endpoints
                 if e.cluster and (e.ipv4 if fam == 4 else e.ipv6) is not None]
        rows.append({"family": FAMILY_NAMES[fam], "subnet": str(net.subnet(fam)),
                     "bridge (Docker's gateway)": str(net.gateway(fam)),
                     "addresses": f"{net.subnet(fam).num_addresses:,}",
                     "kind nodes (every cluster here)": ", ".join(nodes)})
    frame = pd.DataFrame(rows, columns=["family", "subnet", "bridge (Docker's gateway)", "addresses",
                                        "kind nodes (every cluster here)"])
    frame.attrs["hood"] = _hood.Hood(f"the Docker network {net.name}", [
        _hood.Step(f"docker network inspect {net.name} -f '{{{{range .IPAM.Config}}}}{{{{.Subnet}}}} "
                   "{{.Gateway}}{{\"\\n\"}}{{end}}'", "one subnet per family; the bridge holds the gateway address"),
        _hood.Step("ip -6 addr show dev br-xxxx", "on a Linux host: the bridge's own IPv6 address"),
    ])
    return frame


@dataclass
class DualPool:
    """One pool, a range per family, checked against the cluster and the network (or the reason it is refused)."""

    ranges: list[PoolRange]
    families: tuple[int, ...]
    taken: dict[int, list[Reserved]] = field(repr=False)
    error: str | None = None
    hood: _hood.Hood | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def range(self, family: int) -> PoolRange | None:
        return next((r for r in self.ranges if r.version == family), None)

    def table(self) -> pd.DataFrame:
        rows = [{"family": FAMILY_NAMES[r.version], "range": str(r), "addresses": f"{r.size:,}",
                 "taken avoided": len(self.taken.get(r.version, []))} for r in self.ranges]
        return pd.DataFrame(rows, columns=["family", "range", "addresses", "taken avoided"])

    def _repr_html_(self) -> str:
        if not self.ok:
            return (f"<div><b style='color:#cf222e'>refused before anything is applied</b>: "
                    f"{html.escape(self.error)}</div>")
        head = (f"<div>One pool for a cluster that serves <b>{family_word(self.families)}</b>: "
                f"{len(self.ranges)} range{'s' if len(self.ranges) != 1 else ''}</div>")
        return head + self.table().to_html(index=False) + (self.hood._repr_html_() if self.hood else "")


def _taken(net: KindNetwork, extra: dict[int, list] | None) -> dict[int, list[Reserved]]:
    out = {}
    for fam in net.subnets:
        out[fam] = taken_on(net, fam) + [Reserved("taken", t) if not isinstance(t, Reserved) else t
                                         for t in (extra or {}).get(fam, [])]
    return out


def plan(net: KindNetwork, families: tuple[int, ...], size: int | None = None,
         extra: dict[int, list] | None = None) -> DualPool:
    """A range at the top of each of the network's subnets the cluster serves (notebook 3's planner), checked
    with :func:`~kindlb_helpers._core.pool.families.validate_families`."""
    taken = _taken(net, extra)
    ranges = [plan_pool(net.subnet(f), taken[f], size) for f in sorted(families) if f in net.subnets]
    return check(ranges, net, families, extra, _taken_already=taken)


def check(ranges, net: KindNetwork, families: tuple[int, ...], extra: dict[int, list] | None = None,
          require: tuple[int, ...] | str = (), _taken_already: dict | None = None) -> DualPool:
    """Check a typed pool (a range or a list of them) against the cluster's families and the network; the
    result says what is wrong instead of raising, so a notebook cell shows the refusal."""
    taken = _taken_already or _taken(net, extra)
    gateways = {f: net.gateway(f) for f in net.subnets}
    steps = [_hood.Step(f"sipcalc {net.gateway(f)}/{net.subnet(f).prefixlen}",
                        f"the {FAMILY_NAMES[f]} subnet: every range of this family must lie inside it")
             for f in sorted(net.subnets)]
    hood = _hood.Hood("where each range of the pool must sit", steps)
    try:
        got = validate_families(ranges, {f: net.subnet(f) for f in net.subnets}, families, taken, gateways,
                                require=require)
    except PoolError as exc:
        return DualPool([], families, taken, str(exc), hood)
    return DualPool(got, families, taken, None, hood)


def next_segment_range(net: KindNetwork) -> str:
    """A range at the top of the IPv6 /64 right after the kind network's: a typo away, and off the bridge's segment."""
    import ipaddress

    sub = net.subnet(6)
    nxt = ipaddress.ip_network((int(sub.network_address) + sub.num_addresses, sub.prefixlen))
    return str(plan_pool(nxt))


def require_ok(pool: DualPool) -> DualPool:
    """``pool``, or KindlbError with its refusal (before anything is applied)."""
    if not pool.ok:
        raise KindlbError(f"the pool was refused: {pool.error}")
    return pool


__all__ = ["DualPool", "check", "cluster_table", "families_of", "next_segment_range", "plan", "pods_table",
           "require_ok",
           "subnets_table"]
