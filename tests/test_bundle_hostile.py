"""A bundle from a USB stick is hostile: ``kindlb bundle verify`` proves the whole archive before anything is
written or loaded, and ``kindlb bundle load`` stages, commits, and removes what it loaded when a step fails.

Each archive here is built by hand around real ``docker save`` tars of tiny images made with ``docker import``
(one file each, tagged with this run's id; no registry). Every test runs the public command line and then
proves three things: a clear one/two-line message, nothing written outside the bundle cache (the folder
around it is compared file by file), and no image of this run in Docker.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest
from _docker import docker, import_tiny_images, need_docker

pytestmark = pytest.mark.docker  # the docker tier: a Docker engine, Jupyter kernels or the wheel

RUN = uuid.uuid4().hex[:8]
REPO = f"kindlb-test-hostile-{RUN}"
KNOWN = "v0.16.1"  # the pinned release; a bundle for it is the normal case
REFS = {"node": f"{REPO}/node:{RUN}", "metallb": f"{REPO}/controller:{KNOWN}", "nginx": f"{REPO}/nginx:{RUN}",
        "probe": f"{REPO}/probe:{RUN}"}
METALLB_YAML = f"kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - image: {REFS['metallb']}\n"
CLI = ("import sys\ntry:\n    from kindlb_helpers._tools.cli import main\nexcept ImportError:\n"
       "    from kindlb_helpers.cli import main\nsys.exit(main())")


def kindlb(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The ``kindlb`` command line in a child process (the installed entry point's ``main``)."""
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def message_of(r: subprocess.CompletedProcess) -> str:
    """The ``kindlb: ...`` message (after any progress lines), checked to be one or two clear lines."""
    assert "kindlb: " in r.stderr, r.stderr
    msg = r.stderr[r.stderr.index("kindlb: "):].strip()
    assert len(msg.splitlines()) <= 2, msg
    assert "Traceback" not in r.stderr and "a bug?" not in msg, msg
    assert len(msg) < 500, f"{len(msg)} characters: {msg[:300]}..."
    return msg


def image_exists(ref_or_id: str) -> bool:
    return docker("image", "inspect", ref_or_id, check=False).returncode == 0


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def saved_images(tmp_path_factory) -> dict:
    """role -> (ref, image id, the bytes of its ``docker save``); the images are removed from Docker again."""
    need_docker()
    d = tmp_path_factory.mktemp("hostile-images")
    out = {}
    try:
        import_tiny_images(REFS, d, RUN)
        for role, ref in REFS.items():
            iid = docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()
            docker("save", "-o", str(d / f"{role}.save.tar"), ref)
            out[role] = (ref, iid, (d / f"{role}.save.tar").read_bytes())
    finally:
        docker("rmi", "-f", *REFS.values(), check=False)
    yield out
    docker("rmi", "-f", *REFS.values(), *(i for _, i, _ in out.values()), check=False)


# ---------------------------------------------------------------- building archives by hand

def member(name: str, data: bytes = b"", type: bytes = tarfile.REGTYPE, **attrs) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mtime, info.mode = type, len(data) if type == tarfile.REGTYPE else 0, 0, 0o644
    for k, v in attrs.items():
        setattr(info, k, v)
    return info, data


def parts(saved_images: dict, **override) -> tuple[dict, list]:
    """The manifest and members of a complete, valid bundle for KNOWN; OVERRIDE replaces manifest keys."""
    members = [member("metallb/metallb-native.yaml", METALLB_YAML.encode())]
    images = []
    for role, (ref, iid, data) in saved_images.items():
        name = f"images/{role}.tar"
        members.append(member(name, data))
        images.append({"role": role, "ref": ref, "id": iid, "file": name})
    files = {m.name: {"sha256": sha(d), "size": len(d)} for m, d in members}
    meta = {"format": "kindlb-bundle", "format_version": 1, "metallb_version": KNOWN, "created": "2026-12-01T00:00:00",
            "images": images, "files": files}
    meta.update(override)
    return meta, members


def write(path: Path, meta: object, members: list, raw_manifest: bytes | None = None) -> Path:
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        data = raw_manifest if raw_manifest is not None else json.dumps(meta).encode()
        info, _ = member("manifest.json", data)
        tar.addfile(info, io.BytesIO(data))
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return path


def snapshot(root: Path) -> dict:
    """Every path under ROOT (the cache excluded) with its type, size and sha256: what "changed" compares."""
    out = {}
    for p in sorted(root.rglob("*")):
        if "cache" in p.relative_to(root).parts:
            continue
        kind = "link" if p.is_symlink() else "dir" if p.is_dir() else "file"
        out[str(p.relative_to(root))] = (kind, sha(p.read_bytes()) if kind == "file" else "")
    return out


@pytest.fixture
def place(tmp_path, saved_images):
    """A folder holding the bundle and the cache (``place/a/b/cache``); what outside it should stay as it is."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    env = {"KINDLB_BUNDLE_CACHE": str(tmp_path / "a" / "b" / "cache")}
    docker("rmi", "-f", *REFS.values(), check=False)
    yield tmp_path, env
    docker("rmi", "-f", *REFS.values(), check=False)


def refused(place, bundle: Path, saved_images: dict, *words: str, outside: list[Path] = ()) -> None:
    """verify and load both refuse BUNDLE: the message names WORDS, nothing is written, no image appears."""
    root, env = place
    before = snapshot(root)
    cache = Path(env["KINDLB_BUNDLE_CACHE"])
    for action in ("verify", "load"):
        args = ["bundle", action, str(bundle)] + (["--docker-only"] if action == "load" else [])
        t0 = time.monotonic()
        r = kindlb(*args, env=env, timeout=30)
        took = time.monotonic() - t0
        msg = message_of(r)
        assert r.returncode == 1, (action, r.returncode, msg)
        for w in words:
            assert w in msg, (action, w, msg)
        assert took < 30, f"{action} took {took:.1f} s"  # the sparse 64 GiB member hung verify for good
        assert snapshot(root) == before, f"{action} changed files outside the cache"
        if action == "verify":
            assert not cache.exists(), "verify wrote into the cache"
        else:
            assert not cache.exists() or not list(cache.iterdir()), list(cache.iterdir())
        for ref, iid, _ in saved_images.values():
            assert not image_exists(ref) and not image_exists(iid), f"{action} left {ref} in Docker"
        for p in outside:
            assert not p.exists(), f"{action} wrote {p}"


# ---------------------------------------------------------------- the good one, as the control

def test_a_valid_hand_made_bundle_verifies_and_loads(place, saved_images):
    """The control for every refusal below: the same builder's valid archive is accepted and loaded."""
    root, env = place
    bundle = write(root / "good.tar", *parts(saved_images))
    r = kindlb("bundle", "verify", str(bundle), env=env)
    assert r.returncode == 0, r.stderr
    r = kindlb("bundle", "load", str(bundle), "--docker-only", env=env)
    assert r.returncode == 0, r.stderr
    for ref, iid, _ in saved_images.values():
        assert docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip() == iid
    cache = Path(env["KINDLB_BUNDLE_CACHE"])
    assert sorted(p.name for p in cache.iterdir()) == [KNOWN]
    assert (cache / KNOWN / "metallb" / "metallb-native.yaml").read_text() == METALLB_YAML


# ---------------------------------------------------------------- names and versions

@pytest.mark.parametrize("version", ["../escaped-version", "ABS", "v9.9.9", None, "v0.16.1-rc1", "v０.１６.１",
                                     "v0.16.1/../../x", "9" * 5000, 16, ["v0.16.1"]],
                         ids=["dotdot", "absolute", "unknown", "null", "prerelease", "fullwidth", "slashes",
                              "5000-digits", "number", "list"])
def test_the_version_is_one_of_the_known_releases(place, saved_images, version):
    root, _ = place
    target = root / "abs-version"
    if version == "ABS":
        version = str(target)
    meta, members = parts(saved_images, metallb_version=version)
    bundle = write(root / "v.tar", meta, members)
    refused(place, bundle, saved_images, "MetalLB", outside=[target, root / "a" / "escaped-version",
                                                             root / "a" / "b" / "escaped-version"])


@pytest.mark.parametrize("file", ["ABS", "../../x.tar", "images/../../x.tar", "/etc/passwd", "images/",
                                  "manifest.json", "images/node.tar\n"],
                         ids=["absolute", "dotdot", "inner-dotdot", "system-file", "folder", "the-manifest",
                              "newline"])
def test_image_files_are_plain_members_of_the_archive(place, saved_images, file):
    """An image tar outside the archive (a real ``docker save`` put there) is never loaded."""
    root, env = place
    outside = root / "x.tar"
    outside.write_bytes(saved_images["node"][2])
    (Path(env["KINDLB_BUNDLE_CACHE"]).parent / "x.tar").parent.mkdir(parents=True, exist_ok=True)
    if file == "ABS":
        file = str(outside)
    meta, members = parts(saved_images)
    meta["images"][0]["file"] = file
    refused(place, write(root / "f.tar", meta, members), saved_images, "images")


def test_member_names_outside_the_archive_are_refused(place, saved_images):
    root, _ = place
    meta, members = parts(saved_images)
    data = b"escape\n"
    for name in ("../escaped.yaml", "/tmp/kindlb-escaped-" + RUN, "metallb/../../escaped.yaml"):
        meta["files"][name] = {"sha256": sha(data), "size": len(data)}
        members.append(member(name, data))
    refused(place, write(root / "n.tar", meta, members), saved_images, "member",
            outside=[root / "escaped.yaml", root / "a" / "escaped.yaml", Path("/tmp/kindlb-escaped-" + RUN)])


# ---------------------------------------------------------------- sizes and member types

def sparse_member(name: str, declared: int, stored: bytes) -> bytes:
    """An old-GNU sparse header ('S'): STORED bytes that tar expands to DECLARED bytes."""
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mode = tarfile.GNUTYPE_SPARSE, len(stored), 0o644
    buf = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    itn = lambda n: tarfile.itn(n, 12, tarfile.GNU_FORMAT)  # noqa: E731 (base-256 above 8 GiB, as GNU tar writes)
    buf[386:386 + 24] = itn(declared - len(stored)) + itn(len(stored))  # one sparse entry: the data at the end
    buf[482] = 0  # not extended
    buf[483:483 + 12] = itn(declared)  # realsize
    buf[148:156] = b"        "
    buf[148:156] = b"%06o\0 " % sum(buf[:512])
    pad = (-len(stored)) % 512
    return bytes(buf[:512]) + stored + b"\0" * pad


def test_a_sparse_member_declaring_64_gib_is_refused_at_once(place, saved_images):
    """10 KiB on disk, 64 GiB once expanded: refused before a byte is read or written."""
    root, _ = place
    meta, members = parts(saved_images)
    declared = 64 << 30
    meta["files"]["images/node.tar"] = {"sha256": "0" * 64, "size": declared}
    head = tarfile.TarInfo("manifest.json")
    data = json.dumps(meta).encode()
    head.size = len(data)
    bundle = root / "sparse.tar"
    blob = head.tobuf(tarfile.GNU_FORMAT) + data + b"\0" * ((-len(data)) % 512)
    blob += sparse_member("images/node.tar", declared, b"x" * 4096)
    bundle.write_bytes(blob + b"\0" * 1024)
    assert bundle.stat().st_size < 64 << 10
    with tarfile.open(bundle) as t:  # the archive is what it claims: tar itself reads 64 GiB there
        assert t.getmember("images/node.tar").issparse() and t.getmember("images/node.tar").size == declared
    refused(place, bundle, saved_images, "images/node.tar")


def test_declared_sizes_larger_than_the_archive_are_refused_before_reading(place, saved_images):
    root, _ = place
    meta, members = parts(saved_images)
    meta["files"]["images/probe.tar"]["size"] = 64 << 30
    refused(place, write(root / "big.tar", meta, members), saved_images, "size")


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo", "chardev", "blockdev", "directory"])
def test_only_regular_members(place, saved_images, kind):
    root, _ = place
    meta, members = parts(saved_images)
    extra = {"symlink": member("metallb/link.yaml", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
             "hardlink": member("metallb/link.yaml", type=tarfile.LNKTYPE, linkname="metallb/metallb-native.yaml"),
             "fifo": member("metallb/link.yaml", type=tarfile.FIFOTYPE),
             "chardev": member("metallb/link.yaml", type=tarfile.CHRTYPE, devmajor=1, devminor=5),
             "blockdev": member("metallb/link.yaml", type=tarfile.BLKTYPE, devmajor=7, devminor=0),
             "directory": member("metallb/link.yaml", type=tarfile.DIRTYPE)}[kind]
    meta["files"]["metallb/link.yaml"] = {"sha256": sha(b""), "size": 0}
    members.append(extra)
    refused(place, write(root / "t.tar", meta, members), saved_images, "metallb/link.yaml")


# ---------------------------------------------------------------- malformed manifests

def _malformed(meta: dict, how: str) -> object:
    if how == "files-as-list":
        meta["files"] = list(meta["files"])
    elif how == "size-as-string":
        meta["files"]["images/node.tar"]["size"] = str(meta["files"]["images/node.tar"]["size"])
    elif how == "size-missing":
        del meta["files"]["images/node.tar"]["size"]
    elif how == "size-negative":
        meta["files"]["images/node.tar"]["size"] = -1
    elif how == "size-true":
        meta["files"]["metallb/metallb-native.yaml"]["size"] = True
    elif how == "sha-as-number":
        meta["files"]["images/node.tar"]["sha256"] = 12
    elif how == "images-as-string":
        meta["images"] = "images/node.tar"
    elif how == "image-as-list":
        meta["images"][0] = list(meta["images"][0].values())
    elif how == "image-without-ref":
        del meta["images"][1]["ref"]
    elif how == "bad-ref":
        meta["images"][2]["ref"] = "nginx:ｔａｇ"
    elif how == "unknown-role":
        meta["images"][2]["role"] = "rootkit"
    elif how == "bad-id":
        meta["images"][0]["id"] = "sha256:" + "z" * 64
    elif how == "format-version-string":
        meta["format_version"] = "1"
    elif how == "manifest-is-a-list":
        return [meta]
    elif how == "file-not-listed":
        meta["images"][0]["file"] = "images/other.tar"
    return meta


MALFORMED = ["files-as-list", "size-as-string", "size-missing", "size-negative", "size-true", "sha-as-number",
             "images-as-string", "image-as-list", "image-without-ref", "bad-ref", "unknown-role", "bad-id",
             "format-version-string", "manifest-is-a-list", "file-not-listed"]


@pytest.mark.parametrize("how", MALFORMED)
def test_a_malformed_manifest_is_a_clear_message(place, saved_images, how):
    root, _ = place
    meta, members = parts(saved_images)
    refused(place, write(root / "m.tar", _malformed(meta, how), members), saved_images, "manifest.json")


def test_a_huge_or_binary_manifest(place, saved_images):
    root, _ = place
    meta, members = parts(saved_images)
    refused(place, write(root / "bin.tar", meta, members, raw_manifest=b"\xff\xfe" + os.urandom(64)),
            saved_images, "manifest.json")
    deep = b"[" * 100_000 + b"]" * 100_000
    refused(place, write(root / "deep.tar", meta, members, raw_manifest=deep), saved_images, "manifest.json")


# ---------------------------------------------------------------- what the image tars say

def docker_save_tar(ref: str, layer: bytes) -> tuple[bytes, str]:
    """A legacy ``docker save`` archive for REF whose one layer is LAYER; returns it and its image ID."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [f"sha256:{sha(layer)}"]}}).encode()
    cid = sha(config)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in ((f"{cid}.json", config), ("l1/layer.tar", layer),
                           ("manifest.json", json.dumps([{"Config": f"{cid}.json", "RepoTags": [ref],
                                                          "Layers": ["l1/layer.tar"]}]).encode())):
            info, _ = member(name, data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue(), f"sha256:{cid}"


def replace_image(meta: dict, members: list, role: str, data: bytes, iid: str | None = None) -> None:
    name = f"images/{role}.tar"
    members[:] = [(i, d) if i.name != name else member(name, data) for i, d in members]
    meta["files"][name] = {"sha256": sha(data), "size": len(data)}
    if iid:
        next(i for i in meta["images"] if i["role"] == role)["id"] = iid


def test_a_garbage_image_tar_after_a_good_one_is_refused_before_any_load(place, saved_images):
    root, _ = place
    meta, members = parts(saved_images)
    replace_image(meta, members, "probe", os.urandom(10_000))
    refused(place, write(root / "g.tar", meta, members), saved_images, "images/probe.tar")


def test_an_image_tar_that_tags_another_image_is_refused(place, saved_images):
    """``docker load`` tags what the tar's own manifest.json says: here a name the bundle does not list."""
    root, _ = place
    meta, members = parts(saved_images)
    evil, iid = docker_save_tar(f"{REPO}/busybox:latest", b"\0" * 1024)
    replace_image(meta, members, "probe", evil, iid)
    refused(place, write(root / "tag.tar", meta, members), saved_images, "images/probe.tar")
    assert not image_exists(f"{REPO}/busybox:latest")


def test_a_failed_docker_load_removes_what_this_load_loaded(place, saved_images):
    """A tar that passes every check but Docker's own (a layer that is not a tar): the images loaded before it
    are removed again; an image that was there before the load stays."""
    root, env = place
    meta, members = parts(saved_images)
    bad, iid = docker_save_tar(REFS["probe"], os.urandom(4096))
    replace_image(meta, members, "probe", bad, iid)
    bundle = write(root / "late.tar", meta, members)
    r = kindlb("bundle", "verify", str(bundle), env=env)
    assert r.returncode == 0, r.stderr  # the archive itself is whole: only Docker can tell
    refused_load = kindlb("bundle", "load", str(bundle), "--docker-only", env=env)
    msg = message_of(refused_load)
    assert refused_load.returncode == 1 and "docker load" in msg and "images/probe.tar" in msg, msg
    for role in ("node", "metallb", "nginx"):
        ref, iid_, _ = saved_images[role]
        assert not image_exists(ref) and not image_exists(iid_), f"{ref} was left loaded"
    cache = Path(env["KINDLB_BUNDLE_CACHE"])
    assert not cache.exists() or not list(cache.iterdir())
    # an image the user had before the load is theirs: the rollback keeps it
    pre = root / "pre.tar"
    pre.write_bytes(saved_images["nginx"][2])
    docker("load", "-i", str(pre))
    r = kindlb("bundle", "load", str(bundle), "--docker-only", env=env)
    assert r.returncode == 1
    assert image_exists(REFS["nginx"]) and not image_exists(REFS["node"])


# ---------------------------------------------------------------- save refuses unknown releases

@pytest.mark.parametrize("version", ["v9.9.9", "v0.16.1-rc1", "v０.１６.１", "../x", "9" * 5000])
def test_save_refuses_an_unknown_release_and_writes_nothing(tmp_path, version):
    out = tmp_path / "b.tar"
    r = kindlb("bundle", "save", str(out), "--metallb", version, "--node-image", "x:1",
               "--manifest", str(tmp_path))
    msg = message_of(r)
    assert r.returncode == 2 and "v0.16.1" in msg, msg
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- a daemon that accepts and never answers

def test_load_names_a_silent_docker_daemon_at_once(place, saved_images, silent_listener):
    """DOCKER_HOST at a loopback port that accepts and never answers: named within seconds, nothing loaded."""
    root, env = place
    bundle = write(root / "good.tar", *parts(saved_images))
    host = f"tcp://127.0.0.1:{silent_listener}"
    t0 = time.monotonic()
    r = kindlb("bundle", "load", str(bundle), "--docker-only", env={**env, "DOCKER_HOST": host}, timeout=60)
    took = time.monotonic() - t0
    msg = message_of(r)
    assert r.returncode == 1 and host in msg and "DOCKER_HOST" in msg, msg
    assert took < 30, f"{took:.1f} s"  # 8 s for `docker version`, and a child Python
    cache = Path(env["KINDLB_BUNDLE_CACHE"])
    assert not cache.exists() or not list(cache.iterdir())
    for ref, iid, _ in saved_images.values():
        assert not image_exists(ref)
