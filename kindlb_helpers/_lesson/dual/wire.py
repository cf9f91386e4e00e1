"""IPv6 on the wire: the route to the kind network's IPv6 subnet, the page over IPv6, Neighbor Solicitation and
Advertisement when a client first asks, and a failover seen in both families at once (gratuitous ARP for the
IPv4 address, unsolicited Neighbor Advertisements for the IPv6 one).
"""
from __future__ import annotations

import dataclasses
import html
import ipaddress
import shlex
import socket
import time
from dataclasses import dataclass, field

import pandas as pd

from ..._cluster.commands import run
from ..._cluster.containers import PROBE_IMAGE, Route, choose_route, fetch_in_network
from ..._cluster.dockernet import kind_network, kind_network_name
from ..._cluster.kube import Kind
from ..._cluster.ndp import NeighbourCapture
from ..._core import hood as _hood
from ..._core.errors import BadInput, KindlbError
from ..._core.objects import http_url
from ..l2.announce import current_announcer
from ..l2.neigh import checked_ip, mac_to_node
from ..tables import captured_frame


def _holds(ip: str) -> bool:
    """True when ``ip`` (IPv6) is an address of this machine: binding to it succeeds; nothing is sent."""
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, 0))
            return True
        except OSError:
            return False


def route(asked: str = "auto", network: str | None = None) -> Route:
    """Notebook 5's choice, for IPv6: the host where it holds the bridge's IPv6 address, else a container."""
    r = choose_route(asked, network)
    if r.via == "container":
        return r
    net = kind_network(network)
    if 6 not in net.subnets:
        raise KindlbError(f"the kind network {net.name} has no IPv6 subnet: kind adds one only when Docker can make "
                          "IPv6 networks; delete the kind clusters and the network, enable IPv6 in Docker, and "
                          "create the dual-stack cluster again")
    gw = str(net.gateway(6))
    if not _holds(gw):
        why = f"the kind bridge's IPv6 address {gw} is not an address of this machine"
        if asked == "host":
            raise KindlbError(f"the host cannot reach the kind network over IPv6 ({why}): set probe_from = \"auto\" "
                              "or \"container\"")
        return Route("container", why + ": a container on the kind network fetches the page instead", asked)
    return Route("host", f"this machine holds the kind bridge's IPv6 address ({gw}): it reaches the pool's IPv6 "
                         "addresses directly, by NDP on the bridge", asked)


def fetch(ip, via: str = "host", image: str = PROBE_IMAGE, attempts: int = 30):
    """GET http://[ip]/ from the host (``curl -g``) or from a container on the kind network (notebook 5's two
    ways); a Page. Only addresses on the kind network are contacted."""
    from ..app import fetch as host_fetch

    ip = checked_ip(ip)
    if via == "container":
        return fetch_in_network(ip, image=image, attempts=attempts)
    if via != "host":
        raise BadInput(f"via must be 'host' or 'container' (got {via!r})")
    page = host_fetch(ip, attempts=attempts)
    url = http_url(ip)
    return dataclasses.replace(page, hood=_hood.Hood(f"GET {url}", [
        _hood.Step(f"curl -g -sS --max-time 5 {url}", "-g: the brackets hold the address, not a curl URL pattern")]))


def route_get(ip) -> str:
    """``ip -6 route get IP`` on this host: where the kernel would send a packet for IP (nothing is sent)."""
    addr = ipaddress.ip_address(str(ip))
    out = run(["ip", f"-{addr.version}", "route", "get", str(addr)], what="ask this host's routing table", timeout=10,
              check=False, hint="`ip` is Linux's iproute2")
    return (out.stdout or out.stderr).strip()


# ---------------------------------------------------------------- NS and NA when a client first asks

@dataclass
class FirstContact:
    """A new client's first request to an IPv6 address: the NS/NA exchanged, its neighbour entry, the announcer."""

    ip: str
    client_mac: str | None
    neigh: str
    announcer: str | None
    packets: pd.DataFrame = field(repr=False)
    hood: _hood.Hood = field(repr=False)

    @property
    def answered_by(self) -> str | None:
        na = self.packets[(self.packets["packet"] == "NA") & ~self.packets["gratuitous"]]
        return na["node"].iloc[0] if len(na) else None

    @property
    def asked(self) -> bool:
        ns = self.packets[self.packets["packet"] == "NS"]
        return bool(len(ns)) and (self.client_mac is None or (ns["sender MAC"] == self.client_mac).any())

    def _repr_html_(self) -> str:
        verdict = (f"the client asked (NS) and <b>{html.escape(str(self.answered_by))}</b> answered (NA); "
                   f"MetalLB names <b>{html.escape(str(self.announcer))}</b> as the announcer"
                   if self.answered_by else f"no solicited NA was captured ({self.packets.attrs.get('why', '')})")
        return (f"<div>First contact with <code>{html.escape(self.ip)}</code>: {verdict}</div>"
                f"<pre>{html.escape(self.neigh.strip())}</pre>" + self.packets.to_html(index=False)
                + self.hood._repr_html_())


def first_contact(kind: Kind, ip, name: str, namespace: str = "default", image: str = PROBE_IMAGE) -> FirstContact:
    """A new client (a throwaway container on the kind network, whose neighbour table is empty) fetches
    http://[ip]/ while the kind bridge is captured: its Neighbor Solicitation for ip, the announcing node's
    Neighbor Advertisement, and the entry the client keeps (``ip -6 neigh``)."""
    ip = checked_ip(ip)
    if ipaddress.ip_address(ip).version != 6:
        raise BadInput(f"{ip} is not an IPv6 address: NDP is IPv6's (IPv4 asks ARP, notebook 6)")
    mac_of = mac_to_node(kind.cluster)
    url = http_url(ip)
    script = (f"cat /sys/class/net/eth0/address; wget -q -O /dev/null '{url}'; echo --neigh; "
              f"busybox ip -6 neigh show {ip}; true")
    net = kind_network_name()
    argv = ["docker", "run", "--rm", "--network", net, "--label", "app.kubernetes.io/managed-by=kindlb",
            image, "sh", "-c", script]
    with NeighbourCapture((ip,)) as cap:
        time.sleep(0.3)
        out = run(argv, what="a new client on the kind network", timeout=90, check=False,
                  hint="is Docker answering? (`docker ps`)")
        time.sleep(0.5)
        frame = captured_frame(cap.stop())
    mac, _, neigh = (out.stdout or "").partition("--neigh")
    client_mac = mac.strip().lower() or None
    frame.insert(4, "node", frame["sender MAC"].map(lambda m: mac_of.get(m) or ("the new client" if m == client_mac
                                                                                   else None)))
    hood = _hood.Hood(f"a new client asks for {ip}", [
        *cap.steps().steps,
        _hood.Step(shlex.join(argv[:-1] + [script]), "a container with an empty neighbour table fetches the page"),
        _hood.Step(f"docker inspect -f '{{{{(index .NetworkSettings.Networks \"{net}\").MacAddress}}}}' "
                   f"{kind.cluster}-worker", "whose MAC answered: each node container has its own"),
    ])
    return FirstContact(ip, client_mac, neigh.strip() or (out.stderr or "").strip()[-300:],
                        current_announcer(kind, name, namespace), frame, hood)


# ---------------------------------------------------------------- one failover, both families

def families_table(moved) -> pd.DataFrame:
    """A failover of a dual-stack Service per family: when the new node's first gratuitous ARP / unsolicited NA
    was seen, how many, and when each address answered again through a node that announces it."""
    rows = []
    cap = moved.arp
    answered = {moved.ip: moved.answered_after, **{ip: o.get("answered_after") for ip, o in
                                                   (getattr(moved, "others", None) or {}).items()}}
    for ip, after in answered.items():
        fam = ipaddress.ip_address(ip).version
        sent = None
        if cap is not None:
            sent = cap[(cap["target"] == ip) & cap["gratuitous"] & (cap["node"] == moved.after) & (cap["seconds"] >= 0)]
        rows.append({"family": f"IPv{fam}", "address": ip,
                     "what the new node sends": "gratuitous ARP" if fam == 4 else "unsolicited NA (to ff02::1)",
                     "first seen (s)": (float(sent["seconds"].iloc[0]) if sent is not None and len(sent) else None),
                     "packets in 6 s": (int((sent["seconds"] <= float(sent["seconds"].iloc[0]) + 6).sum())
                                        if sent is not None and len(sent) else 0),
                     "answered again (s)": after})
    frame = pd.DataFrame(rows, columns=["family", "address", "what the new node sends", "first seen (s)",
                                        "packets in 6 s", "answered again (s)"])
    frame.attrs["capture"] = moved.capture
    return frame


def packets_table(moved) -> pd.DataFrame:
    """The captured ARP and NDP packets of the failover, with the node each came from (seconds after it)."""
    cap = moved.arp
    if cap is None:
        return pd.DataFrame(columns=["seconds", "family", "packet", "node", "target", "flags", "to"])
    return cap[["seconds", "family", "packet", "node", "target", "flags", "to"]].reset_index(drop=True)


def failover_figure(moved, title: str | None = None):
    """Requests to both addresses and the ARP / NDP packets on one time axis (seconds after the failure)."""
    import matplotlib.pyplot as plt

    lines = [(moved.ip, moved.timeline)] + [(ip, o["timeline"]) for ip, o in
                                           (getattr(moved, "others", None) or {}).items()]
    lines.sort(key=lambda x: ipaddress.ip_address(x[0]).version)
    fig, ax = plt.subplots(figsize=(10, 3.2), constrained_layout=True)
    labels = []
    y = 0
    for ip, tl in lines:
        fam = ipaddress.ip_address(ip).version
        ok = tl[tl["answered"]]
        bad = tl[~tl["answered"]]
        ax.scatter(ok["seconds"], [y] * len(ok), marker="|", s=120, color="#1a7f37")
        ax.scatter(bad["seconds"], [y] * len(bad), marker="x", s=30, color="#cf222e")
        labels.append(f"requests to IPv{fam}")
        y += 1
        cap = moved.arp
        if cap is not None:
            mine = cap[cap["target"] == ip]
            g = mine[mine["gratuitous"]]
            other = mine[~mine["gratuitous"]]
            ax.scatter(g["seconds"], [y] * len(g), marker="v", s=50,
                       color=["#0969da" if n == moved.after else "#8250df" for n in g["node"]])
            ax.scatter(other["seconds"], [y] * len(other), marker="o", s=18, color="#6e7781")
        labels.append("gratuitous ARP" if fam == 4 else "unsolicited NA")
        y += 1
    ax.axvline(0, color="#cf222e", lw=1, ls="--")
    ax.axvline(moved.announced_after, color="#0969da", lw=1, ls=":")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.set_xlabel("seconds after the failure (dashed red); dotted blue: MetalLB names the new node")
    ax.set_title(title or f"{moved.mode} failure of {moved.before}: both families move to {moved.after} together "
                          "\n(green: answered, red x: failed; triangles: blue from the new node, "
                          "purple from another one, "
                          "e.g. the old node taking the addresses back)", fontsize=9)
    plt.close(fig)
    return fig


__all__ = ["FirstContact", "failover_figure", "families_table", "fetch", "first_contact", "packets_table", "route",
           "route_get"]
