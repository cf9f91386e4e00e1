"""The whole notebook series under papermill against a real kind cluster, asserting on what it shows."""
from __future__ import annotations

import ast
import ipaddress
import subprocess
import time

import nbformat
import pytest

import kindlb_helpers as kh
from kindlb_helpers.runner import notebooks_dir, run_one

from conftest import ARTIFACTS

state: dict = {}


def run(cluster: dict, name: str, **extra) -> dict:
    """Execute one notebook with the tier's parameters; return its ``result`` dict."""
    if state.get("failed"):
        pytest.skip(f"an earlier notebook failed: {state['failed']}")
    params = {"cluster": cluster["name"], "interactive": False, **cluster["params"], **extra}
    res = run_one(notebooks_dir() / f"{name}.ipynb", ARTIFACTS / "notebooks", params)
    if not res.ok:
        state["failed"] = name
        pytest.fail(f"{name} failed: {res.error} (executed notebook: {res.output})")
    nb = nbformat.read(res.output, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{name} left an error output"
    last = next(c for c in reversed(nb.cells) if c.cell_type == "code")
    text = next(o["data"]["text/plain"] for o in last.outputs if "text/plain" in o.get("data", {}))
    return ast.literal_eval(text)


def kubectl(cluster: dict, *args: str) -> str:
    return subprocess.run(["kubectl", "--context", f"kind-{cluster['name']}", *args],
                          capture_output=True, text=True, check=True, timeout=60).stdout


def test_00_prerequisites(cluster):
    res = run(cluster, "00_prerequisites")
    assert res["cluster"] == cluster["name"] and res["context"] == f"kind-{cluster['name']}"
    assert res["nodes"] == 3


def test_01_nodes_match_kubectl(cluster):
    res = run(cluster, "01_cluster_nodes")
    assert res["nodes"] == res["ready"] == 3 and res["control_planes"] == 1
    wide = [line.split() for line in kubectl(cluster, "get", "nodes", "-o", "wide").splitlines()]
    header, rows = wide[0], wide[1:]
    assert res["internal_ips"] == [r[header.index("INTERNAL-IP")] for r in rows]
    # and the helper's frame has kubectl's columns and values (AGE may tick between the two reads)
    frame = kh.nodes_frame(kh.connect(cluster["name"]))
    assert list(frame.columns) == kh.tables.NODE_COLUMNS
    for row, mine in zip(rows, frame.itertuples(index=False)):
        assert [row[i] for i in range(5) if i != 3] == [v for i, v in enumerate(mine[:5]) if i != 3]
        assert row[5:7] == [mine[5], mine[6]]


def test_02_metallb_ready(cluster):
    res = run(cluster, "02_install_metallb")
    assert res["ready"] is True and res["speakers"] == 3 and res["uses_crds"] is True
    assert res["version"] == cluster["params"].get("metallb_version", kh.DEFAULT_VERSION)


def test_02_rerun_is_harmless(cluster):
    assert run(cluster, "02_install_metallb")["ready"] is True


def test_03_pool_inside_the_kind_subnet(cluster):
    res = run(cluster, "03_address_pool")
    net = kh.kind_network()
    subnet = net.subnet(4)
    pool = kh.PoolRange.parse(res["pool"])
    assert pool in kh.PoolRange.parse(str(subnet)) and res["subnet"] == str(subnet)
    for t in kh.taken_on(net, 4):
        assert not t.range.overlaps(pool), t
    assert res["configured"] == [("default", res["pool"])]
    state["pool"] = pool


def test_04_nginx_deployed_twice(cluster):
    first = run(cluster, "04_deploy_nginx")
    second = run(cluster, "04_deploy_nginx")  # idempotent
    assert first["type"] == second["type"] == "LoadBalancer" and second["ready"] is True
    assert first["ports"].startswith("80:") and first["ports"].endswith("/TCP")


def test_05_page_from_the_pool_ip_and_spread(cluster):
    res = run(cluster, "05_access_app")
    ip = ipaddress.ip_address(res["ip"])
    assert ip in state["pool"] and res["pool"] == "default"
    assert res["status"] == 200 and res["title"] == "Welcome to nginx!"
    assert res["failed"] == 0 and res["counted"] == res["sent"] == 60
    assert res["pods_hit"] == 3, f"requests did not reach all 3 pods: {res['per_pod']}"


def test_05_from_a_container_on_the_kind_network(cluster):
    """The macOS/Windows route, run here for real: the probe container fetches the page."""
    res = run(cluster, "05_access_app", probe_from="container")
    assert ipaddress.ip_address(res["ip"]) in state["pool"]
    assert (res["status"], res["title"], res["probe_from"]) == (200, "Welcome to nginx!", "container")
    assert "pods_hit" not in res


def test_06_cleanup_leaves_nothing_and_runs_twice(cluster):
    res = run(cluster, "06_cleanup")
    assert res["cluster_deleted"] is False
    assert res["left"] == {"services": [], "deployments": [], "metallb_installed": False}
    assert "metallb-system" not in kubectl(cluster, "get", "namespaces", "-o", "name")
    assert "metallb.io" not in kubectl(cluster, "get", "crd", "-o", "name")
    deadline = time.monotonic() + 60
    while kubectl(cluster, "get", "pods", "-l", "app.kubernetes.io/name=nginx", "-o", "name").strip():
        assert time.monotonic() < deadline, "nginx pods still there a minute after cleanup"
        time.sleep(2)
    again = run(cluster, "06_cleanup")
    assert again["left"] == res["left"]
