"""The library's one diagnosis: why a LoadBalancer Service has no working external address, most likely first.

Read from the cluster and said in the learner's words, as findings (a key and a sentence). The wait for an
address gives them at its timeout and ``app.service_state`` shows them as "Our reading" (notebooks 02-05);
notebook 08 shows them folded, after the learner's own guess (``trouble.diagnose``). It counts the real size of
the pool the Service draws from (``core.pool_usage``) and asks the release what it does (``core.release``).

True to each era (checked in the sources):

- The ConfigMap era (v0.12.1) keeps the last valid configuration when the ConfigMap is deleted or invalid
  (``controller/main.go`` SetConfig: "configuration is missing, MetalLB will not function"; ``internal/k8s/k8s.go``:
  "config (re)load failed, config marked stale"). A fresh install has no ConfigMap and has loaded nothing: the
  controller's log (``cluster.metallb.controller_loaded_config``) tells "never configured" from "removed".
- The ConfigMap era has no L2Advertisement and ignores ``node.kubernetes.io/exclude-from-external-load-balancers``
  (honoured since v0.14.2).
- With no pool at all neither release writes an event on the Service (release fact no_pool_no_event).
- A Service with an address and no ready endpoint is announced by no speaker in both eras
  (``speaker/layer2_controller.go`` ShouldAnnounce returns "notOwner" before any election): the controller
  assigns the address (IPAllocated), but no nodeAssigned event follows and nobody answers ARP.
"""
from __future__ import annotations

from dataclasses import dataclass

from .._cluster.kube import Kind, events_for, get_or_none, ip_of, is_ready  # ip_of: the one reader, re-exported
from .._cluster.metallb import (
    controller_loaded_config,
    installed_version,
    l2_advertisements,
    readiness,
    ready_endpoint_nodes,
)
from .._core.errors import KindlbError
from .._core.manifests import NAMESPACE
from .._core.pool_usage import asked_for, holding, usage
from .._core.release import EXCLUDE_LB_LABEL as EXCLUDE
from .._core.release import fact, release
from .exercises.pools import pool_config

#: What the diagnosis says when nothing is broken for the Service (a finding, too).
HEALTHY = "healthy"
#: The ConfigMap era's answer to a deleted ConfigMap: not a failure (yet).
KEPT = "config kept"
#: Ready pods that the Service's EndpointSlice does not list yet: not a failure, a moment after a rollout.
LISTING = "endpoints not listed yet"


@dataclass(frozen=True)
class Finding:
    """One reason, keyed by the failure it names (notebook 08's ``FAILURES`` keys, HEALTHY, KEPT, or another)."""

    key: str
    text: str


def findings(kind: Kind, service: str, namespace: str = "default") -> list[Finding]:
    """Why ``service`` has no working external address, most likely first, read from the cluster.

    In notebook 02, before any pool:

    >>> [f.key for f in findings(k, "lb-demo")]   # doctest: +SKIP
    ['no pool']
    """
    version = installed_version(kind)
    if version is None:
        return [Finding("no MetalLB", "MetalLB is not installed: run notebook 02_install_metallb")]
    here = release(version)
    crds, since = here.uses_crds, fact("exclude_lb_label").since
    found: list[Finding] = []
    svc = get_or_none(kind.core.read_namespaced_service, service, namespace)
    if svc is None:
        return [Finding("no Service", f"there is no Service {service}")]
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
    # v0.12.1 keeps the last configuration it loaded (release fact config_kept_when_missing): only a controller
    # that loaded one has one
    loaded = controller_loaded_config(kind) if cm_missing else None
    kept = cm_missing and here.holds("config_kept_when_missing") and bool(loaded)
    if not pools and not kept:
        if crds:
            where = "`kubectl -n metallb-system get ipaddresspools` finds none"
        elif cm_missing and loaded is None:
            where = ("there is no ConfigMap metallb-system/config; whether the controller keeps an earlier one, its "
                     "log would say, and it cannot be read now: `kubectl -n metallb-system get pods`")
        elif cm_missing:
            where = ("there is no ConfigMap metallb-system/config, and the controller has loaded no configuration "
                     "since it started: `kubectl -n metallb-system logs deploy/controller` has no \"config "
                     "(re)loaded\" line")
        else:
            where = "the ConfigMap metallb-system/config lists none under address-pools"
        quiet = ""
        if fact("no_pool_no_event").holds(version):
            quiet = (f". MetalLB {version} writes no event on the Service for it (the reason, \"pools are empty\", "
                     "is a debug-level log line; at the default level the controller logs only \"failed to handle "
                     "service\" for it)" if crds else
                     f". MetalLB {version} writes no event on the Service for it, and at the default level its "
                     "controller logs nothing about it (the reason, \"not processing, still waiting for config\", "
                     "is a debug-level line)")
        then = (f"{service} still shows {ip}, which it got before, but the controller hands out no address" if ip
                else f"{service} stays <pending>{quiet}")
        found.append(Finding("no pool", f"MetalLB has no address pool ({where}): the controller has nothing to hand "
                             f"out, so {then}. Create a pool (notebook 03_address_pool)"))
    if kept:
        found.append(Finding(KEPT if ip else "no pool",
                             f"the ConfigMap metallb-system/config is gone, but MetalLB {version} keeps the last valid "
                             "configuration it loaded (controller log: \"configuration is missing, MetalLB will not "
                             "function\") and goes on handing out and announcing addresses"
                             + (f" ({service} got {ip})" if ip else "")
                             + " until its controller restarts: put the ConfigMap back"))
    if not ready and ready_nodes:
        found.append(Finding("MetalLB not ready", f"MetalLB is not ready ({text}): `kubectl -n metallb-system get "
                             "pods` shows which pod is stuck"))
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
        elif failed:
            found.append(Finding("allocation failed", f"the controller said: {failed[-1]['message']}"))
        found += [Finding("warning", f"{e['reason']}: {e['message']}") for e in events
                  if e["type"] == "Warning" and e["reason"] != "AllocationFailed"]
        if not found:
            found.append(Finding(HEALTHY, f"{service} has no address yet and no AllocationFailed event: MetalLB may "
                                 "need a few more seconds"))
        return found
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
    try:
        eps: set[str] | None = ready_endpoint_nodes(kind, service, namespace)
    except KindlbError:
        eps = None
    sel = ", ".join(f"{k}={v}" for k, v in (svc.spec.selector or {}).items())
    if eps is not None and not eps and sel and (ready_pods := _ready_pods(kind, namespace, svc.spec.selector)):
        found.insert(0, Finding(LISTING, f"{service}'s pods ({', '.join(ready_pods)}) are ready, but its "
                                "EndpointSlice does not list them yet: the EndpointSlice controller follows a pod's "
                                "readiness within seconds, and until then no speaker announces it "
                                f"(`kubectl get endpointslices -l kubernetes.io/service-name={service}`). Look again "
                                "in a few seconds"))
    elif eps is not None and not eps:
        found.insert(0, Finding("no endpoints", f"{service} selects pods with {sel or 'no selector'}, and no ready pod "
                                "matches: with no ready endpoint no speaker announces it (no nodeAssigned event) and "
                                "nothing would answer anyway; `kubectl get endpointslices -l "
                                f"kubernetes.io/service-name={service}` shows none ready. Fix the selector, or start "
                                "pods it matches (`kubectl get pods --show-labels`)"))
    elif svc.spec.external_traffic_policy == "Local" and eps is not None and not (eps & eligible):
        found.insert(0, Finding("Local without announcer", f"{service} has externalTrafficPolicy Local: only a node "
                                f"with one of its ready pods may announce it. Its pods run on {sorted(eps)}; the "
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
    return found


def _ready_pods(kind: Kind, namespace: str, selector: dict[str, str]) -> list[str]:
    """The names of the ready, not terminating pods that a Service's ``selector`` matches."""
    wanted = ",".join(f"{k}={v}" for k, v in selector.items())
    pods = kind.core.list_namespaced_pod(namespace, label_selector=wanted).items
    return sorted(p.metadata.name for p in pods if not p.metadata.deletion_timestamp and is_ready(p))


def reasons(kind: Kind, service: str, namespace: str = "default") -> list[str]:
    """The findings' sentences, most likely first: what a wait says at its timeout and ``service_state`` shows."""
    return [f.text for f in findings(kind, service, namespace)]
