"""The cluster's life: create a kind cluster unless it exists (:func:`ensure_cluster`), delete it."""
from __future__ import annotations

import dataclasses
import os
import tempfile

from ..._core import hood as _hood
from ..._core.errors import KindlbError
from ..._core.objects import kind_config
from ..._core.views import Viewed
from ..clusters import kind_clusters
from ..kind import kind as _kind
from ..kubeconfig import current_context, has_context, write_context
from . import origin as _origin
from .boundary import DEFAULT_CLUSTER


class Ensured(tuple, Viewed):
    """``(created, message)`` from :func:`ensure_cluster`, plus ``context_changed``, ``previous_context``
    and ``hood`` (the ``kind`` command and config file, or the checks a reuse amounts to)."""

    def __new__(cls, created: bool, message: str, context_changed: bool = False,
                previous_context: str | None = None, hood=None) -> "Ensured":
        self = super().__new__(cls, (created, message))
        self.created, self.message = created, message
        self.context_changed, self.previous_context = context_changed, previous_context
        self.hood = hood
        return self


def ensure_cluster(
    cluster: str = DEFAULT_CLUSTER,
    *,
    workers: int = 2,
    image: str | None = None,
    wait: str = "180s",
    ip_family: str = "ipv4",
    by: str = "notebook 00_prerequisites",
) -> Ensured:
    """Create kind cluster ``cluster`` unless it exists. Returns (created, message).

    Reusing a cluster leaves the kubeconfig's current context as it was (a missing
    ``kind-<cluster>`` context is written beside the others). Creating one lets kind make
    ``kind-<cluster>`` the current context, as ``kind create cluster`` always does; the result's
    ``context_changed`` and the message say so. ``ip_family="dual"`` writes kind's
    ``networking.ipFamily: dual`` (a dual-stack cluster); an existing cluster is reused as it is.

    A cluster it creates gets a record of its config and of BY, who asked (kube/origin.py); reusing one shows the
    ``kind create cluster`` command and config that made it (that record, else read off its node containers).
    """
    config = kind_config(workers, ip_family)  # checks workers and ip_family before anything runs
    before = current_context()
    if cluster in kind_clusters():
        note = ""
        if not has_context(cluster):
            write_context(cluster)
            note = f"; wrote its context kind-{cluster} (your current context is unchanged)"
        made = _origin.read_cluster(cluster)
        reused = Ensured(False, f"kind cluster {cluster!r} exists: reusing it{note}"
                         + (f"\n{made.sentence()}" if made else ""), False, before, _made_hood(cluster, made))
        reused.origin = made
        return reused
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(config)
    args = ["create", "cluster", "--name", cluster, "--config", fh.name, "--wait", wait]
    if image:
        args += ["--image", image]
    try:
        out = _kind(*args, timeout=900)
    finally:
        os.unlink(fh.name)
    if out.returncode != 0:
        raise KindlbError(f"kind create cluster --name {cluster} failed:\n{out.stderr.strip()[-3000:]}")
    after = current_context()
    changed = after != before
    text = out.stderr.strip()
    if changed:
        text += (f"\nkind made {after!r} your current kube context (it was {before!r}); "
                 f"`kubectl config use-context {before}` switches back" if before else
                 f"\nkind made {after!r} your current kube context")
    _origin.record_cluster(cluster, config, image, by, wait)  # for 00 to show later, when the cluster is reused
    hood = _hood.create_cluster_steps(cluster, config, image, wait)
    loaded = _preload(cluster, image)
    if loaded:
        text += f"\nloaded {', '.join(loaded)} into its nodes (from this machine: no registry is asked)"
        hood.steps.insert(1, _hood.Step(f"kind load docker-image {' '.join(loaded)} --name {cluster}",
                                        "the offline images MetalLB and nginx run, into the new nodes"))
    return Ensured(True, text, changed, before, hood)


def _preload(cluster: str, image: str | None) -> list[str]:
    """A cluster made from an offline node image (a loaded bundle's, the lab's) gets the offline MetalLB and nginx
    images in its nodes at once, so that 02 and 04 need no registry either; [] otherwise."""
    from ..dockernet import image_id
    from ..kind import kind_load
    from ..sources import node_images, resolve_all

    found = resolve_all(metallb_source=None, image=None)
    if not image or not found.offline or image != resolve_all(node_image=None).node_image:
        return []
    refs = [ref for ref in node_images(found) if image_id(ref) is not None]
    if refs:
        kind_load(cluster, refs)
    return refs


def _made_hood(cluster: str, made: _origin.Origin | None) -> _hood.Hood:
    """What a person checks before reusing a cluster, after the command and config that made it (when known)."""
    reuse = _hood.reuse_cluster_steps(cluster)
    if made is None:
        return reuse
    create = _hood.create_cluster_steps(cluster, made.config, made.image, made.wait).steps[0]
    when = f" on {made.created}" if made.created else ""
    shown = dataclasses.replace(create, why=f"how it was made ({made.by}{when}); not run again now")
    return _hood.Hood(f"kind cluster {cluster!r}: how it was made, and reusing it", [shown, *reuse.steps])


def delete_cluster(cluster: str) -> bool:
    """Delete kind cluster ``cluster``; False when there was none."""
    if cluster not in kind_clusters():
        return False
    out = _kind("delete", "cluster", "--name", cluster, timeout=300)
    if out.returncode != 0:
        raise KindlbError(f"kind delete cluster --name {cluster} failed: {out.stderr.strip()}")
    from ..containers import remove_probe_box

    remove_probe_box(cluster)  # it sits on the kind network, outside the cluster: kind leaves it behind
    return True
