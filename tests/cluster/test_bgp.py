"""BGP mode (issue 19), cluster tier: notebook 07_bgp driven cell by cell on both MetalLB eras, against a real
FRR router container; the test reads the kernel's state with a cell it appends (the notebook holds nothing for
the tests). Asserts what a learner sees: every session Established, one ECMP next hop per advertising node, the
address answering through the router, Local shrinking the next hops, withdrawals within their bounds (times
recorded in runs/cluster-tier/bgp-times.json), a rerun over a kept setup, a cleanup that leaves nothing, layer 2
still working; and a peer that never comes up, diagnosed.

The frozen node's dead time is judged from raw records, not from what the notebook computed: the client's own
record of every request (``docker exec CLIENT cat RECORD``), Docker's record of the pause (``docker events``) and
FRR's record of the session (``show bgp neighbors IP json``). Requests must go on at their interval through the
freeze, some must fail while the router still routes to the frozen node, none after, and the table must say how
many failed and for how long, beside the hold time."""
from __future__ import annotations

import html
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

import kindlb_helpers as kh
from kindlb_helpers._core import bgp_config
from kindlb_helpers._core.versions import pins
from kindlb_helpers._tools.runner import notebooks_dir

from _driver import Notebook

from _cluster_tier import ARTIFACTS, CONFIGMAP_ERA, eras

TIMES = ARTIFACTS / "bgp-times.json"
#: How long the notebook's act may take, from its reading of the client's clock to Docker's pause event: a
#: `docker exec` returning and a `docker pause` call, each a Docker API round trip and a CLI start (0.2-0.5 s
#: idle; a loaded 2-core machine stretches them). Enough for that, and seconds short of a table dated from
#: another moment (the settle before the act, the first withdrawal read after it).
ACT_LATENCY = 3.0


def _notebook() -> Path:
    return Path(os.environ.get("KINDLB_BGP_NOTEBOOK") or notebooks_dir() / "07_bgp.ipynb")


#: What the test reads from 07_bgp's kernel once every cell ran: a cell it appends (plain values only).
READ = """{
    "version": bgp.version, "router_ip": router.ip, "ip": str(svc.ip), "pool": bgp.pool,
    "router": router.name, "client": client.name, "hold_time": bgp.core.hold_time,
    "neighbours": dict(bgp.core.neighbours),
    "sessions": sessions[["node", "state", "prefixes received"]].to_dict("records"),
    "expected_peers": sessions.attrs.get("expected", []),
    "next_hops": routes.attrs["nodes"], "advertising": routes.attrs.get("expected", []),
    "local_next_hops": local_routes.attrs["nodes"], "local_expected": local_routes.attrs.get("expected", []),
    "lone_next_hops": lone_routes.attrs["nodes"], "lone_expected": lone_routes.attrs.get("expected", []),
    "bgp_spread": {n: int(c) for n, c in zip(bgp_view["node"], bgp_view["requests entered"])},
    "bgp_answered": int(bgp_view.attrs["answered"]),
    "l2_spread": {n: int(c) for n, c in zip(l2_view["node"], l2_view["requests entered"])},
    "l2_answered": int(l2_view.attrs["answered"]),
    "withdrawals": {w.case: {"node": w.node, "withdrawn_after": w.withdrawn_after, "back_after": w.back_after,
                             "record": w.record, "interval": w.interval, "requests": len(w.requests),
                             "failed": len(w.failed), "failing": w.failing, "longest_gap": w.longest_gap,
                             "summary": {str(key): str(v) for key, v in w.summary().items()}}
                    for w in (gone_speaker, gone_node)},
    "removed": list(removed.details) if removed else [],
    "leftovers": kh.bgp.leftovers(k) if removed else [],
}"""


def run(cluster: dict, era: dict, path: Path, read: str | None = READ, **extra) -> tuple[dict | None, object]:
    """Run the notebook cell by cell with the era's parameters, then read its state with an appended cell
    (``read``); (what it read, the executed notebook)."""
    params = {"cluster": cluster["name"], "interactive": False, **era["params"], **extra}
    with Notebook(path.stem, params, folder=path.parent, save_to=ARTIFACTS / "notebooks" / era["version"]) as nb:
        nb.run_all()
        return (nb.value(read) if read else None), nb.nb


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=True).stdout


def client_record(client: str, record: str) -> list[tuple[float, float, bool]]:
    """The client's own record of its requests: (sent, done, answered), in the kernel's uptime seconds (the
    client's clock), in the order sent."""
    rows = []
    for line in docker("exec", client, "cat", record).splitlines():
        n, sent, done, ok = line.split()
        rows.append((float(sent), float(done), ok == "ok"))
    return sorted(rows)


def paused_at(node: str, since: float) -> float:
    """When Docker paused the node container (its own event record), on the client's clock: Docker dates
    events in epoch nanoseconds; the containers share this host's kernel, whose uptime the client records."""
    out = docker("events", "--since", f"{since:.0f}", "--until", f"{time.time() + 1:.0f}", "--filter",
                 f"container={node}", "--filter", "event=pause", "--format", "{{.TimeNano}}")
    stamps = [int(x) for x in out.split()]
    assert stamps, f"docker events has no pause of {node} since {since}"
    boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    return stamps[-1] / 1e9 - boot


def assert_dead_time(r: dict, started: float) -> dict:
    """The frozen node, from raw records: requests at their interval throughout, failures while the router kept
    the node's next hop (the hold time) and none after, and the table saying how many failed and for how long."""
    w = r["withdrawals"]["node frozen"]
    rows = client_record(r["client"], w["record"])
    t0 = paused_at(w["node"], started)
    sent = [s for s, _, _ in rows]
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    before = [s for s in sent if s < t0]
    interval = (before[-1] - before[0]) / (len(before) - 1)
    hold = r["hold_time"]
    # the requests kept going through the freeze, at the interval they had before it
    during = [s for s in sent if t0 <= s <= t0 + w["withdrawn_after"]]
    assert len(during) >= 0.6 * w["withdrawn_after"] / interval, (len(during), w)
    if max(gaps) > 3 * interval:  # a stalled host: the table must say so, never look lossless
        assert "a gap" in w["summary"]["longest gap between requests (s)"], w["summary"]
    failed = [s - t0 for s, _, ok in rows if not ok]
    # failures while the route still led to the frozen node, none once it was withdrawn (plus one bound)
    assert failed, f"no request failed while {w['node']} was frozen: the hold time was not measured ({w})"
    # (a request sent up to one bound before the pause may meet the frozen node; the notebook dates the act a moment
    # before Docker does, so the two clocks' zeros differ by the pause's own latency)
    assert all(-1.0 <= f <= w["withdrawn_after"] + 1.5 for f in failed), (failed, w)
    assert hold / 3 - 1 <= max(failed) <= hold + 2, (failed, hold)
    # the table says how many failed and for how long, beside the hold time, as the raw record does
    table = w["summary"]
    assert int(table["failed"]) == len(failed) == w["failed"], (table, len(failed))
    assert table["hold time (s)"] == str(hold)
    first, last = w["failing"]
    # the table dates the failures from the notebook's act, read on the client's clock just before `docker pause`;
    # the raw record here from Docker's own pause event: the same record with one zero shifted by the act's own
    # latency (docker exec returning, then the pause call: longer on a loaded machine), the same at both ends
    shift = first - min(failed)
    print(f"the notebook's act precedes Docker's pause event by {shift:.2f} s")
    assert abs((last - max(failed)) - shift) <= 0.02, (w["failing"], failed)  # one zero for both ends
    assert -0.05 <= shift <= ACT_LATENCY, (shift, w["failing"], failed)  # that zero is the act, not seconds off
    assert f"{first:.1f} to {last:.1f}" in table["failing (s after the act)"], table
    # FRR's own record: the session went down because the hold timer ran out, with the hold time we set
    ip = r["neighbours"][w["node"]]
    info = json.loads(docker("exec", r["router"], "vtysh", "-c", f"show bgp neighbors {ip} json"))[ip]
    assert info.get("bgpTimerHoldTimeMsecs") == hold * 1000, info.get("bgpTimerHoldTimeMsecs")
    # (FRR's last-reset fields change with later resets: the reason read at the time is the table's, from FRR)
    assert "Hold Timer Expired" in table["router's reason"], table
    return {"failed": len(failed), "requests": len(rows), "failing_for": round(max(failed) - min(failed), 2),
            "withdrawn_after": w["withdrawn_after"], "hold_time": hold, "interval": round(interval, 3),
            "longest_gap": round(max(gaps), 2)}


@pytest.fixture(scope="module", params=eras())
def era(request, cluster):
    """MetalLB of this era with its layer-2 pool and nginx (notebooks 02-04), as a learner arrives at 07."""
    version = request.param
    params = {**cluster["params"], "metallb_version": version}
    if cluster["offline"]:
        import kindlb_lab as lab

        lab.load_metallb(cluster["name"], version)
        params["metallb_source"] = str(lab.manifest_source(version))
        params["router_image"] = pins()["FRR_IMAGE"]
    else:
        params.pop("metallb_source", None)
    k = kh.cluster.connect(cluster["name"])
    kh.bgp.remove(k)
    # 02 starts where a learner starts, as in the series: no app, no demo Service, no MetalLB. On a kept cluster
    # of the same era, an earlier user's nginx or lb-demo holds an address of a pool the configure below replaces:
    # v0.12.1 then refuses the new ConfigMap (it would orphan that address) and hands out the old pool's addresses
    kh.app.remove(k)
    kh.app.delete_service(k, "lb-demo")
    if kh.metallb.installed_version(k) is not None:
        kh.metallb.uninstall(k, progress=False)
    state = {"version": version, "params": params, "k": k}
    run(cluster, state, notebooks_dir() / "02_install_metallb.ipynb", read=None)
    # notebooks 03 and 04, by the library: a layer-2 pool apart from other clusters' on the kind network, nginx
    net = kh.cluster.network()
    others = kh.metallb.other_clusters_pools(cluster["name"], kh.cluster.on_network(net))
    pool, _ = kh.pool.plan_for(net, size=16, extra=others)
    kh.metallb.configure(k, pool)
    kh.app.deploy(k, image=params.get("image", pins()["NGINX_ONLINE_IMAGE"]))
    kh.app.wait_rollout(k, progress=False)
    kh.app.wait_external_ip(k, progress=False)
    yield state
    # leave the cluster as the next test files expect it (no MetalLB of this era, no pool, no app): the
    # v0.12.1 era would otherwise stay installed, and the layer-2 pool and L2Advertisement would stay too
    kh.bgp.remove(k)
    kh.app.remove(k)
    kh.metallb.uninstall(k, progress=False)


def _record(version: str, key: str, value) -> None:
    data = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    data.setdefault(version, {})[key] = value
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    TIMES.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def _hood_lines(nb) -> list[str]:
    """Every command line the executed notebook showed under the hood: the hoods' command blocks (their
    files, YAML and frr.conf, are shown indented in <details> and hold no commands)."""
    lines = []
    for c in nb.cells:
        for o in c.outputs if c.cell_type == "code" else []:
            text = o.get("data", {}).get("text/html", "")
            for style, block in re.findall(r"<pre style='([^']*)'>(.*?)</pre>", text, re.S):
                if "margin-left" not in style:
                    lines += html.unescape(block).splitlines()
    return lines


def test_bgp_notebook_sessions_ecmp_spread_local_withdrawal_and_cleanup(cluster, era):
    k = era["k"]
    workers = sorted(n.metadata.name for n in k.core.list_node().items
                     if "node-role.kubernetes.io/control-plane" not in (n.metadata.labels or {}))
    t0 = time.monotonic()
    started = time.time()
    first, _ = run(cluster, era, _notebook(), keep_router=True)  # leaves router, client and BGP objects
    _record(era["version"], "notebook_seconds", round(time.monotonic() - t0, 1))
    # the dead time, from the client's, Docker's and FRR's own records (the kept setup still has them)
    _record(era["version"], "dead_time", assert_dead_time(first, started))
    t1 = time.monotonic()
    res, nb = run(cluster, era, _notebook())  # a rerun over the kept setup, then cleanup
    _record(era["version"], "rerun_seconds", round(time.monotonic() - t1, 1))
    for r in (first, res):
        gone = r["withdrawals"]
        _record(era["version"], f"withdrawals_{'first' if r is first else 'rerun'}",
                {"speaker": gone["speaker deleted"]["withdrawn_after"],
                 "node": gone["node frozen"]["withdrawn_after"],
                 "node_failed": [gone["node frozen"]["failed"], gone["node frozen"]["requests"]]})

        # every session whose node runs a ready speaker is Established; v0.12.1 has no speaker on the control plane
        states = {s["node"]: s["state"] for s in r["sessions"]}
        assert r["expected_peers"], "no ready speaker"
        assert all(states[n] == "Established" for n in r["expected_peers"]), states
        if era["version"] == CONFIGMAP_ERA:
            assert r["expected_peers"] == workers
        else:
            assert len(r["expected_peers"]) == len(states)  # one per node, the control plane too

        # ECMP: one next hop per advertising node (the workers: the control plane is excluded or speakerless)
        assert r["next_hops"] == r["advertising"] == workers, (r["next_hops"], r["advertising"])
        assert bgp_config.check_pool(r["ip"], "172.16.0.0/12")  # outside every kind subnet: routed, not ARPed

        # the address answers through the router, spread over the next hops; layer 2 enters one node
        assert r["bgp_answered"] == 30 and r["l2_answered"] == 30
        assert sorted(n for n, c in r["bgp_spread"].items() if c) == r["next_hops"], r["bgp_spread"]
        assert sum(r["bgp_spread"].values()) == 30
        assert len([n for n, c in r["l2_spread"].items() if c]) == 1, r["l2_spread"]

        # Local: only nodes with a ready pod; one pod, one next hop
        assert r["local_next_hops"] == r["local_expected"]
        assert len(r["lone_next_hops"]) == 1 and r["lone_next_hops"] == r["lone_expected"]

        # withdrawal: a deleted speaker at once, a frozen node within the hold time (plus a keepalive's slack)
        hold = r["hold_time"]
        speaker, node = gone["speaker deleted"], gone["node frozen"]
        assert speaker["withdrawn_after"] is not None and speaker["withdrawn_after"] < 5, gone
        assert node["withdrawn_after"] is not None and hold / 3 <= node["withdrawn_after"] <= hold + 5, gone
        assert speaker["withdrawn_after"] < node["withdrawn_after"]
        # the frozen node cost requests: the table counts them (never "all answered" over a silent gap)
        assert node["failed"] > 0 and node["summary"]["failed"] == str(node["failed"]), node
        for w in (speaker, node):
            assert w["requests"] >= 0.6 * ((w["back_after"] or w["withdrawn_after"]) / w["interval"]), w

    # cleanup removed the router, the client and every BGP object; a kept setup really was kept
    assert any(x.startswith("container ") for x in res["removed"]) and res["leftovers"] == []
    assert kh.bgp.leftovers(k) == []
    assert first["removed"] == []

    # the network rule: every shown command that names the BGP address runs inside our two containers
    ip = re.escape(res["ip"])
    mine = (f"docker exec {cluster['name']}-bgp-client", f"docker exec {cluster['name']}-bgp-router")
    naming = [line for line in _hood_lines(nb) if re.search(rf"(?<![\d.]){ip}(?![\d])", line)]
    assert naming, "no shown command names the BGP address: the check would prove nothing"
    assert all(any(m in line for m in mine) or line.lstrip().startswith("#") for line in naming), naming

    # layer 2 keeps working: the nginx Service still answers from its layer-2 address
    lb = kh.app.wait_external_ip(k, "nginx", "default", timeout=60, progress=False)
    assert lb.pool != "bgp"
    page = kh.app.fetch_in_network(lb.ip, image=cluster["params"].get("probe_image", pins()["PROBE_ONLINE_IMAGE"]))
    assert page.status == 200


def test_a_peer_that_never_comes_up_is_diagnosed(cluster, era):
    """Wrong AS and wrong address, each refused by the wait with the cause named; nothing is left."""
    k = era["k"]
    image = era["params"].get("router_image", "auto")
    p = kh.bgp.plan(k, image=image)
    router = kh.bgp.start_router(p)
    try:
        wrong_as = kh.bgp.Plan(p.cluster, p.version, p.network, p.subnet, p.image, None,
                               bgp_config.plan(64501, 64999, p.core.neighbours, p.core.pool), p.roles)
        kh.bgp.peer(k, wrong_as, router)
        with pytest.raises(kh.WaitTimeout, match="wrong AS"):
            kh.bgp.wait_established(k, p, router, timeout=8)
        wrong_ip = kh.bgp.Router(router.name, "172.31.255.254", router.image, {}, router.hood)
        kh.bgp.peer(k, p, wrong_ip)
        with pytest.raises(kh.WaitTimeout, match="wrong address"):
            kh.bgp.wait_established(k, p, router, timeout=8)
        kh.bgp.peer(k, p, router)  # and the right one comes up
        assert not kh.bgp.wait_established(k, p, router, timeout=60).empty
    finally:
        kh.bgp.remove(k)
    assert kh.bgp.leftovers(k) == []


def test_bad_input_is_refused_before_anything_is_applied(cluster, era):
    k = era["k"]
    subnet = str(kh.cluster.network().subnet(4))
    node_ip = next(a.address for a in k.core.list_node().items[0].status.addresses if a.type == "InternalIP")
    l2_pool = str(next(r for n, r in kh.metallb.pools(k) if n != "bgp").first)
    for kwargs, words in (({"router_asn": 0}, "router_asn 0 is not an AS number"),
                          ({"metallb_asn": 4294967295}, "metallb_asn 4294967295"),
                          ({"pool": subnet.replace("/16", "/28")}, "inside the kind subnet"),
                          ({"pool": l2_pool}, "inside the kind subnet"),
                          ({"pool": "10.244.7.0/28"}, "pod network"),
                          ({"router_ip": node_ip}, "is taken by node"),
                          ({"router_ip": l2_pool}, "in MetalLB pool")):
        with pytest.raises(kh.BadInput, match=words):
            kh.bgp.plan(k, **kwargs)
    assert kh.bgp.leftovers(k) == []
