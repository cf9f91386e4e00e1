"""NDP frames read as the kind bridge carries them, and the dual-stack kind config (issue 28): no Docker, no cluster."""
from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time

import pytest
import yaml

from kindlb_helpers._cluster.capture import Captured, packet_records, read_frames
from kindlb_helpers._cluster.ndp import NeighbourCapture, parse_frame, parse_ndp
from kindlb_helpers._core.errors import BadInput
from kindlb_helpers._core.hood import Hood, Step
from kindlb_helpers._core.objects import kind_config
from kindlb_helpers._lesson.tables import captured_frame

NODE = "02:42:ac:13:00:03"
CLIENT = "02:42:ac:13:00:09"
LB = "fc00:f853:ccd:e793:ffff:ffff:ffff:ff01"


def _mac(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.split(":"))


def frame(kind: int, src_mac: str, dst_mac: str, src: str, dst: str, target: str, flags: int = 0,
          option: tuple[int, str] | None = None) -> bytes:
    icmp = bytes([kind, 0, 0, 0, flags, 0, 0, 0]) + ipaddress.IPv6Address(target).packed
    if option:
        icmp += bytes([option[0], 1]) + _mac(option[1])
    ip6 = struct.pack("!IHBB", 6 << 28, len(icmp), 58, 255) + ipaddress.IPv6Address(src).packed \
        + ipaddress.IPv6Address(dst).packed
    return _mac(dst_mac) + _mac(src_mac) + b"\x86\xdd" + ip6 + icmp


def test_a_solicitation_to_the_solicited_node_group():
    f = frame(135, CLIENT, "33:33:ff:ff:ff:01", "fc00:f853:ccd:e793::9", "ff02::1:ffff:ff01", LB, option=(1, CLIENT))
    r = parse_ndp(f)
    assert (r["packet"], r["sender MAC"], r["target"], r["to"], r["MAC in option"], r["gratuitous"]) == \
        ("NS", CLIENT, LB, "ff02::1:ffff:ff01", CLIENT, False)


def test_a_solicited_answer_and_an_unsolicited_one():
    solicited = parse_ndp(frame(136, NODE, CLIENT, "fe80::42:acff:fe13:3", "fc00:f853:ccd:e793::9", LB, 0x40,
                                (2, NODE)))
    assert solicited["flags"] == "S" and not solicited["gratuitous"] and solicited["MAC in option"] == NODE
    unsolicited = parse_ndp(frame(136, NODE, "33:33:00:00:00:01", "fe80::42:acff:fe13:3", "ff02::1", LB, 0x20,
                                  (2, NODE)))
    assert unsolicited["flags"] == "O" and unsolicited["gratuitous"] and unsolicited["to"] == "ff02::1"


def test_other_icmpv6_and_short_frames_are_not_ndp():
    echo = frame(128, CLIENT, NODE, "fc00::9", "fc00::3", "::")
    assert parse_ndp(echo) is None and parse_frame(echo) is None
    assert parse_ndp(b"\x00" * 40) is None
    udp = bytearray(frame(135, CLIENT, NODE, "fc00::9", "fc00::3", LB))
    udp[20] = 17
    assert parse_ndp(bytes(udp)) is None


def test_gratuitous_arp_in_the_same_columns():
    arp = (b"\xff" * 6 + _mac(NODE) + b"\x08\x06" + bytes.fromhex("0001080006040001") + _mac(NODE)
           + ipaddress.IPv4Address("172.19.255.1").packed + b"\xff" * 6 + ipaddress.IPv4Address("172.19.255.1").packed)
    r = parse_frame(arp)
    assert (r["family"], r["packet"], r["target"], r["gratuitous"]) == ("IPv4", "ARP request", "172.19.255.1", True)


def test_a_capture_takes_only_addresses():
    assert NeighbourCapture(LB).ips == (LB,)
    with pytest.raises(BadInput):
        NeighbourCapture(("not-an-ip",))
    with pytest.raises(BadInput, match="'auto' or 'host'"):
        NeighbourCapture((LB,), via="node").start()


def test_kind_config_dual_adds_only_the_ip_family():
    dual = yaml.safe_load(kind_config(2, ip_family="dual"))
    assert dual["networking"] == {"ipFamily": "dual"} and len(dual["nodes"]) == 3
    assert "networking" not in yaml.safe_load(kind_config(2))  # IPv4 stays kind's default, unwritten
    with pytest.raises(BadInput, match="ip_family"):
        kind_config(2, ip_family="both")


def test_the_one_reader_loop_hands_on_frames_until_stopped():
    """ARP's and NDP's captures read their raw sockets with one loop: each frame (cut at its size) goes to the
    taker, a quiet socket only paces the look at the stop event, and the socket is closed when it ends."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    a.settimeout(0.05)
    stop, got = threading.Event(), []
    reader = threading.Thread(target=read_frames, args=(a, stop, 4, got.append), daemon=True)
    reader.start()
    b.send(b"abcdef")
    b.send(b"xy")
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # a quiet socket: the loop goes on
    assert reader.is_alive()
    stop.set()
    reader.join(2)
    assert got == [b"abcd", b"xy"] and not reader.is_alive() and a.fileno() == -1
    b.close()


def test_packet_records_count_seconds_from_the_origin():
    records = packet_records([{"t": 10.25, "op": "reply"}, {"t": 11.0004, "op": "request"}], 10.0)
    assert records == [{"seconds": 0.25, "op": "reply"}, {"seconds": 1.0, "op": "request"}]


def test_the_lesson_makes_the_capture_table():
    """The cluster layer returns plain records; the lesson's table has the capture's columns in their order (a
    field a packet lacks is empty), and its attrs say how and where it listened, with the hood ``kh.show`` adds."""
    hood = Hood("ARP from 10.0.0.1", [Step("sudo tcpdump -l -eni br-x 'arp src host 10.0.0.1'")])
    got = Captured([{"seconds": 0.25, "op": "reply", "sender IP": "10.0.0.1"}, {"seconds": 1.0, "op": "request"}],
                   ["seconds", "op", "sender IP", "gratuitous"], "host", "root", "br-x", hood)
    frame = captured_frame(got)
    assert list(frame.columns) == ["seconds", "op", "sender IP", "gratuitous"] and len(frame) == 2
    assert frame["op"].tolist() == ["reply", "request"] and frame["sender IP"].isna().tolist() == [False, True]
    assert frame.attrs == {"via": "host", "why": "root", "bridge": "br-x", "hood": hood}
    empty = captured_frame(Captured([], ["seconds", "op"], "off", "not captured: no root", "br-x", hood))
    assert list(empty.columns) == ["seconds", "op"] and empty.empty and empty.attrs["via"] == "off"
    assert captured_frame(got) is not captured_frame(got)  # a fresh table each time: adding a column changes no other
