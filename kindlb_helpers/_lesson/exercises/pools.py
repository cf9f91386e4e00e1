"""The cluster's pools as the exercises (and notebook 08) read and edit them, in either MetalLB era.

The objects come from :func:`kindlb_helpers._core.manifests.metallb_manifests` (the ConfigMap era's from
:func:`~kindlb_helpers._core.manifests.configmap`) and are applied by
:func:`kindlb_helpers._cluster.metallb.apply_pool` (which waits for the webhook); this module adds what
an exercise needs beyond one pool: every pool with its ``autoAssign``, a pool added beside the others
(in the ConfigMap era that is one more entry of the one ConfigMap), a pool removed, free addresses.
"""
from __future__ import annotations

import yaml

from ..._cluster.kube import Kind, delete, get_or_none
from ..._cluster.metallb import configmap_pools  # re-exported: the exercises' callers use it
from ..._core import hood as _hood
from ..._core.errors import KindlbError
from ..._core.manifests import API_VERSION, NAMESPACE, configmap, metallb_manifests
from ..._core.pool import PoolRange
from ..._core.release import Release, release

# configmap: core.manifests' (the ConfigMap era's one object), for the exercises' callers
__all__ = ["era_of", "pool_config", "configmap_pools", "configmap", "configmap_with", "add_pool", "remove_pool",
           "free_addresses", "to_ranges"]


def era_of(kind: Kind) -> Release:
    """The MetalLB release installed in ``kind`` (what it reads, from :mod:`kindlb_helpers._core.release`)."""
    from ..._cluster.metallb import installed_version

    version = installed_version(kind)
    if version is None:
        raise KindlbError(f"MetalLB is not installed in {kind.cluster!r}: run notebooks 02 and 03 first")
    return release(version)


def pool_config(kind: Kind) -> dict[str, dict]:
    """Every pool by name: ``{"addresses": [...], "auto_assign": bool}``, read from the era's objects."""
    if era_of(kind).uses_crds:
        listed = get_or_none(kind.custom.list_namespaced_custom_object, "metallb.io", "v1beta1", NAMESPACE,
                             "ipaddresspools") or {"items": []}
        return {i["metadata"]["name"]: {"addresses": i["spec"].get("addresses", []),
                                        "auto_assign": i["spec"].get("autoAssign", True)} for i in listed["items"]}
    return {p["name"]: {"addresses": p.get("addresses", []), "auto_assign": p.get("auto-assign", True)}
            for p in configmap_pools(kind)}


def to_ranges(specs) -> list[PoolRange]:
    """Address specs (``a-b``, CIDR, one address) as ranges."""
    return [PoolRange.parse(s) for s in specs]


def _pool_objects(kind: Kind, rel: Release, name: str, specs: list[str], auto_assign: bool) -> list[dict]:
    """The era's objects for pool ``name`` beside the others: metallb_manifests' own, or (ConfigMap era) the
    one ConfigMap with its entry added or replaced."""
    objects = metallb_manifests(specs, rel.tag, name=name, auto_assign=auto_assign)
    if rel.uses_crds:
        return objects
    return [configmap_with(kind, yaml.safe_load(objects[0]["data"]["config"])["address-pools"][0])]


def configmap_with(kind: Kind, entry: dict) -> dict:
    """The cluster's one ConfigMap with the pool ``entry`` added, or replacing the pool of its name."""
    return configmap([p for p in configmap_pools(kind) if p["name"] != entry["name"]] + [entry])


def add_pool(kind: Kind, name: str, addresses, auto_assign: bool = True) -> _hood.Done:
    """Add (or change) the pool ``name`` in either era (notebook 08 uses it to stage failures)."""
    from ..._cluster.metallb import apply_pool

    rel = era_of(kind)
    specs = [str(PoolRange.parse(a)) for a in ([addresses] if isinstance(addresses, (str, PoolRange)) else addresses)]
    objects = _pool_objects(kind, rel, name, specs, auto_assign)
    done = apply_pool(kind, objects)
    return _hood.Done(f"pool {name}: {', '.join(specs)} (autoAssign {auto_assign}) — applied {', '.join(done)}",
                      _hood.apply_steps(kind.cluster, objects, f"{name}-pool.yaml", f"pool {name}"))


def remove_pool(kind: Kind, name: str) -> _hood.Done:
    """Remove the pool ``name`` (its IPAddressPool and L2Advertisement, or its ConfigMap entry); safe twice."""
    from ..._cluster.kube import server_side_apply as _apply

    if era_of(kind).uses_crds:
        gone = [k for k in ("L2Advertisement", "IPAddressPool") if delete(kind, API_VERSION, k, name, NAMESPACE)]
        hood = _hood.Hood(f"remove pool {name}", [_hood.Step(_hood.kubectl(
            kind.cluster, "delete", "l2advertisement,ipaddresspool", name, "--ignore-not-found", namespace=NAMESPACE))])
        return _hood.Done(f"pool {name}: {'removed ' + ', '.join(gone) if gone else 'was not there'}", hood)
    pools = configmap_pools(kind)
    kept = [p for p in pools if p["name"] != name]
    objects = [configmap(kept)]
    if len(kept) != len(pools):
        _apply(kind, objects)
    return _hood.Done(f"pool {name}: {'removed from' if len(kept) != len(pools) else 'was not in'} ConfigMap config",
                      _hood.apply_steps(kind.cluster, objects, "metallb-config.yaml", f"remove pool {name}"))


def free_addresses(kind: Kind, size: int, ignore: tuple[str, ...] = ()) -> PoolRange:
    """``size`` free addresses on the kind network, clear of nodes, containers and every cluster's pools
    (this cluster's pools named with a prefix in ``ignore`` do not count: exercises find their own again)."""
    from ..._cluster.dockernet import kind_network
    from ..._cluster.metallb import other_clusters_pools, pools
    from ..._cluster.network import clusters_on, plan_for
    from ..._core.pool import Reserved

    net = kind_network()
    taken = other_clusters_pools(kind.cluster, clusters_on(net))
    taken += [Reserved(f"pool {p}", r) for p, r in pools(kind) if not p.startswith(ignore or ("\0",))]
    return plan_for(net, 4, size, taken)[0]
