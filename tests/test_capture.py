"""ARP capture and the probers: the parsers on crafted frames and trace lines, a real capture of
gratuitous ARP on a Docker bridge made here, and the host prober against a server on loopback."""
from __future__ import annotations

import http.server
import os
import subprocess
import threading
import time
import uuid

import pytest

from kindlb_helpers._cluster import capture, probe
from kindlb_helpers._core.errors import KindlbError
from kindlb_helpers._lesson.tables import captured_frame

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

GARP = bytes.fromhex("ffffffffffff" "02420ad30002" "0806" "0001080006040001" "02420ad30002" "0ad30002"
                     "ffffffffffff" "0ad30002")
REPLY = bytes.fromhex("02420ad30001" "02420ad30003" "0806" "0001080006040002" "02420ad30003" "0ad30003"
                      "02420ad30001" "0ad30001")


def test_parse_arp_reads_gratuitous_and_ordinary_packets():
    g = capture.parse_arp(GARP)
    assert g == {"op": "request", "sender MAC": "02:42:0a:d3:00:02", "sender IP": "10.211.0.2",
                 "target IP": "10.211.0.2", "to": "ff:ff:ff:ff:ff:ff", "gratuitous": True}
    r = capture.parse_arp(REPLY)
    assert (r["op"], r["sender IP"], r["target IP"], r["gratuitous"]) == ("reply", "10.211.0.3", "10.211.0.1", False)
    ipv4 = GARP[:12] + b"\x08\x00" + GARP[14:]
    assert capture.parse_arp(ipv4) is None and capture.parse_arp(GARP[:41]) is None
    not_ipv4 = GARP[:16] + b"\x86\xdd" + GARP[18:]
    assert capture.parse_arp(not_ipv4) is None


def test_parse_trace_takes_packet_lines_only():
    line = ('trace id 4c3fa43a arp kindlb_arpwatch in packet: iif "eth0" ether saddr 02:42:0a:d3:00:02 '
            'ether daddr ff:ff:ff:ff:ff:ff arp operation reply')
    got = capture.parse_trace(line, "10.211.0.2")
    assert got["op"] == "reply" and got["sender MAC"] == "02:42:0a:d3:00:02" and got["gratuitous"] is True
    unicast = line.replace("ff:ff:ff:ff:ff:ff", "02:42:0a:d3:00:01")
    assert capture.parse_trace(unicast, "10.211.0.2")["gratuitous"] is False
    assert capture.parse_trace("trace id 4c3fa43a arp kindlb_arpwatch in policy accept", "x") is None


def test_capture_route_is_checked_and_named():
    with pytest.raises(KindlbError, match="'auto', 'host' or 'node'"):
        capture.ArpCapture("10.0.0.1", via="wire").start()
    ok, why = capture.host_can_capture("kindlb-no-such-bridge0")
    assert ok is False and "kindlb-no-such-bridge0" in why


def test_neigh_mac_and_routes():
    assert probe.neigh_mac("10.1.1.1 dev br-x lladdr 02:42:AC:12:00:03 STALE") == "02:42:ac:12:00:03"
    assert probe.neigh_mac("10.1.1.1 dev br-x FAILED") is None
    with pytest.raises(KindlbError, match="'host' or 'container'"):
        probe.get_many("10.0.0.1", 1, "t", via="wifi")
    with pytest.raises(KindlbError, match="from 1 to 1000"):
        probe.get_many("10.0.0.1", 0, "t")


def test_host_prober_stamps_each_answer():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        p = probe.Prober("127.0.0.1", "host", port=server.server_address[1], interval=0.1).start()
        time.sleep(0.8)
        server.shutdown()
        server.server_close()
        time.sleep(1.5)
        answers = p.stop()
    finally:
        server.server_close()
    assert any(a.ok for a in answers) and not answers[-1].ok, answers
    assert [a.t for a in answers] == sorted(a.t for a in answers)


@pytest.mark.skipif(not (hasattr(os, "geteuid") and os.geteuid() == 0), reason="a raw socket needs root")
def test_host_capture_sees_gratuitous_arp_on_a_bridge_made_here():
    """A container on a network made here announces its own address (busybox arping -U); the capture on
    that network's bridge sees each packet, with the container's MAC, and nothing from other senders."""
    from test_dockernet import IMAGE as image
    from test_dockernet import ensure_engine, ensure_image

    ensure_engine()
    ensure_image()
    net = f"kindlb-test-arp-{uuid.uuid4().hex[:6]}"
    subprocess.run(["docker", "network", "create", "--subnet", "10.213.7.0/24", net], check=True, capture_output=True)
    box = None
    try:
        box = subprocess.run(["docker", "run", "-d", "--network", net, image, "sleep", "30"], check=True,
                             capture_output=True, text=True).stdout.strip()
        mac = subprocess.run(["docker", "inspect", "-f", "{{(index .NetworkSettings.Networks \"" + net
                              + "\").MacAddress}}", box], capture_output=True, text=True).stdout.strip().lower()
        cap = capture.ArpCapture("10.213.7.2", via="host", network=net).start()
        subprocess.run(["docker", "exec", box, "busybox", "arping", "-U", "-c", "3", "-I", "eth0", "10.213.7.2"],
                       capture_output=True, timeout=30)
        time.sleep(0.5)
        got = cap.stop()
        frame = captured_frame(got)
    finally:
        if box:
            subprocess.run(["docker", "rm", "-f", box], capture_output=True)
        subprocess.run(["docker", "network", "rm", net], capture_output=True)
    assert got.via == "host" and got.bridge.startswith("br-") and cap.stop() is got  # plain data, stopped once
    assert frame.attrs["via"] == "host" and frame.attrs["bridge"].startswith("br-")
    assert len(frame) == 3 and frame["gratuitous"].all(), frame
    assert set(frame["sender MAC"]) == {mac} and set(frame["to"]) == {"ff:ff:ff:ff:ff:ff"}
    assert frame["seconds"].is_monotonic_increasing and 0.5 < frame["seconds"].iloc[-1] - frame["seconds"].iloc[0] < 4
    assert "tcpdump -l -eni br-" in frame.attrs["hood"].text() and "arp src host 10.213.7.2" in frame.attrs["hood"].text()
