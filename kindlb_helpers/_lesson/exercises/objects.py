"""The exercises' own objects: Service YAML as a learner writes it, a LoadBalancer Service applied
(notebook 08 stages failures with it), and the removal of everything named ``ex-*``.
"""
from __future__ import annotations

import yaml

from ..._cluster.kube import Kind, delete, get_or_none
from ..._cluster.waits import Watch, wait_until
from ..._core import hood as _hood
from ..._core.errors import WaitTimeout
from ..._core.manifests import API_VERSION, NAMESPACE
from ..answers import PREFIX
from .pools import era_of, pool_config, remove_pool

__all__ = ["svc_yaml", "docs", "lb_service", "cleanup", "GONE_WITHIN"]

#: How long :func:`cleanup` waits for deleted Services to release their addresses before it removes pools.
GONE_WITHIN = 30


def svc_yaml(name: str, annotations: dict | None = None, port: int = 80, app: str = "nginx",
             extra_spec: dict | None = None) -> dict:
    """A LoadBalancer Service as a learner writes it (selector ``app``, port ``port`` to 80).

    >>> svc_yaml("ex-a", {"metallb.io/address-pool": "ex-one"})["metadata"]
    {'name': 'ex-a', 'annotations': {'metallb.io/address-pool': 'ex-one'}}
    """
    meta: dict = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    spec = {"type": "LoadBalancer", **(extra_spec or {}), "selector": {"app": app},
            "ports": [{"name": "http", "port": port, "targetPort": 80}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def docs(*objs: dict) -> str:
    """The objects as one YAML text, separated by ``---`` (what the answer cell takes)."""
    return "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objs)


def lb_service(kind: Kind, name: str, annotations: dict | None = None, namespace: str = "default",
               app: str = "nginx", policy: str | None = None) -> _hood.Done:
    """A ``type: LoadBalancer`` Service in front of pods labelled ``app`` (notebook 08 stages failures with it)."""
    from ..._cluster.kube import server_side_apply as _apply
    from ..._core.objects import APP_LABEL

    meta: dict = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = dict(annotations)
    spec: dict = {"type": "LoadBalancer", "selector": {APP_LABEL: app},
                  "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}
    if policy:
        spec["externalTrafficPolicy"] = policy
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}
    done = _apply(kind, [obj])
    return _hood.Done(f"applied {', '.join(done)}", _hood.apply_steps(
        kind.cluster, [obj], f"{name}.yaml", f"LoadBalancer Service {name}"), value=obj)


def _gone(kind: Kind, svcs: list[str], namespace: str) -> None:
    """Wait (at most :data:`GONE_WITHIN` s) until the deleted Services are gone; go on regardless after it."""
    def check() -> tuple[bool, str]:
        left = [s for s in svcs if get_or_none(kind.core.read_namespaced_service, s, namespace)]
        return not left, f"{len(left)} Service(s) still there"

    try:
        wait_until(check, timeout=GONE_WITHIN, desc="Services gone", progress=False,
                   watches=[Watch(kind.core.list_namespaced_service, namespace)])
    except WaitTimeout:
        pass  # as before: the pools go anyway; v0.12.1 then keeps its last config until the address is free


def cleanup(kind: Kind, prefix: str = PREFIX, namespace: str = "default") -> _hood.Done:
    """Delete every Service, Deployment, L2Advertisement and pool named ``prefix``*; safe to run twice.

    Services go first and the pools only once their addresses are released: MetalLB v0.12.1 refuses a
    config that takes away an address still in use ("new config not compatible with assigned IPs").
    """
    from ..._cluster.metallb import installed_version, l2_advertisements

    svcs = [s.metadata.name for s in kind.core.list_namespaced_service(namespace).items
            if s.metadata.name.startswith(prefix)]
    for s in svcs:
        delete(kind, "v1", "Service", s, namespace)
    deps = [d.metadata.name for d in kind.apps.list_namespaced_deployment(namespace).items
            if d.metadata.name.startswith(prefix)]
    for d in deps:
        delete(kind, "apps/v1", "Deployment", d, namespace)
    if svcs:
        _gone(kind, svcs, namespace)
    pools, ads = [], []
    if installed_version(kind) is not None:
        pools = [p for p in pool_config(kind) if p.startswith(prefix)]
        if era_of(kind).uses_crds:
            ads = [a["metadata"]["name"] for a in l2_advertisements(kind) if a["metadata"]["name"].startswith(prefix)]
            for a in ads:
                delete(kind, API_VERSION, "L2Advertisement", a, NAMESPACE)
    steps = []
    if svcs:
        steps.append(_hood.Step(_hood.kubectl(kind.cluster, "delete", "service", *svcs, "--ignore-not-found",
                                              namespace=namespace)))
    if deps:
        steps.append(_hood.Step(_hood.kubectl(kind.cluster, "delete", "deployment", *deps, "--ignore-not-found",
                                              namespace=namespace)))
    if ads:
        steps.append(_hood.Step(_hood.kubectl(kind.cluster, "delete", "l2advertisement", *ads, "--ignore-not-found",
                                              namespace=NAMESPACE)))
    for p in pools:
        steps += remove_pool(kind, p).hood.steps
    return _hood.Done(f"removed {len(svcs)} Service(s), {len(deps)} Deployment(s) and {len(pools)} pool(s) named "
                      f"{prefix}*",
                      _hood.Hood(f"clean up {prefix}*", steps or [_hood.Step("true", "nothing to remove")]),
                      [*(f"service/{s}" for s in svcs), *(f"deployment/{d}" for d in deps),
                       *(f"pool {p}" for p in pools)])
