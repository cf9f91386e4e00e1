"""Notebook 07_dual_stack on a dual-stack lab cluster, in both eras (issue 28).

The tier makes the dual-stack cluster itself (session fixture ``dual_cluster``: ``kindlb_lab.up(...,
ip_family="dual")``, deleted at the end unless it existed or ``KINDLB_KEEP_CLUSTER`` is set); the series' IPv4
cluster is only asked, with a server-side dry run that stores nothing, for the RequireDualStack refusal. The
notebook runs cell by cell as a learner runs it; every verdict here comes from raw ``kubectl``, ``ip``,
``docker inspect``, ``curl`` and this file's own packet capture on the kind bridge (raw frames decoded below,
not by the library), never from what the library prints.
"""
from __future__ import annotations

import ipaddress
import json
import os
import socket
import struct
import subprocess
import threading
import time

import pytest
from _cluster_tier import ARTIFACTS, eras
from _driver import Notebook

lab = pytest.importorskip("kindlb_lab", reason="the offline lab is not installed: pip install -e lab/")

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(bool(os.environ.get("KINDLB_CLUSTER")),
                       reason="offline-lab test (it makes its own dual-stack lab cluster)"),
]

DUAL = os.environ.get("KINDLB_DUAL_CLUSTER", "kindlb-dual")
APP = "nginx"
TIMES: dict = {}  # per era: the failover times the notebook measured (printed at the end, for the notes)


# ---------------------------------------------------------------- raw tools

def sh(*argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({out.returncode}): {out.stderr.strip()[-800:]}")
    return out


def kubectl(cluster: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("kubectl", "--context", f"kind-{cluster}", *args, check=check)


def kjson(cluster: str, *args: str) -> dict:
    return json.loads(kubectl(cluster, *args, "-o", "json").stdout)


def ingress(cluster: str, svc: str) -> list[str]:
    obj = kjson(cluster, "get", "service", svc)
    return [i["ip"] for i in (obj.get("status", {}).get("loadBalancer", {}).get("ingress") or []) if i.get("ip")]


def kind_net() -> dict:
    return json.loads(sh("docker", "network", "inspect", "kind").stdout)[0]


def node_macs(cluster: str) -> dict[str, str]:
    """MAC -> node container, from docker inspect."""
    names = sh("docker", "ps", "--filter", f"label=io.x-k8s.kind.cluster={cluster}", "--format", "{{.Names}}").stdout
    out = {}
    for n in names.split():
        info = json.loads(sh("docker", "inspect", n).stdout)[0]
        out[info["NetworkSettings"]["Networks"]["kind"]["MacAddress"].lower()] = n
    return out


def announcer(cluster: str, svc: str) -> str | None:
    """The node of the latest nodeAssigned event of the Service (raw kubectl)."""
    evs = kjson(cluster, "get", "events", "--field-selector", f"involvedObject.name={svc},reason=nodeAssigned")
    items = sorted(evs["items"], key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    if not items:
        return None
    msg = items[-1]["message"]  # announcing from node "kindlb-dual-worker" with protocol "layer2"
    return msg.split('"')[1]


def warnings(cluster: str, svc: str) -> list[dict]:
    uid = kjson(cluster, "get", "service", svc)["metadata"]["uid"]
    evs = kjson(cluster, "get", "events", "--field-selector", f"involvedObject.name={svc},involvedObject.uid={uid}")
    return [e for e in evs["items"] if e["type"] == "Warning"]


def pool_addresses(cluster: str, version: str) -> list[str]:
    if version == "v0.12.1":
        cm = kjson(cluster, "-n", "metallb-system", "get", "configmap", "config")
        import yaml

        return [a for p in yaml.safe_load(cm["data"]["config"]).get("address-pools", []) for a in p["addresses"]]
    pools = kjson(cluster, "-n", "metallb-system", "get", "ipaddresspools")
    return [a for p in pools["items"] for a in p["spec"]["addresses"]]


def in_range(ip: str, spec: str) -> bool:
    a = ipaddress.ip_address(ip)
    if "-" in spec:
        lo, hi = (ipaddress.ip_address(x.strip()) for x in spec.split("-"))
        return lo.version == a.version and lo <= a <= hi
    net = ipaddress.ip_network(spec, strict=False)
    return net.version == a.version and a in net


# ---------------------------------------------------------------- this test's own capture (raw frames)

class Wire:
    """ARP and ICMPv6 NS/NA frames on the kind bridge, decoded here from the raw bytes."""

    def __init__(self) -> None:
        net = kind_net()
        self.bridge = (net.get("Options") or {}).get("com.docker.network.bridge.name") or f"br-{net['Id'][:12]}"
        self.frames: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((self.bridge, 0))
        mreq = struct.pack("iHH8s", socket.if_nametoindex(self.bridge), 1, 0, b"\0" * 8)  # PACKET_MR_PROMISC
        self.sock.setsockopt(263, 1, mreq)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                f = self.sock.recv(512)
            except socket.timeout:
                continue
            if f[12:14] in (b"\x08\x06", b"\x86\xdd"):
                self.frames.append((time.monotonic(), f))

    def stop(self) -> list[dict]:
        self._stop.set()
        self.thread.join(3)
        self.sock.close()
        rows = []
        for t, f in self.frames:
            mac = lambda b: ":".join(f"{x:02x}" for x in b)  # noqa: E731
            if f[12:14] == b"\x08\x06" and len(f) >= 42:
                op = struct.unpack("!H", f[20:22])[0]
                spa, tpa = str(ipaddress.IPv4Address(f[28:32])), str(ipaddress.IPv4Address(f[38:42]))
                rows.append({"t": t, "kind": "arp", "op": op, "src": mac(f[6:12]), "dst": mac(f[0:6]),
                             "sender": spa, "target": tpa})
            elif f[12:14] == b"\x86\xdd" and len(f) >= 78 and f[20] == 58 and f[54] in (135, 136):
                rows.append({"t": t, "kind": "ns" if f[54] == 135 else "na", "src": mac(f[6:12]), "dst": mac(f[0:6]),
                             "ip6_dst": str(ipaddress.IPv6Address(f[38:54])), "flags": f[58],
                             "target": str(ipaddress.IPv6Address(f[62:78]))})
        return rows


def unsolicited_na(rows: list[dict], ip6: str) -> list[dict]:
    """NAs for ip6 with Solicited clear and Override set, to all nodes (ff02::1, 33:33:00:00:00:01)."""
    return [r for r in rows if r["kind"] == "na" and r["target"] == ip6 and not r["flags"] & 0x40
            and r["flags"] & 0x20 and r["ip6_dst"] == "ff02::1" and r["dst"] == "33:33:00:00:00:01"]


def gratuitous_arp(rows: list[dict], ip4: str) -> list[dict]:
    return [r for r in rows if r["kind"] == "arp" and r["sender"] == ip4 and r["target"] == ip4
            and r["dst"] == "ff:ff:ff:ff:ff:ff"]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def dual_cluster():
    """The dual-stack lab cluster, made here; deleted at the end unless it existed or KINDLB_KEEP_CLUSTER is set."""
    from kindlb_helpers._cluster.kube import kind_clusters

    lab.use_lab_tools()
    existed = (lab.bin_dir() / "kind").exists() and DUAL in kind_clusters()
    t0 = time.monotonic()
    info = lab.up(DUAL, ip_family="dual")
    info["up_seconds"] = round(time.monotonic() - t0, 1)
    yield info
    if not os.environ.get("KINDLB_KEEP_CLUSTER") and not existed:
        lab.down(DUAL)


@pytest.fixture(scope="session")
def single_stack(request) -> str:
    """An IPv4-only kind cluster to ask for RequireDualStack: $KINDLB_SINGLE_STACK_CLUSTER, else the tier's."""
    return os.environ.get("KINDLB_SINGLE_STACK_CLUSTER") or request.getfixturevalue("cluster")["name"]


def test_the_lab_makes_a_dual_stack_cluster_and_routes_both_families(dual_cluster):
    name = dual_cluster["name"]
    nodes = kjson(name, "get", "nodes")["items"]
    assert len(nodes) == 3
    for n in nodes:
        fams = sorted(ipaddress.ip_network(c).version for c in n["spec"]["podCIDRs"])
        ips = sorted(ipaddress.ip_address(a["address"]).version for a in n["status"]["addresses"]
                     if a["type"] == "InternalIP")
        assert fams == [4, 6] and ips == [4, 6], (n["metadata"]["name"], n["spec"], n["status"]["addresses"])
    # kube-proxy serves both families (iptables mode, both tables) and the CNI routes IPv6 between the nodes
    cfg = kjson(name, "-n", "kube-system", "get", "configmap", "kube-proxy")["data"]["config.conf"]
    assert "mode: iptables" in cfg and "fd00:10:244::/56" in cfg, cfg
    worker = f"{name}-worker"
    routes6 = sh("docker", "exec", worker, "ip", "-6", "route").stdout
    others = [n for n in nodes if n["metadata"]["name"] != worker]
    for n in others:
        cidr6 = next(c for c in n["spec"]["podCIDRs"] if ":" in c)
        ip6 = next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP" and ":" in a["address"])
        assert f"{cidr6} via {ip6}" in routes6, routes6
    rules6 = sh("docker", "exec", worker, "sh", "-c", "ip6tables-save -t nat 2>/dev/null || "
                "ip6tables-legacy-save -t nat").stdout + sh("docker", "exec", worker, "sh", "-c",
                                                            "ip6tables-nft-save -t nat 2>/dev/null || true").stdout
    assert "KUBE-SERVICES" in rules6, "kube-proxy wrote no IPv6 rules"


@pytest.mark.parametrize("version", eras())
def test_dual_stack_notebook(dual_cluster, single_stack, version):
    from kindlb_helpers._cluster.kube import connect
    from kindlb_helpers._cluster.metallb import installed_version, uninstall

    name = dual_cluster["name"]
    k = connect(name)
    present = installed_version(k)
    if present and present != version:
        uninstall(k, progress=False)  # the other era, left by the previous run: the notebook installs this one
    lab.load_metallb(name, version)
    params = {"cluster": single_stack, "dual_cluster": name, "node_image": lab.NODE_IMAGE, "metallb_version": version,
              "metallb_source": str(lab.manifest_source(version)), "image": lab.NGINX_IMAGE,
              "probe_image": lab.probe_image(), "interactive": False}
    net = kind_net()
    subnets = {ipaddress.ip_network(c["Subnet"]).version: ipaddress.ip_network(c["Subnet"])
               for c in net["IPAM"]["Config"]}
    assert 6 in subnets, f"the kind network has no IPv6 subnet: {net['IPAM']}"
    t0 = time.monotonic()
    with Notebook("07_dual_stack", params, save_to=ARTIFACTS / f"dual-stack-{version}") as nb:
        failover_at = nb.find('mode="speaker"')
        nb.run_range(0, failover_at)

        # both addresses: one per family per policy, on the kind network, inside the pool
        pools = pool_addresses(name, version)
        got = {s: ingress(name, s) for s in (f"{APP}-v6", f"{APP}-prefer", f"{APP}-dual")}
        assert [ipaddress.ip_address(a).version for a in got[f"{APP}-v6"]] == [6], got
        for s in (f"{APP}-prefer", f"{APP}-dual"):
            assert sorted(ipaddress.ip_address(a).version for a in got[s]) == [4, 6], got
        for a in sum(got.values(), []):
            assert ipaddress.ip_address(a) in subnets[ipaddress.ip_address(a).version], (a, subnets)
            assert any(in_range(a, p) for p in pools), (a, pools)
        pods = kjson(name, "get", "pods", "-l", f"app={APP}")["items"]
        assert pods and all(sorted(ipaddress.ip_address(p["ip"]).version for p in x["status"]["podIPs"]) == [4, 6]
                            for x in pods)

        # the page over IPv6, from the host (it holds the bridge's IPv6 address here)
        ip6 = got[f"{APP}-v6"][0]
        page = sh("curl", "-g", "-s", "--max-time", "5", f"http://[{ip6}]/").stdout
        assert "<title>Welcome to nginx!</title>" in page

        # NDP: the MAC in the host's neighbour table is the announcing node's
        macs = node_macs(name)
        neigh = sh("ip", "-6", "neigh", "show", ip6).stdout
        mac = next((w.lower() for w in neigh.split() if w.count(":") == 5), None)
        assert mac in macs, (neigh, macs)
        assert macs[mac] == announcer(name, f"{APP}-v6"), (neigh, macs, announcer(name, f"{APP}-v6"))

        # NS and NA when a new client first asks (a fresh container: empty neighbour table), on the raw wire
        wire = Wire()
        client = sh("docker", "run", "--rm", "--network", "kind", params["probe_image"], "sh", "-c",
                    f"cat /sys/class/net/eth0/address; wget -q -O /dev/null 'http://[{ip6}]/'", timeout=90)
        time.sleep(0.5)
        rows = wire.stop()
        client_mac = client.stdout.split()[0].lower()
        ns = [r for r in rows if r["kind"] == "ns" and r["target"] == ip6 and r["src"] == client_mac]
        na = [r for r in rows if r["kind"] == "na" and r["target"] == ip6 and r["flags"] & 0x40
              and r["dst"] == client_mac]
        assert ns and na, rows[-20:]
        assert macs[na[0]["src"]] == announcer(name, f"{APP}-v6")

        # failover: unsolicited NAs for the IPv6 address and gratuitous ARP for the IPv4 one, from the new node
        dual = f"{APP}-dual"
        v4 = next(a for a in got[dual] if ":" not in a)
        v6 = next(a for a in got[dual] if ":" in a)
        node_at = nb.find('mode="node"')
        for cell in (failover_at, node_at):
            before = announcer(name, dual)
            wire = Wire()
            nb.run(cell)
            rows = wire.stop()
            nas, garps = unsolicited_na(rows, v6), gratuitous_arp(rows, v4)
            new_nas = [r for r in nas if macs.get(r["src"]) not in (None, before)]
            new_garps = [r for r in garps if macs.get(r["src"]) not in (None, before)]
            assert new_nas, (before, nas[:5], rows[-10:])
            assert new_garps, (before, garps[:5])
            # one node announces both families: its first unsolicited NA and its first gratuitous ARP come together
            first_na = next(r for r in new_nas)
            same = [r for r in new_garps if r["src"] == first_na["src"]]
            assert same and abs(same[0]["t"] - first_na["t"]) < 1.5, (first_na, new_garps[:3])
            mode = "speaker" if cell == failover_at else "node"
            moved = nb.value(f"(lambda m: (m.after, m.answered_after, {{ip: o['answered_after'] for ip, o in "
                             f"m.others.items()}}))({'moved' if mode == 'speaker' else 'died'})")
            assert macs[first_na["src"]] == moved[0] or announcer(name, dual) == moved[0], (moved, first_na)
            TIMES.setdefault(version, {})[mode] = {"IPv6": moved[1], "IPv4": moved[2].get(v4)}
            assert moved[2].get(v4) is not None, moved
            if cell == failover_at:
                nb.run_range(failover_at + 1, node_at)  # its figure
        nb.run_range(node_at + 1, nb.find("kh.dual.from_ipv4_pool"))

        # an IPv6 Service from an IPv4-only pool: the event and its reason; PreferDualStack per era
        nb.run(nb.find("kh.dual.from_ipv4_pool"))
        v6pinned, prefer = f"{APP}-v6-from-v4pool", f"{APP}-prefer-from-v4pool"
        assert ingress(name, v6pinned) == []
        assert any(w["reason"] == "AllocationFailed" for w in warnings(name, v6pinned)), warnings(name, v6pinned)
        if version == "v0.12.1":
            assert ingress(name, prefer) == []
            assert any(w["reason"] == "AllocationFailed" and "dual" in w["message"] for w in warnings(name, prefer))
        else:
            got_prefer = ingress(name, prefer)
            assert [ipaddress.ip_address(a).version for a in got_prefer] == [4], got_prefer
        nb.run_range(nb.find("kh.dual.from_ipv4_pool") + 1, nb.find("kh.dual.require_dual_on"))
        assert kubectl(name, "get", "service", v6pinned, check=False).returncode != 0

        # RequireDualStack on the single-stack cluster: the API server refuses (raw kubectl, a dry run)
        ran = nb.run(nb.find("kh.dual.require_dual_on"))
        svc = json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kindlb-require-dual"},
                          "spec": {"type": "LoadBalancer", "ipFamilyPolicy": "RequireDualStack",
                                   "selector": {"app": APP}, "ports": [{"port": 80}]}})
        refused = subprocess.run(["kubectl", "--context", f"kind-{single_stack}", "apply", "--dry-run=server",
                                  "-f", "-"], input=svc, capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "dual-stack" in refused.stderr, refused.stderr
        assert "refused" in ran.text + ran.html and "dual-stack" in ran.text + ran.html

        # an IPv6 range outside the /64: refused before anything is applied
        typo_cell = nb.find("kh.dual.next_segment_range")
        shown = nb.run(typo_cell)
        assert "refused before anything is applied" in shown.html and "is not inside" in shown.html, shown.html[:500]
        typo = nb.value("typo")
        assert ipaddress.ip_address(typo.split("-")[0]) not in subnets[6]
        assert not any(in_range(typo.split("-")[0], p) for p in pool_addresses(name, version))

        nb.run_range(typo_cell + 1, len(nb.cells))
        for s in (f"{APP}-v6", f"{APP}-prefer", f"{APP}-dual"):
            assert kubectl(name, "get", "service", s, check=False).returncode != 0
        slow = sorted(nb.ran, key=lambda r: -r.seconds)[:5]
        TIMES.setdefault(version, {})["slowest_cells"] = [(r.index, round(r.seconds, 1)) for r in slow]
    TIMES.setdefault(version, {})["notebook_seconds"] = round(time.monotonic() - t0, 1)
    print(f"\ndual-stack {version}: {TIMES[version]}; cluster up {dual_cluster.get('up_seconds')} s")
