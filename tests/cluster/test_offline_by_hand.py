"""Offline in JupyterLab with nothing to edit (issue 26 item 1): a Jupyter kernel runs 02-05 cell by cell, as a
learner does, on the lab cluster, with no registry and with every image and source parameter at its default.
Only the cluster's name is given (the slot's). The kernel's environment has no `kindlb lab env` exports: the
lab is found through its plug-in, as in a learner's shell. Every Docker API request of the kernel (the probe
containers of 03 and 05) goes through a logging socket (tests/_docker_log.py) and none may pull.

The test's verdicts are its own: raw kubectl for the images the cluster runs, the cells' outputs for the one
line each first cell prints about where each image and manifest comes from."""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
from _docker_log import DockerLog  # noqa: E402
from _driver import Notebook  # noqa: E402

from _cluster_tier import ARTIFACTS  # noqa: E402

import kindlb_helpers as kh  # noqa: E402
from kindlb_helpers._core import versions as v  # noqa: E402


def kubectl_json(name: str, *args: str) -> dict:
    r = subprocess.run(["kubectl", "--context", f"kind-{name}", *args, "-o", "json"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_02_to_05_by_hand_with_no_parameters_and_no_registry(cluster, tmp_path, monkeypatch):
    if not cluster["offline"]:
        pytest.skip("an online cluster: the defaults are the online images there")
    name = cluster["name"]
    k = kh.cluster.connect(name)
    installed = kh.metallb.installed_version(k)
    if installed not in (None, v.METALLB_VERSION):  # the slot may hold the other era: 02 installs the pinned one
        kh.metallb.uninstall(k, progress=False)
    for key in [key for key in os.environ if key.startswith("KINDLB_LAB_METALLB")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("KINDLB_BUNDLE_CACHE", str(tmp_path / "no-bundles"))  # the lab's route, whatever is loaded
    first_lines = {}
    start = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with DockerLog(tmp_path) as log:
        monkeypatch.setenv("DOCKER_HOST", log.host)  # the kernels inherit it
        for notebook in ("00_prerequisites", "02_install_metallb", "03_address_pool", "04_deploy_nginx",
                         "05_access_app"):
            with Notebook(notebook, {"cluster": name}, save_to=ARTIFACTS / "offline-by-hand") as nb:
                ran = nb.run_all()
                first_lines[notebook] = next(r.text for r in ran if "import kindlb_helpers as kh" in r.source)
                if notebook == "00_prerequisites":  # the cluster exists: 00 still shows what made it (issue 26.2)
                    made = next(r for r in ran if "kh.cluster.ensure(" in r.source)
                    shown = made.text + made.html
                    assert "reused" in shown and f"kind create cluster --name {name} --config kind-config.yaml" in shown
                    assert "kindlb lab up" in shown and "role: control-plane" in shown, shown[-2000:]
        pulls = log.pulls()
    assert pulls == [], pulls
    assert "MetalLB manifest (metallb_source): offline lab: " in first_lines["02_install_metallb"]
    assert f"probe image (probe_image): offline lab: {v.PROBE_IMAGE}" in first_lines["03_address_pool"]
    assert f"nginx image (image): offline lab: {v.NGINX_IMAGE}" in first_lines["04_deploy_nginx"]
    assert f"probe image (probe_image): offline lab: {v.PROBE_IMAGE}" in first_lines["05_access_app"]
    dep = kubectl_json(name, "-n", "default", "get", "deployment", "nginx")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == v.NGINX_IMAGE
    assert dep["status"].get("readyReplicas") == dep["spec"]["replicas"]
    images = {c["image"] for p in kubectl_json(name, "-n", "metallb-system", "get", "pods")["items"]
              for c in p["spec"]["containers"]}
    assert {i.rsplit(":", 1)[-1] for i in images} == {v.METALLB_VERSION}, images
    pulling = [e for e in kubectl_json(name, "get", "events", "-A", "--field-selector", "reason=Pulling")["items"]
               if e["involvedObject"].get("namespace") in ("default", "metallb-system")
               and (e.get("lastTimestamp") or e.get("eventTime") or "") >= start]
    assert pulling == [], [e["message"] for e in pulling]
