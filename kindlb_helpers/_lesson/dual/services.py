"""Services in both families: ``ipFamilyPolicy`` SingleStack (IPv6), PreferDualStack and RequireDualStack, the
addresses each gets from a pool with both families, and what goes wrong (an IPv6 Service pinned to an
IPv4-only pool; RequireDualStack on a single-stack cluster).
"""
from __future__ import annotations

import copy
import time

import pandas as pd
import yaml

from ..._cluster.kube import (
    Kind,
    connect,
    delete_if_there,
    events_for,
    ingress_ips,
    kind_clusters,
    server_side_apply,
)
from ..._cluster.metallb import NAMESPACE, apply_pool, configmap_pools, installed_version
from ..._cluster.waits import ticks
from ..._core import hood as _hood
from ..._core.errors import BadInput, KindlbError, KubeAPIError
from ..._core.manifests import configmap, metallb_manifests
from ..._core.pool import PoolRange
from ..._core.release import release

#: (name suffix, ipFamilyPolicy, ipFamilies asked for): the three Services the lesson compares.
POLICIES = (("v6", "SingleStack", ["IPv6"]), ("prefer", "PreferDualStack", None), ("dual", "RequireDualStack", None))
COLUMNS = ["Service", "ipFamilyPolicy", "ipFamilies", "CLUSTER-IPs", "IPv4", "IPv6", "events"]


def service_object(name: str, app: str = "nginx", namespace: str = "default", policy: str = "PreferDualStack",
                   families: list[str] | None = None, port: int = 80, pool: str | None = None,
                   version: str | None = None) -> dict:
    """A ``type: LoadBalancer`` Service for the app's pods with ``ipFamilyPolicy`` (and ``ipFamilies``)."""
    if policy not in ("SingleStack", "PreferDualStack", "RequireDualStack"):
        raise BadInput(f"ipFamilyPolicy must be SingleStack, PreferDualStack or RequireDualStack (got {policy!r})")
    spec = {"type": "LoadBalancer", "ipFamilyPolicy": policy, "selector": {"app": app},
            "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": port}]}
    if families:
        spec["ipFamilies"] = list(families)
    meta = {"name": name, "namespace": namespace}
    if pool:
        meta["annotations"] = {f"{release(version).annotation_prefix}/address-pool": pool}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def policy_objects(app: str = "nginx", namespace: str = "default", port: int = 80) -> list[dict]:
    """The lesson's three Services: ``<app>-v6`` (SingleStack IPv6), ``<app>-prefer``, ``<app>-dual``."""
    return [service_object(f"{app}-{suffix}", app, namespace, policy, fams, port) for suffix, policy, fams in POLICIES]


def _row(kind: Kind, svc) -> dict:
    ingress = ingress_ips(svc)
    events = events_for(kind, svc.metadata.name, svc.metadata.namespace, uid=svc.metadata.uid)
    return {"Service": svc.metadata.name, "ipFamilyPolicy": svc.spec.ip_family_policy,
            "ipFamilies": ",".join(svc.spec.ip_families or []), "CLUSTER-IPs": ",".join(svc.spec.cluster_ips or []),
            "EXTERNAL-IP": ",".join(ingress) or "<pending>",
            # per family: the address, <pending> while the Service has that family's ClusterIP but no address, or
            # "–" when the Service does not have that family at all
            **{f"IPv{f}": next((i for i in ingress if (":" in i) == (f == 6)),
                               "<pending>" if f"IPv{f}" in (svc.spec.ip_families or []) else "–") for f in (4, 6)},
            "events": ", ".join(dict.fromkeys(e["reason"] for e in events)) or "none"}


def services_table(kind: Kind, names: list[str], namespace: str = "default") -> pd.DataFrame:
    """One row per Service: its policy, families, ClusterIPs and external addresses as the API has them now."""
    rows = [_row(kind, kind.core.read_namespaced_service(n, namespace)) for n in names]
    return pd.DataFrame(rows, columns=COLUMNS)


def expose(kind: Kind, app: str = "nginx", namespace: str = "default", port: int = 80,
           timeout: float = 120) -> pd.DataFrame:
    """Apply the three Services of :data:`POLICIES` and wait until each has an external address per family it
    has a ClusterIP of (at most ``timeout`` s); the table of what each got. ``attrs``: ``hood``, ``seconds``."""
    objs = policy_objects(app, namespace, port)
    server_side_apply(kind, objs)
    names = [o["metadata"]["name"] for o in objs]
    t0 = time.monotonic()
    done = False
    for _ in ticks(max(timeout, 0.5), every=0.5):  # a table either way: a Service still <pending> is shown so
        svcs = [kind.core.read_namespaced_service(n, namespace) for n in names]
        done = all(len(ingress_ips(s)) >= len(s.spec.ip_families or [1]) for s in svcs)
        if done:
            break
    frame = services_table(kind, names, namespace)
    frame.attrs["seconds"] = round(time.monotonic() - t0, 1)
    frame.attrs["complete"] = done
    frame.attrs["hood"] = _hood.Hood("three LoadBalancer Services, one per ipFamilyPolicy", [
        _hood.Step(_hood.kubectl(kind.cluster, "apply", "-f", "services.yaml"),
                   "the API server gives each its ClusterIP(s); MetalLB gives each its external address(es)",
                   files=(("services.yaml", objs),)),
        _hood.Step(_hood.kubectl(kind.cluster, "get", "services", *names, "-o",
                                 "custom-columns=NAME:.metadata.name,POLICY:.spec.ipFamilyPolicy,"
                                 "FAMILIES:.spec.ipFamilies,CLUSTER-IPS:.spec.clusterIPs,"
                                 "EXTERNAL-IPS:.status.loadBalancer.ingress[*].ip", namespace=namespace)),
    ])
    return frame


def address(frame: pd.DataFrame, service: str, family: int) -> str:
    """The external address of ``family`` (4 or 6) that ``service`` got, from :func:`expose`'s table."""
    row = frame.loc[frame["Service"] == service]
    ip = row[f"IPv{family}"].iloc[0] if len(row) else "no such Service"
    if ip in ("<pending>", "–", "no such Service"):
        raise KindlbError(f"Service {service} has no IPv{family} external address ({ip}): look at its events "
                          f"(kubectl describe service {service})")
    return ip


# ---------------------------------------------------------------- what goes wrong

def _add_pool(kind: Kind, name: str, rng: PoolRange, version: str) -> list[dict]:
    """Add pool ``name`` (not auto-assigned) next to the others: its own IPAddressPool + L2Advertisement, or one
    more entry in the ConfigMap era's address-pools (applying the ConfigMap replaces the whole list)."""
    objs = metallb_manifests(rng, version, name=name, auto_assign=False)
    if not release(version).uses_crds:
        others = [p for p in configmap_pools(kind) if p.get("name") != name]
        mine = yaml.safe_load(objs[0]["data"]["config"])["address-pools"]
        objs = [configmap(others + mine)]
    apply_pool(kind, objs)
    return objs


def _remove_pool(kind: Kind, name: str, version: str) -> None:
    if release(version).uses_crds:
        for plural in ("l2advertisements", "ipaddresspools"):
            delete_if_there(kind.custom.delete_namespaced_custom_object, "metallb.io", "v1beta1", NAMESPACE,
                            plural, name)
    else:
        others = [p for p in configmap_pools(kind) if p.get("name") != name]
        server_side_apply(kind, [configmap(others)])


#: The two Services that ask the IPv4-only pool by name: (name suffix, ipFamilyPolicy, ipFamilies).
PINNED = (("v6-from-v4pool", "SingleStack", ["IPv6"]), ("prefer-from-v4pool", "PreferDualStack", None))


def from_ipv4_pool(kind: Kind, ipv4_range, app: str = "nginx", namespace: str = "default",
                   pool: str = "ipv4-only", timeout: float = 30) -> pd.DataFrame:
    """Add an IPv4-only pool (not auto-assigned) and two Services that ask for it by name: SingleStack IPv6, and
    PreferDualStack. Wait (at most ``timeout`` s) until each has an address or a Warning event; one row per
    Service: what it got and what the controller said, as ``kubectl describe`` lists it. ``attrs``: ``hood``."""
    version = installed_version(kind)
    if version is None:
        raise KindlbError("MetalLB is not installed in this cluster: install it first")
    rng = PoolRange.parse(ipv4_range)
    if rng.version != 4:
        raise BadInput(f"ipv4_range must be an IPv4 range (got {rng})")
    pool_objs = _add_pool(kind, pool, rng, version)
    objs = [service_object(f"{app}-{suffix}", app, namespace, policy, fams, pool=pool, version=version)
            for suffix, policy, fams in PINNED]
    for o in objs:
        delete_if_there(kind.core.delete_namespaced_service, o["metadata"]["name"], namespace)
    server_side_apply(kind, objs)
    names = [o["metadata"]["name"] for o in objs]
    rows: list[dict] = []
    for _ in ticks(max(timeout, 0.5), every=0.5):  # until each has an address or a Warning event, or time is up
        rows = []
        for n in names:
            cur = kind.core.read_namespaced_service(n, namespace)
            row = _row(kind, cur)
            warn = [e for e in events_for(kind, n, namespace, uid=cur.metadata.uid) if e["type"] == "Warning"]
            row.update({"warning": warn[-1]["reason"] if warn else None,
                        "message": warn[-1]["message"] if warn else None})
            rows.append(row)
        if all(r["warning"] or r["EXTERNAL-IP"] != "<pending>" for r in rows):
            break
    frame = pd.DataFrame(rows, columns=["Service", "ipFamilyPolicy", "ipFamilies", "CLUSTER-IPs", "EXTERNAL-IP",
                                        "warning", "message"])
    frame.attrs["version"] = version
    frame.attrs["hood"] = _hood.Hood(f"two Services asking for the IPv4-only pool {pool}", [
        _hood.Step(_hood.kubectl(kind.cluster, "apply", "-f", "ipv4-only-pool.yaml"),
                   "a pool with one IPv4 range, given out only on request",
                   files=(("ipv4-only-pool.yaml", pool_objs),)),
        _hood.Step(_hood.kubectl(kind.cluster, "apply", "-f", "pinned.yaml"),
                   "SingleStack IPv6 and PreferDualStack, each asking for that pool", files=(("pinned.yaml", objs),)),
        *[_hood.Step(_hood.kubectl(kind.cluster, "describe", "service", n, namespace=namespace),
                     "Events: the controller's verdict") for n in names],
    ])
    return frame


def undo_from_ipv4_pool(kind: Kind, app: str = "nginx", namespace: str = "default",
                        pool: str = "ipv4-only") -> _hood.Done:
    """Delete those two Services and that pool."""
    version = installed_version(kind)
    names = [f"{app}-{suffix}" for suffix, _, _ in PINNED]
    for n in names:
        delete_if_there(kind.core.delete_namespaced_service, n, namespace)
    if version:
        _remove_pool(kind, pool, version)
    crds = bool(version) and release(version).uses_crds
    return _hood.Done(f"deleted {', '.join(names)} and pool {pool}", _hood.Hood("undo", [
        _hood.Step(_hood.kubectl(kind.cluster, "delete", "service", *names, "--ignore-not-found", namespace=namespace)),
        _hood.Step(_hood.kubectl(kind.cluster, "delete", "ipaddresspool,l2advertisement", pool, "--ignore-not-found",
                                 namespace=NAMESPACE) if crds else
                   _hood.kubectl(kind.cluster, "edit", "configmap", "config", namespace=NAMESPACE),
                   f"the pool {pool} goes")]))


def require_dual_on(cluster: str, app: str = "nginx", namespace: str = "default") -> pd.DataFrame:
    """Ask the API server of ``cluster`` to create a RequireDualStack Service, as a server-side dry run (nothing
    is stored): a single-stack cluster refuses it. One row: cluster, what it answered, the message."""
    obj = service_object(f"{app}-dual", app, namespace, "RequireDualStack")
    hood = _hood.Hood(f"RequireDualStack asked of {cluster}", [
        _hood.Step(_hood.kubectl(cluster, "apply", "--dry-run=server", "-f", "require-dual.yaml",
                                 namespace=namespace), "the API server validates and answers; a dry run stores nothing",
                   files=(("require-dual.yaml", [obj]),))])
    if cluster not in kind_clusters():
        frame = pd.DataFrame([{"cluster": cluster, "answer": "no such kind cluster here",
                               "message": f"create the single-stack series cluster {cluster!r} (notebook 0) to see "
                                          "the API server's refusal"}], columns=["cluster", "answer", "message"])
        frame.attrs["hood"] = hood
        return frame
    k = connect(cluster)
    body = copy.deepcopy(obj)
    try:
        k.core.create_namespaced_service(namespace, body, dry_run="All")
        answer, message = "accepted (dry run)", "this cluster serves both families: RequireDualStack is fine here"
    except KubeAPIError as exc:
        answer, message = f"refused ({exc.status} {exc.reason or ''})".strip(), _api_message(exc)
    frame = pd.DataFrame([{"cluster": cluster, "answer": answer, "message": message}],
                         columns=["cluster", "answer", "message"])
    frame.attrs["hood"] = hood
    return frame


def _api_message(exc: KubeAPIError) -> str:
    import json

    try:
        return json.loads(exc.body or "")["message"]
    except (ValueError, KeyError, TypeError):
        return str(exc)


def remove(kind: Kind, app: str = "nginx", namespace: str = "default") -> _hood.Done:
    """Delete the lesson's three Services (their addresses go back into the pool)."""
    names = [f"{app}-{suffix}" for suffix, _, _ in POLICIES]
    for n in names:
        delete_if_there(kind.core.delete_namespaced_service, n, namespace)
    return _hood.Done(f"deleted {', '.join(names)}", _hood.Hood("the three Services", [
        _hood.Step(_hood.kubectl(kind.cluster, "delete", "service", *names, "--ignore-not-found",
                                 namespace=namespace))]))


__all__ = ["PINNED", "POLICIES", "address", "expose", "from_ipv4_pool", "policy_objects", "remove", "require_dual_on",
           "service_object", "services_table", "undo_from_ipv4_pool"]
