"""Cleanup of BGP mode: the BGP Service, MetalLB's BGP objects (or the ConfigMap's peers and bgp pool), the
router and the client removed; and what of them is still there.
"""
from __future__ import annotations

import shlex

from ..._cluster import router as _router
from ..._cluster.kube import Kind, delete, delete_if_there, get_or_none
from ..._cluster.metallb import apply_pool, installed_version, pools
from ..._core import bgp_config as _bgp
from ..._core import hood as _hood
from ..._core.manifests import NAMESPACE
from ..._core.release import release
from .peering import configmap_config
from .routes import SERVICE


def remove(kind: Kind, service: str = SERVICE, namespace: str = "default") -> _hood.Done:
    """Delete the BGP Service, MetalLB's BGP objects (or the ConfigMap's peers and bgp pool), the router
    and the client. Safe to run twice; the layer-2 pool and its Service stay."""
    gone = []
    if delete_if_there(kind.core.delete_namespaced_service, service, namespace):
        gone.append(f"service/{service}")
    version = installed_version(kind)
    steps = [_hood.Step(_hood.kubectl(kind.cluster, "delete", "service", service, "--ignore-not-found",
                                      namespace=namespace), "its address goes back to the pool")]
    if version and release(version).uses_crds:
        for api, kind_name, name in (("metallb.io/v1beta2", "BGPPeer", _bgp.PEER_NAME),
                                     ("metallb.io/v1beta1", "BGPAdvertisement", _bgp.POOL_NAME),
                                     ("metallb.io/v1beta1", "IPAddressPool", _bgp.POOL_NAME)):
            if delete(kind, api, kind_name, name, NAMESPACE):
                gone.append(f"{kind_name.lower()}/{name}")
        steps.append(_hood.Step(_hood.kubectl(kind.cluster, "delete", "bgppeer/router", "bgpadvertisement/bgp",
                                              "ipaddresspool/bgp", "--ignore-not-found", namespace=NAMESPACE)))
    elif version:
        config = configmap_config(kind)
        if "peers" in config or any(x.get("name") == _bgp.POOL_NAME for x in config.get("address-pools", [])):
            objects = [_bgp.configmap(_bgp.without_bgp(config))]
            apply_pool(kind, objects)
            gone.append("configmap/config: peers and pool bgp")
            steps.append(_hood.Step(_hood.kubectl(kind.cluster, "apply", "-f", "metallb-config.yaml",
                                                  namespace=NAMESPACE),
                                    "the ConfigMap as it was: the layer-2 pool only",
                                    files=(("metallb-config.yaml", objects),)))
    for name in _router.remove(kind.cluster):
        gone.append(f"container {name}")
    steps.append(_hood.Step(shlex.join(["docker", "rm", "-f", _router.router_name(kind.cluster),
                                        _router.client_name(kind.cluster)])))
    return _hood.Done(f"removed {len(gone)}: " + (", ".join(gone) if gone else "nothing was left"),
                      _hood.Hood("remove the BGP setup", steps), gone)


def leftovers(kind: Kind) -> list[str]:
    """What of the BGP setup is still there (empty after :func:`remove`)."""
    left = []
    if get_or_none(kind.core.read_namespaced_service, SERVICE, "default") is not None:
        left.append(f"service/{SERVICE}")
    version = installed_version(kind)
    if version and release(version).uses_crds:
        for group_version, plural in (("v1beta2", "bgppeers"), ("v1beta1", "bgpadvertisements")):
            listed = get_or_none(kind.custom.list_namespaced_custom_object, "metallb.io", group_version, NAMESPACE,
                                 plural) or {"items": []}
            left += [f"{plural}/{i['metadata']['name']}" for i in listed["items"]]
    elif version:
        config = configmap_config(kind)
        left += ["configmap peers"] if config.get("peers") else []
    left += [f"pool {n}" for n, r in pools(kind) if n == _bgp.POOL_NAME]
    from ..._cluster.dockernet import docker_client

    client = docker_client()
    left += [f"container {c.name}" for c in client.containers.list(
        all=True, filters={"label": f"{_router.LABEL}={kind.cluster}"})]
    return left
