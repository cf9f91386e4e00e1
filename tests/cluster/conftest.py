"""The cluster tier: a real kind cluster, either the offline lab's or one that already exists.

- default: the offline lab (``kindlb_lab``, installed from ``lab/``) builds and starts cluster
  ``$KINDLB_LAB_NAME`` (default ``kindlb``), reusing it when it is healthy; it is deleted at the
  end unless ``KINDLB_KEEP_CLUSTER`` is set or it existed before the session.
- ``KINDLB_CLUSTER=<name>``: use that existing kind cluster (e.g. one made by helm/kind-action)
  the normal way: MetalLB's manifest URL and Docker Hub's nginx.
- ``KINDLB_METALLB_VERSION``: the MetalLB release the series installs (default: the current pin);
  on the lab, the current pin or the ConfigMap era's v0.12.1.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from _cluster_tier import ARTIFACTS, CONFIGMAP_ERA, eras  # noqa: F401  (the tier's settings, one place)


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def lab_cluster():
    """The offline lab's cluster: ``kindlb_lab.up()`` (reusing a healthy one), its dict; deleted at
    the end unless ``KINDLB_KEEP_CLUSTER`` is set or it existed before the session."""
    lab = pytest.importorskip("kindlb_lab", reason="the offline lab is not installed: pip install -e lab/")
    from kindlb_helpers._cluster.kube import kind_clusters

    name = os.environ.get("KINDLB_LAB_NAME", "kindlb")
    lab.use_lab_tools()
    existed = (lab.bin_dir() / "kind").exists() and name in kind_clusters()
    info = lab.up(name)
    yield info
    if not os.environ.get("KINDLB_KEEP_CLUSTER") and not existed:
        lab.down(name)


@pytest.fixture(scope="session")
def cluster(request) -> dict:
    """Name and notebook parameters of the cluster the tier runs on."""
    existing = os.environ.get("KINDLB_CLUSTER")
    wanted = os.environ.get("KINDLB_METALLB_VERSION")  # e.g. the ConfigMap era, or online the article's
    if existing:
        return {"name": existing, "params": {"metallb_version": wanted} if wanted else {}, "offline": False}
    info = request.getfixturevalue("lab_cluster")
    import kindlb_lab as lab

    lab.use_lab_tools()  # the lab's kind and kubectl first on PATH
    version = lab.metallb_version(wanted)  # a release the lab cannot build stops here, with the ones it can
    if version not in info.get("metallb_loaded", [version]):
        lab.load_metallb(info["name"], version)
    params = {"metallb_source": str(lab.manifest_source(version)),
              "image": lab.NGINX_IMAGE,
              "metallb_version": version,
              "node_image": lab.NODE_IMAGE,
              "probe_image": lab.probe_image()}
    return {"name": info.get("name", "kindlb"), "params": params, "offline": True}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "cluster" in item.fixturenames:
        dump_logs(item.funcargs["cluster"]["name"], item.name)


def dump_logs(name: str, test: str) -> None:
    """On failure: `kind export logs` next to the executed notebooks."""
    kind = shutil.which("kind")
    if not kind:
        return
    target = ARTIFACTS / "kind-logs" / test
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run([kind, "export", "logs", str(target), "--name", name], capture_output=True, timeout=300,
                   check=False)
    print(f"\nkind logs of {name!r} exported to {target}; executed notebooks in {ARTIFACTS}")
