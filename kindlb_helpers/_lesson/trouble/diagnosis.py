"""The library's diagnosis of a staged case: read the cluster and name the cause, most likely first.

:func:`diagnose` counts the real size of the pool the Service draws from (``core.pool_usage``) and asks the
release what it does (``core.release``); it is shown folded, after the learner's own guess, with what was done
to the cluster (the case's commands, kept folded by :func:`~.staging.cause` until now).

True to each era (checked in the sources): the ConfigMap era (v0.12.1) keeps the last valid configuration when
the ConfigMap is deleted or invalid (``controller/main.go`` SetConfig: "configuration is missing, MetalLB will
not function"; ``internal/k8s/k8s.go``: "config (re)load failed, config marked stale"), has no
L2Advertisement, and ignores ``node.kubernetes.io/exclude-from-external-load-balancers`` (honoured since
v0.14.2). With no pool at all neither release writes an event on the Service (release fact no_pool_no_event).
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from ..._cluster.kube import Kind, events_for, get_or_none, is_ready
from ..._cluster.metallb import l2_advertisements, readiness
from ..._core import hood as _hood
from ..._core.errors import KindlbError
from ..._core.manifests import NAMESPACE
from ..._core.pool_usage import asked_for, holding, usage
from ..._core.release import fact
from ..exercises import pool_config
from .failures import EXCLUDE, HEALTHY, KEPT, applies, case_number, installed, ip_of, not_here, service_of
from .staging import Case, folded_hood


@dataclass(frozen=True)
class Finding:
    """One reason, keyed by the failure it names."""

    key: str      # a FAILURES key, HEALTHY or KEPT
    text: str


@dataclass
class Diagnosis:
    """The library's verdict, folded until clicked."""

    service: str
    findings: list[Finding]
    #: what was done to the cluster (the case's commands), shown with the verdict
    caused: _hood.Hood | None = None

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.findings]

    @property
    def first(self) -> str:
        return self.findings[0].key if self.findings else HEALTHY

    def names(self, what: str) -> bool:
        return self.first == what

    def __repr__(self) -> str:
        done = f"\nwhat was done:\n{self.caused.text()}" if self.caused and self.caused.steps else ""
        return (f"diagnosis of {self.service} (open it after your guess):\n"
                + "\n".join(f"- [{f.key}] {f.text}" for f in self.findings) + done)

    def _repr_html_(self) -> str:
        items = "".join(f"<li><b>{html.escape(f.key)}</b>: {html.escape(f.text)}</li>" for f in self.findings)
        done = folded_hood(self.caused, "What was done to the cluster") if self.caused and self.caused.steps else ""
        return (f"<details><summary><b>The library's diagnosis of {html.escape(self.service)}</b> (open it after "
                f"your guess)</summary><ol>{items}</ol>{done}</details>")


def diagnose(kind: Kind, service: str | int | Case, namespace: str = "default") -> Diagnosis:
    """Why ``service`` has no working external address, most likely first, read from the cluster.

    ``service``: a Service's name, or one of notebook 08's cases (the :class:`~.staging.Case` that
    :func:`~.staging.cause` returned, whose commands the diagnosis then shows, or its number)."""
    if not isinstance(service, str):
        n = service.number if isinstance(service, Case) else case_number(service)
        if not applies(kind, n):
            return Diagnosis(service_of(n), [Finding(HEALTHY, not_here(kind, n))])
        found = _diagnose(kind, service_of(n), namespace)
        found.caused = service.hood if isinstance(service, Case) else None
        return found
    return _diagnose(kind, service, namespace)


def _diagnose(kind: Kind, service: str, namespace: str) -> Diagnosis:
    here = installed(kind)
    if here is None:
        return Diagnosis(service, [Finding("no MetalLB", "MetalLB is not installed: run notebook 02")])
    version, crds, since = here.tag, here.uses_crds, fact("exclude_lb_label").since
    found: list[Finding] = []
    svc = get_or_none(kind.core.read_namespaced_service, service, namespace)
    if svc is None:
        return Diagnosis(service, [Finding("no Service", f"there is no Service {service}")])
    ip = ip_of(svc)
    events = events_for(kind, service, namespace, uid=svc.metadata.uid)
    pools = pool_config(kind)
    ready, text = readiness(kind)
    speakers = [p for p in kind.core.list_namespaced_pod(NAMESPACE, label_selector="component=speaker").items
                if not p.metadata.deletion_timestamp]
    ready_nodes = {p.spec.node_name for p in speakers if is_ready(p)}
    if not ready_nodes:
        found.append(Finding("speakers not ready", f"no speaker pod is ready ({text}): nobody answers ARP for any "
                             "address; `kubectl -n metallb-system get pods -o wide` and `kubectl -n metallb-system "
                             "describe daemonset speaker` (its nodeSelector, tolerations) say why"))
    cm_missing = not crds and get_or_none(kind.core.read_namespaced_config_map, "config", NAMESPACE) is None
    if not pools and not cm_missing:
        quiet = fact("no_pool_no_event").holds(version)
        found.append(Finding("no pool", "MetalLB has no address pool (`kubectl -n metallb-system get "
                             "ipaddresspools` finds none): the controller has nothing to hand out, so the Service "
                             "stays <pending>"
                             + (f". MetalLB {version} writes no event on the Service for it (the reason, \"pools "
                                "are empty\", is a debug-level log line; at the default level the controller logs "
                                "only \"failed to handle service\" for it)" if quiet else "")
                             + ". Create a pool (notebook 03)"))
    if cm_missing:
        # v0.12.1 and before keep the last valid configuration (release fact config_kept_when_missing)
        found.append(Finding(KEPT if ip and here.holds("config_kept_when_missing") else "no pool",
                             f"the ConfigMap metallb-system/config is gone, but MetalLB {version} keeps the last valid "
                             "configuration it loaded (controller log: \"configuration is missing, MetalLB will not "
                             "function\") and goes on handing out and announcing addresses"
                             + (f" ({service} got {ip})" if ip else "")
                             + " until its controller restarts: put the ConfigMap back"))
    if not ip:
        failed = [e for e in events if e["reason"] == "AllocationFailed"]
        if failed and pools:
            msg = failed[-1]["message"]
            # the pool it asked for (the release's annotation, or as the controller names it), else the auto ones
            use = usage({p: c["addresses"] for p, c in pools.items()}, annotations=svc.metadata.annotations,
                        prefixes=here.annotation_prefixes, said=msg,
                        auto=[p for p, c in pools.items() if c["auto_assign"]],
                        held=[ip_of(s) or "" for s in kind.core.list_service_for_all_namespaces().items])
            where = f"pool {use.pool}" if use.pool else f"the auto-assign pools ({', '.join(use.pools)})"
            if "no available IPs" in msg or use.full:
                plural = "es" if use.size != 1 else ""
                found.insert(0, Finding("pool exhausted", f"{where} is exhausted: {use.size} address{plural}, "
                                        f"{use.used} in use; the controller said: {msg}. "
                                        "Make the pool bigger, or delete a Service that holds one"))
            else:
                found.append(Finding("allocation failed", f"the controller said: {msg}"))
        elif not failed and pools and not found:
            found.append(Finding(HEALTHY, f"{service} has no address yet and no AllocationFailed event: MetalLB may "
                                 "need a few more seconds"))
        return Diagnosis(service, found)
    # it has an address: does any node announce it?
    nodes = {n.metadata.name: n for n in kind.core.list_node().items}
    honours_exclude = EXCLUDE in here.honoured_labels
    eligible = {n for n in ready_nodes if not (honours_exclude and EXCLUDE in (nodes[n].metadata.labels or {}))}
    if crds:
        pool = (asked_for(svc.metadata.annotations, here.annotation_prefixes)
                or holding({p: c["addresses"] for p, c in pools.items()}, ip))
        ads = [a for a in l2_advertisements(kind) if not (a.get("spec") or {}).get("ipAddressPools")
               or pool in (a.get("spec") or {}).get("ipAddressPools", [])]
        if not ads:
            found.insert(0, Finding("no L2Advertisement", f"{service} got {ip} from pool {pool}, but no "
                                    "L2Advertisement announces that pool: no speaker answers ARP for it "
                                    "(`kubectl -n metallb-system get l2advertisements`); create one"))
    eps = _ready_endpoint_nodes(kind, service, namespace)
    if eps is not None and not eps:
        sel = ", ".join(f"{k}={v}" for k, v in (svc.spec.selector or {}).items())
        found.insert(0, Finding("no endpoints", f"{service} selects pods with {sel or 'no selector'}, and no ready pod "
                                "matches: with no ready endpoint no speaker announces it (no nodeAssigned event) and "
                                "nothing would answer anyway; `kubectl get endpointslices -l "
                                "kubernetes.io/service-name="
                                f"{service}` is empty. Fix the selector (`kubectl get pods --show-labels`)"))
    elif svc.spec.external_traffic_policy == "Local" and eps is not None and not (set(eps) & eligible):
        found.insert(0, Finding("Local without announcer", f"{service} has externalTrafficPolicy Local: only a node "
                                f"with one of its ready pods may announce it. Its pods run on {sorted(set(eps))}; the "
                                f"nodes whose speaker may announce are {sorted(eligible) or 'none'}"
                                + (" (the control-plane carries the exclude-from-external-load-balancers label, "
                                   "and MetalLB " + version + " honours it)" if honours_exclude else
                                   f" ({version} runs no speaker on the control-plane: its speaker tolerates only the "
                                   "old master taint)" if not here.speaker_on_control_plane else "")
                                + ". Run a pod on a worker, or use Cluster"))
    elif ready_nodes and not eligible:
        found.insert(0, Finding("excluded nodes", f"every node with a ready speaker ({', '.join(sorted(ready_nodes))}) "
                                f"carries the label {EXCLUDE}: MetalLB {version} (since {since}) does not announce "
                                f"from such nodes, so nobody answers ARP for {ip}. Remove the label from a worker: "
                                f"`kubectl label node <node> {EXCLUDE}-`"))
    labelled = sorted(n for n in ready_nodes if EXCLUDE in (nodes[n].metadata.labels or {}))
    if labelled and not honours_exclude and not found:
        found.append(Finding("label ignored", f"{', '.join(labelled)} carry the label {EXCLUDE}, but MetalLB "
                             f"{version} does not read it (speakers honour it since {since}), so {ip} is still "
                             "announced (see nodeAssigned); on a current MetalLB the same label would silence "
                             "those nodes"))
    announced = [e for e in events if e["reason"] == "nodeAssigned"]
    if not found:
        where = announced[-1]["message"] if announced else "no nodeAssigned event yet"
        found.append(Finding(HEALTHY, f"{service} has {ip} and MetalLB announces it ({where}). If ping does not answer"
                             ", that is expected: kube-proxy forwards only the Service's ports (TCP 80 here) to the "
                             "pods, and nobody answers ICMP echo for a LoadBalancer address in iptables/nftables mode; "
                             "test with TCP (curl) instead"))
    return Diagnosis(service, found)


def _ready_endpoint_nodes(kind: Kind, service: str, namespace: str) -> list[str] | None:
    """Nodes of the Service's ready endpoints (EndpointSlices), one entry per endpoint; None when unreadable."""
    from kubernetes import client

    try:
        api = kind.typed(client.DiscoveryV1Api)
        slices = api.list_namespaced_endpoint_slice(namespace,
                                                    label_selector=f"kubernetes.io/service-name={service}").items
    except KindlbError:
        return None
    out = []
    for s in slices:
        for e in s.endpoints or []:
            if e.conditions is None or e.conditions.ready is not False:
                out.append(e.node_name or "?")
    return out
