"""The cluster as the cluster-tier and browser-tier tests need it, in one place: MetalLB of one era (another
release, left by a slot's previous user, is swapped out first), a pool and a namespace of a test's own, and
where a learner arrives at notebook 07 (MetalLB, a layer-2 pool ``default`` and nginx with three pods, as
notebooks 02-04 leave the cluster)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import kindlb_helpers as kh
from kindlb_helpers._cluster import kube, metallb
from kindlb_helpers._lesson.exercises import free_addresses


def with_metallb(cluster: dict, version: str | None = None) -> dict:
    """MetalLB ``version`` (default: the tier's) installed and ready on cluster ``cluster["name"]`` (the offline
    lab's manifest and images when the tier runs offline); returns what the tests use: ``k`` (the client),
    ``name``, ``version``, ``crds`` and ``params`` (the notebooks' parameters for this era)."""
    name = cluster["name"]
    params = dict(cluster["params"])
    version = version or params.get("metallb_version") or kh.metallb.DEFAULT_VERSION
    params["metallb_version"] = version
    source = None
    if cluster["offline"]:
        import kindlb_lab as lab

        lab.load_metallb(name, version)
        source = params["metallb_source"] = str(lab.manifest_source(version))
    k = kh.cluster.connect(name)
    installed = kh.metallb.installed_version(k)
    if installed is not None and kh.metallb.release(installed) != kh.metallb.release(version):
        kh.metallb.uninstall(k, progress=False)  # MetalLB refuses to mix two releases
        installed = None
    if installed is None:
        kh.metallb.install(k, version, source)
    kh.metallb.wait_ready(k, timeout=300, progress=False)
    return {"version": version, "params": params, "crds": kh.metallb.uses_crds(version), "k": k, "name": name}


def as_02_to_04_leave_it(cluster: dict, version: str, *, pool_size: int = 16) -> dict:
    """Make cluster ``cluster["name"]`` as notebooks 02-04 leave it, with MetalLB ``version``
    (:func:`with_metallb`'s dict)."""
    got = with_metallb(cluster, version)
    k, params = got["k"], got["params"]
    if "default" not in dict(kh.metallb.pools(k)):
        kh.metallb.configure(k, str(free_addresses(k, pool_size, ignore=("ex-", "ts-"))), "default")
    kh.app.deploy(k, "nginx", image=params.get("image", kh.app.DEFAULT_IMAGE), replicas=3)
    kh.app.wait_rollout(k, "nginx", "default", timeout=180, progress=False)
    kh.app.wait_external_ip(k, "nginx", timeout=60, progress=False)
    return got


@contextmanager
def own_pool(k: kube.Kind, prefix: str, size: int) -> Iterator[dict]:
    """A namespace and a pool of ``size`` free addresses (``autoAssign: false``: only Services that ask for it by
    name get its addresses), both named ``PREFIX-<random>``; deleted afterwards (MetalLB stays)."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    addresses = free_addresses(k, size)
    objs = kh.metallb.manifests(str(addresses), kh.metallb.installed_version(k), name, auto_assign=False)
    metallb.apply_pool(k, objs, timeout=120)
    try:
        yield {"namespace": name, "pool": name, "addresses": addresses, "objects": objs}
    finally:
        kube.delete(k, "v1", "Namespace", name)
        for obj in objs:
            kube.delete(k, obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
