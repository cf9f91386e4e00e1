"""BGP mode (issue 19), cluster tier: notebook 07_bgp under papermill on both MetalLB eras, against a real
FRR router container. Asserts what a learner sees: every session Established, one ECMP next hop per
advertising node, the address answering through the router, Local shrinking the next hops, withdrawals
within their bounds (times recorded in runs/cluster-tier/bgp-times.json), a rerun over a kept setup, a
cleanup that leaves nothing, layer 2 still working; and a peer that never comes up, diagnosed."""
from __future__ import annotations

import ast
import html
import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

import kindlb_helpers as kh
from kindlb_helpers._core import bgp_config
from kindlb_helpers._core.versions import pins
from kindlb_helpers._tools.runner import KernelPool, notebooks_dir, run_one

from _cluster_tier import ARTIFACTS, CONFIGMAP_ERA, eras

KERNELS = KernelPool()
TIMES = ARTIFACTS / "bgp-times.json"


def _notebook() -> Path:
    return Path(os.environ.get("KINDLB_BGP_NOTEBOOK") or notebooks_dir() / "07_bgp.ipynb")


@pytest.fixture(scope="module", autouse=True)
def _kernels():
    yield KERNELS
    KERNELS.close()


def run(cluster: dict, era: dict, path: Path, **extra) -> tuple[dict, object]:
    """Execute one notebook with the era's parameters; its ``result`` and the executed notebook."""
    params = {"cluster": cluster["name"], "interactive": False, **era["params"], **extra}
    res = run_one(path, ARTIFACTS / "notebooks" / era["version"], params, kernels=KERNELS)
    if not res.ok:
        pytest.fail(f"{path.stem} failed: {res.error} (executed notebook: {res.output})")
    nb = nbformat.read(res.output, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.stem} left an error output"
    last = next(c for c in reversed(nb.cells) if c.cell_type == "code")
    text = next(o["data"]["text/plain"] for o in last.outputs if "text/plain" in o.get("data", {}))
    return ast.literal_eval(text), nb


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
    installed = kh.metallb.installed_version(k)
    if installed is not None and installed != version:
        kh.app.remove(k)
        kh.metallb.uninstall(k, progress=False)
    state = {"version": version, "params": params, "k": k}
    run(cluster, state, notebooks_dir() / "02_install_metallb.ipynb")
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
    first, _ = run(cluster, era, _notebook(), keep_router=True)  # leaves router, client and BGP objects
    _record(era["version"], "notebook_seconds", round(time.monotonic() - t0, 1))
    t1 = time.monotonic()
    res, nb = run(cluster, era, _notebook())  # a rerun over the kept setup, then cleanup
    _record(era["version"], "rerun_seconds", round(time.monotonic() - t1, 1))
    for r in (first, res):
        _record(era["version"], f"withdrawals_{'first' if r is first else 'rerun'}",
                {"speaker": r["speaker_withdrawn_after"], "node": r["node_withdrawn_after"]})

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
        assert r["speaker_withdrawn_after"] is not None and r["speaker_withdrawn_after"] < 5, r["withdrawals"]
        assert r["node_withdrawn_after"] is not None and hold / 3 <= r["node_withdrawn_after"] <= hold + 5
        assert r["speaker_withdrawn_after"] < r["node_withdrawn_after"]
        for key in ("speaker_answered_after", "node_answered_after"):
            ok, sent = r[key]
            assert sent > 0 and ok == sent, (key, r["withdrawals"])

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
