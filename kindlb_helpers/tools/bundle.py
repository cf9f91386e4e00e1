"""``kindlb bundle``: every image the series needs, in one archive to hand round on a USB stick.

A bundle is a plain tar. Its first member is ``manifest.json``: the format, the MetalLB version,
each image (role, reference, Docker image ID, the file holding its ``docker save``) and the sha256
and size of every other member. Then ``images/<name>.tar`` (one ``docker save`` per image) and
``metallb/`` (the release's install manifest: ``metallb-native.yaml``, or ``namespace.yaml`` +
``metallb.yaml`` in the ConfigMap era).

``load`` reads the whole archive once, checking every member against the manifest, before it
loads anything: a truncated, foreign or other-version archive stops with a message and leaves
Docker, the clusters and the cache as they were. Then it loads the images into Docker, into the
nodes of the kind cluster (``kind load image-archive``), and puts the manifest where
``kindlb run --offline`` finds it: ``~/.cache/kindlb/bundle/<version>/`` (``$KINDLB_BUNDLE_CACHE``).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..cluster.commands import run
from ..core.errors import BadInput, KindlbError, WaitTimeout
from ..core.inputs import cut, known_release
from ..core.names import image_ref
from ..core.versions import METALLB_KNOWN, METALLB_VERSION, pins

FORMAT = "kindlb-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Roles loaded into the cluster's nodes (the node image runs them; the probe runs beside, in Docker).
NODE_ROLES = ("metallb", "nginx")
_CHUNK = 1 << 20
#: Every role a bundle holds, once at least.
ROLES = ("node", "metallb", "nginx", "probe", "router")
#: The roles every bundle holds (bundles made before notebook 07_bgp have no router).
REQUIRED_ROLES = ("node", "metallb", "nginx", "probe")
#: A member's name: one plain file in images/ or metallb/, nothing else (no "..", no absolute path, no folder).
_MEMBER = re.compile(r"(images/[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.tar|metallb/[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.yaml)",
                     re.ASCII)
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_MAX_FILES = 64
_MAX_IMAGES = 32
#: The most a docker save archive's own manifest.json/repositories may hold (they are a few hundred bytes).
_INNER_JSON = 1 << 20


class BundleError(KindlbError):
    """A bundle that cannot be used: truncated, foreign, for another version, or failing to load."""


def cache_dir() -> Path:
    """Where loaded bundles keep their manifest: ``$KINDLB_BUNDLE_CACHE`` or ``~/.cache/kindlb/bundle``."""
    env = os.environ.get("KINDLB_BUNDLE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kindlb" / "bundle"


def normalize_version(version: str | None) -> str:
    """``0.16.1`` -> ``v0.16.1``; None -> the pinned release; a release the notebooks do not know is refused.

    >>> normalize_version("0.12.1")
    'v0.12.1'
    """
    return known_release(METALLB_VERSION if version is None else version)


@dataclass
class Loaded:
    """A bundle loaded on this machine: its version, its folder in the cache, its manifest."""

    metallb_version: str
    folder: Path
    manifest: dict

    @property
    def manifest_source(self) -> Path:
        """The folder to pass as the notebooks' ``metallb_source``."""
        return self.folder / "metallb"

    def image(self, role: str) -> str:
        """The first image reference of ROLE (``node``, ``nginx``, ``probe``, ``metallb``)."""
        for img in self.manifest["images"]:
            if img["role"] == role:
                return img["ref"]
        raise BundleError(f"the bundle in {self.folder} has no {role} image: load a complete bundle again")


def loaded_bundle(version: str | None = None) -> Loaded | None:
    """The loaded bundle for VERSION (None: the pinned release's, else the only one loaded), or None."""
    root = cache_dir()
    if version is not None:
        candidates = [root / normalize_version(version)]
    else:
        have = sorted(p for p in root.glob("v*") if (p / MANIFEST).is_file()) if root.is_dir() else []
        pinned = root / METALLB_VERSION
        candidates = [pinned] if pinned in have else have[:1] if len(have) == 1 else []
    for folder in candidates:
        if (folder / MANIFEST).is_file():
            manifest = json.loads((folder / MANIFEST).read_text())
            return Loaded(manifest["metallb_version"], folder, manifest)
    return None


# ---------------------------------------------------------------- Docker (the CLI: it streams big archives)

def _docker(*args: str, timeout: float = 1800) -> str:
    exe = shutil.which("docker")
    if not exe:
        raise KindlbError("the docker command is not on PATH: install Docker (Docker Desktop, or apt-get install "
                          "docker.io), then try again")
    r = run([exe, *args], what=f"docker {' '.join(args[:2])}", timeout=timeout, check=False)
    if r.returncode != 0:
        raise BundleError(f"docker {' '.join(args[:2])} failed: {r.stderr.strip()[-600:]}")
    return r.stdout


def _docker_answers(seconds: float = 8) -> None:
    """The engine answers ``docker version`` within SECONDS; else BundleError naming it and the fix."""
    try:
        _docker("version", "--format", "{{.Server.Version}}", timeout=seconds)
    except WaitTimeout:
        host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise BundleError(f"Docker at {host} did not answer `docker version` within {seconds:g} s: start or restart "
                          "the daemon, or fix DOCKER_HOST; nothing was loaded") from None


def image_id(ref: str) -> str | None:
    """The Docker image ID of REF in the local engine, or None when it is not there (``dockernet.image_id``)."""
    from ..cluster.dockernet import image_id as inspect

    return inspect(ref)


def _require_image(ref: str, pull: bool) -> str:
    found = image_id(ref)
    if found is None and pull:
        try:
            _docker("pull", ref)
        except BundleError as exc:
            raise BundleError(f"{ref} is not in Docker and could not be pulled ({exc}): pull or build it, "
                              "or name another with --node-image/--nginx-image/--probe-image") from None
        found = image_id(ref)
    if found is None:
        raise BundleError(f"{ref} is not in the local Docker engine: build or pull it first")
    return found


# ---------------------------------------------------------------- save

def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest_images(folder: Path) -> list[str]:
    """The image references a MetalLB install manifest uses, in order, once each."""
    refs: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        for m in re.finditer(r"^\s*image:\s*['\"]?([^\s'\"]+)", path.read_text(), re.MULTILINE):
            if m.group(1) not in refs:
                refs.append(m.group(1))
    return refs


def _collect_manifest(version: str, manifest: str | Path | None, dest: Path) -> None:
    """Copy (or download) VERSION's install manifest into DEST."""
    dest.mkdir(parents=True)
    if manifest is None:
        from ..cluster.metallb import manifest_url

        for url in manifest_url(version):
            try:
                with urllib.request.urlopen(url, timeout=60) as resp:
                    (dest / url.rsplit("/", 1)[-1]).write_bytes(resp.read())
            except OSError as exc:
                raise BundleError(f"could not download {url} ({exc}): pass the manifest with --manifest FILE") \
                    from None
        return
    src = Path(manifest).expanduser()
    files = sorted(src.glob("*.yaml")) if src.is_dir() else [src] if src.is_file() else []
    if not files:
        raise BadInput(f"--manifest {src}: no such file, or a folder without *.yaml")
    for f in files:
        shutil.copyfile(f, dest / f.name)


def _from_lab(version: str) -> dict:
    from ..cluster.offline import source

    lab = source("lab", hint="--from-lab needs the offline lab: `pip install -e lab/` in a clone of kindlb")
    ver = lab.metallb_version(version)
    return {"version": ver, "node": lab.image("node"), "nginx": lab.image("nginx"), "probe": lab.image("probe"),
            "manifest": lab.manifest_source(ver)}


def _cluster_node_image(cluster: str = "kindlb") -> str | None:
    try:
        out = _docker("inspect", "-f", "{{.Config.Image}}", f"{cluster}-control-plane", timeout=60).strip()
    except (BundleError, KindlbError):
        return None
    return out or None


def save(file: str | Path, metallb_version: str | None = None, *, from_lab: bool = False,
         node_image: str | None = None, nginx_image: str | None = None, probe_image: str | None = None,
         manifest: str | Path | None = None, router_image: str | None = None,
         log: Callable[[str], None] = lambda m: None) -> dict:
    """Write one bundle FILE with the node, MetalLB, nginx, probe and BGP router images and MetalLB's manifest.

    Images come from the local Docker engine (pulled when missing, online). With FROM_LAB, the
    offline lab's images and manifest; otherwise kind's node image of the running ``kindlb``
    cluster (or NODE_IMAGE), ``nginx:1.27``, ``busybox:1.36``, FRR's ``FRR_ONLINE_IMAGE`` (notebook
    07_bgp's router, run by Docker, not loaded into the nodes) and the release's manifest URL.
    """
    t0 = time.monotonic()
    version = normalize_version(metallb_version)
    if from_lab:
        lab = _from_lab(version)
        version = lab["version"]
        node_image = node_image or lab["node"]
        nginx_image = nginx_image or lab["nginx"]
        probe_image = probe_image or lab["probe"]
        manifest = manifest or lab["manifest"]
        router_image = router_image or pins()["FRR_IMAGE"]
    from ..cluster.containers import PROBE_IMAGE

    node_image = node_image or _cluster_node_image()
    if not node_image:
        raise BadInput("which kind node image? pass --node-image (e.g. kindest/node:v1.34.0), or create the "
                       "kindlb cluster first and its node image is taken")
    nginx_image = nginx_image or "nginx:1.27"
    probe_image = probe_image or PROBE_IMAGE
    router_image = router_image or pins()["FRR_ONLINE_IMAGE"]
    out = Path(file).expanduser()
    if out.is_dir():
        raise BadInput(f"{out} is a folder: give the bundle's file name, e.g. {out / f'kindlb-{version}.tar'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kindlb-bundle-", dir=out.parent) as tmp:
        work = Path(tmp)
        _collect_manifest(version, manifest, work / "metallb")
        metallb_refs = manifest_images(work / "metallb")
        if not metallb_refs:
            raise BadInput(f"the MetalLB manifest for {version} names no image: is it MetalLB's install manifest?")
        wrong = [r for r in metallb_refs if not r.endswith(f":{version}")]
        if wrong:
            raise BadInput(f"the manifest is not MetalLB {version}'s: it runs {', '.join(wrong)}")
        wanted = [("node", node_image), *(("metallb", r) for r in metallb_refs), ("nginx", nginx_image),
                  ("probe", probe_image), ("router", router_image)]
        images, files = [], {}
        for role, ref in wanted:
            iid = _require_image(ref, pull=not from_lab)
            name = f"images/{role}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', ref.rsplit('/', 1)[-1])}.tar"
            log(f"saving {ref} ({role}) ...")
            (work / "images").mkdir(exist_ok=True)
            _docker("save", "-o", str(work / name), ref)
            images.append({"role": role, "ref": ref, "id": iid, "file": name})
        for path in sorted(p for p in work.rglob("*") if p.is_file()):
            rel = path.relative_to(work).as_posix()
            files[rel] = {"sha256": _sha256_file(path), "size": path.stat().st_size}
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "metallb_version": version,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "images": images, "files": files}
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            data = json.dumps(meta, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))
            for rel in files:
                tar.add(work / rel, arcname=rel, recursive=False)
        partial.replace(out)
    return {"file": str(out), "metallb_version": version, "images": images, "size": out.stat().st_size,
            "seconds": round(time.monotonic() - t0, 1)}


# ---------------------------------------------------------------- verify and load

def _read_manifest(tar: tarfile.TarFile, name: str) -> dict:
    first = tar.next()
    if first is None or first.name != MANIFEST or first.type not in _REGULAR or first.sparse is not None \
            or first.size > 1 << 20:
        raise BundleError(f"{name} is not a kindlb bundle (it does not start with {MANIFEST}): "
                          "make one with `kindlb bundle save FILE`")
    try:
        meta = json.loads(tar.extractfile(first).read())
    except (ValueError, RecursionError, tarfile.TarError) as exc:  # UnicodeDecodeError is a ValueError
        raise BundleError(f"{name}: its {MANIFEST} is damaged ({type(exc).__name__}): copy the bundle again") \
            from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BundleError(f"{name} is not a kindlb bundle ({MANIFEST} says format {cut(meta.get('format'))}): "
                          "make one with `kindlb bundle save FILE`" if isinstance(meta, dict) else
                          f"{name} is not a kindlb bundle: its {MANIFEST} is not a JSON object; make one with "
                          "`kindlb bundle save FILE`")
    if meta.get("format_version") != FORMAT_VERSION or isinstance(meta.get("format_version"), bool):
        raise BundleError(f"{name} is a version-{cut(meta.get('format_version'))} bundle ({MANIFEST}); this kindlb "
                          f"reads version {FORMAT_VERSION}: save it again with this kindlb")
    return meta


_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE)


def _check_manifest(meta: dict, name: str, archive_size: int) -> dict:
    """Prove the manifest names plain members, a known release, sane sizes and whole image entries.

    Nothing is read beyond the manifest yet: every later step trusts only what this returned.
    """
    def bad(why: str) -> BundleError:
        return BundleError(f"{name}: its {MANIFEST} {why}: the bundle was altered or damaged; make it again with "
                           "`kindlb bundle save`")

    version = meta.get("metallb_version")
    try:
        if known_release(version) != version:
            raise BadInput("not written as vX.Y.Z")
    except BadInput:
        raise BundleError(f"{name}: its {MANIFEST} names MetalLB {cut(version)}, not a release this kindlb knows "
                          f"({', '.join(METALLB_KNOWN)}): use a bundle made by `kindlb bundle save` for one of them") \
            from None
    files = meta.get("files")
    if not isinstance(files, dict) or not 0 < len(files) <= _MAX_FILES:
        raise bad(f"lists its files as {cut(files, 40)}, not as a mapping of up to {_MAX_FILES} members")
    for rel, entry in files.items():
        if not isinstance(rel, str) or not _MEMBER.fullmatch(rel):
            raise bad(f"lists member {cut(rel)}, which is not a plain file in images/ or metallb/")
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) \
                or not _SHA256.fullmatch(entry["sha256"]):
            raise bad(f"gives {rel} no sha256 (64 hex digits)")
        size = entry.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise bad(f"gives {rel} the size {cut(size, 30)}, not a whole number of bytes")
        if size > archive_size:
            raise BundleError(f"{name}: its {MANIFEST} gives {rel} a size of {size:,} bytes, more than the whole "
                              f"archive ({archive_size:,}): the file is truncated or altered; copy the bundle again")
    total = sum(e["size"] for e in files.values())
    if total > archive_size:
        raise BundleError(f"{name}: its {MANIFEST} declares {total:,} bytes of members, more than the whole "
                          f"archive's size ({archive_size:,}): the file is truncated or altered; copy the bundle again")
    if not any(f.startswith("metallb/") for f in files):
        raise bad("lists no MetalLB manifest (metallb/*.yaml)")
    images = meta.get("images")
    if not isinstance(images, list) or not 0 < len(images) <= _MAX_IMAGES:
        raise bad(f"lists its images as {cut(images, 40)}, not as a list of up to {_MAX_IMAGES}")
    for n, img in enumerate(images):
        if not isinstance(img, dict):
            raise bad(f"has image entry {n} as {cut(img, 40)}, not an object")
        if img.get("role") not in ROLES:
            raise bad(f"gives image {n} the role {cut(img.get('role'), 30)}, not one of {', '.join(ROLES)}")
        try:
            image_ref(img.get("ref"))
        except BadInput:
            raise bad(f"gives image {n} the reference {cut(img.get('ref'), 40)}, not an image reference") from None
        if not isinstance(img.get("id"), str) or not _IMAGE_ID.fullmatch(img["id"]):
            raise bad(f"gives {img['ref']} the ID {cut(img.get('id'), 30)}, not sha256:<64 hex digits>")
        file = img.get("file")
        if not isinstance(file, str) or not file.startswith("images/") or file not in files:
            raise bad(f"loads {img['ref']} from {cut(file, 40)}, not a member of images/ listed in it")
        if img["role"] == "metallb" and not img["ref"].endswith(f":{version}"):
            raise bad(f"lists {img['ref']} as MetalLB {version}'s image")
    missing = [r for r in REQUIRED_ROLES if r not in {i["role"] for i in images}]
    if missing:
        raise bad(f"lists no {', '.join(missing)} image")
    return meta


class _Tee(io.RawIOBase):
    """Reads SRC, hashing and counting every byte (and copying it to DST): tar reads an image tar through it."""

    def __init__(self, src, dst=None) -> None:
        self.src, self.dst, self.hash, self.size = src, dst, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self.src.read(_CHUNK if n is None or n < 0 else n)
        self.hash.update(data)
        self.size += len(data)
        if self.dst is not None:
            self.dst.write(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


def _inner_tags(tee: _Tee, rel: str, name: str) -> tuple[set[str], set[str]]:
    """Read one ``docker save`` archive as it streams by: the tags and image IDs ``docker load`` would make."""
    found: dict[str, bytes] = {}
    members: set[str] = set()

    def bad(why: str) -> BundleError:
        return BundleError(f"{name}: {rel} is not a docker save archive ({why}): the bundle was altered or "
                           "damaged; make it again with `kindlb bundle save`")

    try:
        with tarfile.open(fileobj=tee, mode="r|", bufsize=_CHUNK) as inner:
            for m in inner:
                members.add(m.name[2:] if m.name.startswith("./") else m.name)
                if m.name in ("manifest.json", "repositories"):
                    if m.type not in _REGULAR or m.sparse is not None or m.size > _INNER_JSON:
                        raise bad(f"its {m.name} is not a small regular file")
                    found[m.name] = inner.extractfile(m).read()
    except tarfile.TarError as exc:
        raise bad(str(exc)[:80]) from None
    tee.drain()
    if "manifest.json" not in found:
        raise bad("no manifest.json in it")
    try:
        entries = json.loads(found["manifest.json"])
        repos = json.loads(found["repositories"]) if "repositories" in found else {}
    except (ValueError, RecursionError) as exc:
        raise bad(f"its manifest.json or repositories is not JSON: {type(exc).__name__}") from None
    if not isinstance(entries, list) or not isinstance(repos, dict):
        raise bad("its manifest.json is not a list")
    tags: set[str] = set()
    ids: set[str] = set()
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("Config"), str) \
                or not isinstance(e.get("RepoTags") or [], list) or not isinstance(e.get("Layers"), list):
            raise bad("an entry of its manifest.json has no Config, RepoTags or Layers")
        for ref in [e["Config"], *e["Layers"]]:
            if not isinstance(ref, str) or ref not in members:
                raise bad(f"its manifest.json names {cut(ref, 40)}, which it does not hold")
        m = re.fullmatch(r"(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?", e["Config"], re.ASCII)
        if m is None:
            raise bad(f"its image config is {cut(e['Config'], 40)}")
        ids.add(f"sha256:{m.group(1)}")
        tags.update(t if isinstance(t, str) else repr(t) for t in e.get("RepoTags") or [])
    for repo, tagmap in repos.items():
        for tag in (tagmap if isinstance(tagmap, dict) else {"?": None}):
            tags.add(f"{repo}:{tag}")
    return tags, ids


def _familiar(ref: str) -> str:
    """``docker.io/library/nginx:1.27`` -> ``nginx:1.27``: a tag as ``docker save`` may write it, compared as typed."""
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def _scan(file: str | Path, metallb_version: str | None, extract_to: Path | None) -> dict:
    """Read the whole archive once and prove it: the manifest first (names, release, sizes, entries), then
    every member (regular, listed once, its size and sha256, and what each image tar would tag). With
    EXTRACT_TO, each member is also written there as it is read (``load``'s second pass, after ``verify``)."""
    path = Path(file).expanduser()
    if not path.is_file():
        raise BadInput(f"no bundle at {cut(str(path), 200)}: give the file `kindlb bundle save` wrote")
    name = str(path)
    asked = normalize_version(metallb_version) if metallb_version is not None else None
    seen: dict[str, str] = {}
    meta: dict | None = None
    try:
        with tarfile.open(path, "r|") as tar:
            meta = _check_manifest(_read_manifest(tar, name), name, path.stat().st_size)
            if asked is not None and meta["metallb_version"] != asked:
                raise BundleError(f"{name} holds MetalLB {meta['metallb_version']}, not {asked}: use a bundle "
                                  f"made with `kindlb bundle save FILE --metallb {asked}`, or drop --metallb")
            expected = meta["files"]
            by_file: dict[str, list[dict]] = {}
            for img in meta["images"]:
                by_file.setdefault(img["file"], []).append(img)
            while (member := tar.next()) is not None:
                rel = member.name
                if rel not in expected or rel in seen:
                    raise BundleError(f"{name}: unexpected member {cut(rel)}"
                                      + (" (a second time)" if rel in seen else f", not listed in its {MANIFEST}")
                                      + ": the bundle was altered; make it again")
                if member.type not in _REGULAR or member.sparse is not None:
                    kind = {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link",
                            tarfile.FIFOTYPE: "a FIFO", tarfile.CHRTYPE: "a character device",
                            tarfile.BLKTYPE: "a block device", tarfile.DIRTYPE: "a folder"}.get(
                        member.type, "a sparse file" if member.issparse() else f"of type {member.type!r}")
                    raise BundleError(f"{name}: member {rel} is {kind}, not a regular file: the bundle was "
                                      "altered; make it again with `kindlb bundle save`")
                if member.size != expected[rel]["size"]:
                    raise BundleError(f"{name}: {rel} is damaged ({member.size:,} bytes, its {MANIFEST} says "
                                      f"{expected[rel]['size']:,}): copy the bundle again")
                dst = None
                if extract_to is not None:
                    (extract_to / rel).parent.mkdir(parents=True, exist_ok=True)
                    dst = open(extract_to / rel, "xb")
                try:
                    tee = _Tee(tar.extractfile(member), dst)
                    if rel in by_file:
                        tags, ids = _inner_tags(tee, rel, name)
                        tags = {_familiar(t) for t in tags}
                        refs = {_familiar(i["ref"]) for i in by_file[rel]}
                        if tags != refs or ids != {i["id"] for i in by_file[rel]}:
                            extra = sorted(tags - refs) or sorted(ids - {i["id"] for i in by_file[rel]})
                            raise BundleError(
                                f"{name}: {rel} would load {cut(', '.join(extra or sorted(refs - tags)), 80)}, "
                                f"not what its {MANIFEST} lists for it: the bundle was altered; make it again")
                    else:
                        tee.drain()
                finally:
                    if dst:
                        dst.close()
                if tee.size != expected[rel]["size"] or tee.hash.hexdigest() != expected[rel]["sha256"]:
                    raise BundleError(f"{name}: {rel} is damaged ({tee.size:,} of {expected[rel]['size']:,} bytes, "
                                      "or a different sha256): the file is truncated or corrupt; copy it again")
                seen[rel] = tee.hash.hexdigest()
    except tarfile.TarError as exc:
        if meta is not None:  # it began as a bundle: the rest is missing or broken
            raise BundleError(f"{name} is truncated ({str(exc)[:80]}, {len(seen)} of {len(meta['files'])} files "
                              "whole): copy the bundle again") from None
        raise BundleError(f"{name} is truncated or not a tar archive ({str(exc)[:80]}): copy the bundle again, or "
                          "make it with `kindlb bundle save FILE`") from None
    except EOFError:
        raise BundleError(f"{name} is truncated: copy the bundle again") from None
    missing = sorted(set(meta["files"]) - set(seen))
    if missing:
        raise BundleError(f"{name} is incomplete (truncated?): missing {cut(', '.join(missing), 120)}; copy it again")
    return meta


def verify(file: str | Path, metallb_version: str | None = None) -> dict:
    """Prove the whole bundle (see :func:`_scan`); write and load nothing. Returns the manifest."""
    return _scan(file, metallb_version, None)


def _clusters() -> list[str]:
    """The kind clusters the one kind finder's kind lists ([] without kind or Docker)."""
    from ..cluster.kind import kind_clusters

    try:
        return kind_clusters()
    except KindlbError:
        return []


def load(file: str | Path, metallb_version: str | None = None, cluster: str | None = None,
         docker_only: bool = False, log: Callable[[str], None] = lambda m: None) -> dict:
    """Verify the bundle completely, then load it into Docker and the cluster's nodes; note its manifest.

    CLUSTER: load into that kind cluster's nodes (it must exist); None: into ``kindlb``'s when it
    exists. DOCKER_ONLY: no cluster at all.
    """
    t0 = time.monotonic()
    _docker_answers()
    clusters: list[str] = []
    if not docker_only:  # the cluster is named by the user: checked before the archive is read
        existing = _clusters()
        if cluster is not None and cluster not in existing:
            raise BadInput(f"no kind cluster {cluster!r} (have: {', '.join(existing) or 'none'}): create it, "
                           "or leave out --cluster to load into Docker only")
        clusters = [cluster] if cluster else [c for c in ("kindlb",) if c in existing]
    log(f"verifying {file} ...")
    meta = _scan(file, metallb_version, None)  # the whole archive proved before anything is written or loaded
    version = meta["metallb_version"]
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    refs = list(dict.fromkeys(img["ref"] for img in meta["images"]))
    before = {ref: image_id(ref) for ref in refs}  # what Docker had: a failed load puts exactly this back
    new_ids = {img["id"] for img in meta["images"] if image_id(img["id"]) is None}
    loading = False
    try:
        log(f"staging {file} ...")
        if _scan(file, metallb_version, staging) != meta:  # read again as it is written: the file may have changed
            raise BundleError(f"{file} changed while it was being loaded: copy it again, then load it")
        loading = True
        for tarname in dict.fromkeys(img["file"] for img in meta["images"]):
            log(f"docker load {tarname} ...")
            try:
                _docker("load", "-i", str(staging / tarname))
            except BundleError as exc:
                raise BundleError(f"docker load of {tarname} failed, so the images loaded before it were removed "
                                  f"again ({str(exc).splitlines()[0][-200:]}): the bundle is damaged; make it "
                                  "again") from None
        for img in meta["images"]:
            if image_id(img["ref"]) != img["id"]:
                raise BundleError(f"after docker load, {img['ref']} is not image {img['id'][:19]}: another image "
                                  "took the tag? load the bundle again")
        for name in clusters:
            for img in meta["images"]:
                if img["role"] in NODE_ROLES:
                    log(f"kind load image-archive {img['ref']} into {name} ...")
                    _kind_load(name, archive=str(staging / img["file"]))
        keep = staging / "keep"
        keep.mkdir()
        shutil.move(str(staging / "metallb"), keep / "metallb")
        (keep / MANIFEST).write_text(json.dumps(meta, indent=1))
        final = root / version  # a known release's name: checked by _check_manifest
        old = root / f".old-{version}-{os.getpid()}"
        if final.exists():
            final.rename(old)
        keep.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if loading:
            _roll_back(before, new_ids, log)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"file": str(file), "metallb_version": version, "images": refs,
            "clusters": clusters, "manifest_dir": str(final / "metallb"), "seconds": round(time.monotonic() - t0, 1)}


def _roll_back(before: dict[str, str | None], new_ids: set[str], log: Callable[[str], None]) -> None:
    """Put Docker's tags back as BEFORE had them, and remove NEW_IDS, the images Docker did not have before.

    An image the user had before the load (under any tag, or none) is theirs and stays.
    """
    for ref, old in before.items():
        now = image_id(ref)
        if now == old:
            continue
        try:
            if old is None:
                _docker("rmi", "--no-prune", ref, timeout=120)
            else:
                _docker("tag", old, ref, timeout=120)
        except KindlbError as exc:
            log(f"could not put {ref} back as it was: {exc}")
    for iid in new_ids:
        if image_id(iid) is not None:
            try:
                _docker("rmi", iid, timeout=120)
            except KindlbError:
                pass  # tagged by something else meanwhile: not ours to remove


def into_cluster(cluster: str, loaded: Loaded, log: Callable[[str], None] = lambda m: None) -> list[str]:
    """Load a loaded bundle's MetalLB and nginx images from Docker into CLUSTER's nodes (when it exists).

    ``kind load docker-image`` skips the nodes that have an image already, so this is cheap to repeat.
    Returns the images loaded; [] when the cluster does not exist (yet).
    """
    if cluster not in _clusters():
        return []
    refs = [i["ref"] for i in loaded.manifest["images"] if i["role"] in NODE_ROLES]
    missing = [r for r in refs if image_id(r) is None]
    if missing:
        raise BundleError(f"{', '.join(missing)} left Docker since the bundle was loaded: "
                          "run `kindlb bundle load FILE` again")
    log(f"kind load docker-image {' '.join(refs)} into {cluster} ...")
    _kind_load(cluster, images=refs)
    return refs


def _kind_load(cluster: str, images: list[str] = (), archive: str | None = None) -> None:
    from ..cluster.kind import kind_load
    from ..core.errors import CommandFailed

    try:
        kind_load(cluster, images, archive)
    except CommandFailed as exc:
        raise BundleError(str(exc)) from exc
