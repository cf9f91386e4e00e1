"""Why a LoadBalancer Service has no working external IP, in the learner's words and most likely first: the wait
for an IP says it at its timeout, and a Service's state shows it (notebooks 02-05)."""
from __future__ import annotations

from .._cluster.kube import Kind, events_for, get_or_none
from .._cluster.metallb import installed_version, l2_advertisements, not_announced_why, pools, readiness
from .._core.pool_usage import usage
from .._core.release import release


def reasons_no_ip(kind: Kind, service: str | None = None, namespace: str = "default") -> list[str]:
    """Reasons a LoadBalancer Service may have no working external IP, most likely first."""
    reasons: list[str] = []
    version = installed_version(kind)
    if version is None:
        return ["MetalLB is not installed: run notebook 02_install_metallb"]
    ready, text = readiness(kind)
    if not ready:
        reasons.append(f"MetalLB is not ready ({text}): `kubectl -n metallb-system get pods` shows which pod is stuck")
    configured = pools(kind)
    if not configured:
        reasons.append("MetalLB has no address pool: run notebook 03_address_pool to create one")
    if release(version).uses_crds and configured and not l2_advertisements(kind):
        reasons.append("there is no L2Advertisement: MetalLB assigns IPs but nobody answers ARP for them "
                       "(notebook 03_address_pool creates one with the pool)")
    if service:
        svc = get_or_none(kind.core.read_namespaced_service, service, namespace)
        if svc is not None:
            unannounced = not_announced_why(kind, svc)
            if unannounced:
                reasons.insert(0, unannounced)
        for ev in events_for(kind, service, namespace, uid=svc.metadata.uid if svc else None):
            msg = ev["message"]
            if (ev["reason"] == "AllocationFailed" or "no available IPs" in msg) and not configured:
                reasons.append(f"the controller tried and said: {msg}")  # no pool at all, said above
            elif ev["reason"] == "AllocationFailed" or "no available IPs" in msg:
                # count the pool this Service asked for (by the release's annotation), not every pool
                use = usage({n: [r for m, r in configured if m == n] for n, _ in configured}, said=msg,
                            annotations=svc.metadata.annotations if svc is not None else None,
                            prefixes=release(version).annotation_prefixes)
                where, plural = f"pool {use.pool}" if use.pool else "the pools", "es" if use.size != 1 else ""
                reasons.insert(0, f"the pool is exhausted ({where}: {use.size} address{plural}, all in use): {msg}; "
                                  "make the pool bigger or delete a LoadBalancer Service")
            elif ev["type"] == "Warning":
                reasons.append(f"{ev['reason']}: {msg}")
    return reasons or ["MetalLB looks healthy; the Service may just need a few more seconds"]
