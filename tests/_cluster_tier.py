"""The cluster tier's fixtures and settings, shared by tests/cluster and tests/browser (tests/conftest.py
imports the fixtures and the failure hook from here, so no conftest is loaded twice):

- ``lab_cluster``: the offline lab (``kindlb_lab``, installed from ``lab/``) builds and starts cluster
  ``$KINDLB_LAB_NAME`` (default ``kindlb``), reusing it when it is healthy; it is deleted at the end unless
  ``KINDLB_KEEP_CLUSTER`` is set or it existed before the session.
- ``cluster``: the cluster the tier runs on: ``KINDLB_CLUSTER=<name>`` names an existing kind cluster (e.g. one
  made by helm/kind-action, used the normal way: MetalLB's manifest URL and Docker Hub's nginx), else the lab's.
  ``KINDLB_METALLB_VERSION``: the MetalLB release the series installs (default: the current pin); on the lab,
  the current pin or the ConfigMap era's v0.12.1.
- on a failure of a test that uses either: ``kind export logs`` into ``ARTIFACTS/kind-logs/<test>``.
- ``ARTIFACTS``: where the tiers leave what a person reads after a run (``$KINDLB_ARTIFACTS``, default
  ``runs/cluster-tier``; the browser tier's screenshots in its ``browser/``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kindlb_helpers._core.manifests import DEFAULT_VERSION
from kindlb_helpers._core.versions import METALLB_CONFIGMAP_VERSION

ARTIFACTS = Path(os.environ.get("KINDLB_ARTIFACTS", "runs/cluster-tier"))
#: the ConfigMap era's release, the one the series runs besides the current
CONFIGMAP_ERA = METALLB_CONFIGMAP_VERSION


def eras() -> list[str]:
    """The MetalLB releases the era-parametrised tests run: ``KINDLB_METALLB_VERSION`` alone, else the
    current release and the ConfigMap era."""
    wanted = os.environ.get("KINDLB_METALLB_VERSION")
    return [wanted] if wanted else [DEFAULT_VERSION, CONFIGMAP_ERA]


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
    """The one failure hook of both tiers: a failed test on a cluster leaves kind's logs."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        used = item.funcargs.get("cluster") or item.funcargs.get("lab_cluster")
        if isinstance(used, dict) and used.get("name"):
            dump_logs(used["name"], item.name)


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
