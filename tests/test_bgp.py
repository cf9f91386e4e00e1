"""BGP mode, fast tier: the router's configuration, MetalLB's objects in both eras, the checks
that refuse bad input before anything is applied, the parsers of what FRR says, and the network rule
(the host never names a BGP address)."""
from __future__ import annotations

import ast
import ipaddress
import re
import statistics
import time
from pathlib import Path

import nbformat
import pytest
import yaml

from kindlb_helpers._core import bgp_config as b
from kindlb_helpers._core import params
from kindlb_helpers._core.errors import BadInput, BadParameters, PoolError, WaitTimeout
from kindlb_helpers._core.pool import PoolRange

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "07_bgp.ipynb"
NODES = (("kindlb-control-plane", "172.18.0.2"), ("kindlb-worker", "172.18.0.3"), ("kindlb-worker2", "172.18.0.4"))
POOL = PoolRange.parse("198.51.100.0/28")


def _plan(**kw):
    args = dict(router_asn=64501, metallb_asn=64500, neighbours=NODES, pool=POOL)
    args.update(kw)
    return b.plan(**args)


def _metallb_module(version: str) -> Path:
    import glob
    import os

    for base in (os.path.expanduser("~/go/pkg/mod"), os.path.expanduser("~/.cache/kindlb/lab/go/mod")):
        hits = glob.glob(f"{base}/go.universe.tf/metallb@{version}")
        if hits:
            return Path(hits[0])
    pytest.skip(f"go.universe.tf/metallb@{version} is not in a Go module cache")


# ---------- the router's file ----------

def test_frr_config_has_one_passive_neighbour_per_node_and_ecmp():
    conf = b.frr_config(_plan())
    assert "router bgp 64501" in conf
    for node, ip in NODES:
        assert f" neighbor {ip} remote-as 64500\n" in conf
        assert f" neighbor {ip} passive\n" in conf
        assert f" neighbor {ip} description {node}\n" in conf
    assert conf.count("remote-as") == len(NODES)
    assert "bgp bestpath as-path multipath-relax" in conf and f"maximum-paths {b.MAX_PATHS}" in conf
    assert "no bgp ebgp-requires-policy" in conf and "maximum-paths ibgp" not in conf
    assert "maximum-paths ibgp" in b.frr_config(_plan(metallb_asn=64501))  # iBGP needs its own multipath line
    assert "bgpd=yes" in b.DAEMONS.splitlines()


# ---------- MetalLB's objects, checked against each release's source ----------

def test_crd_era_objects_match_metallb_v0_16_1_crds():
    objs = b.metallb_objects(_plan(), "172.18.0.9", "v0.16.1")
    peer, pool, adv = objs
    assert (peer["apiVersion"], peer["kind"]) == ("metallb.io/v1beta2", "BGPPeer")
    assert peer["spec"] == {"myASN": 64500, "peerASN": 64501, "peerAddress": "172.18.0.9", "holdTime": "9s"}
    assert pool["spec"] == {"addresses": ["198.51.100.0/28"], "autoAssign": False}
    assert adv["spec"] == {"ipAddressPools": ["bgp"]}
    crds = {}
    bases = _metallb_module("v0.16.1") / "config" / "crd" / "bases"
    for path in bases.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        crds[doc["spec"]["names"]["kind"]] = doc
    for obj in objs:
        group, version = obj["apiVersion"].split("/")
        crd = crds[obj["kind"]]
        assert crd["spec"]["group"] == group
        served = {v["name"]: v for v in crd["spec"]["versions"]}
        assert served[version]["served"], f"{obj['kind']} {version} is not served by v0.16.1"
        props = served[version]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        assert set(obj["spec"]) <= set(props), f"{obj['kind']}: {set(obj['spec']) - set(props)} not in the CRD"


def test_configmap_era_adds_peers_and_a_bgp_pool_and_restores_exactly():
    before = {"address-pools": [{"name": "default", "protocol": "layer2", "addresses": ["172.18.255.1-172.18.255.250"]}]}
    (cm,) = b.metallb_objects(_plan(), "172.18.0.9", "v0.12.1", before)
    config = yaml.safe_load(cm["data"]["config"])
    assert config["address-pools"][0] == before["address-pools"][0]  # the layer-2 pool stays as it was
    assert config["address-pools"][1] == {"name": "bgp", "protocol": "bgp", "addresses": ["198.51.100.0/28"],
                                          "auto-assign": False}
    assert config["peers"] == [{"peer-address": "172.18.0.9", "peer-asn": 64501, "my-asn": 64500, "hold-time": "9s"}]
    assert b.without_bgp(config) == before
    # applying twice (a rerun) does not add a second peer or pool
    (again,) = b.metallb_objects(_plan(), "172.18.0.9", "v0.12.1", config)
    assert yaml.safe_load(again["data"]["config"]) == config
    # every key we write is one v0.12.1's config parser reads
    source = (_metallb_module("v0.12.1") / "internal" / "config" / "config.go").read_text()
    tags = set(re.findall(r'yaml:"([a-z-]+)"', source))
    tags |= {f.lower() for f in re.findall(r"^\t([A-Z]\w*)\s+[^`\n]+$", source, re.M)}  # untagged: yaml.v2 lowercases
    keys = set(config) | set(config["peers"][0]) | set(config["address-pools"][1])
    assert keys <= tags, keys - tags
    assert '"bgp"' in source  # protocol: bgp


def test_pool_annotation_per_era_and_hold_time_default_in_both_sources():
    assert b.pool_annotation("v0.12.1") == "metallb.universe.tf/address-pool"
    assert b.pool_annotation("v0.16.1") == "metallb.io/address-pool"
    assert b.bgp_service("v0.16.1")["metadata"]["annotations"] == {"metallb.io/address-pool": "bgp"}
    old = (_metallb_module("v0.12.1") / "internal" / "config" / "config.go").read_text()
    assert re.search(r'if ht == "" \{\s*return 90 \* time.Second', old)
    new = (_metallb_module("v0.16.1") / "internal" / "bgp" / "native" / "native.go").read_text()
    assert "ht := 90 * time.Second" in new and b.DEFAULT_HOLD_TIME == 90
    assert "bfd profiles not supported in native mode" in new  # what the notebook says about BFD


# ---------- bad input: refused with the fix, before anything is applied ----------

@pytest.mark.parametrize("asn", [0, -1, 4294967295, 2**32, True, "64500", 64500.0, None])
def test_as_numbers_out_of_range_are_refused(asn):
    with pytest.raises(BadInput, match="from 1 to 4294967294.*private"):
        b.check_asn(asn, "router_asn")
    with pytest.raises(BadParameters, match="router_asn"):
        params.check(router_asn=asn)


@pytest.mark.parametrize("asn", [1, 64500, 65534, 70000, 4200000000, 4294967294])
def test_as_numbers_in_range_pass(asn):
    assert b.check_asn(asn) == asn
    params.check(router_asn=asn, metallb_asn=asn)


@pytest.mark.parametrize("pool, others, reserved, words", [
    ("172.18.255.0/28", [], [], "inside the kind subnet 172.18.0.0/16"),
    ("172.17.255.250-172.18.0.5", [], [], "inside the kind subnet"),
    ("198.51.100.0/28", [("default", PoolRange.parse("198.51.100.8-198.51.100.20"))], [], "overlaps pool 'default'"),
    ("10.244.3.0/28", [], [("pod network", "10.244.0.0/16")], "overlaps the pod network"),
    ("10.96.0.0/28", [], [("Service network", "10.96.0.0/16")], "overlaps the Service network"),
    ("fc00::/120", [], [], "IPv6"),
    ("10.0.0.0/8", [], [], "a /28"),
])
def test_bad_pools_are_refused_with_the_fix(pool, others, reserved, words):
    with pytest.raises(PoolError) as err:
        b.check_pool(pool, "172.18.0.0/16", others, reserved)
    assert words in str(err.value)
    assert "pick" in str(err.value) or "use" in str(err.value)


def test_a_good_pool_passes_beside_the_layer2_pool():
    rng = b.check_pool("198.51.100.0/28", "172.18.0.0/16", [("default", PoolRange.parse("172.18.255.1-172.18.255.250"))],
                       [("pod network", "10.244.0.0/16"), ("Service network", "10.96.0.0/16")])
    assert str(rng) == "198.51.100.0-198.51.100.15"


@pytest.mark.parametrize("ip, words", [
    ("172.18.0.3", "taken by node kindlb-worker"),
    ("172.18.0.1", "taken by gateway"),
    ("172.18.255.7", "in MetalLB pool 'default'"),
    ("172.19.0.9", "not a usable address of the kind subnet"),
    ("172.18.0.0", "not a usable address"),
    ("172.18.255.255", "not a usable address"),
    ("172.18.0", "not an IP address"),
    ("fc00::1", "IPv6"),
])
def test_router_addresses_that_are_taken_or_wrong_are_refused(ip, words):
    taken = [("gateway", "172.18.0.1"), ("node kindlb-worker", "172.18.0.3")]
    pools = [("default", PoolRange.parse("172.18.255.1-172.18.255.250"))]
    with pytest.raises(BadInput) as err:
        b.check_router_ip(ip, "172.18.0.0/16", taken, pools)
    assert words in str(err.value) and ("pick" in str(err.value) or "give" in str(err.value))
    assert b.check_router_ip("172.18.0.200", "172.18.0.0/16", taken, pools) == "172.18.0.200"


@pytest.mark.parametrize("hold", [1, 2, 65536, -3, 9.5, "9s", True])
def test_bad_hold_times_are_refused(hold):
    with pytest.raises(BadInput, match="3 to 65535"):
        b.check_hold_time(hold)
    assert b.check_hold_time(0) == 0 and b.check_hold_time(3) == 3


def test_a_plan_needs_a_node():
    with pytest.raises(BadInput, match="no node"):
        _plan(neighbours=())


# ---------- what FRR says ----------

SUMMARY_84 = """{"ipv4Unicast":{"routerId":"172.18.0.5","as":64501,"peers":{
 "172.18.0.4":{"remoteAs":64500,"msgRcvd":9,"peerUptime":"00:00:21","pfxRcd":1,"state":"Established"},
 "172.18.0.2":{"remoteAs":64500,"msgRcvd":0,"peerUptime":"never","pfxRcd":0,"state":"Active","peerState":"Passive"},
 "172.18.0.3":{"remoteAs":64500,"msgRcvd":9,"peerUptime":"00:00:21","pfxRcd":1,"state":"Established"}}}}"""


def test_parse_summary_one_row_per_neighbour_in_address_order():
    rows = b.parse_summary(SUMMARY_84, dict((ip, n) for n, ip in NODES))
    assert [r["node"] for r in rows] == ["kindlb-control-plane", "kindlb-worker", "kindlb-worker2"]
    assert [r["state"] for r in rows] == ["Active", "Established", "Established"]
    assert [r["prefixes received"] for r in rows] == [0, 1, 1]
    assert b.parse_summary("{}") == []


def test_parse_kernel_routes_ecmp_and_single():
    multi = ("198.51.100.0 nhid 21 proto bgp metric 20 \n\tnexthop via 172.18.0.4 dev eth0 weight 1 \n"
             "\tnexthop via 172.18.0.3 dev eth0 weight 1 \n198.51.100.1 nhid 18 via 172.18.0.4 dev eth0 proto bgp "
             "metric 20 \n")
    assert b.parse_kernel_routes(multi) == {"198.51.100.0": ["172.18.0.3", "172.18.0.4"],
                                            "198.51.100.1": ["172.18.0.4"]}
    assert b.parse_kernel_routes("") == {}


def test_parse_zebra_fib_is_the_kernel_route():
    text = """{"198.51.100.1/32":[{"prefix":"198.51.100.1/32","protocol":"bgp",
      "selected":true,"installed":true,"nexthops":[
      {"flags":3,"fib":true,"ip":"10.99.0.11","interfaceName":"eth0","active":true,"weight":1},
      {"flags":3,"fib":true,"ip":"10.99.0.12","interfaceName":"eth0","active":true,"weight":1},
      {"flags":1,"ip":"10.99.0.13","interfaceName":"eth0","active":false}]}]}"""
    assert b.parse_zebra_fib(text) == {"198.51.100.1": ["10.99.0.11", "10.99.0.12"]}  # not the inactive one
    assert b.parse_zebra_fib("{}") == {}
    assert b.parse_zebra_fib(text.replace('"installed":true', '"installed":false')) == {"198.51.100.1": []}


def test_parse_bgp_table_paths():
    text = """{"routes":{"198.51.100.0/32":[
      {"valid":true,"multipath":true,"path":"64500","nexthops":[{"ip":"172.18.0.4"}]},
      {"valid":true,"bestpath":true,"multipath":true,"path":"64500","nexthops":[{"ip":"172.18.0.3"}]}]}}"""
    rows = b.parse_bgp_table(text)
    assert [(r["next hop"], r["best"], r["multipath"]) for r in rows] == [("172.18.0.3", True, True),
                                                                          ("172.18.0.4", False, True)]
    # one prefix in detail (FRR 8.4's shape, shortened from a real router)
    one = """{"prefix":"198.51.100.1/32","paths":[
      {"aspath":{"string":"64500","length":1},"valid":true,"multipath":true,"nexthops":[{"ip":"10.99.0.12"}],
       "peer":{"peerId":"10.99.0.12"}},
      {"aspath":{"string":"64500","length":1},"valid":true,"multipath":true,"bestpath":{"overall":true},
       "nexthops":[{"ip":"10.99.0.11"}],"peer":{"peerId":"10.99.0.11"}}]}"""
    assert [(r["prefix"], r["next hop"], r["AS path"], r["best"]) for r in b.parse_bgp_table(one)] == [
        ("198.51.100.1/32", "10.99.0.11", "64500", True), ("198.51.100.1/32", "10.99.0.12", "64500", False)]


# ---------- the withdrawal's clock (waits.ticks; real time, the router's reads replaced by functions) ----------

def _hops_until(t: float, before: list[str], after: list[str]):
    return lambda: after if time.monotonic() >= t else before


class _Reads:
    """A read of the router replaced by a function: BEFORE until monotonic time AT, AFTER from then on; it keeps
    when it was asked and what it gave, so that a test judges the clock by the reads that really happened (on a
    loaded machine one of them may come late; the schedule of the rest still shows)."""

    def __init__(self, at: float, before, after) -> None:
        self.at, self.before, self.after, self.seen = at, before, after, []

    def __call__(self):
        now = time.monotonic()
        got = self.after if now >= self.at else self.before
        self.seen.append((now, got))
        return got

    def first_after(self) -> float:
        return next(t for t, got in self.seen if got == self.after)

    def typical_gap(self) -> float:
        """The median time between two reads: a late one or two do not move it; a slower schedule does."""
        times = [t for t, _ in self.seen]
        return statistics.median(b - a for a, b in zip(times, times[1:]))


def test_a_withdrawal_is_timed_to_about_a_tenth_of_a_second():
    """Dated by the read that first saw the change (never before it), and read every 0.1 s: a wait that looked
    every second, or dated the change by another read, says no whatever the machine's load."""
    from kindlb_helpers._lesson.bgp import withdrawal as w

    t0 = time.monotonic()
    timeline: list[dict] = []
    reads = _Reads(t0 + 0.6, ["w1", "w2"], ["w1"])
    got = w._time_withdrawal(reads, lambda: {"connectionsDropped": 0}, 0, t0, "w2", t0, 5, timeline)
    assert got is not None and got >= 0.6, got
    assert abs(got - (reads.first_after() - t0)) <= 0.02, (got, reads.seen)  # the read that saw it dates it
    assert reads.typical_gap() <= 2 * w.LOOK_EVERY, reads.seen  # a tenth of a second (a second: 1.0)
    assert len(reads.seen) >= 5 and reads.seen[-1][1] == ["w1"]  # it stopped at the first read that saw it
    assert timeline[-1] == {"t (s)": got, "next hops": "w1"} and len(timeline) == len(reads.seen), timeline
    assert all(a["t (s)"] < b["t (s)"] for a, b in zip(timeline, timeline[1:]))


def test_a_session_reset_between_two_reads_is_dated_between_them():
    """FRR counts the drop before the route shows it; its lastResetTimerMsecs is whole seconds (253000, ...):
    a reset 0.3 s ago may read as 1000 ms. The date stays between the two reads, never before the act."""
    from kindlb_helpers._lesson.bgp import withdrawal as w

    t0 = time.monotonic()
    reset = t0 + 0.5
    asked: list[tuple[float, int]] = []

    def neighbour():
        now = time.monotonic()
        if now < reset:
            asked.append((now, 2))
            return {"connectionsDropped": 2}
        asked.append((now, 3))
        return {"connectionsDropped": 3, "lastResetTimerMsecs": 1000 * (int(now) - int(reset) + 1)}  # FRR's seconds

    timeline: list[dict] = []
    got = w._time_withdrawal(lambda: ["w1", "w2"], neighbour, 2, t0, "w2", t0, 5, timeline)
    clean = max(t for t, n in asked if n == 2) - t0  # the last read that showed no drop
    seen = min(t for t, n in asked if n == 3) - t0  # the read that showed it
    assert clean < 0.5 <= seen, asked  # the reset (at 0.5) lies between the two reads
    # dated between them, so within their gap of the truth (FRR alone, 'a second ago', said 0.0); read every 0.1 s
    assert got is not None and clean - 0.02 <= got <= seen + 0.02, (got, clean, seen)
    times = [t for t, _ in asked]
    assert statistics.median(b - a for a, b in zip(times, times[1:])) <= 2 * w.LOOK_EVERY, asked
    assert timeline[-1] == {"t (s)": got, "next hops": "session with w2 reset (FRR)"}
    assert w._dated_reset(10.0, 10.25, 1.0) == pytest.approx(10.125)  # between the reads, not at 9.25
    assert w._dated_reset(10.0, 13.0, 2.0) == pytest.approx(11.0)  # slow reads: FRR's second narrows it
    assert w._dated_reset(10.0, 10.5, 30.0) == pytest.approx(10.25)  # FRR's clock out of line: the reads decide


def test_a_withdrawal_that_never_comes_is_none_after_its_timeout_and_the_return_is_timed():
    from kindlb_helpers._lesson.bgp import withdrawal as w

    t0 = time.monotonic()
    reads = _Reads(float("inf"), ["w1", "w2"], ["w1"])
    assert w._time_withdrawal(reads, lambda: {}, 0, t0, "w2", t0, 0.5, []) is None
    took = time.monotonic() - t0
    # no read after its timeout, and nothing after its last read but the rest of one tick
    assert reads.seen and all(t - t0 < 0.5 for t, _ in reads.seen), (reads.seen, t0)
    assert 0.5 <= took and took - (reads.seen[-1][0] - t0) < w.LOOK_EVERY + 1.0, (took, reads.seen)
    t1 = time.monotonic()
    back = _Reads(t1 + 1.0, ["w1"], ["w1", "w2"])
    got = w._time_return(back, "w2", t1, 5, [])
    assert got is not None and got >= 1.0 and abs(got - (back.first_after() - t1)) <= 0.02, (got, back.seen)
    assert back.typical_gap() <= 1.5 * w.BACK_EVERY, back.seen  # every 0.3 s
    assert w._time_return(lambda: ["w1"], "w2", time.monotonic(), 0.3, []) is None


def test_a_withdrawal_waits_for_two_next_hops_and_says_why_it_needs_them(monkeypatch):
    from kindlb_helpers._lesson.bgp import withdrawal as w

    assert w._settled(_hops_until(time.monotonic() + 0.3, ["w1"], ["w1", "w2"]), "198.51.100.1") == ["w1", "w2"]
    monkeypatch.setattr(w, "SETTLE", 0.5)
    with pytest.raises(WaitTimeout, match="(?s)1 next hop.*w1.*a withdrawal needs two.*scale the app"):
        w._settled(lambda: ["w1"], "198.51.100.1")


# ---------- the network rule ----------

SENDERS = {"urllib", "urllib.request", "socket", "requests", "http.client", "subprocess", "httpx"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_the_bgp_code_has_no_way_to_send_from_the_host():
    """lesson/bgp/ and cluster/router.py reach BGP addresses only through `docker exec` (Docker's API)."""
    files = sorted((ROOT / "kindlb_helpers" / "_lesson" / "bgp").glob("*.py"))
    assert len(files) > 1, "lesson/bgp is a package of several modules"
    files += [ROOT / "kindlb_helpers" / "_cluster" / "router.py", ROOT / "kindlb_helpers" / "_core" / "bgp_config.py"]
    for path in files:
        assert not (_imports(path) & SENDERS), f"{path.relative_to(ROOT)} imports {_imports(path) & SENDERS}"


#: Notebook calls that may be given a BGP address: they only docker-exec into the router or the client.
BGP_SAFE = {"kh.bgp.wait_next_hops", "kh.bgp.spread", "kh.bgp.withdraw_speaker", "kh.bgp.withdraw_node",
            "kh.bgp.routes", "kh.bgp.spread_figure", "kh.bgp.report"}


def host_uses_of_bgp_address(source: str, name: str = "svc") -> list[str]:
    """Every call that is handed the BGP Service (``svc``, ``svc.ip``) and is not one of BGP_SAFE.
    A bare ``svc`` in a cell only shows the object."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
            up = parents.get(node)
            while up is not None and not isinstance(up, ast.Call):
                up = parents.get(up)
            if up is not None and ast.unparse(up.func) not in BGP_SAFE:
                bad.append(ast.unparse(up))
    return bad


def _notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_no_notebook_command_on_the_host_names_the_bgp_address():
    nb = _notebook()
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "svc = kh.bgp.expose(" in source
    assert host_uses_of_bgp_address(source) == []
    # the check can say no: a host-side fetch, curl or ping of the address is caught
    for wrong in ("kh.app.fetch(svc.ip)", "kh.l2.where_is(k, svc.ip)", "kh.app.fetch_in_network(svc.ip)",
                  "print(str(svc.ip))"):
        assert host_uses_of_bgp_address(source + "\n" + wrong), wrong
    # and no shell line of the notebook's text names the pool's addresses outside the two containers
    for cell in nb.cells:
        for line in cell.source.splitlines():
            if re.search(r"\b198\.51\.100\.\d+", line) and re.match(r"\s*(curl|wget|ping|arping|nc) ", line):
                pytest.fail(f"a host command names the BGP pool: {line}")


def test_bgp_parameters_are_checked_before_anything_runs():
    nb = _notebook()
    params_cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    names = {t.targets[0].id for t in ast.parse(params_cell.source).body if isinstance(t, ast.Assign)}
    assert {"router_asn", "metallb_asn", "bgp_pool", "router_ip", "hold_time", "withdraw_timeout"} <= names
    assert {"router_asn", "metallb_asn", "bgp_pool", "router_ip", "hold_time", "withdraw_timeout",
            "router_image", "keep_router"} <= set(params.KNOWN)
    with pytest.raises(BadParameters) as err:
        params.check(router_asn=0, bgp_pool="198.51.100.0/33", router_ip="nope", hold_time=2, withdraw_timeout=900)
    assert set(err.value.problems) == {"router_asn", "bgp_pool", "router_ip", "hold_time", "withdraw_timeout"}


def test_documentation_pool_is_outside_private_and_kind_ranges():
    net = ipaddress.ip_network(b.DEFAULT_POOL)
    assert net.subnet_of(ipaddress.ip_network("198.51.100.0/24"))  # TEST-NET-2, RFC 5737
    for kind_like in ("172.16.0.0/12", "10.0.0.0/8", "192.168.0.0/16"):
        assert not net.overlaps(ipaddress.ip_network(kind_like))
