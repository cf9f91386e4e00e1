"""``kindlb doctor``'s laptop warnings: a VPN route over the kind network, too little memory for Docker,
no kind network (or one without IPv4), cloud-provider-kind running. Each comes with a fix.

Parsers are fed captured output of ``ip route``, ``/proc/net/route`` and macOS's ``netstat -rn``. The
route check also runs live: a throwaway Docker network, and a network namespace made here whose
``vpn0`` (a veth) routes a /16 over it; the doctor runs inside that namespace and must name vpn0. The
other-load-balancer check finds a container and a process named like cloud-provider-kind, both made
(and removed) here. Nothing sends a packet; no kube context is read.
"""
from __future__ import annotations

import ipaddress
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest
from _docker import docker

from kindlb_helpers._lesson import laptop
from kindlb_helpers._lesson.laptop import HostRoute

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

RUN = uuid.uuid4().hex[:8]
ROOT = Path(__file__).resolve().parent.parent

IP_ROUTE = """default via 192.168.1.1 dev wlp2s0 proto dhcp src 192.168.1.23 metric 600
10.8.0.0/24 dev tun0 proto kernel scope link src 10.8.0.6
172.16.0.0/12 via 10.8.0.1 dev tun0
172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1 linkdown
172.18.0.0/16 dev br-3f1c0d2a9b7e proto kernel scope link src 172.18.0.1
172.18.4.0/24 via 10.8.0.1 dev tun0
192.168.1.0/24 dev wlp2s0 proto kernel scope link src 192.168.1.23 metric 600
"""
PROC_NET_ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
tun0\t000010AC\t0100080A\t0003\t0\t0\t0\t0000F0FF\t0\t0\t0
br-3f1c0d2a9b7e\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
"""
NETSTAT_RN = """Routing tables

Internet:
Destination        Gateway            Flags           Netif Expire
default            192.168.1.1        UGScg             en0
10.8/16            link#17            UCS             utun3
127                127.0.0.1          UCS               lo0
172.16             10.8.0.1           UGSc            utun3
192.168.1          link#6             UCS               en0      !
192.168.1.1/32     link#6             UCS               en0      !
192.168.1.23       a4:83:e7:1:2:3     UHLWIi            en0   1180

Internet6:
Destination                             Gateway                         Flags           Netif Expire
default                                 fe80::%utun0                    UGcIg           utun0
"""


# --- parsing captured output -----------------------------------------------------------------

def test_ip_route():
    routes = laptop.parse_ip_route(IP_ROUTE)
    assert HostRoute(ipaddress.IPv4Network("172.16.0.0/12"), "tun0") in routes
    assert all(str(r.network) != "0.0.0.0/0" for r in routes) and len(routes) == 6


def test_proc_net_route():
    assert laptop.parse_proc_net_route(PROC_NET_ROUTE) == [
        HostRoute(ipaddress.IPv4Network("172.16.0.0/12"), "tun0"),
        HostRoute(ipaddress.IPv4Network("172.18.0.0/16"), "br-3f1c0d2a9b7e")]


def test_netstat_rn_short_forms():
    routes = laptop.parse_netstat_rn(NETSTAT_RN)
    assert [str(r) for r in routes] == ["10.8.0.0/16 dev utun3", "127.0.0.0/8 dev lo0", "172.16.0.0/16 dev utun3",
                                        "192.168.1.0/24 dev en0"]


def test_a_vpn_route_over_the_kind_network_is_named_with_a_fix():
    routes = laptop.parse_ip_route(IP_ROUTE)
    ok, found, fix = laptop.route_warnings("172.18.0.0/16", routes, ("br-3f1c0d2a9b7e",))
    assert ok is False
    assert "172.16.0.0/12 dev tun0" in found and "172.18.4.0/24 dev tun0" in found
    assert "br-3f1c0d2a9b7e" not in found  # the kind bridge's own route is expected
    assert "takes part of the kind network away" in found  # the /24 is more specific than the /16
    assert "docker network create kind --subnet 172.19.0.0/16" not in fix  # inside 172.16/12: not free
    spare = ipaddress.ip_network(fix.split("--subnet ")[1].split(";")[0])
    assert not any(spare.overlaps(r.network) for r in routes)


def test_no_overlap_is_ok():
    ok, found, fix = laptop.route_warnings("10.201.0.0/16", laptop.parse_ip_route(IP_ROUTE))
    assert ok is True and fix == ""


def test_memory():
    ok, found, fix = laptop.memory_warning(2 * 2**30)
    assert ok is False and "2.0 GiB" in found and "Settings > Resources > Memory" in fix
    assert laptop.memory_warning(8 * 2**30)[0] is True


# --- live --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def engine():
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("no Docker engine")
        pytest.skip("no Docker engine")


@pytest.fixture(scope="module")
def network(engine):
    """A throwaway docker network on a random 10.x.y.0/24 (retried when Docker has it already)."""
    name = f"kindlb-laptop-{RUN}"
    for _ in range(20):
        subnet = f"10.{random.randint(64, 250)}.{random.randint(0, 255)}.0/24"
        if docker("network", "create", "--subnet", subnet, "--label", f"kindlb.test.run={RUN}", name,
                  check=False).returncode == 0:
            break
    else:
        pytest.skip("no free subnet for a throwaway network")
    yield name, ipaddress.ip_network(subnet)
    docker("network", "rm", name, check=False)


def test_live_kind_network_and_memory(network):
    name, subnet = network
    frame = laptop.laptop_checks(name).set_index("check")
    assert frame.loc["kind network", "ok"] and str(subnet) in frame.loc["kind network", "found"]
    assert frame.loc["routes", "ok"], frame.loc["routes", "found"]  # the bridge's own route is not a warning
    mem = json.loads(docker("info", "-f", "{{json .MemTotal}}").stdout)
    assert f"{mem / 2**30:.1f} GiB" in frame.loc["docker memory", "found"]
    missing = laptop.laptop_checks(f"kindlb-nonet-{RUN}").set_index("check")
    # no kind network yet: not a fault (kind makes it with the first cluster), said as such, with nothing to fix
    assert missing.loc["kind network", "ok"] is None and "does not exist yet" in missing.loc["kind network", "found"]
    assert "notebook 00" in missing.loc["kind network", "found"] and missing.loc["routes", "ok"] is None


def test_live_ipv6_only_network(engine):
    name = f"kindlb-v6only-{RUN}"
    r = docker("network", "create", "--ipv6", "--subnet", f"fd{random.randint(16, 255):02x}:{RUN[:4]}::/64",
               "-o", "com.docker.network.enable_ipv4=false", name, check=False)
    if r.returncode != 0:
        pytest.skip(f"this Docker cannot make an IPv6-only network: {r.stderr.strip()[-200:]}")
    try:
        frame = laptop.laptop_checks(name).set_index("check")
        if frame.loc["kind network", "ok"]:
            pytest.skip("this Docker ignores enable_ipv4=false (it gave the network an IPv4 subnet anyway)")
        assert "has no IPv4 subnet" in frame.loc["kind network", "found"]
        assert "docker network rm" in frame.loc["kind network", "fix"]
    finally:
        docker("network", "rm", name, check=False)


def test_live_vpn_route_in_a_network_namespace(network):
    """The doctor runs in a namespace where vpn0 routes the /16 around the throwaway network's /24."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make a network namespace")
    name, subnet = network
    ns = f"kindlb-{RUN}"
    vpn = ipaddress.ip_network(f"{subnet.network_address}/16", strict=False)
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace here")
    try:
        setup = (f"ip link set lo up && ip link add vpn0 type veth peer name vpn0-peer && ip link set vpn0 up && "
                 f"ip route add {vpn} dev vpn0")
        r = subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", setup], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        code = ("import sys; from kindlb_helpers._lesson.laptop import laptop_checks; "
                "print(laptop_checks(sys.argv[1]).set_index('check').loc['routes'].to_json())")
        t0 = time.monotonic()
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code, name], capture_output=True,
                           text=True, timeout=120, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        row = json.loads(r.stdout)
        assert row["ok"] is False
        assert f"{vpn} dev vpn0" in row["found"] and "covers the kind network" in row["found"]
        assert "disconnect the VPN" in row["fix"] and "docker network create kind --subnet" in row["fix"]
        assert time.monotonic() - t0 < 60
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_live_cloud_provider_kind_container_and_process(engine, tmp_path):
    assert laptop.other_load_balancers() == [], "something like cloud-provider-kind runs here already"
    image = f"kindlb-test-laptop/sleeper:{RUN}"
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not Path(busybox).is_file():
        pytest.skip("busybox is not installed (apt-get install busybox-static)")
    root = tmp_path / "rootfs" / "bin"
    root.mkdir(parents=True)
    shutil.copy2(busybox, root / "busybox")
    (root / "sleep").symlink_to("busybox")
    tar = tmp_path / "rootfs.tar"
    with tarfile.open(tar, "w") as t:
        t.add(root.parent, arcname=".")
    docker("import", str(tar), image)
    container = f"cloud-provider-kind-{RUN}"
    proc = subprocess.Popen(["bash", "-c", "exec -a cloud-provider-kind sleep 120"])
    try:
        docker("run", "-d", "--name", container, "--network", "none", image, "/bin/sleep", "120")
        time.sleep(0.2)
        found = laptop.other_load_balancers()
        assert f"container {container}" in found
        assert any(f.startswith(f"process {proc.pid} ") for f in found), found
        row = laptop.laptop_checks().set_index("check").loc["other load balancer"]
        assert not row["ok"] and "races MetalLB" in row["fix"]
    finally:
        proc.kill()
        proc.wait()
        docker("rm", "-f", container, check=False)
        docker("rmi", "-f", image, check=False)


def test_a_network_without_ipv4_from_captured_inspect_output(monkeypatch):
    """What `docker network inspect` says of an IPv6-only network (Docker 27+, enable_ipv4=false)."""
    from kindlb_helpers._cluster import dockernet

    attrs = {"Name": "kind", "Id": "3f1c0d2a9b7e" * 5 + "abcd", "EnableIPv6": True, "Containers": {},
             "IPAM": {"Config": [{"Subnet": "fc00:f853:ccd:e793::/64", "Gateway": "fc00:f853:ccd:e793::1"}]},
             "Options": {"com.docker.network.enable_ipv4": "false"}}
    net = dockernet._parse_network(attrs, {})
    monkeypatch.setattr(dockernet, "kind_network", lambda name=None, client=None: net)
    ok, found, fix, _ = laptop._kind_network_check("kind")
    assert ok is False and "has no IPv4 subnet (has: fc00:f853:ccd:e793::/64)" in found
    assert "docker network rm kind" in fix


def test_inotify_limits():
    """Measured (laptop.INOTIFY_PER_CLUSTER): a cluster holds about 47 instances; Linux's default 128 holds two
    clusters and not three, so the warning fires when a third would be made, not on an ordinary host."""
    for clusters in (0, 1):  # a learner's laptop, before and after its cluster: the defaults are enough
        ok, found, fix = laptop.inotify_warning({"max_user_instances": 128, "max_user_watches": 8192}, clusters)
        assert ok is True and fix == "" and "enough for 2 kind clusters" in found
    ok, found, fix = laptop.inotify_warning({"max_user_instances": 128, "max_user_watches": 192540}, 2)
    assert ok is False and "too many open files" in found and "max_user_instances 128 < 170" in found
    assert fix.startswith("sudo sysctl -w fs.inotify.max_user_instances=512 (")
    ok, found, fix = laptop.inotify_warning({"max_user_instances": 512, "max_user_watches": 8192}, 6)
    assert ok is False and "max_user_watches 8,192 < 12,000" in found and "max_user_instances" not in fix
    assert fix.startswith("sudo sysctl -w fs.inotify.max_user_watches=524288 (")
    ok, _, _ = laptop.inotify_warning({"max_user_instances": 64, "max_user_watches": 8192}, 0)
    assert ok is False  # below what one cluster and a spare hold
    assert laptop.inotify_warning({"max_user_instances": 512, "max_user_watches": 192540}, 4)[0] is True
    assert laptop.inotify_warning(None)[0] is None
    live = laptop._inotify_limits()
    if live is not None:
        row = laptop.laptop_checks().set_index("check").loc["inotify"]
        assert f"max_user_instances={live['max_user_instances']}" in row["found"]
