"""The Service in the BGP pool and the router's routes to it: which nodes should advertise it, the paths BGP
received, the kernel's ECMP route, and a wait until the next hops are exactly those nodes.
"""
from __future__ import annotations

import dataclasses
import ipaddress

import pandas as pd

from ..._cluster import router as _router
from ..._cluster.kube import Kind, is_ready, server_side_apply
from ..._cluster.waits import wait_until
from ..._core import bgp_config as _bgp
from ..._core import hood as _hood
from ..._core.manifests import NAMESPACE
from ..._core.objects import APP_LABEL
from ..._core.release import EXCLUDE_LB_LABEL, release
from .peering import SPEAKER_LABEL, Router, speakers_by_node
from .plan import Plan, neighbour_names
from .show import exec_line, frame, vtysh_step

SERVICE = "nginx-bgp"


def expose(kind: Kind, p: Plan, app: str = "nginx", namespace: str = "default", name: str = SERVICE,
           timeout: float = 120):
    """A second LoadBalancer Service for the app's pods that asks for the BGP pool; waits for its address."""
    from ..app import wait_external_ip

    svc = _bgp.bgp_service(p.version, name, app, namespace)
    server_side_apply(kind, [svc])
    got = wait_external_ip(kind, name, namespace, timeout=timeout, progress=False, expect_pool=_bgp.POOL_NAME)
    return dataclasses.replace(got, hood=_hood.Hood(f"Service {name}: an address from the BGP pool", [
        _hood.Step(_hood.kubectl(p.cluster, "apply", "-f", f"{name}.yaml", namespace=namespace),
                   f"the annotation {_bgp.pool_annotation(p.version)} asks for pool {_bgp.POOL_NAME}",
                   files=((f"{name}.yaml", [svc]),)),
        *got.hood.steps]))


def traffic_policy(kind: Kind, name: str, namespace: str) -> str:
    svc = kind.core.read_namespaced_service(name, namespace)
    return svc.spec.external_traffic_policy or "Cluster"


def should_advertise(kind: Kind, p: Plan, name: str = SERVICE, namespace: str = "default",
                     app: str = "nginx") -> list[str]:
    """The nodes MetalLB should advertise the Service from: ready speaker, not labelled excluded (where the
    release honours that label: ``release(v).honours_exclude_lb_label``), and under ``Local`` a ready pod of
    the app on the node."""
    nodes = {n.metadata.name: n for n in kind.core.list_node().items}
    out = []
    for node, pod in speakers_by_node(kind).items():
        if not is_ready(pod):
            continue
        labels = nodes[node].metadata.labels or {} if node in nodes else {}
        if release(p.version).honours_exclude_lb_label and EXCLUDE_LB_LABEL in labels:
            continue
        out.append(node)
    if traffic_policy(kind, name, namespace) == "Local":
        with_pods = {q.spec.node_name for q in kind.core.list_namespaced_pod(
            namespace, label_selector=f"{APP_LABEL}={app}").items
            if not q.metadata.deletion_timestamp and is_ready(q)}
        out = [n for n in out if n in with_pods]
    return sorted(out)


def kernel_hops(router: Router, ip: str) -> list[str]:
    """The kernel route's next hops for ``ip`` (``ip route``; zebra's FIB view where the image has no iproute2)."""
    ip = _bgp.host_prefix(ip)
    code, text = _router.exec_in(router.name, ["ip", "route", "show", ip], check=False)
    if code == 0 and "not found" not in text:
        return _bgp.parse_kernel_routes(text).get(ip, [])
    return _bgp.parse_zebra_fib(_router.vtysh(router.name, f"show ip route {ip}/32 json")).get(ip, [])


def routes(p: Plan, router: Router, ip) -> pd.DataFrame:
    """The router's BGP paths for the Service address, and the kernel route it installed (ECMP).

    One row per path: next hop, its node, AS path, best/multipath, and whether the kernel route uses it.
    ``attrs``: ``kernel`` (next hops of the kernel route), ``nodes`` (their nodes), ``kernel_text``."""
    ip = str(ipaddress.ip_address(str(ip)))
    names = neighbour_names(p)
    table = _bgp.parse_bgp_table(_router.vtysh(router.name, f"show bgp ipv4 unicast {ip}/32 json"))
    if not table:  # older FRR answers a single prefix in another shape: read the whole table
        table = [r for r in _bgp.parse_bgp_table(_router.vtysh(router.name, "show bgp ipv4 unicast json"))
                 if r["prefix"] == f"{ip}/32"]
    kernel_text = _router.exec_in(router.name, ["ip", "route", "show", ip], check=False)[1]
    kernel = kernel_hops(router, ip)
    rows = [{"prefix": r["prefix"], "next hop": r["next hop"], "node": names.get(r["next hop"], "?"),
             "AS path": r["AS path"], "best": r["best"], "multipath": r["multipath"],
             "in kernel route": r["next hop"] in kernel} for r in table]
    hood = _hood.Hood(f"the router's routes to {ip}", [
        vtysh_step(router.name, f"show bgp ipv4 unicast {ip}/32", "the paths BGP received, one per node"),
        _hood.Step(exec_line(router.name, f"ip route show {ip}"),
                   "the kernel's route: one nexthop line per node (ECMP)")])
    return frame(rows, ["prefix", "next hop", "node", "AS path", "best", "multipath", "in kernel route"], hood,
                  kernel=kernel, nodes=sorted(names.get(h, h) for h in kernel), kernel_text=kernel_text.strip())


def wait_next_hops(kind: Kind, p: Plan, router: Router, ip, name: str = SERVICE, namespace: str = "default",
                   app: str = "nginx", timeout: float = 60) -> pd.DataFrame:
    """Wait until the kernel route's next hops are exactly the nodes that should advertise; the routes table."""
    names = neighbour_names(p)
    want: list[str] = []

    def check() -> tuple[bool, str]:
        want[:] = should_advertise(kind, p, name, namespace, app)
        have = sorted(names.get(h, h) for h in kernel_hops(router, str(ip)))
        return bool(want) and have == want, f"{', '.join(have) or 'none'}, expected {', '.join(want) or 'none'}"

    wait_until(check, timeout=timeout, desc=f"the router's next hops for {ip}", progress=False,
               explain=lambda: (f"see docker exec {router.name} vtysh -c 'show bgp summary' and the speakers' logs "
                                f"(kubectl -n {NAMESPACE} logs -l {SPEAKER_LABEL})"))
    out = routes(p, router, ip)
    out.attrs["expected"] = list(want)
    return out
