"""What is taken on the kind network, and the pool planned around it (plain data; the lesson draws them)."""
from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from .._core.pool import PoolRange, Reserved, as_subnet, plan_pool

if TYPE_CHECKING:  # a type only: kh.pool.plan and the sipcalc table must not load docker
    from .dockernet import KindNetwork


def taken_on(net: KindNetwork, family: int = 4) -> list[Reserved]:
    """The gateway, Docker's ``--ip-range`` and every container address of ``family`` on the kind network, labelled.

    Kind nodes are labelled ``node <name>``, anything else ``container <name>``; the ip-range (the block
    Docker hands container addresses out from, when the network has one) ``ip-range docker``.
    """
    out = []
    if family in net.subnets:
        out.append(Reserved("gateway", net.gateway(family)))
    if family in getattr(net, "ip_ranges", {}):
        out.append(Reserved("ip-range docker", net.ip_ranges[family]))
    for e in net.endpoints:
        ip = e.ipv4 if family == 4 else e.ipv6
        if ip is not None:
            out.append(Reserved(f"node {e.name}" if e.cluster else f"container {e.name}", ip))
    return out


def clusters_on(net: KindNetwork) -> list[str]:
    """Names of the kind clusters with node containers on this network."""
    return sorted({e.cluster for e in net.endpoints if e.cluster})


def plan_for(net: KindNetwork, family: int = 4, size: int | None = None,
             extra: list[Reserved] = ()) -> tuple[PoolRange, list[Reserved]]:
    """The planned pool for ``family`` on ``net``, and what it had to avoid."""
    taken = taken_on(net, family) + [t for t in extra if t.range.version == family]
    return plan_pool(net.subnet(family), taken, size), taken


def taken_from_text(subnet: str, taken=()) -> tuple:
    """For a subnet typed by hand (``172.19.0.1/16`` as ``ip a`` shows the bridge): the network, and
    the taken list with the typed host address marked as the gateway.

    A subnet without a prefix length is refused (PoolError): its size cannot be guessed.

    >>> net, entries = taken_from_text("172.19.0.1/16", ["172.19.0.10"])
    >>> str(net), [str(e) for e in entries]
    ('172.19.0.0/16', ['gateway 172.19.0.1', 'taken 172.19.0.10'])
    """
    from .._core.pool import reserved

    net = as_subnet(subnet)  # refuses "172.19.0.1": write it as ip a shows it
    host = ipaddress.ip_interface(subnet.strip()).ip if isinstance(subnet, str) else None
    entries = reserved(taken)
    if host is not None and host != net.network_address:
        entries.insert(0, Reserved("gateway", host))
    return net, entries
