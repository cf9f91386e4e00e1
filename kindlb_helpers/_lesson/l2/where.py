"""Where a LoadBalancer IP lives: the MAC in the client's neighbour entry, matched to a node container
and to the announcer MetalLB names; and waiting until the two agree.
"""
from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

import pandas as pd

from ..._cluster.kube import Kind
from ..._cluster.waits import wait_until
from ..._core import hood as _hood
from ..._core.errors import WaitTimeout
from .announce import announcer_steps, current_announcer
from .neigh import checked_ip, checked_via, entry_node, neighbours, node_macs


@dataclass
class Location:
    """The IP, the MAC that answers for it, the node with that MAC, and the announcer from the events."""

    ip: str
    mac: str | None
    node: str | None
    announcer: str | None
    neighbours: pd.DataFrame = field(repr=False)
    nodes: pd.DataFrame = field(repr=False)
    hood: _hood.Hood = field(repr=False)

    @property
    def match(self) -> bool:
        return self.node is not None and self.node == self.announcer

    def _repr_html_(self) -> str:
        verdict = (f"<b style='color:#1a7f37'>this IP lives on {html.escape(self.node)}</b>: the MAC in the "
                   f"neighbour table is that node's, and MetalLB's event names the same node" if self.match else
                   f"<b style='color:#cf222e'>no match</b>: MAC {html.escape(str(self.mac))} belongs to "
                   f"{html.escape(str(self.node))}, the event names {html.escape(str(self.announcer))}")
        marked = self.nodes.assign(**{"answers ARP": self.nodes["mac"] == self.mac})
        mac = html.escape(str(self.mac))
        return (f"<div><code>{self.ip}</code> &rarr; MAC <code>{mac}</code> &rarr; {verdict}</div>"
                + self.neighbours.to_html(index=False) + marked.to_html(index=False) + self.hood._repr_html_())


def where_is(kind: Kind, ip, name: str = "nginx", namespace: str = "default", via: str = "host",
             image: str | None = None) -> Location:
    """Match the neighbour entry's MAC for ``ip`` to a node container's MAC, and compare with ``nodeAssigned``."""
    neigh = neighbours(ip, via, image, cluster=kind.cluster)
    nodes = node_macs(kind.cluster)
    owner = nodes.loc[nodes["mac"] == neigh.attrs["mac"], "node"]
    hood = _hood.Hood(f"which node answers for {ip}", [
        *neigh.attrs["hood"].steps, *nodes.attrs["hood"].steps,
        *announcer_steps(kind.cluster, name, namespace).steps[:1]])
    return Location(str(ip), neigh.attrs["mac"], owner.iloc[0] if len(owner) else None,
                    current_announcer(kind, name, namespace), neigh, nodes, hood)


def settle(kind: Kind, ip, name: str = "nginx", namespace: str = "default", timeout: float = 30,
           via: str = "host", image: str | None = None) -> str | None:
    """Wait (bounded) until the client's neighbour entry for ``ip`` is the MAC of the node MetalLB names as the
    announcer, and has stayed so for a second (looked at every 0.2 s); return that node (None if it never
    agrees within ``timeout``).

    Speakers may hand an IP back and forth for a moment after a change (a speaker that restarts rejoins
    memberlist and takes its IPs back); measuring before they agree would mix two entry nodes.
    """
    ip, via = checked_ip(ip), checked_via(via)
    agreed: list = []  # [(since when, node)] while the client's entry and MetalLB name the same node

    def check() -> tuple[bool, str]:
        owner, now = entry_node(kind, ip, via, image), current_announcer(kind, name, namespace)
        if not (owner and owner == now):
            agreed.clear()
            return False, f"client's entry {owner}, announcer {now}"
        if not agreed or agreed[0][1] != owner:
            agreed[:] = [(time.monotonic(), owner)]
        held = time.monotonic() - agreed[0][0]
        return held >= 1.0, f"both name {owner} for {held:.1f} s"

    try:
        wait_until(check, timeout=timeout, desc=f"client and MetalLB agree on the node for {ip}", progress=False)
    except WaitTimeout:
        return None
    return agreed[0][1]
