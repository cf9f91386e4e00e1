"""The image bundle, end to end, as a workshop's facilitator uses it: saved from the offline lab (its images and
sizes as docs/workshop.md lists them), the room's one command (``kindlb bundle load FILE --cluster NAME``) on a
Docker without the bundle's tags and with no cluster: it puts the images back under their tags, creates the cluster
from the bundle's node image and loads MetalLB and nginx into its nodes; the doctor after it; then the article's
notebooks (00-05) with ``kindlb run --offline`` passing.

Sharing one Docker engine with other engineers' clusters and lab builds decides what may be removed:
nothing under the lab's own tags. Removing ``quay.io/metallb/speaker:v0.16.1`` for a minute was tried:
a concurrent ``kindlb lab up`` saw it missing and rebuilt it, under a new image ID, in that minute.
So the bundle saved ``--from-lab`` (measured, verified) is saved a second time under tags of this run
(``kindlb-bundletest-<run>/...``, MetalLB's manifest rewritten to name them); those tags are removed,
the bundle is loaded, and the series runs with ``--offline`` from it: the cluster from its node tag, the
nodes given its MetalLB and nginx tags, MetalLB installed from its manifest. Nobody else uses those tags.
(The layers themselves stay in Docker under the lab's tags: removing them is not possible while other
clusters' nodes run the node image; the archive's content is proven by its sha256 digests, and the room command
finds those image IDs in Docker, so it tags them and loads nothing: tests/test_bundle.py proves docker load.)
The bundle cache is one of this run (``KINDLB_BUNDLE_CACHE``), so nobody else's ``kindlb run --offline``
switches from the lab to this bundle.
The cluster is ``$KINDLB_BUNDLE_CLUSTER`` (default ``room-bundle``), never ``kindlb``, deleted at the end.
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
NAME = os.environ.get("KINDLB_BUNDLE_CLUSTER", "room-bundle")
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


def doctor(cluster: str, env: dict) -> tuple[subprocess.CompletedProcess, dict]:
    """``kindlb doctor --cluster CLUSTER``: its result and its rows by check (mark, found)."""
    r, _ = kindlb("doctor", "--cluster", cluster, env=env, timeout=120)
    rows = {m.group(2): (m.group(1).strip(), m.group(3)) for m in
            re.finditer(r"^\[(.{4})\] (\S+(?: \S+)*?)\s{2,}(.*)$", r.stdout, re.M)}
    return r, rows


def node_images_in(cluster: str) -> dict[str, set[str]]:
    """Each node container of CLUSTER and the image references its containerd holds (crictl)."""
    names = docker("ps", "--filter", f"label=io.x-k8s.kind.cluster={cluster}", "--format", "{{.Names}}").stdout.split()
    found = {}
    for node in names:
        out = json.loads(docker("exec", node, "crictl", "images", "-o", "json").stdout)
        found[node] = {t for img in out.get("images", ()) for t in img.get("repoTags") or ()}
    return found


def test_the_room_path_from_a_lab_bundle_to_a_passing_series(lab, tmp_path):
    """What a facilitator does, timed: save the bundle from the lab and verify it (its images and sizes are the
    ones docs/workshop.md lists); on a laptop that has none of its tags and no cluster, the room's one command
    (``kindlb bundle load FILE --cluster NAME``: Docker, a cluster from the bundle's node image, its nodes);
    the doctor after it (and for a name with no cluster yet); the same command again (nothing loaded twice);
    then the article's notebooks, 00-05, with ``kindlb run --offline``."""
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
    mib = {i["ref"]: meta["files"][i["file"]]["size"] / 2**20 for i in meta["images"]}
    if version == pins()["METALLB_VERSION"]:  # docs/workshop.md's table is this release's bundle
        from test_workshop_doc import documented

        doc = documented()
        assert [(role, ref) for role, ref, _, _ in doc["rows"]] == [(i["role"], i["ref"]) for i in meta["images"]]
        for _, ref, documented_mib, _ in doc["rows"]:  # each image's size, and the whole, within 5 %
            assert abs(mib[ref] - documented_mib) <= max(2, 0.05 * mib[ref]), (ref, mib[ref], documented_mib)
        assert abs(size / 2**20 - doc["total_mib"]) <= 0.05 * size / 2**20, (size / 2**20, doc["total_mib"])

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

        # the room's one command: Docker, the cluster from the bundle's node image, MetalLB and nginx in its nodes
        t0 = time.monotonic()
        r, times["room_command"] = kindlb("bundle", "load", str(own), "--metallb", version, "--cluster", NAME,
                                          env=env)
        assert r.returncode == 0, r.stderr
        # Docker holds these image IDs under the lab's tags (other clusters run them: they cannot go), so the
        # command tags them and loads nothing; a laptop without them runs docker load (the docker tier's tiny
        # images, absent by ID, prove that path: tests/test_bundle.py)
        assert re.search(rf"^all {len(mine)} images were in Docker already with the same image ID", r.stdout,
                         re.M), r.stdout
        assert f"created kind cluster {NAME!r} from {mine['node']} (3 nodes" in r.stdout, r.stdout
        assert "nothing to set" in r.stdout
        assert {key: image_id(ref) for key, ref in mine.items()} == ids
        held = node_images_in(NAME)
        assert len(held) == 3, held
        nodes = docker("ps", "--filter", f"label=io.x-k8s.kind.cluster={NAME}", "--format", "{{.Image}}").stdout
        assert set(nodes.split()) == {mine["node"]}
        in_nodes = [mine["nginx"], *(mine[m] for m in lab.metallb_images(version))]
        for node, tags in held.items():
            assert all(any(t.endswith(ref) for t in tags) for ref in in_nodes), (node, sorted(tags))

        # the doctor after it: all OK; MetalLB not installed yet is what 02 is for
        r, rows = doctor(NAME, env)
        assert r.returncode == 0 and rows["cluster"][0] == "ok" and rows["context"][0] == "ok", r.stdout
        assert rows["metallb"] == ("ok", "not installed yet: notebook 02_install_metallb installs it"), r.stdout
        assert rows["bundle"][0] == "ok" and f"all {len(mine)} images in Docker" in rows["bundle"][1]
        # a laptop with the bundle loaded and no cluster yet: OK, said who makes it from which image
        r, rows = doctor(f"{NAME}-next", env)
        assert r.returncode == 0 and rows["cluster"][0] == "ok", r.stdout
        assert f"from the loaded bundle {version}'s node image {mine['node']} (in Docker)" in rows["cluster"][1]

        # the same command again (a second learner's habit): proved again, loaded never, the cluster reused
        r, times["room_command_again"] = kindlb("bundle", "load", str(own), "--metallb", version, "--cluster",
                                                NAME, env=env)
        assert r.returncode == 0, r.stderr
        assert f"all {len(mine)} images were in Docker already with the same image ID" in r.stdout, r.stdout
        assert "created kind cluster" not in r.stdout and "docker load" not in r.stderr

        # the article's part, as the room runs it first (the whole series, both eras, is test_series.py's; 07_dual_stack
        # would make a second, dual-stack cluster of its own)
        article = ["00_prerequisites", "01_cluster_nodes", "02_install_metallb", "03_address_pool", "04_deploy_nginx",
                   "05_access_app"]
        r, times["series"] = kindlb("run", "--offline", "--cluster", NAME, "--output",
                                    str(ARTIFACTS / "bundle-series"), *article, env=env, timeout=3600)
        times["bundle_to_series"] = time.monotonic() - t0
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        assert re.search(r"^ok: \d+ notebooks in \d+ s", r.stdout, re.M), r.stdout  # kindlb run's summary line
        # one line per notebook: name, result, seconds, the executed copy
        per_notebook = dict(re.findall(r"^(\d\d_\S+)\s+ok\s+([\d.]+) s\s", r.stdout, re.M))
        assert sorted(per_notebook) == article, r.stdout
    finally:
        try:
            delete_cluster(NAME)
        finally:
            docker("rmi", *mine.values(), check=False)
    result = {"metallb_version": version, "bundle_bytes": size, "bundle_mib": round(size / 2**20),
              "image_mib": {ref: round(m) for ref, m in mib.items()},
              "seconds": {k: round(v, 1) for k, v in times.items()}, "per_notebook_seconds": per_notebook,
              "images": {ref: i["role"] for ref, i in refs.items()}, "loaded_as": mine}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "bundle-timings.json").write_text(json.dumps(result, indent=1))
    print("\n" + json.dumps(result, indent=1))
