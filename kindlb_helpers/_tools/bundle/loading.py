"""Loading: a verified bundle into Docker and a kind cluster's nodes, rolled back when a step fails.

``load`` reads the archive once, checking every member against the manifest as it streams by, and loads
nothing before the whole of it is proved: a truncated, foreign or other-version archive stops with a
message and leaves Docker, the clusters and the cache as they were. Then it loads into Docker the images
Docker lacks (same image ID: not loaded again), puts the manifest where the notebooks and
``kindlb run --offline`` find it (``~/.cache/kindlb/bundle/<version>/``, ``$KINDLB_BUNDLE_CACHE``), and, with
a cluster named, creates that cluster from the bundle's node image when it does not exist and loads MetalLB
and nginx into its nodes: the room's one command per laptop.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from ..._cluster.clusters import kind_clusters
from ..._cluster.sources import bundle_cache
from ..._core.errors import KindlbError
from ..._core.params import check
from .dockercli import docker_answers, docker_cli, image_id
from .format import MANIFEST, NODE_ROLES, BundleError
from .verify import bundle_file, scan


def load(file: str | Path, metallb_version: str | None = None, cluster: str | None = None,
         docker_only: bool = False, workers: int = 2, log: Callable[[str], None] = lambda m: None) -> dict:
    """Verify the bundle completely, load it into Docker and note its manifest; then the cluster's nodes.

    The file is read once (a USB stick is slow): every member is hashed and checked against the manifest as
    it streams by, and the image archives Docker still needs are written to a staging folder meanwhile.
    Nothing is loaded until the whole archive is proved. An image Docker holds already under the same image
    ID is not loaded again (only tagged, when the tag is missing).

    CLUSTER: also into that kind cluster's nodes (MetalLB's images and nginx); when it does not exist, it is
    created first from the bundle's node image with the config notebook 00 writes (one control plane,
    WORKERS workers), so that one command prepares a laptop. None: into ``kindlb``'s nodes when that cluster
    exists. DOCKER_ONLY: no cluster at all.
    """
    t0 = time.monotonic()
    bundle_file(file)  # the user's path first, before Docker is asked anything
    check(workers=workers, **({} if cluster is None else {"cluster": cluster}))
    docker_answers()
    clusters: list[str] = []
    create = False
    if not docker_only:  # the cluster is named by the user: checked before the archive is read
        try:
            existing = kind_clusters()
        except KindlbError:  # Docker could not list them: Docker only, unless a cluster is named (then said below)
            existing = []
        if cluster is not None and cluster not in existing:
            from ..._cluster.kind import kind_binary

            kind_binary()  # kind must be here to create it: said before the archive is read
            create = True
        clusters = [cluster] if cluster else [c for c in ("kindlb",) if c in existing]
    root = bundle_cache()
    made = [p for p in (root, *root.parents) if not p.exists()]  # a failed load removes them again
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    state: dict = {}

    def wanted(meta: dict) -> list[str]:
        """Called once the manifest is proved: what Docker has now, and the members to write."""
        refs = list(dict.fromkeys(img["ref"] for img in meta["images"]))
        state["before"] = {ref: image_id(ref) for ref in refs}  # a failed load puts exactly this back
        state["new_ids"] = {img["id"] for img in meta["images"] if image_id(img["id"]) is None}
        return [rel for rel in meta["files"] if rel.startswith("metallb/")] + \
            [img["file"] for img in meta["images"] if img["id"] in state["new_ids"]]

    loading = False
    try:
        log(f"verifying {file} (read once; the images Docker lacks are staged in {root} meanwhile) ...")
        meta = scan(file, metallb_version, staging, wanted)  # proved whole before anything is loaded
        version = meta["metallb_version"]
        loading = True
        loaded, present = [], []
        for tarname in dict.fromkeys(img["file"] for img in meta["images"]):
            imgs = [img for img in meta["images"] if img["file"] == tarname]
            if not any(img["id"] in state["new_ids"] for img in imgs):
                for img in imgs:  # the same image ID is in Docker: tag it, load nothing
                    if image_id(img["ref"]) != img["id"]:
                        docker_cli("tag", img["id"], img["ref"], timeout=120)
                    present.append(img["ref"])
                log(f"already in Docker (same image ID): {', '.join(i['ref'] for i in imgs)}")
                continue
            log(f"docker load {tarname} ...")
            try:
                docker_cli("load", "-i", str(staging / tarname))
            except BundleError as exc:
                raise BundleError(f"docker load of {tarname} failed, so the images loaded before it were removed "
                                  f"again ({str(exc).splitlines()[0][-200:]}): the bundle is damaged; make it "
                                  "again") from None
            loaded += [img["ref"] for img in imgs]
        for img in meta["images"]:
            if image_id(img["ref"]) != img["id"]:
                raise BundleError(f"after docker load, {img['ref']} is not image {img['id'][:19]}: another image "
                                  "took the tag? load the bundle again")
        keep = staging / "keep"
        keep.mkdir()
        shutil.move(str(staging / "metallb"), keep / "metallb")
        noted = {**meta, "loaded_from": str(Path(file).expanduser().resolve()),  # the doctor names the file
                 "loaded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        (keep / MANIFEST).write_text(json.dumps(noted, indent=1))
        final = root / version  # a known release's name: checked by check_manifest
        old = root / f".old-{version}-{os.getpid()}"
        if final.exists():
            final.rename(old)
        keep.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if loading:
            _roll_back(state.get("before", {}), state.get("new_ids", set()), log)
        shutil.rmtree(staging, ignore_errors=True)
        for folder in made:  # the cache as it was: not even an empty folder left behind
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    shutil.rmtree(staging, ignore_errors=True)
    refs = list(dict.fromkeys(img["ref"] for img in meta["images"]))
    info = {"file": str(file), "metallb_version": version, "images": refs, "loaded": loaded,
            "already": present, "clusters": clusters, "created": None, "node_images": [],
            "manifest_dir": str(final / "metallb")}
    # the bundle is in Docker and the cache now: a failing cluster step leaves it there (running the same
    # command again loads nothing twice)
    for name in clusters:
        node_refs = [img["ref"] for img in meta["images"] if img["role"] in NODE_ROLES]
        try:
            if create and name == cluster:
                node = next(img["ref"] for img in meta["images"] if img["role"] == "node")
                log(f"kind create cluster --name {name} --image {node} (1 control plane, {workers} workers) ...")
                info["created"] = _create(name, node, workers)
            log(f"kind load docker-image {' '.join(node_refs)} --name {name} ...")
            _kind_load(name, images=node_refs)
        except KindlbError as exc:
            raise BundleError(f"the bundle is loaded into Docker, but the cluster {name!r} is not ready: "
                              f"{str(exc).strip()}\nfix that, then run the same command again (nothing is loaded "
                              "twice)") from exc
        info["node_images"] = node_refs
    info["seconds"] = round(time.monotonic() - t0, 1)
    return info


def _create(cluster: str, node_image: str, workers: int) -> dict:
    """Create CLUSTER from NODE_IMAGE as notebook 00 does (:func:`ensure_cluster`); what was created."""
    from ..._cluster.kube import ensure_cluster

    up = ensure_cluster(cluster, workers=workers, image=node_image, by="kindlb bundle load")
    return {"name": cluster, "image": node_image, "nodes": 1 + workers, "created": up.created,
            "context_changed": up.context_changed, "previous_context": up.previous_context}


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
                docker_cli("rmi", "--no-prune", ref, timeout=120)
            else:
                docker_cli("tag", old, ref, timeout=120)
        except KindlbError as exc:
            log(f"could not put {ref} back as it was: {exc}")
    for iid in new_ids:
        if image_id(iid) is not None:
            try:
                docker_cli("rmi", iid, timeout=120)
            except KindlbError:
                pass  # tagged by something else meanwhile: not ours to remove


def _kind_load(cluster: str, images: list[str] = (), archive: str | None = None) -> None:
    from ..._cluster.kind import kind_load
    from ..._core.errors import CommandFailed

    try:
        kind_load(cluster, images, archive)
    except CommandFailed as exc:
        raise BundleError(str(exc)) from exc
