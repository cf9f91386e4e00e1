"""``kindlb bundle`` against a real Docker engine, with tiny images made here (``docker import`` of a
one-file tar: no registry, no lab). Every image is tagged with this run's id under ``kindlb-test-bundle/``
and removed at teardown; no other image is touched, no cluster is used (``--docker-only``).

A good bundle round-trips (images removed, loaded back with the same IDs, the manifest where
``--offline`` finds it); a truncated one, a foreign tar, a non-tar, a tampered member and a bundle for
another MetalLB version each stop with a clear message and load nothing: the removed images stay
absent and the bundle cache stays empty.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from _docker import docker, import_tiny_images, need_docker

from kindlb_helpers._tools import bundle
from kindlb_helpers._tools.bundle import BundleError, image_id

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

RUN = uuid.uuid4().hex[:8]
VERSION = "v0.16.1"  # a bundle is for a release kindlb knows; this run's images are told apart by REPO
REPO = f"kindlb-test-bundle-{RUN}"
ROLES = {"node": f"{REPO}/node:{RUN}", "controller": f"{REPO}/controller:{VERSION}",
         "speaker": f"{REPO}/speaker:{VERSION}", "nginx": f"{REPO}/nginx:{RUN}", "probe": f"{REPO}/probe:{RUN}",
         "router": f"{REPO}/router:{RUN}"}
MANIFEST = f"""apiVersion: v1
kind: Namespace
metadata:
  name: metallb-system
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: controller, namespace: metallb-system}}
spec:
  template:
    spec:
      containers:
      - name: controller
        image: {ROLES['controller']}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: speaker, namespace: metallb-system}}
spec:
  template:
    spec:
      containers:
      - name: speaker
        image: {ROLES['speaker']}
"""


def remove_images() -> None:
    docker("rmi", "-f", *ROLES.values(), check=False)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Six tiny images, each with one distinct file (so six image IDs)."""
    need_docker()
    d = tmp_path_factory.mktemp("rootfs")
    import_tiny_images(ROLES, d, RUN)
    yield {ref: image_id(ref) for ref in ROLES.values()}
    remove_images()


@pytest.fixture(scope="module")
def saved(images, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bundle")
    (d / "metallb-native.yaml").write_text(MANIFEST)
    out = d / "kindlb-test.tar"
    info = bundle.save(out, VERSION, node_image=ROLES["node"], nginx_image=ROLES["nginx"],
                       probe_image=ROLES["probe"], router_image=ROLES["router"],
                       manifest=d / "metallb-native.yaml")
    assert info["file"] == str(out) and out.is_file()
    assert not list(d.glob("*.partial")) and not list(d.glob(".kindlb-bundle-*"))
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("KINDLB_BUNDLE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def kindlb(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kindlb_helpers._tools.cli", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def assert_nothing_loaded(cache: Path) -> None:
    assert [image_id(r) for r in ROLES.values()] == [None] * len(ROLES)
    assert not cache.exists() or not [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert not cache.exists() or not list(cache.iterdir())  # no staging left behind either


# --- the good path -------------------------------------------------------------------------

def test_the_manifest_lists_every_image_and_file_with_digests(saved, images):
    with tarfile.open(saved) as t:
        names = t.getnames()
        meta = json.loads(t.extractfile("manifest.json").read())
    assert names[0] == "manifest.json"
    assert meta["format"] == "kindlb-bundle" and meta["metallb_version"] == VERSION
    assert {i["role"] for i in meta["images"]} == {"node", "metallb", "nginx", "probe", "router"}
    assert {i["ref"]: i["id"] for i in meta["images"]} == images
    assert sorted(meta["files"]) == sorted(names[1:])
    assert "metallb/metallb-native.yaml" in meta["files"]
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in meta["files"].values())


def test_save_load_round_trip_restores_the_images_and_the_offline_parameters(saved, images, cache):
    remove_images()
    assert image_id(ROLES["node"]) is None
    r = kindlb("bundle", "load", str(saved), "--metallb", VERSION, "--docker-only",
               env={"KINDLB_BUNDLE_CACHE": str(cache)})
    assert r.returncode == 0, r.stderr
    assert "loaded 6 images into Docker" in r.stdout
    assert {ref: image_id(ref) for ref in ROLES.values()} == images
    assert (cache / VERSION / "metallb" / "metallb-native.yaml").read_text() == MANIFEST
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # staging removed
    loaded = bundle.loaded_bundle(VERSION)
    assert loaded.image("nginx") == ROLES["nginx"] and loaded.image("node") == ROLES["node"]
    from kindlb_helpers._cluster.sources import for_run  # what `kindlb run --offline` passes the notebooks

    params = {"metallb_version": VERSION, **for_run({"metallb_version": VERSION}, offline=True).params()}
    assert params == {"metallb_version": VERSION, "metallb_source": str(cache / VERSION / "metallb"),
                      "image": ROLES["nginx"], "probe_image": ROLES["probe"], "node_image": ROLES["node"],
                      "router_image": ROLES["router"]}
    # the manifest source is what the notebooks' installer reads
    from kindlb_helpers._cluster.metallb import _read_source

    objects, where = _read_source(VERSION, params["metallb_source"])
    assert [o["kind"] for o in objects] == ["Namespace", "Deployment", "DaemonSet"]


def test_verify_reads_everything_and_loads_nothing(saved, cache):
    r = kindlb("bundle", "verify", str(saved), env={"KINDLB_BUNDLE_CACHE": str(cache)})
    assert r.returncode == 0, r.stderr
    assert f"a complete kindlb bundle for MetalLB {VERSION}" in r.stdout
    assert not cache.exists()


# --- bad input: a clear message, nothing loaded ----------------------------------------------

@pytest.fixture
def removed(saved, cache):
    remove_images()
    yield
    assert_nothing_loaded(cache)


@pytest.mark.parametrize("keep", ["half", "all but the last member's last bytes", "300 bytes"])
def test_a_truncated_bundle_loads_nothing(saved, removed, cache, tmp_path, keep):
    """(Cutting only the end-of-archive padding leaves every member whole: that bundle is complete.)"""
    cut = tmp_path / "cut.tar"
    data = saved.read_bytes()
    with tarfile.open(saved) as t:
        last = t.getmembers()[-1]
    size = {"half": len(data) // 2, "300 bytes": 300}.get(keep, last.offset_data + last.size - 10)
    cut.write_bytes(data[:size])
    with pytest.raises(BundleError, match="truncated|damaged|incomplete|copy"):
        bundle.load(cut, docker_only=True)
    r = kindlb("bundle", "load", str(cut), "--docker-only", env={"KINDLB_BUNDLE_CACHE": str(cache)})
    message = r.stderr[r.stderr.index("kindlb: "):].strip()  # after the progress lines
    assert r.returncode == 1 and "copy the bundle again" in message, r.stderr
    assert len(message.splitlines()) <= 2


def test_a_foreign_tar_is_not_a_bundle(removed, tmp_path):
    foreign = tmp_path / "photos.tar"
    with tarfile.open(foreign, "w") as t:
        data = b"not images"
        info = tarfile.TarInfo("holiday.jpg")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    with pytest.raises(BundleError, match="is not a kindlb bundle"):
        bundle.load(foreign, docker_only=True)


def test_a_docker_save_archive_is_not_a_bundle(removed, tmp_path):
    """The likeliest mix-up: a plain `docker save` tar handed round instead of the bundle."""
    ref = f"{REPO}/other:{RUN}"
    src = tmp_path / "one.tar"
    with tarfile.open(src, "w") as t:
        t.addfile(tarfile.TarInfo("empty"), io.BytesIO(b""))
    docker("import", str(src), ref)
    plain = tmp_path / "plain.tar"
    try:
        docker("save", "-o", str(plain), ref)
    finally:
        docker("rmi", "-f", ref, check=False)
    with pytest.raises(BundleError, match="is not a kindlb bundle"):
        bundle.load(plain, docker_only=True)


def test_a_file_that_is_not_a_tar(removed, tmp_path):
    junk = tmp_path / "bundle.tar"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(BundleError, match="truncated or not a tar archive"):
        bundle.load(junk, docker_only=True)


def test_a_bundle_for_another_metallb_version_loads_nothing(saved, removed, cache):
    with pytest.raises(BundleError, match=rf"holds MetalLB {VERSION}, not v0.12.1.*--metallb v0.12.1"):
        bundle.load(saved, metallb_version="0.12.1", docker_only=True)
    r = kindlb("bundle", "load", str(saved), "--metallb", "v0.9.4", "--docker-only",
               env={"KINDLB_BUNDLE_CACHE": str(cache)})
    assert r.returncode == 1 and "not v0.9.4" in r.stderr


def test_a_tampered_member_loads_nothing(saved, removed, tmp_path):
    """The last member (the probe image) changed after saving: found after reading all, before loading any."""
    bad = tmp_path / "tampered.tar"
    with tarfile.open(saved) as src, tarfile.open(bad, "w") as dst:
        members = src.getmembers()
        for m in members:
            data = src.extractfile(m).read()
            if m.name.startswith("metallb/"):
                data = data.replace(b"speaker", b"speakrr")
            dst.addfile(m, io.BytesIO(data))
    with pytest.raises(BundleError, match="metallb/metallb-native.yaml is damaged"):
        bundle.load(bad, docker_only=True)


def test_a_missing_file_and_a_bad_cluster_name(saved, removed, cache):
    with pytest.raises(Exception, match="no bundle at"):
        bundle.load(saved.with_name("nope.tar"), docker_only=True)
    r = kindlb("bundle", "load", str(saved), "--cluster", "Not_A_Name", env={"KINDLB_BUNDLE_CACHE": str(cache)})
    assert r.returncode == 2 and "cluster" in r.stderr and "Not_A_Name" in r.stderr, r.stderr
    r = kindlb("bundle", "load", str(saved), "--cluster", f"x-{RUN}", "--workers", "11",
               env={"KINDLB_BUNDLE_CACHE": str(cache)})
    assert r.returncode == 2 and "workers" in r.stderr, r.stderr


# --- the room: one read of the stick, nothing loaded twice ------------------------------------

@pytest.fixture
def counted(monkeypatch, saved):
    """How often the bundle file is opened, and every docker command the load runs."""
    import tarfile as tarmod

    from kindlb_helpers._tools.bundle import loading

    seen = {"opens": 0, "docker": []}
    real_open, real_docker = tarmod.open, loading.docker_cli

    def opening(name=None, *args, **kwargs):
        if name is not None and Path(name) == saved:
            seen["opens"] += 1
        return real_open(name, *args, **kwargs)

    def docker_cli(*args, **kwargs):
        seen["docker"].append(args[0])
        return real_docker(*args, **kwargs)

    monkeypatch.setattr(tarmod, "open", opening)
    monkeypatch.setattr(loading, "docker_cli", docker_cli)
    return seen


def test_the_file_is_read_once_and_a_second_load_loads_nothing_again(saved, images, cache, counted):
    remove_images()
    info = bundle.load(saved, VERSION, docker_only=True)
    assert counted["opens"] == 1  # one pass: verified while the images are staged
    assert counted["docker"].count("load") == 6 and sorted(info["loaded"]) == sorted(ROLES.values())
    assert {ref: image_id(ref) for ref in ROLES.values()} == images
    counted.update(opens=0, docker=[])
    info = bundle.load(saved, VERSION, docker_only=True)
    assert counted["opens"] == 1 and "load" not in counted["docker"]  # read (and proved) again, loaded never
    assert info["loaded"] == [] and sorted(info["already"]) == sorted(ROLES.values())
    assert {ref: image_id(ref) for ref in ROLES.values()} == images
    assert (cache / VERSION / "metallb" / "metallb-native.yaml").read_text() == MANIFEST
    r = kindlb("bundle", "load", str(saved), "--docker-only", env={"KINDLB_BUNDLE_CACHE": str(cache)})
    assert r.returncode == 0, r.stderr
    assert "all 6 images were in Docker already with the same image ID: none loaded again" in r.stdout
    assert "docker load" not in r.stderr and "nothing to set" in r.stdout


def test_an_image_docker_has_under_another_tag_is_tagged_not_loaded(saved, images, cache, counted):
    bundle.load(saved, VERSION, docker_only=True)  # all there
    alias = f"{REPO}/alias:{RUN}"
    docker("tag", ROLES["nginx"], alias)
    try:
        docker("rmi", ROLES["nginx"])  # the image stays, under the alias only
        counted.update(opens=0, docker=[])
        info = bundle.load(saved, VERSION, docker_only=True)
        assert "load" not in counted["docker"] and "tag" in counted["docker"]
        assert ROLES["nginx"] in info["already"] and image_id(ROLES["nginx"]) == images[ROLES["nginx"]]
    finally:
        docker("rmi", alias, check=False)
