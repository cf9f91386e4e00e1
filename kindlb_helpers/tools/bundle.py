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
from ..core.errors import BadInput, KindlbError
from ..core.versions import METALLB_VERSION

FORMAT = "kindlb-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Roles loaded into the cluster's nodes (the node image runs them; the probe runs beside, in Docker).
NODE_ROLES = ("metallb", "nginx")
_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$")
_CHUNK = 1 << 20


class BundleError(KindlbError):
    """A bundle that cannot be used: truncated, foreign, for another version, or failing to load."""


def cache_dir() -> Path:
    """Where loaded bundles keep their manifest: ``$KINDLB_BUNDLE_CACHE`` or ``~/.cache/kindlb/bundle``."""
    env = os.environ.get("KINDLB_BUNDLE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kindlb" / "bundle"


def normalize_version(version: str | None) -> str:
    """``0.16.1`` -> ``v0.16.1``; None -> the pinned release; anything else is refused.

    >>> normalize_version("0.12.1")
    'v0.12.1'
    """
    ver = str(version or METALLB_VERSION).strip()
    if not _VERSION.match(ver):
        raise BadInput(f"MetalLB version {version!r} does not look like v0.16.1: give --metallb vX.Y.Z")
    return ver if ver.startswith("v") else f"v{ver}"


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


def image_id(ref: str) -> str | None:
    """The Docker image ID of REF in the local engine, or None when it is not there."""
    try:
        return _docker("image", "inspect", "-f", "{{.Id}}", ref, timeout=60).strip()
    except BundleError:
        return None


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
    from importlib import import_module
    from importlib.util import find_spec

    if not find_spec("kindlb_lab"):
        raise KindlbError("--from-lab needs the offline lab: `pip install -e lab/` in a clone of kindlb")
    lab = import_module("kindlb_lab")
    ver = lab.metallb_version(version)
    return {"version": ver, "node": lab.NODE_IMAGE, "nginx": lab.NGINX_IMAGE, "probe": lab.probe_image(),
            "manifest": lab.manifest_source(ver)}


def _cluster_node_image(cluster: str = "kindlb") -> str | None:
    try:
        out = _docker("inspect", "-f", "{{.Config.Image}}", f"{cluster}-control-plane", timeout=60).strip()
    except (BundleError, KindlbError):
        return None
    return out or None


def save(file: str | Path, metallb_version: str | None = None, *, from_lab: bool = False,
         node_image: str | None = None, nginx_image: str | None = None, probe_image: str | None = None,
         manifest: str | Path | None = None, log: Callable[[str], None] = lambda m: None) -> dict:
    """Write one bundle FILE with the node, MetalLB, nginx and probe images and MetalLB's manifest.

    Images come from the local Docker engine (pulled when missing, online). With FROM_LAB, the
    offline lab's images and manifest; otherwise kind's node image of the running ``kindlb``
    cluster (or NODE_IMAGE), ``nginx:1.27``, ``busybox:1.36`` and the release's manifest URL.
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
    from ..cluster.containers import PROBE_IMAGE

    node_image = node_image or _cluster_node_image()
    if not node_image:
        raise BadInput("which kind node image? pass --node-image (e.g. kindest/node:v1.34.0), or create the "
                       "kindlb cluster first and its node image is taken")
    nginx_image = nginx_image or "nginx:1.27"
    probe_image = probe_image or PROBE_IMAGE
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
                  ("probe", probe_image)]
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
    if first is None or first.name != MANIFEST or not first.isfile() or first.size > 1 << 20:
        raise BundleError(f"{name} is not a kindlb bundle (it does not start with {MANIFEST}): "
                          "make one with `kindlb bundle save FILE`")
    try:
        meta = json.loads(tar.extractfile(first).read())
    except (ValueError, tarfile.TarError) as exc:
        raise BundleError(f"{name}: its {MANIFEST} is damaged ({exc}): copy the bundle again") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BundleError(f"{name} is not a kindlb bundle ({MANIFEST} says format {meta.get('format')!r}): "
                          "make one with `kindlb bundle save FILE`" if isinstance(meta, dict) else
                          f"{name} is not a kindlb bundle")
    if meta.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{name} is a version-{meta.get('format_version')} bundle; this kindlb reads version "
                          f"{FORMAT_VERSION}: save it again with this kindlb")
    return meta


def _scan(file: str | Path, metallb_version: str | None, extract_to: Path | None) -> dict:
    """Read the whole archive once: manifest first, every member's size and sha256; extract when asked."""
    path = Path(file).expanduser()
    if not path.is_file():
        raise BadInput(f"no bundle at {path}: give the file `kindlb bundle save` wrote")
    name = str(path)
    seen: dict[str, str] = {}
    meta: dict | None = None
    try:
        with tarfile.open(path, "r|") as tar:
            meta = _read_manifest(tar, name)
            if metallb_version is not None:
                asked = normalize_version(metallb_version)
                if meta.get("metallb_version") != asked:
                    raise BundleError(f"{name} holds MetalLB {meta.get('metallb_version')}, not {asked}: use a bundle "
                                      f"made with `kindlb bundle save FILE --metallb {asked}`, or drop --metallb")
            expected = meta.get("files") or {}
            while (member := tar.next()) is not None:
                rel = member.name
                if rel not in expected or not member.isfile() or ".." in Path(rel).parts or rel.startswith("/"):
                    raise BundleError(f"{name}: unexpected member {rel!r}, not listed in its {MANIFEST}: "
                                      "the bundle was altered; make it again")
                h, size = hashlib.sha256(), 0
                src = tar.extractfile(member)
                dst = None
                if extract_to is not None:
                    (extract_to / rel).parent.mkdir(parents=True, exist_ok=True)
                    dst = open(extract_to / rel, "wb")
                try:
                    for chunk in iter(lambda: src.read(_CHUNK), b""):
                        h.update(chunk)
                        size += len(chunk)
                        if dst:
                            dst.write(chunk)
                finally:
                    if dst:
                        dst.close()
                if size != expected[rel]["size"] or h.hexdigest() != expected[rel]["sha256"]:
                    raise BundleError(f"{name}: {rel} is damaged ({size} of {expected[rel]['size']} bytes, or a "
                                      "different sha256): the file is truncated or corrupt; copy it again")
                seen[rel] = h.hexdigest()
    except tarfile.TarError as exc:
        if meta is not None:  # it began as a bundle: the rest is missing or broken
            raise BundleError(f"{name} is truncated ({exc}, {len(seen)} of {len(meta.get('files') or {})} files "
                              "whole): copy the bundle again") from None
        raise BundleError(f"{name} is truncated or not a tar archive ({exc}): copy the bundle again, or make it "
                          "with `kindlb bundle save FILE`") from None
    except EOFError:
        raise BundleError(f"{name} is truncated: copy the bundle again") from None
    missing = sorted(set(meta.get("files") or {}) - set(seen))
    if missing:
        raise BundleError(f"{name} is incomplete (truncated?): missing {', '.join(missing)}; copy it again")
    if not any(f.startswith("metallb/") for f in seen) or not meta.get("images"):
        raise BundleError(f"{name} has no MetalLB manifest or no images: make it again with `kindlb bundle save`")
    return meta


def verify(file: str | Path, metallb_version: str | None = None) -> dict:
    """Check every member of the bundle against its manifest; load nothing. Returns the manifest."""
    return _scan(file, metallb_version, None)


def _kind_exe() -> str:
    from ..cluster.kube import kind_binary

    try:
        return kind_binary()
    except KindlbError:
        from importlib import import_module
        from importlib.util import find_spec

        if find_spec("kindlb_lab"):
            exe = import_module("kindlb_lab").bin_dir() / "kind"
            if exe.exists():
                return str(exe)
        raise


def _clusters() -> list[str]:
    from ..cluster.kube import kind_clusters

    try:
        _kind_exe()
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
    clusters: list[str] = []
    if not docker_only:
        existing = _clusters()
        if cluster is not None and cluster not in existing:
            raise BadInput(f"no kind cluster {cluster!r} (have: {', '.join(existing) or 'none'}): create it, "
                           "or leave out --cluster to load into Docker only")
        clusters = [cluster] if cluster else [c for c in ("kindlb",) if c in existing]
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        log(f"verifying {file} ...")
        meta = _scan(file, metallb_version, staging)
        version = meta["metallb_version"]
        for tarname in dict.fromkeys(img["file"] for img in meta["images"]):
            log(f"docker load {tarname} ...")
            _docker("load", "-i", str(staging / tarname))
        for img in meta["images"]:
            if image_id(img["ref"]) != img["id"]:
                raise BundleError(f"after docker load, {img['ref']} is not image {img['id'][:19]}: another image "
                                  "took the tag? load the bundle again")
        for name in clusters:
            exe = _kind_exe()
            for img in meta["images"]:
                if img["role"] in NODE_ROLES:
                    log(f"kind load image-archive {img['ref']} into {name} ...")
                    r = run([exe, "load", "image-archive", "--name", name, str(staging / img["file"])],
                            what="kind load image-archive", timeout=1800, check=False)
                    if r.returncode != 0:
                        raise BundleError(f"kind load image-archive into {name} failed: {r.stderr.strip()[-600:]}")
        keep = staging / "keep"
        keep.mkdir()
        shutil.move(str(staging / "metallb"), keep / "metallb")
        (keep / MANIFEST).write_text(json.dumps(meta, indent=1))
        final = root / version
        old = root / f".old-{version}-{os.getpid()}"
        if final.exists():
            final.rename(old)
        keep.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"file": str(file), "metallb_version": version, "images": [i["ref"] for i in meta["images"]],
            "clusters": clusters, "manifest_dir": str(final / "metallb"), "seconds": round(time.monotonic() - t0, 1)}


def into_cluster(cluster: str, loaded: Loaded, log: Callable[[str], None] = lambda m: None) -> list[str]:
    """Load a loaded bundle's MetalLB and nginx images from Docker into CLUSTER's nodes (when it exists).

    ``kind load docker-image`` skips the nodes that have an image already, so this is cheap to repeat.
    Returns the images loaded; [] when the cluster does not exist (yet).
    """
    if cluster not in _clusters():
        return []
    exe = _kind_exe()
    os.environ.setdefault("KINDLB_KIND", exe)
    refs = [i["ref"] for i in loaded.manifest["images"] if i["role"] in NODE_ROLES]
    missing = [r for r in refs if image_id(r) is None]
    if missing:
        raise BundleError(f"{', '.join(missing)} left Docker since the bundle was loaded: "
                          "run `kindlb bundle load FILE` again")
    log(f"kind load docker-image {' '.join(refs)} into {cluster} ...")
    r = run([exe, "load", "docker-image", "--name", cluster, *refs], what="kind load docker-image", timeout=1800,
            check=False)
    if r.returncode != 0:
        raise BundleError(f"kind load docker-image into {cluster} failed: {r.stderr.strip()[-600:]}")
    return refs
