"""The image bundle, end to end: saved from the offline lab, images removed from Docker, loaded back,
a fresh cluster from the bundle's node image, the whole series with ``kindlb run --offline`` passing.

Sharing one Docker engine with other engineers' clusters and lab builds decides what may be removed:
nothing under the lab's own tags. Removing ``quay.io/metallb/speaker:v0.16.1`` for a minute was tried:
a concurrent ``kindlb lab up`` saw it missing and rebuilt it, under a new image ID, in that minute.
So the bundle saved ``--from-lab`` (measured, verified) is saved a second time under tags of this run
(``kindlb-bundletest-<run>/...``, MetalLB's manifest rewritten to name them); those tags are removed,
the bundle is loaded, and the series runs with ``--offline`` from it: the cluster from its node tag, the
nodes given its MetalLB and nginx tags, MetalLB installed from its manifest. Nobody else uses those tags.
(The layers themselves stay in Docker under the lab's tags: removing them is not possible while other
clusters' nodes run the node image; the archive's content is proven by its sha256 digests and docker load.)
The bundle cache is one of this run (``KINDLB_BUNDLE_CACHE``), so nobody else's ``kindlb run --offline``
switches from the lab to this bundle.
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
from functools import partial
from pathlib import Path

import pytest

from _cluster_tier import ARTIFACTS

from kindlb_helpers._core.versions import pins
from kindlb_helpers._tools.bundle import image_id

TESTS = Path(__file__).resolve().parents[1]  # the helpers both tiers share live in tests/
if str(TESTS) not in sys.path:  # `pytest tests/cluster` puts only tests/cluster there
    sys.path.insert(0, str(TESTS))
import _docker  # noqa: E402

RUN = uuid.uuid4().hex[:6]
NAME = os.environ.get("KINDLB_BUNDLE_CLUSTER", "bundledev")
docker = partial(_docker.docker, timeout=600)  # a shared engine, busy with lab builds and clusters


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
    r = subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", *args], capture_output=True, text=True,
                       timeout=timeout, env=env)
    return r, time.monotonic() - t0


def test_bundle_from_the_lab_to_a_passing_series(lab, tmp_path):
    lab, version = lab
    from kindlb_helpers._cluster.kube import delete_cluster, kind_clusters

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
    from kindlb_helpers._tools.bundle import verify

    meta = verify(file, version)
    refs = {i["ref"]: i for i in meta["images"]}
    assert set(refs) == {lab.NODE_IMAGE, lab.NGINX_IMAGE, lab.probe_image(), *lab.metallb_images(version),
                         pins()["FRR_IMAGE"]}  # the BGP router of 07_bgp

    # the same images under tags of this run, MetalLB's manifest naming them
    tag = f"kindlb-bundletest-{RUN}"
    ids = {i["role"] if i["role"] != "metallb" else ref: i["id"] for ref, i in refs.items()}
    mine = {"node": f"{tag}/node:{lab.K8S_VERSION}", "nginx": f"{tag}/nginx:1", "probe": f"{tag}/probe:1",
            "router": f"{tag}/router:1"}
    manifest = tmp_path / "manifest"
    manifest.mkdir()
    src = lab.manifest_source(version)
    for f in (sorted(src.glob("*.yaml")) if src.is_dir() else [src]):
        (manifest / f.name).write_text(f.read_text().replace("quay.io/metallb/", f"{tag}/metallb/"))
    for ref in lab.metallb_images(version):
        mine[ref] = ref.replace("quay.io/metallb/", f"{tag}/metallb/")
    own = tmp_path / f"kindlb-{version}-{RUN}.tar"
    try:
        for key, ref in mine.items():
            docker("tag", ids[key], ref)
        r, _ = kindlb("bundle", "save", str(own), "--metallb", version, "--node-image", mine["node"],
                      "--nginx-image", mine["nginx"], "--probe-image", mine["probe"],
                      "--router-image", mine["router"], "--manifest", str(manifest),
                      env=env)
        assert r.returncode == 0, r.stderr
        docker("rmi", *mine.values())  # only this run's tags
        assert [image_id(r) for r in mine.values()] == [None] * len(mine)

        t0 = time.monotonic()
        r, times["load"] = kindlb("bundle", "load", str(own), "--metallb", version, "--docker-only", env=env)
        assert r.returncode == 0, r.stderr
        assert {key: image_id(ref) for key, ref in mine.items()} == ids

        r, times["series"] = kindlb("run", "--offline", "--cluster", NAME, "--output",
                                    str(ARTIFACTS / "bundle-series"), env=env, timeout=3600)
        times["bundle_to_series"] = time.monotonic() - t0
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        assert re.search(r"^ok: \d+ notebooks in \d+ s", r.stdout, re.M), r.stdout  # kindlb run's summary line
        loaded = next(line for line in r.stdout.splitlines() if line.startswith("kind load docker-image"))
        assert all(mine[m] in loaded for m in lab.metallb_images(version)) and mine["nginx"] in loaded
        nodes = docker("ps", "-a", "--filter", f"label=io.x-k8s.kind.cluster={NAME}", "--format",
                       "{{.Image}}").stdout.split()
        assert nodes == [] or set(nodes) == {mine["node"]}  # (09 may have deleted it)
        # one line per notebook: name, result, seconds, the executed copy
        per_notebook = dict(re.findall(r"^(\d\d_\S+)\s+ok\s+([\d.]+) s\s", r.stdout, re.M))
        assert len(per_notebook) >= 8, r.stdout
    finally:
        try:
            delete_cluster(NAME)
        finally:
            docker("rmi", *mine.values(), check=False)
    result = {"metallb_version": version, "bundle_bytes": size, "bundle_mib": round(size / 2**20),
              "seconds": {k: round(v, 1) for k, v in times.items()}, "per_notebook_seconds": per_notebook,
              "images": {ref: i["role"] for ref, i in refs.items()}, "loaded_as": mine}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "bundle-timings.json").write_text(json.dumps(result, indent=1))
    print("\n" + json.dumps(result, indent=1))
