"""Where a learner arrives at notebook 07: MetalLB of one era, a layer-2 pool ``default`` and nginx with three
pods, as notebooks 02-04 leave the cluster. One place for the cluster tier and the browser tier."""
from __future__ import annotations

import kindlb_helpers as kh
from kindlb_helpers._lesson.exercises import free_addresses


def as_02_to_04_leave_it(cluster: dict, version: str, *, pool_size: int = 16) -> dict:
    """Make cluster ``cluster["name"]`` so (swapping in MetalLB ``version`` if another release is there; the
    offline lab's manifest and images when the tier runs offline), and return what the tests use: ``k`` (the
    client), ``name``, ``version``, ``crds`` and ``params`` (the notebooks' parameters for this era)."""
    name = cluster["name"]
    params = {**cluster["params"], "metallb_version": version}
    source = None
    if cluster["offline"]:
        import kindlb_lab as lab

        lab.load_metallb(name, version)
        source = params["metallb_source"] = str(lab.manifest_source(version))
    k = kh.cluster.connect(name)
    installed = kh.metallb.installed_version(k)
    if installed not in (None, version):
        kh.metallb.uninstall(k, progress=False)
        installed = None
    if installed is None:
        kh.metallb.install(k, version, source)
    kh.metallb.wait_ready(k, timeout=300, progress=False)
    if "default" not in dict(kh.metallb.pools(k)):
        kh.metallb.configure(k, str(free_addresses(k, pool_size, ignore=("ex-", "ts-"))), "default")
    kh.app.deploy(k, "nginx", image=params.get("image", kh.app.DEFAULT_IMAGE), replicas=3)
    kh.app.wait_rollout(k, "nginx", "default", timeout=180, progress=False)
    kh.app.wait_external_ip(k, "nginx", timeout=60, progress=False)
    return {"version": version, "params": params, "crds": kh.metallb.uses_crds(version), "k": k, "name": name}
