"""BGP mode as data (pure core: no cluster, no Docker): the router's FRR configuration, MetalLB's
peer, pool and advertisement for both eras, the checks that refuse bad input before anything is
applied, and parsers for what the router reports.

MetalLB v0.13+ (here v0.16.1) reads ``BGPPeer`` (metallb.io/v1beta2), ``IPAddressPool`` and
``BGPAdvertisement``; v0.12.1 reads ``peers:`` and an address pool with ``protocol: bgp`` in its
ConfigMap. Both speakers default the hold time to 90 s (v0.12.1 ``internal/config/config.go``
``parseHoldTime``; v0.16.1 ``internal/bgp/native/native.go`` ``NewSession``).

>>> p = BgpPlan(64501, 64500, (("kind-worker", "172.18.0.3"),), PoolRange.parse("198.51.100.0/28"))
>>> "neighbor 172.18.0.3 remote-as 64500" in frr_config(p)
True
>>> [o["kind"] for o in metallb_objects(p, "172.18.0.9", "v0.16.1")]
['BGPPeer', 'IPAddressPool', 'BGPAdvertisement']
"""
from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Iterable

import yaml

from .errors import BadInput, PoolError
from .manifests import API_VERSION, NAMESPACE
from .pool import PoolRange
from .release import release

#: AS numbers MetalLB and FRR accept: 1..4294967294 (0 and 4294967295 are reserved, RFC 7607 / RFC 7300).
ASN_MAX = 4294967294
#: AS numbers for private use (RFC 6996): what a real private network picks.
PRIVATE_ASNS = ((64512, 65534), (4200000000, 4294967294))
#: AS numbers for documentation and examples (RFC 5398), never used on the internet: the lab's, like its TEST-NET-2
#: pool below.
DOCUMENTATION_ASNS = ((64496, 64511), (65536, 65551))
#: The lab's router and MetalLB: documentation AS numbers (RFC 5398), not private ones (64500, 64501 < 64512).
ROUTER_ASN = 64501
METALLB_ASN = 64500
#: TEST-NET-2 (RFC 5737): documentation addresses, never routed on the internet, outside every kind subnet.
DEFAULT_POOL = "198.51.100.0/28"
POOL_NAME = "bgp"
PEER_NAME = "router"
#: MetalLB's hold time when none is given (both eras), and the lab's: short, so a dead node is noticed in seconds.
DEFAULT_HOLD_TIME = 90
LAB_HOLD_TIME = 9
#: The ECMP width the router allows (``maximum-paths``).
MAX_PATHS = 8


def check_asn(value, what: str = "AS number") -> int:
    """``value`` as a usable AS number, else BadInput with the allowed range.

    >>> check_asn(64500)
    64500
    >>> try:
    ...     check_asn(4294967296, "router_asn")
    ... except BadInput as e:
    ...     print(str(e)[:56])
    router_asn 4294967296 is not an AS number: use a whole n
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ASN_MAX:
        raise BadInput(f"{what} {value!r} is not an AS number: use a whole number from 1 to {ASN_MAX}, "
                       f"best a private one (64512-65534 or 4200000000-4294967294) on a real network, or in a lab "
                       f"a documentation one (64496-64511, RFC 5398) as kindlb's {ROUTER_ASN}")
    return value


def check_hold_time(value) -> int:
    """Hold time in seconds: 0 (no keepalives) or 3..65535, as both MetalLB eras and RFC 4271 accept."""
    if isinstance(value, bool) or not isinstance(value, int) or not (value == 0 or 3 <= value <= 65535):
        raise BadInput(f"hold_time {value!r} is not a BGP hold time: use whole seconds, 3 to 65535 "
                       f"(MetalLB's default is {DEFAULT_HOLD_TIME}; the lab uses {LAB_HOLD_TIME})")
    return value


@dataclass(frozen=True)
class BgpPlan:
    """What the router and MetalLB are told: AS numbers, one neighbour per node, the pool, the hold time."""

    router_asn: int
    metallb_asn: int
    neighbours: tuple[tuple[str, str], ...]  # (node name, node address)
    pool: PoolRange
    hold_time: int = LAB_HOLD_TIME
    router_name: str = "kindlb-router"

    @property
    def ibgp(self) -> bool:
        return self.router_asn == self.metallb_asn


def check_pool(pool, kind_subnet, others: Iterable[tuple[str, PoolRange]] = (),
               reserved: Iterable[tuple[str, str]] = ()) -> PoolRange:
    """The BGP pool, checked: IPv4, outside the kind subnet (it is reached by routes, not ARP),
    apart from every other pool and from the cluster's own ranges (pod and Service CIDRs).

    >>> str(check_pool("198.51.100.0/28", "172.18.0.0/16"))
    '198.51.100.0-198.51.100.15'
    >>> try:
    ...     check_pool("172.18.255.0/28", "172.18.0.0/16")
    ... except PoolError as e:
    ...     print(str(e)[:66])
    BGP pool 172.18.255.0-172.18.255.15 lies inside the kind subnet 17
    """
    rng = PoolRange.parse(pool)
    if rng.version != 4:
        raise PoolError(f"BGP pool {rng} is IPv6: this lab's router peers over IPv4; use an IPv4 range "
                        f"such as {DEFAULT_POOL}")
    net = ipaddress.ip_network(str(kind_subnet), strict=False)
    span = PoolRange(net.network_address, net.broadcast_address)
    if rng.overlaps(span):
        raise PoolError(f"BGP pool {rng} lies inside the kind subnet {net}: there the nodes would be asked by ARP, "
                        f"which no BGP speaker answers; pick a range outside it, such as {DEFAULT_POOL}")
    for name, other in others:
        other = PoolRange.parse(other)
        if other.overlaps(rng):
            raise PoolError(f"BGP pool {rng} overlaps pool {name!r} ({other}): one address can be in one pool "
                            f"only; pick a range apart from it, such as {DEFAULT_POOL}")
    for label, cidr in reserved:
        other = PoolRange.parse(ipaddress.ip_network(str(cidr), strict=False))
        if other.overlaps(rng):
            raise PoolError(f"BGP pool {rng} overlaps the {label} {cidr}: the nodes route those addresses "
                            f"themselves; pick a range apart from it, such as {DEFAULT_POOL}")
    if rng.size > 65536:
        raise PoolError(f"BGP pool {rng} holds {rng.size} addresses: a lab needs a few; use a /28 like {DEFAULT_POOL}")
    return rng


def check_router_ip_text(ip) -> str:
    """An IPv4 address as text (the cluster checks come later, in :func:`check_router_ip`)."""
    try:
        addr = ipaddress.ip_address(str(ip).strip())
    except ValueError:
        raise BadInput(f"router_ip {ip!r} is not an IP address: give one free address of the kind network, "
                       "or \"\" to let Docker pick one") from None
    if addr.version != 4:
        raise BadInput(f"router_ip {addr} is IPv6: the lab's router peers over IPv4; give an IPv4 address of "
                       "the kind network, or \"\" to let Docker pick one")
    return str(addr)


def check_router_ip(ip, kind_subnet, taken: Iterable[tuple[str, str]] = (),
                    pools: Iterable[tuple[str, PoolRange]] = ()) -> str:
    """An explicit router address: inside the kind subnet, not its network or broadcast address, not a
    node's, a container's or the gateway's (``taken``: (label, address)), and in no pool."""
    addr = ipaddress.ip_address(check_router_ip_text(ip))
    net = ipaddress.ip_network(str(kind_subnet), strict=False)
    if addr not in net or addr in (net.network_address, net.broadcast_address):
        raise BadInput(f"router_ip {addr} is not a usable address of the kind subnet {net}: the router sits on "
                       "that network, next to the nodes; pick a free one inside it, or \"\" to let Docker pick")
    for label, other in taken:
        if str(other) == str(addr):
            raise BadInput(f"router_ip {addr} is taken by {label}: pick a free address of {net}, "
                           "or \"\" to let Docker pick one")
    for name, rng in pools:
        if addr in PoolRange.parse(rng):
            raise BadInput(f"router_ip {addr} is in MetalLB pool {name!r} ({rng}): MetalLB may hand it to a "
                           "Service; pick an address outside every pool, or \"\" to let Docker pick one")
    return str(addr)


def plan(router_asn: int, metallb_asn: int, neighbours: Iterable[tuple[str, str]], pool: PoolRange,
         hold_time: int = LAB_HOLD_TIME, router_name: str = "kindlb-router") -> BgpPlan:
    """A checked :class:`BgpPlan` (AS numbers, hold time; at least one neighbour)."""
    check_asn(router_asn, "router_asn")
    check_asn(metallb_asn, "metallb_asn")
    check_hold_time(hold_time)
    peers = tuple((str(n), str(ip)) for n, ip in neighbours)
    if not peers:
        raise BadInput("the cluster has no node with an IPv4 address: nothing for the router to peer with; "
                       "is the cluster running (kind get nodes)?")
    return BgpPlan(router_asn, metallb_asn, peers, pool, hold_time, router_name)


# ---------- the router's files ----------

def frr_config(p: BgpPlan) -> str:
    """``/etc/frr/frr.conf``: one passive neighbour per node, ECMP over them."""
    lines = [
        f"! /etc/frr/frr.conf of {p.router_name}: one neighbour per kind node, generated by kindlb",
        "frr defaults traditional",
        f"hostname {p.router_name}",
        "log stdout informational",
        "!",
        f"router bgp {p.router_asn}",
        " ! take the nodes' routes without an import policy (FRR wants one for eBGP by default)",
        " no bgp ebgp-requires-policy",
        " ! equal routes from different neighbours all go into the kernel: ECMP",
        " bgp bestpath as-path multipath-relax",
    ]
    for node, ip in p.neighbours:
        lines += [f" neighbor {ip} remote-as {p.metallb_asn}",
                  f" neighbor {ip} description {node}",
                  f" ! MetalLB's speaker on {node} dials us; we only listen",
                  f" neighbor {ip} passive"]
    lines += [" address-family ipv4 unicast",
              f"  maximum-paths {MAX_PATHS}"]
    if p.ibgp:
        lines.append(f"  maximum-paths ibgp {MAX_PATHS}")
    lines += [" exit-address-family", "!", ""]
    return "\n".join(lines)


#: ``/etc/frr/daemons``: zebra (the kernel's routes), bgpd and staticd; nothing else.
DAEMONS = """\
# /etc/frr/daemons: which FRR daemons watchfrr starts (zebra and staticd always run)
bgpd=yes
ospfd=no
ospf6d=no
ripd=no
ripngd=no
isisd=no
pimd=no
ldpd=no
nhrpd=no
eigrpd=no
babeld=no
sharpd=no
pbrd=no
bfdd=no
fabricd=no
vrrpd=no
pathd=no
vtysh_enable=yes
zebra_options="  -A 127.0.0.1 -s 90000000"
bgpd_options="   -A 127.0.0.1"
staticd_options="-A 127.0.0.1"
"""


# ---------- MetalLB's side ----------

def pool_annotation(version: str) -> str:
    """The Service annotation that asks for a pool by name in ``version``.

    >>> pool_annotation("v0.12.1"), pool_annotation("v0.16.1")
    ('metallb.universe.tf/address-pool', 'metallb.io/address-pool')
    """
    return f"{release(version).annotation_prefix}/address-pool"


def metallb_objects(p: BgpPlan, router_ip: str, version: str, config: dict | None = None) -> list[dict]:
    """What MetalLB ``version`` is given: a BGPPeer, a pool nobody gets by accident (``autoAssign: false``)
    and a BGPAdvertisement (v0.13+); or the ConfigMap ``config`` (v0.12.1) with ``peers`` and a
    ``protocol: bgp`` pool added to its current content ``config`` (the layer-2 pool stays)."""
    hold = f"{p.hold_time}s"
    cidr = p.pool.as_cidr_or_range()
    if release(version).uses_crds:
        return [
            {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
             "metadata": {"name": PEER_NAME, "namespace": NAMESPACE},
             "spec": {"myASN": p.metallb_asn, "peerASN": p.router_asn, "peerAddress": router_ip,
                      "holdTime": hold}},
            {"apiVersion": API_VERSION, "kind": "IPAddressPool",
             "metadata": {"name": POOL_NAME, "namespace": NAMESPACE},
             "spec": {"addresses": [cidr], "autoAssign": False}},
            {"apiVersion": API_VERSION, "kind": "BGPAdvertisement",
             "metadata": {"name": POOL_NAME, "namespace": NAMESPACE},
             "spec": {"ipAddressPools": [POOL_NAME]}},
        ]
    data = without_bgp(config or {})
    data["peers"] = [{"peer-address": router_ip, "peer-asn": p.router_asn, "my-asn": p.metallb_asn,
                      "hold-time": hold}]
    data.setdefault("address-pools", []).append(
        {"name": POOL_NAME, "protocol": "bgp", "addresses": [cidr], "auto-assign": False})
    return [configmap(data)]


def without_bgp(config: dict) -> dict:
    """A ConfigMap-era config without our peer and pool (what it was before, when we added them)."""
    data = {k: v for k, v in (config or {}).items() if k != "peers"}
    pools = [dict(x) for x in data.get("address-pools", []) if x.get("name") != POOL_NAME]
    if pools or "address-pools" in data:
        data["address-pools"] = pools
    return data


def configmap(data: dict) -> dict:
    """The ConfigMap-era ``config`` object holding ``data``."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": NAMESPACE, "name": "config"},
            "data": {"config": yaml.safe_dump(data, sort_keys=False)}}


def bgp_service(version: str, name: str = "nginx-bgp", app: str = "nginx", namespace: str = "default",
                policy: str = "Cluster") -> dict:
    """A second LoadBalancer Service for the same pods, asking for the BGP pool by name."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "annotations": {pool_annotation(version): POOL_NAME}},
            "spec": {"type": "LoadBalancer", "selector": {"app": app}, "externalTrafficPolicy": policy,
                     "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}]}}


# ---------- what the router says ----------

def parse_summary(text: str, names: dict[str, str] | None = None) -> list[dict]:
    """``vtysh -c "show bgp summary json"`` (FRR 8 and 10) -> one dict per neighbour.

    >>> parse_summary('{"ipv4Unicast":{"peers":{"172.18.0.3":{"state":"Established",'
    ...               '"peerUptime":"00:00:12","pfxRcd":1,"remoteAs":64500}}}}', {"172.18.0.3": "w"})[0]["state"]
    'Established'
    """
    names = names or {}
    data = json.loads(text or "{}")
    peers = (data.get("ipv4Unicast") or {}).get("peers") or {}
    rows = []
    for ip, p in peers.items():
        rows.append({"neighbour": ip, "node": names.get(ip, p.get("desc", "")), "AS": p.get("remoteAs"),
                     "state": p.get("state", "?"), "uptime": p.get("peerUptime", ""),
                     "prefixes received": p.get("pfxRcd", p.get("prefixReceivedCount", 0)) or 0,
                     "messages received": p.get("msgRcvd", 0)})
    return sorted(rows, key=lambda r: ipaddress.ip_address(r["neighbour"]))


def parse_bgp_table(text: str) -> list[dict]:
    """``vtysh -c "show bgp ipv4 unicast json"`` (every prefix) or ``... unicast PREFIX json`` (one prefix,
    in detail) -> one dict per path: prefix, next hop, AS path, best, multipath."""
    data = json.loads(text or "{}")
    if "paths" in data:  # one prefix, in detail
        table = {data.get("prefix", ""): data["paths"]}
    else:
        table = data.get("routes") or {}
    rows = []
    for prefix, paths in table.items():
        for path in paths:
            hops = path.get("nexthops") or [{}]
            aspath = path.get("path", path.get("aspath", ""))
            if isinstance(aspath, dict):
                aspath = aspath.get("string", "")
            rows.append({"prefix": prefix, "next hop": hops[0].get("ip", path.get("peerId", "")),
                         "AS path": aspath, "best": bool(path.get("bestpath")),
                         "multipath": bool(path.get("multipath")), "valid": bool(path.get("valid"))})
    return sorted(rows, key=lambda r: (r["prefix"], ipaddress.ip_address(r["next hop"] or "0.0.0.0")))


_NEXTHOP = re.compile(r"nexthop via (\S+)")
_SINGLE = re.compile(r"^(\S+)(?: nhid \d+)? via (\S+)")


def parse_kernel_routes(text: str) -> dict[str, list[str]]:
    """``ip route show proto bgp`` -> prefix -> next hops (one, or several for ECMP).

    >>> parse_kernel_routes("198.51.100.0 nhid 21 proto bgp metric 20 \\n\\tnexthop via 172.18.0.3 dev eth0 "
    ...                     "weight 1 \\n\\tnexthop via 172.18.0.4 dev eth0 weight 1 \\n")
    {'198.51.100.0': ['172.18.0.3', '172.18.0.4']}
    >>> parse_kernel_routes("198.51.100.1 nhid 18 via 172.18.0.4 dev eth0 proto bgp metric 20 \\n")
    {'198.51.100.1': ['172.18.0.4']}
    """
    routes: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            m = _NEXTHOP.search(line)
            if m and current is not None:
                routes[current].append(m.group(1))
            continue
        current = line.split()[0]
        routes[current] = []
        m = _SINGLE.match(line)
        if m:
            routes[current].append(m.group(2))
    return {k: sorted(v, key=ipaddress.ip_address) for k, v in routes.items()}


def parse_zebra_fib(text: str) -> dict[str, list[str]]:
    """``vtysh -c "show ip route PREFIX json"`` -> prefix -> the next hops zebra installed in the kernel
    (``fib``): the same answer as ``ip route``, for a router image without iproute2.

    >>> parse_zebra_fib('{"198.51.100.1/32":[{"protocol":"bgp","installed":true,"nexthops":['
    ...                 '{"ip":"10.99.0.12","fib":true},{"ip":"10.99.0.11","fib":true}]}]}')
    {'198.51.100.1': ['10.99.0.11', '10.99.0.12']}
    """
    out: dict[str, list[str]] = {}
    for prefix, entries in (json.loads(text or "{}") or {}).items():
        hops = [h["ip"] for e in entries if e.get("installed") for h in e.get("nexthops", [])
                if h.get("fib") and h.get("ip")]
        net = ipaddress.ip_network(prefix, strict=False)
        key = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
        out[key] = sorted(set(hops), key=ipaddress.ip_address)
    return out


def host_prefix(ip: str) -> str:
    """How the kernel names a /32 route: the bare address."""
    return str(ipaddress.ip_address(ip))
