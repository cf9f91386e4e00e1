"""ARP on the wire: capture the kind bridge's ARP packets for one IP while something happens.

Two ways to listen, and the result says which one it used:

- ``"host"``: a raw packet socket (``AF_PACKET``) on the kind bridge, from this machine. That is what
  ``tcpdump -eni br-xxxx arp`` does, and it needs the same right: root, or ``CAP_NET_RAW``.
- ``"node"``: inside a kind node container (privileged, on the same bridge) that does not announce the
  IP, with ``nft``'s packet tracing: a rule in an ``arp`` table marks each ARP packet whose sender is
  the IP, and ``nft monitor trace`` prints it. For hosts where the raw socket is not allowed (no root),
  or that cannot see the bridge at all (Docker Desktop keeps it inside its VM). The table is removed
  afterwards.

Both see the *broadcast* ARP packets on the segment, which is what a gratuitous ARP is: a speaker that
takes over an IP tells everybody "IP is at my MAC" without being asked.

A capture returns plain data (:class:`Captured`: one record per packet); the lesson layer makes its table
(``_lesson/tables.captured_frame``).
"""
from __future__ import annotations

import ipaddress
import os
import re
import shlex
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .._core import hood as _hood
from .._core.errors import BadInput, KindlbError
from .commands import run, start

ETH_P_ARP = 0x0806
BROADCAST = "ff:ff:ff:ff:ff:ff"
#: The nft table the "node" route adds (and removes) in the node container's network namespace.
NFT_TABLE = "kindlb_arpwatch"
COLUMNS = ["seconds", "op", "sender MAC", "sender IP", "target IP", "to", "gratuitous"]


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def parse_arp(frame: bytes) -> dict | None:
    """One Ethernet frame to the fields of its IPv4 ARP packet, or None for anything else.

    >>> f = bytes.fromhex("ffffffffffff" "02420ad30002" "0806" "0001080006040001" "02420ad30002" "0ad30002"
    ...                   "ffffffffffff" "0ad30002")
    >>> parse_arp(f)["op"], parse_arp(f)["sender IP"], parse_arp(f)["gratuitous"]
    ('request', '10.211.0.2', True)
    >>> parse_arp(b"short") is None
    True
    """
    if len(frame) < 42 or struct.unpack("!H", frame[12:14])[0] != ETH_P_ARP:
        return None
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
        return None
    sender, target = str(ipaddress.IPv4Address(frame[28:32])), str(ipaddress.IPv4Address(frame[38:42]))
    return {"op": {1: "request", 2: "reply"}.get(op, str(op)), "sender MAC": _mac(frame[22:28]),
            "sender IP": sender, "target IP": target, "to": _mac(frame[0:6]), "gratuitous": sender == target}


_TRACE = re.compile(r"packet: .*?ether saddr (?P<src>[0-9a-f:]{17}) ether daddr (?P<dst>[0-9a-f:]{17})"
                    r"(?: arp operation (?P<op>\w+))?")


def parse_trace(line: str, ip: str) -> dict | None:
    """One ``nft monitor trace`` line of the ``arp`` table (which marks only packets whose sender is ``ip``).

    >>> parse_trace('trace id 07 arp kindlb_arpwatch in packet: iif "eth0" ether saddr 02:42:0a:d3:00:02 '
    ...             'ether daddr ff:ff:ff:ff:ff:ff arp operation request', "10.211.0.2")["gratuitous"]
    True
    >>> parse_trace('trace id 07 arp kindlb_arpwatch in rule meta nftrace set 1 (verdict continue)', "x") is None
    True
    """
    m = _TRACE.search(line)
    if not m:
        return None
    to = m.group("dst")
    # the rule matched the sender IP; a broadcast whose sender is the IP is the gratuitous kind (the
    # target is not printed by nft: for MetalLB's announcements it is the IP itself)
    return {"op": m.group("op") or "?", "sender MAC": m.group("src"), "sender IP": ip,
            "target IP": ip if to == BROADCAST else None, "to": to, "gratuitous": to == BROADCAST}


def bridge_name(network: str | None = None) -> str:
    """The Linux bridge behind a Docker network (``br-`` and the first 12 characters of its id)."""
    from .dockernet import docker_client, kind_network_name, translate

    client = docker_client()
    name = network or kind_network_name()
    with translate(client, f"inspect network {name}"):
        net = client.api.inspect_network(name)
    return (net.get("Options") or {}).get("com.docker.network.bridge.name") or f"br-{net['Id'][:12]}"


def host_can_capture(bridge: str) -> tuple[bool, str]:
    """(True, why) when this process may open a raw socket on ``bridge``; else (False, why not)."""
    if not hasattr(socket, "AF_PACKET"):
        return False, "this system has no AF_PACKET sockets (not Linux)"
    if not os.path.exists(f"/sys/class/net/{bridge}"):
        return False, f"this machine has no interface {bridge} (Docker Desktop keeps the bridge inside its VM)"
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    except PermissionError:
        return False, "a raw socket needs root or CAP_NET_RAW, which this process does not have"
    s.close()
    return True, f"this process may open a raw socket (root or CAP_NET_RAW) on the bridge {bridge}"


def read_frames(sock: socket.socket, stop: threading.Event, size: int, take: Callable[[bytes], None]) -> None:
    """Hand every frame SOCK receives (at most SIZE bytes) to TAKE until STOP is set or the socket is gone, then
    close it: the capture threads' one reader loop (the socket's timeout paces the look at STOP)."""
    with sock:
        while not stop.is_set():
            try:
                frame = sock.recv(size)
            except socket.timeout:
                continue
            except OSError:
                return
            take(frame)


def packet_records(packets: list[dict], zero: float) -> list[dict]:
    """Captured packets (each with ``t``, a ``time.monotonic()``) as records: ``seconds`` after ZERO (to the ms),
    then the packet's fields.

    >>> packet_records([{"t": 10.25, "op": "reply"}], 10.0)
    [{'seconds': 0.25, 'op': 'reply'}]
    """
    return [{"seconds": round(p["t"] - zero, 3), **{k: v for k, v in p.items() if k != "t"}} for p in packets]


@dataclass(frozen=True)
class Captured:
    """What a capture saw, as plain data: one record per packet (``seconds``, then the fields of ``columns``), how
    it listened (``via``: ``"host"``, ``"node"`` or ``"off"``; ``why``), on which bridge, and the command lines
    that capture the same (``hood``). The lesson layer makes the table of it."""

    records: list[dict] = field(repr=False)
    columns: list[str] = field(repr=False)
    via: str
    why: str
    bridge: str
    hood: _hood.Hood = field(repr=False)


class Listening:
    """What ARP's and NDP's captures share: stopping (once) into a :class:`Captured` of their columns, and the
    ``with`` block (started on entry, stopped on exit). A capture has ``packets``, ``_stop``, ``_thread``,
    ``_captured``, ``_started``, ``used``, ``why``, ``_bridge``, ``steps()`` and ``columns`` (a class attribute);
    ``_release()`` ends what else it started."""

    def _release(self) -> None:
        """End what the capture started besides its reader thread (nothing, unless it says otherwise)."""

    def stop(self, origin: float | None = None) -> Captured:
        """Stop listening; the packets, ``seconds`` after ``origin`` (a ``time.monotonic()``; default the start),
        with how and where they were captured. A second call returns the first's."""
        if self._captured is not None:
            return self._captured
        self._stop.set()
        self._release()
        if self._thread is not None:
            self._thread.join(5)
        self._captured = Captured(packet_records(self.packets, self._started if origin is None else origin),
                                  list(self.columns), self.used, self.why, self._bridge, self.steps())
        return self._captured

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        if not self._stop.is_set():
            self.stop()


@dataclass
class ArpCapture(Listening):
    """ARP packets whose sender is ``ip``, captured on the kind network between :meth:`start` and :meth:`stop`.

    ``via``: ``"auto"`` (host where allowed, else a node), ``"host"`` or ``"node"``. ``node``: the node
    container to listen in for the node route (one that does not announce the IP). Each packet keeps the
    ``time.monotonic()`` it arrived at; :meth:`stop` counts ``seconds`` from ``origin`` (default: the start).
    """

    columns = COLUMNS  # the fields of each record stop() returns (a class attribute, not a field)

    ip: str
    via: str = "auto"
    node: str | None = None
    network: str | None = None
    used: str = field(default="", init=False)
    why: str = field(default="", init=False)
    packets: list = field(default_factory=list, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _proc: object = field(default=None, init=False, repr=False)
    _bridge: str = field(default="", init=False, repr=False)
    _started: float = field(default=0.0, init=False, repr=False)
    _captured: Captured | None = field(default=None, init=False, repr=False)

    def start(self) -> "ArpCapture":
        if self.via not in ("auto", "host", "node"):
            raise BadInput(f"capture via must be 'auto', 'host' or 'node' (got {self.via!r})")
        self._bridge = bridge_name(self.network)
        ok, why = host_can_capture(self._bridge)
        if self.via == "host" and not ok:
            raise KindlbError(f"cannot capture on the host: {why}; use via='auto' or 'node'")
        self._started = time.monotonic()
        if self.via == "host" or (self.via == "auto" and ok):
            self.used, self.why = "host", why
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
            sock.bind((self._bridge, 0))
            sock.settimeout(0.2)
            self._thread = threading.Thread(target=read_frames, args=(sock, self._stop, 256, self._take), daemon=True)
        else:
            if not self.node:
                raise KindlbError("the node route needs node=<a node container that does not announce the IP>")
            self.used = "node"
            self.why = (f"{why}: listening inside node container {self.node} instead (privileged, on the same bridge)"
                        if self.via == "auto" else f"asked for: listening inside node container {self.node}")
            self._nft("add", "table", "arp", NFT_TABLE)
            self._nft("add", "chain", "arp", NFT_TABLE, "in", "{ type filter hook input priority 0; }")
            self._nft("add", "rule", "arp", NFT_TABLE, "in", "arp", "saddr", "ip", self.ip,
                      "meta", "nftrace", "set", "1")
            self._proc = start(["docker", "exec", self.node, "nft", "monitor", "trace"], what="nft monitor trace",
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self._thread = threading.Thread(target=self._read_trace, daemon=True)
        self._thread.start()
        return self

    def _nft(self, *args: str, check: bool = True) -> None:
        run(["docker", "exec", self.node, "nft", *args], what=f"nft in node container {self.node}", timeout=20,
            check=check, hint="the node route needs nft inside the node (kind's node images have it)")

    def _add(self, row: dict | None) -> None:
        if row and row["sender IP"] == self.ip:
            self.packets.append({"t": time.monotonic(), **row})

    def _take(self, frame: bytes) -> None:
        self._add(parse_arp(frame))

    def _read_trace(self) -> None:
        for line in self._proc.stdout:
            self._add(parse_trace(line, self.ip))

    def _release(self) -> None:
        """The node route: stop ``nft monitor`` and delete the table it marked packets with."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._nft("delete", "table", "arp", NFT_TABLE, check=False)

    def steps(self) -> _hood.Hood:
        """The ``tcpdump`` (host) or ``nft`` (node) lines that capture the same."""
        if self.used == "node":
            node = shlex.quote(self.node or "NODE")
            return _hood.Hood(f"ARP from {self.ip}, seen inside node container {self.node}", [
                _hood.Step(f"docker exec {node} nft add table arp {NFT_TABLE}"),
                _hood.Step(f"docker exec {node} nft add chain arp {NFT_TABLE} in "
                           "'{ type filter hook input priority 0; }'"),
                _hood.Step(f"docker exec {node} nft add rule arp {NFT_TABLE} in arp saddr ip {self.ip} "
                           "meta nftrace set 1", "mark every ARP packet whose sender is the IP"),
                _hood.Step(f"docker exec {node} nft monitor trace", "prints each marked packet: MAC and operation"),
                _hood.Step(f"docker exec {node} nft delete table arp {NFT_TABLE}", "afterwards"),
            ])
        return _hood.Hood(f"ARP from {self.ip} on the bridge {self._bridge}", [
            _hood.Step(f"sudo tcpdump -l -eni {self._bridge} 'arp src host {self.ip}'",
                       "every ARP packet whose sender is the IP, with its MACs (Debian package tcpdump)")])

