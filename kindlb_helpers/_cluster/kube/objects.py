"""Objects: server-side apply (idempotent), delete, read or delete ignoring 404, what is served, events, and a
Service's external addresses as the API has them (the one reader of ``status.loadBalancer.ingress``)."""
from __future__ import annotations

from typing import Any, Iterable

from ..._core.errors import KubeAPIError
from .boundary import translate
from .client import Kind

FIELD_MANAGER = "kindlb"


def _resource(kind: Kind, api_version: str, kind_name: str) -> Any:
    """The dynamic client's resource for ``kind_name``; KubeAPIError 404 when the cluster does not serve it."""
    with translate(f"find {kind_name} in {api_version}", kind.cluster, kind.host):
        return kind.dynamic.resources.get(api_version=api_version, kind=kind_name)


def server_side_apply(kind: Kind, objects: Iterable[dict], *, namespace: str | None = None) -> list[str]:
    """Server-side apply each object (create or update; re-running changes nothing).

    Returns ``kind/name`` for each object applied.
    """
    done = []
    for obj in objects:
        if not obj:
            continue
        res = _resource(kind, obj["apiVersion"], obj["kind"])
        ns = obj.get("metadata", {}).get("namespace") or (namespace if res.namespaced else None)
        if res.namespaced and ns is None:
            ns = "default"
        kind.dynamic.server_side_apply(
            res, body=obj, name=obj["metadata"]["name"], namespace=ns,
            field_manager=FIELD_MANAGER, force_conflicts=True,
        )
        done.append(f"{obj['kind'].lower()}/{obj['metadata']['name']}")
        if obj["kind"] == "CustomResourceDefinition":
            kind.refresh_discovery()
    return done


def delete_if_there(call, *args, **kwargs) -> bool:
    """``call(*args, **kwargs)`` (a delete); False when the API answers 404 (already gone). The one
    delete-ignoring-404, as :func:`get_or_none` is the one read-ignoring-404."""
    try:
        call(*args, **kwargs)
        return True
    except KubeAPIError as exc:
        if exc.status == 404:
            return False
        raise


def delete(kind: Kind, api_version: str, kind_name: str, name: str, namespace: str | None = None) -> bool:
    """Delete one object; False when it was already gone."""
    return delete_if_there(lambda: _resource(kind, api_version, kind_name).delete(name=name, namespace=namespace))


def served(kind: Kind, api_version: str, kind_name: str) -> bool:
    """Whether the API server serves ``kind_name`` in ``api_version`` (e.g. PodSecurityPolicy)."""
    try:
        _resource(kind, api_version, kind_name)
        return True
    except KubeAPIError as exc:
        if exc.status == 404:
            return False
        raise


def events_for(kind: Kind, name: str, namespace: str, kinds: tuple[str, ...] = ("Service",),
               uid: str | None = None) -> list[dict]:
    """Events about object ``name``, oldest first, as small dicts.

    With ``uid``, only that incarnation's (as ``kubectl describe`` shows them): events outlive a
    deleted object by an hour, and a new object of the same name must not inherit them.
    """
    selector = f"involvedObject.name={name}" + (f",involvedObject.uid={uid}" if uid else "")
    evs = kind.core.list_namespaced_event(namespace, field_selector=selector).items
    out = [
        {
            "type": e.type, "reason": e.reason, "message": (e.message or "").strip(),
            "from": (e.source.component if e.source else None) or e.reporting_component,
            "count": e.count or 1, "kind": e.involved_object.kind,
            # an event seen again is counted, not repeated: its latest sighting is the series' (events API)
            # or last_timestamp (core API); event_time is the FIRST sighting, so it comes last
            "time": ((e.series.last_observed_time if e.series else None) or e.last_timestamp or e.event_time
                     or e.metadata.creation_timestamp),
        }
        for e in evs
        if e.involved_object.kind in kinds
    ]
    return sorted(out, key=lambda e: (e["time"] is None, e["time"] or 0))


def ingress(svc) -> list:
    """A Service's ``status.loadBalancer.ingress`` entries (each with ``ip`` or ``hostname``), in the API's order; []
    while it has none: the one place that reads them."""
    return list((svc.status.load_balancer.ingress if svc.status and svc.status.load_balancer else None) or [])


def ingress_ips(svc) -> list[str]:
    """A Service's external addresses, in the API's order (a dual-stack Service has one per family)."""
    return [i.ip for i in ingress(svc) if i.ip]


def ip_of(svc) -> str | None:
    """A Service's external address (the first, of either family), or None while it has none."""
    return next(iter(ingress_ips(svc)), None)


def get_or_none(call, *args, **kwargs):
    """``call(*args, **kwargs)``, or None when the API answers 404 (the object is not there)."""
    try:
        return call(*args, **kwargs)
    except KubeAPIError as exc:
        if exc.status == 404:
            return None
        raise
