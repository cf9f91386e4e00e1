"""NDP and ARP on the wire: capture the kind bridge's neighbour-discovery packets for some IPs.

IPv6 has no ARP. A client that wants the MAC behind an IPv6 address sends a **Neighbor Solicitation** (NS,
ICMPv6 type 135) to the address's solicited-node multicast group; the owner answers with a **Neighbor
Advertisement** (NA, type 136) that carries its MAC. A node that takes an address over tells everybody
without being asked: an *unsolicited* NA (Solicited flag clear, Override flag set) to all nodes, ff02::1.

:class:`NeighbourCapture` listens on the kind bridge from this machine with a raw packet socket (what
``tcpdump -eni br-xxxx`` does; it needs root or ``CAP_NET_RAW``), in promiscuous mode for the socket's
life, so that it also sees the unicast answers between two containers. It keeps every NS/NA whose target
is one of the IPv6 addresses it watches, and every ARP packet whose sender is one of the IPv4 ones, in
one table: the same failover seen in both families. Its :meth:`~.capture.Listening.stop` returns plain data
(:class:`~.capture.Captured`); the lesson layer makes the table.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from .._core import hood as _hood
from .._core.errors import BadInput, KindlbError
from .capture import Captured, Listening, bridge_name, host_can_capture, parse_arp, read_frames

ETH_P_ALL = 0x0003
ETH_P_IPV6 = 0x86DD
ETH_P_ARP = 0x0806
ICMPV6 = 58
NS, NA = 135, 136
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC = 263, 1, 1
ALL_NODES_MAC = "33:33:00:00:00:01"
COLUMNS = ["seconds", "family", "packet", "sender MAC", "from", "to", "target", "flags", "MAC in option",
           "gratuitous"]


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _ll_option(options: bytes, kind: int) -> str | None:
    """The link-layer address in NDP option ``kind`` (1: source, 2: target), if present."""
    i = 0
    while i + 8 <= len(options):
        otype, olen = options[i], options[i + 1]
        if olen == 0:
            return None
        if otype == kind:
            return _mac(options[i + 2:i + 8])
        i += olen * 8
    return None


def parse_ndp(frame: bytes) -> dict | None:
    """One Ethernet frame to the fields of its Neighbor Solicitation or Advertisement, or None.

    ``flags`` of an NA: R (router), S (solicited), O (override). ``gratuitous``: an unsolicited NA (no S),
    which is what a speaker sends when it takes an address over.

    >>> na = bytes.fromhex("333300000001" "02420ad30003" "86dd" "6000000000203aff" + "fe80" + "00" * 12 + "0003"
    ...                    + "ff02" + "00" * 13 + "01" + "88000000" + "20000000" + "fc00" + "00" * 13 + "64"
    ...                    + "0201" + "02420ad30003")
    >>> r = parse_ndp(na)
    >>> r["packet"], r["target"], r["flags"], r["MAC in option"], r["gratuitous"]
    ('NA', 'fc00::64', 'O', '02:42:0a:d3:00:03', True)
    >>> parse_ndp(b"short") is None
    True
    """
    if len(frame) < 14 + 40 + 24 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IPV6:
        return None
    ip6 = frame[14:54]
    if ip6[6] != ICMPV6:
        return None
    icmp = frame[54:]
    kind = icmp[0]
    if kind not in (NS, NA):
        return None
    src, dst = ipaddress.IPv6Address(ip6[8:24]), ipaddress.IPv6Address(ip6[24:40])
    target = ipaddress.IPv6Address(icmp[8:24])
    if kind == NS:
        return {"family": "IPv6", "packet": "NS", "sender MAC": _mac(frame[6:12]), "from": str(src),
                "to": str(dst), "target": str(target), "flags": "", "MAC in option": _ll_option(icmp[24:], 1),
                "gratuitous": False}
    bits = icmp[4]
    flags = "".join(n for n, b in (("R", 0x80), ("S", 0x40), ("O", 0x20)) if bits & b)
    return {"family": "IPv6", "packet": "NA", "sender MAC": _mac(frame[6:12]), "from": str(src), "to": str(dst),
            "target": str(target), "flags": flags, "MAC in option": _ll_option(icmp[24:], 2),
            "gratuitous": not bits & 0x40}


def _arp_row(frame: bytes) -> dict | None:
    """An ARP frame in the same columns as :func:`parse_ndp` (``target``: the IP the packet is about)."""
    a = parse_arp(frame)
    if a is None:
        return None
    return {"family": "IPv4", "packet": f"ARP {a['op']}", "sender MAC": a["sender MAC"], "from": a["sender IP"],
            "to": a["to"], "target": a["sender IP"] if a["gratuitous"] or a["op"] == "reply" else a["target IP"],
            "flags": "", "MAC in option": a["sender MAC"], "gratuitous": a["gratuitous"]}


def parse_frame(frame: bytes) -> dict | None:
    """An NDP or ARP frame as one row of :data:`COLUMNS` (without ``seconds``), else None."""
    if len(frame) < 14:
        return None
    kind = struct.unpack("!H", frame[12:14])[0]
    if kind == ETH_P_IPV6:
        return parse_ndp(frame)
    if kind == ETH_P_ARP:
        return _arp_row(frame)
    return None


@dataclass
class NeighbourCapture(Listening):
    """NS/NA about the IPv6 addresses and ARP about the IPv4 ones in ``ips``, on the kind bridge, from the host.

    ``via``: ``"auto"`` or ``"host"`` (the only way: a raw socket needs root or ``CAP_NET_RAW`` and a host on
    the bridge). Where that is not possible, ``"host"`` raises KindlbError saying why, and ``"auto"`` captures
    nothing (``used == "off"``, ``why`` says why). Each packet keeps the
    ``time.monotonic()`` it arrived at; :meth:`stop` counts ``seconds`` from ``origin`` (default: the start).
    """

    columns = COLUMNS  # the fields of each record stop() returns (a class attribute, not a field)

    ips: tuple
    via: str = "auto"
    network: str | None = None
    used: str = field(default="", init=False)
    why: str = field(default="", init=False)
    packets: list = field(default_factory=list, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _bridge: str = field(default="", init=False, repr=False)
    _started: float = field(default=0.0, init=False, repr=False)
    _captured: Captured | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.ips, (str, ipaddress.IPv4Address, ipaddress.IPv6Address)):
            self.ips = (self.ips,)
        try:
            self.ips = tuple(str(ipaddress.ip_address(str(i))) for i in self.ips)
        except ValueError as exc:
            raise BadInput(f"capture: {exc}") from None

    def start(self) -> "NeighbourCapture":
        if self.via not in ("auto", "host"):
            raise BadInput(f"NDP capture via must be 'auto' or 'host' (got {self.via!r}): it listens on the "
                           "bridge from this machine")
        self._bridge = bridge_name(self.network)
        ok, why = host_can_capture(self._bridge)
        if not ok and self.via == "host":
            raise KindlbError(f"cannot capture NDP on the kind bridge: {why}. Set capture = \"auto\" or \"off\" (the "
                              "rest of the measurement works), or run as root on the Linux host of the kind network")
        if not ok:  # "auto": no capture, and the result says why
            self.used, self.why = "off", f"not captured: {why}"
            self._started = time.monotonic()
            return self
        self.used, self.why = "host", why + " (promiscuous for the socket's life, to see unicast answers too)"
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind((self._bridge, 0))
        ifindex = socket.if_nametoindex(self._bridge)
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0,
                                                                       b"\0" * 8))
        sock.settimeout(0.2)
        self._started = time.monotonic()
        self._thread = threading.Thread(target=read_frames, args=(sock, self._stop, 512, self._take), daemon=True)
        self._thread.start()
        return self

    def _take(self, frame: bytes) -> None:
        row = parse_frame(frame)
        if row is not None and row["target"] in self.ips:
            self.packets.append({"t": time.monotonic(), **row})

    def steps(self) -> _hood.Hood:
        """The ``tcpdump`` line that captures the same."""
        v6 = [i for i in self.ips if ":" in i]
        v4 = [i for i in self.ips if ":" not in i]
        parts = ["(icmp6 and (ip6[40] == 135 or ip6[40] == 136))"] if v6 else []
        parts += [f"(arp host {i})" for i in v4]
        return _hood.Hood(f"NDP/ARP about {', '.join(self.ips)} on the bridge {self._bridge or 'br-xxxx'}", [
            _hood.Step(f"sudo tcpdump -l -eni {self._bridge or 'br-xxxx'} '{' or '.join(parts)}'",
                       "every Neighbor Solicitation / Advertisement (and ARP packet), with its MACs; "
                       "-v prints the NA flags [solicited, override] and the target (Debian package tcpdump)")])


__all__ = ["COLUMNS", "NeighbourCapture", "parse_frame", "parse_ndp"]
