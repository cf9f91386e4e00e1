"""Saving: every image the series needs and MetalLB's manifest, in one bundle file (``kindlb bundle save``)."""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable

from ..._core.errors import BadInput, KindlbError
from ..._core.paths import file_to_write, path_error
from ..._core.release import release
from ..._core.versions import KIND_VERSION, NGINX_ONLINE_IMAGE, NODE_IMAGE, PROBE_ONLINE_IMAGE, pins
from .dockercli import docker_cli, require_image
from .format import CHUNK, FORMAT, FORMAT_VERSION, MANIFEST, BundleError, normalize_version


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
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
        from ..._cluster.metallb import manifest_url

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
    from ..._cluster.offline import source

    lab = source("lab", hint="--from-lab needs the offline lab: `pip install -e lab/` in a clone of kindlb")
    ver = lab.metallb_version(version)
    return {"version": ver, "node": lab.image("node"), "nginx": lab.image("nginx"), "probe": lab.image("probe"),
            "manifest": lab.manifest_source(ver)}


def _cluster_node_image(cluster: str = "kindlb") -> str | None:
    try:
        out = docker_cli("inspect", "-f", "{{.Config.Image}}", f"{cluster}-control-plane", timeout=60).strip()
    except (BundleError, KindlbError):
        return None
    return out or None


def contents(metallb_version: str | None = None, from_lab: bool = False) -> list[tuple[str, str | None]]:
    """What ``kindlb bundle save`` puts in a bundle when no image is named, by role, in the archive's order:
    the node image, MetalLB's controller and speaker, nginx, the probe, the BGP router. Online the node image
    is None: the running ``kindlb`` cluster's (``--node-image`` otherwise). Reads nothing; docs/workshop.md's
    table is checked against it.

    >>> [role for role, _ in contents()]
    ['node', 'metallb', 'metallb', 'nginx', 'probe', 'router']
    >>> dict(contents(from_lab=True))["nginx"]
    'kindlb.local/nginx:1.22.1'
    """
    metallb = [("metallb", ref) for ref in release(normalize_version(metallb_version)).images.values()]
    p = pins()
    if from_lab:
        return [("node", p["NODE_IMAGE"]), *metallb, ("nginx", p["NGINX_IMAGE"]), ("probe", p["PROBE_IMAGE"]),
                ("router", p["FRR_IMAGE"])]
    return [("node", None), *metallb, ("nginx", NGINX_ONLINE_IMAGE), ("probe", PROBE_ONLINE_IMAGE),
            ("router", p["FRR_ONLINE_IMAGE"])]


def save(file: str | Path, metallb_version: str | None = None, *, from_lab: bool = False,
         node_image: str | None = None, nginx_image: str | None = None, probe_image: str | None = None,
         manifest: str | Path | None = None, router_image: str | None = None,
         log: Callable[[str], None] = lambda m: None) -> dict:
    """Write one bundle FILE with the node, MetalLB, nginx, probe and BGP router images and MetalLB's manifest.

    Images come from the local Docker engine (pulled when missing, online). With FROM_LAB, the
    offline lab's images and manifest; otherwise kind's node image of the running ``kindlb``
    cluster (or NODE_IMAGE), the online nginx and busybox (``NGINX_ONLINE_IMAGE``, ``PROBE_ONLINE_IMAGE``
    in versions.env), FRR's ``FRR_ONLINE_IMAGE`` (notebook 07_bgp's router, run by Docker, not loaded
    into the nodes) and the release's manifest URL.
    """
    t0 = time.monotonic()
    version = normalize_version(metallb_version)
    out = _bundle_path(file, version)  # the user's path first: said before any image is read
    if from_lab:
        lab = _from_lab(version)
        version = lab["version"]
        node_image = node_image or lab["node"]
        nginx_image = nginx_image or lab["nginx"]
        probe_image = probe_image or lab["probe"]
        manifest = manifest or lab["manifest"]
        router_image = router_image or dict(contents(version, from_lab=True))["router"]
    online = dict(contents(version))
    node_image = node_image or _cluster_node_image()
    if not node_image:
        raise BadInput(f"which kind node image? pass --node-image (e.g. kind {KIND_VERSION}'s kindest/node image, "
                       f"or the offline lab's {NODE_IMAGE}), or create the kindlb cluster first and its node image "
                       "is taken")
    nginx_image = nginx_image or online["nginx"]
    probe_image = probe_image or online["probe"]  # the probe the series runs online
    router_image = router_image or online["router"]
    try:
        return _write_bundle(out, version, t0, from_lab, node_image, nginx_image, probe_image, router_image,
                             manifest, log)
    except OSError as exc:  # a full disk, a folder made read-only meanwhile: the user's path and the fix
        where = exc.filename or out
        if str(where).startswith(str(out.parent)):
            raise path_error(out, exc, "write the bundle") from None
        raise path_error(where, exc, "read") from None  # --manifest's file or folder


def _bundle_path(file: str | Path, version: str) -> Path:
    """FILE as the bundle to write: not a folder, its name fits, its folder exists (made) and is writable."""
    out = Path(file).expanduser()
    try:
        is_dir = out.is_dir()
    except OSError as exc:
        raise path_error(file, exc, "write the bundle") from None
    if is_dir:
        raise BadInput(f"{out} is a folder: give the bundle's file name, e.g. {out / f'kindlb-{version}.tar'}")
    file_to_write(out, "write the bundle")
    try:  # written first as NAME.partial, then renamed: that name must fit too
        out.with_name(out.name + ".partial").lstat()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise path_error(out, exc, "write the bundle") from None
    return out


def _write_bundle(out: Path, version: str, t0: float, from_lab: bool, node_image: str, nginx_image: str,
                  probe_image: str, router_image: str, manifest, log: Callable[[str], None]) -> dict:
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
            iid = require_image(ref, pull=not from_lab)
            name = f"images/{role}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', ref.rsplit('/', 1)[-1])}.tar"
            log(f"saving {ref} ({role}) ...")
            (work / "images").mkdir(exist_ok=True)
            docker_cli("save", "-o", str(work / name), ref)
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
