"""Loading: a verified bundle into Docker and a kind cluster's nodes, rolled back when a step fails.

``load`` reads the whole archive once, checking every member against the manifest, before it
loads anything: a truncated, foreign or other-version archive stops with a message and leaves
Docker, the clusters and the cache as they were. Then it loads the images into Docker, into the
nodes of the kind cluster (``kind load image-archive``), and puts the manifest where
``kindlb run --offline`` finds it: ``~/.cache/kindlb/bundle/<version>/`` (``$KINDLB_BUNDLE_CACHE``).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from ..._core.errors import BadInput, KindlbError
from .cache import Loaded, cache_dir
from .dockercli import _docker, _docker_answers, image_id
from .format import MANIFEST, NODE_ROLES, BundleError
from .verify import _scan, bundle_file


def _clusters() -> list[str]:
    """The kind clusters the one kind finder's kind lists ([] without kind or Docker)."""
    from ..._cluster.kind import kind_clusters

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
    bundle_file(file)  # the user's path first, before Docker is asked anything
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
    from ..._cluster.kind import kind_load
    from ..._core.errors import CommandFailed

    try:
        kind_load(cluster, images, archive)
    except CommandFailed as exc:
        raise BundleError(str(exc)) from exc
