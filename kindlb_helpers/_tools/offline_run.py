"""``kindlb run --offline``: the one resolver's sources, every image checked in Docker first, never a pull.

The sources come from :func:`kindlb_helpers._cluster.sources.for_run` (the same resolver as the notebooks'
defaults): the user's ``-p`` values, else a loaded bundle, else the offline lab; with neither it refuses at once
(one line saying what to load). Before anything runs, every image the run will use must be in Docker: the node
image (for a cluster that 00 will create), MetalLB's and nginx's (loaded into the nodes), the probe's and the
router's when their notebooks run. A missing one is named, with the command that brings it; nothing asks Docker
to pull. After 00 (or at once, for a cluster that exists) MetalLB's and nginx's images go into the nodes with
``kind load docker-image``, which skips the nodes that have them.
"""
from __future__ import annotations

from typing import Callable

from .._cluster.sources import Source, Sources, for_run, node_images
from .._core.errors import CommandFailed, KindlbError, NoOfflineSource

#: Notebooks that start the probe container, and the one that starts the BGP router.
PROBE_NOTEBOOKS = ("03_", "05_", "06_", "08_")
ROUTER_NOTEBOOKS = ("07_bgp",)


def _bring(source: Source) -> str:
    return {"bundle": "load the bundle again: `kindlb bundle load FILE`",
            "lab": "build it: `kindlb lab build` (or `kindlb lab up`)"}.get(source.origin, "load it into Docker")


def prepare(cluster: str, params: dict, notebooks: list[str]) -> Sources:
    """Resolve every image and manifest for an offline run of NOTEBOOKS on CLUSTER, prove each image is in Docker,
    and fill PARAMS with them (what the user set stays). NoOfflineSource, before anything runs, otherwise."""
    from .._cluster.clusters import kind_clusters
    from .._cluster.dockernet import image_id

    probes = any(n.startswith(PROBE_NOTEBOOKS) for n in notebooks) and params.get("probe_from", "auto") != "host"
    roles = (*(("node",) if any(n.startswith("00_") for n in notebooks) else ()), "metallb", "nginx",
             *(("probe",) if probes else ()),
             *(("router",) if any(n.startswith(ROUTER_NOTEBOOKS) for n in notebooks) else ()))
    found = for_run(params, offline=True, roles=roles)  # only what this run uses (a bundle with no router: 00-06)
    exists = cluster in kind_clusters()
    wanted: list[tuple[str, Source]] = []
    if not exists and "node" in roles:
        wanted.append((found["node"].value, found["node"]))
    wanted += [(ref, found["nginx"] if ref == found["nginx"].value else found["metallb"])
               for ref in node_images(found, found.metallb_version)]
    wanted += [(found[role].value, found[role]) for role in roles if role in ("probe", "router")]
    for ref, source in wanted:
        if ref and image_id(ref) is None:
            whose = f"your {source.role} image" if source.origin == "yours" else \
                f"the {source.where}'s {source.role} image"
            raise NoOfflineSource(f"--offline: {ref} ({whose}) is not in Docker here, and an offline run never "
                                  f"pulls: {_bring(source)}")
    for key, value in found.params().items():
        params.setdefault(key, value)
    params.setdefault("metallb_version", found.metallb_version)
    params["sources"] = "offline"  # a notebook resolving anything else itself refuses online too
    return found


def load_nodes(cluster: str, found: Sources, log: Callable[[str], None] = print) -> list[str]:
    """``kind load docker-image`` of MetalLB's and nginx's images (from the bundle or the lab) into CLUSTER's nodes;
    [] when the cluster does not exist (yet)."""
    from .._cluster.clusters import kind_clusters
    from .._cluster.kind import kind_load

    if cluster not in kind_clusters():
        return []
    refs = node_images(found, found.metallb_version)
    if refs:
        log(f"kind load docker-image {' '.join(refs)} --name {cluster}   (nodes that have them are skipped)")
        try:
            kind_load(cluster, refs)
        except CommandFailed as exc:
            raise KindlbError(str(exc)) from exc
    return refs


def run(run_series: Callable, cluster: str, params: dict, output: str, notebooks: list[str] | None,
        found: Sources, all_notebooks: list[str], log: Callable[[str], None] = print) -> list:
    """The series under ``--offline``: 00 first (it creates the cluster from the offline node image), then the
    offline images into the nodes, then the rest; stops at the first failure."""
    names = notebooks or all_notebooks
    first = [n for n in names if n.startswith("00_")]
    results = run_series(cluster, params, output, first) if first else []
    rest = [n for n in names if n not in first]
    if rest and all(r.ok for r in results):
        load_nodes(cluster, found, log)
        results += run_series(cluster, params, output, rest)
    return results
