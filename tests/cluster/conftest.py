"""The cluster tier: a real kind cluster, either the offline lab's or one that already exists.

- default: the offline lab (``kindlb lab``) builds and starts cluster ``$KINDLB_LAB_NAME``
  (default ``kindlb``), reusing it when it is healthy; it is deleted at the end unless
  ``KINDLB_KEEP_CLUSTER`` is set or it existed before the session.
- ``KINDLB_CLUSTER=<name>``: use that existing kind cluster (e.g. one made by helm/kind-action)
  the normal way: MetalLB's manifest URL and Docker Hub's nginx.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kindlb_helpers.lab.pytest_fixtures import lab_cluster  # noqa: F401  (the lab's session fixture)

ARTIFACTS = Path(os.environ.get("KINDLB_ARTIFACTS", "runs/cluster-tier"))


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster(request) -> dict:
    """Name and notebook parameters of the cluster the tier runs on."""
    existing = os.environ.get("KINDLB_CLUSTER")
    if existing:
        return {"name": existing, "params": {}, "offline": False}
    info = request.getfixturevalue("lab_cluster")
    from kindlb_helpers import lab
    from kindlb_helpers.lab.probe import probe_image

    os.environ["PATH"] = f"{info.get('bin_dir') or lab.bin_dir()}{os.pathsep}{os.environ['PATH']}"
    params = {"metallb_source": str(info.get("metallb_manifest") or lab.manifest_path()),
              "image": info.get("nginx_image") or lab.NGINX_IMAGE,
              "metallb_version": info.get("metallb_version") or lab.METALLB_VERSION,
              "node_image": info.get("node_image") or lab.NODE_IMAGE,
              "probe_image": probe_image()}
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
    subprocess.run([kind, "export", "logs", str(target), "--name", name], capture_output=True, timeout=300)
    print(f"\nkind logs of {name!r} exported to {target}; executed notebooks in {ARTIFACTS}")
