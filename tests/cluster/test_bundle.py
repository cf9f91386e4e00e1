"""The image bundle, end to end: saved from the offline lab, images removed from Docker, loaded back,
a fresh cluster from the bundle's node image, the whole series with ``kindlb run --offline`` passing.

Sharing one Docker engine with other clusters decides what may be removed:
- MetalLB's, nginx's and the probe's tags are removed (``docker rmi``): no container runs them (the
  other clusters' nodes hold their own copies in containerd), and the verified bundle reloads them
  with the same image IDs, so the lab's stamps stay valid. A ``finally`` reloads them if anything fails.
- The node image is NOT removed: other clusters' node containers run it. The fresh cluster is made
  from a tag of this run (``kindlb-bundletest-<run>/node``) put on the image ID the bundle's
  manifest names after loading, and that tag alone is removed at the end.
- The bundle is loaded into a bundle cache of this run (``KINDLB_BUNDLE_CACHE``), so nobody else's
  ``kindlb run --offline`` switches from the lab to this bundle.
The cluster is ``$KINDLB_BUNDLE_CLUSTER`` (default ``bundledev``), never ``kindlb``, deleted at the end.
Timings go to ``<artifacts>/bundle-timings.json`` and the test's output.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid

import pytest

from conftest import ARTIFACTS

RUN = uuid.uuid4().hex[:6]
NAME = os.environ.get("KINDLB_BUNDLE_CLUSTER", "bundledev")


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=600, check=False)
    if check and r.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {r.stderr.strip()}")
    return r


def image_id(ref: str) -> str | None:
    r = docker("image", "inspect", "-f", "{{.Id}}", ref, check=False)
    return r.stdout.strip() if r.returncode == 0 else None


@pytest.fixture(scope="module")
def lab():
    """The offline lab's tools on PATH and its images built (no cluster of its own is made or used)."""
    lab = pytest.importorskip("kindlb_lab", reason="the offline lab is not installed: pip install -e lab/")
    if NAME in ("kindlb",):
        pytest.fail("KINDLB_BUNDLE_CLUSTER must not be the shared cluster 'kindlb'")
    lab.use_lab_tools()
    version = lab.metallb_version(os.environ.get("KINDLB_METALLB_VERSION"))
    wanted = [lab.NODE_IMAGE, lab.NGINX_IMAGE, *lab.metallb_images(version)]
    if not all(image_id(r) for r in wanted) or not lab.manifest_source(version).exists():
        lab.build(metallb=[version])  # cached: only what is missing
    return lab, version


def kindlb(*args: str, env: dict, timeout: float = 1800) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "kindlb_helpers.cli", *args], capture_output=True, text=True,
                       timeout=timeout, env=env)
    return r, time.monotonic() - t0


def test_bundle_from_the_lab_to_a_passing_series(lab, tmp_path):
    lab, version = lab
    from kindlb_helpers.kube import delete_cluster, kind_clusters

    if NAME in kind_clusters():
        delete_cluster(NAME)  # a leftover of an earlier run: the cluster must be fresh
    env = {**os.environ, "KINDLB_BUNDLE_CACHE": str(tmp_path / "bundle-cache")}
    env.pop("KINDLB_NOTEBOOKS", None)
    file = tmp_path / f"kindlb-{version}.tar"
    times: dict[str, float] = {}

    r, times["save"] = kindlb("bundle", "save", str(file), "--from-lab", "--metallb", version, env=env)
    assert r.returncode == 0, r.stderr
    size = file.stat().st_size
    r, times["verify"] = kindlb("bundle", "verify", str(file), "--metallb", version, env=env)
    assert r.returncode == 0, r.stderr
    from kindlb_helpers.bundle import verify

    meta = verify(file, version)
    refs = {i["ref"]: i for i in meta["images"]}
    assert set(refs) == {lab.NODE_IMAGE, lab.NGINX_IMAGE, lab.probe_image(), *lab.metallb_images(version)}
    assert all(image_id(ref) == i["id"] for ref, i in refs.items())

    removable = [ref for ref, i in refs.items() if i["role"] != "node"]  # no container runs these
    node = next(ref for ref, i in refs.items() if i["role"] == "node")
    retag = f"kindlb-bundletest-{RUN}/node:{lab.K8S_VERSION}"
    try:
        docker("rmi", *removable)
        assert [image_id(r) for r in removable] == [None] * len(removable)

        t0 = time.monotonic()
        r, times["load"] = kindlb("bundle", "load", str(file), "--metallb", version, "--docker-only", env=env)
        assert r.returncode == 0, r.stderr
        assert {ref: image_id(ref) for ref in refs} == {ref: i["id"] for ref, i in refs.items()}
        docker("tag", refs[node]["id"], retag)  # the fresh cluster's node image: the ID the bundle names

        r, times["series"] = kindlb("run", "--offline", "--cluster", NAME, "-p", f"node_image={retag}",
                                    "--output", str(ARTIFACTS / "bundle-series"), env=env, timeout=3600)
        times["bundle_to_series"] = time.monotonic() - t0
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        assert re.search(r"all \d+ notebooks ran", r.stdout)
        assert "kind load docker-image" in r.stdout  # the bundle's images went into the new nodes
        nodes = docker("ps", "--filter", f"label=io.x-k8s.kind.cluster={NAME}", "--format", "{{.Image}}").stdout.split()
        assert nodes and set(nodes) == {retag}
        per_notebook = dict(re.findall(r"running (\S+) \.\.\.\n\s+ok in (\d+)s", r.stdout))
    finally:
        for ref in removable:  # whatever failed, the lab's tags are back
            if image_id(ref) is None:
                subprocess.run([sys.executable, "-m", "kindlb_helpers.cli", "bundle", "load", str(file),
                                "--docker-only"], env=env, capture_output=True, timeout=1800)
                break
        try:
            delete_cluster(NAME)
        finally:
            docker("rmi", retag, check=False)
    result = {"metallb_version": version, "bundle_bytes": size, "bundle_mib": round(size / 2**20),
              "seconds": {k: round(v, 1) for k, v in times.items()}, "per_notebook_seconds": per_notebook,
              "images": {ref: i["role"] for ref, i in refs.items()}}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "bundle-timings.json").write_text(json.dumps(result, indent=1))
    print("\n" + json.dumps(result, indent=1))
