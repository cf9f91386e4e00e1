"""Troubleshooting on purpose (notebook 08): cause one failure, show the evidence a person reads, let the
learner guess, then open the library's diagnosis; repair, and on to the next.

- :func:`cause` breaks one thing and creates the Service (``ts-...``) that shows it; :func:`repair` mends it.
- :func:`evidence` is what MetalLB's troubleshooting guide reads: ``kubectl describe service`` (its events are
  this incarnation's: describe filters by uid, and so does the events table here), the controller's and the
  speakers' log lines about this Service (by its key and its address, since it was created), and MetalLB's
  status resources where the release has them (ServiceL2Status since v0.14.2, ConfigurationState in v0.16.1).
- :func:`diagnose` reads the cluster and names the cause, counting the real size of the pool the Service
  draws from; it is shown folded, after the learner's own guess.
- :func:`observe` collects raw facts with kubectl (no interpretation), for the cluster tier to judge the
  diagnosis independently.

True to each era (checked in the sources): the ConfigMap era (v0.12.1) keeps the last valid configuration when
the ConfigMap is deleted or invalid (``controller/main.go`` SetConfig: "configuration is missing, MetalLB will
not function"; ``internal/k8s/k8s.go``: "config (re)load failed, config marked stale"), has no
L2Advertisement, and ignores ``node.kubernetes.io/exclude-from-external-load-balancers`` (honoured since
v0.14.2). Every object made here is named ``ts-...`` and :func:`cleanup` removes it.
"""
from __future__ import annotations

import datetime as _dt
import html
import ipaddress
import json
import re
import time
from dataclasses import dataclass, field

import pandas as pd

from ...cluster.kube import Kind, delete, events_for, get_or_none, is_ready
from ...cluster.kube import apply as _apply
from ...cluster.metallb import configure, installed_version, l2_advertisements, readiness, wait_ready
from ...core import hood as _hood
from ...core.errors import KindlbError
from ...core.manifests import NAMESPACE, parse_version, uses_crds
from ...core.pool import PoolRange
from ..exercises import add_pool, configmap_pools, free_addresses, lb_service, pool_config
from ..exercises import cleanup as _cleanup

PREFIX = "ts-"
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"
#: A label no node carries: a DaemonSet that must run on nodes with it runs nowhere.
NOWHERE = {"kindlb.example/nowhere": "true"}

#: The failures, in the notebook's order: key -> (Service, title).
FAILURES = {
    "no pool": ("ts-no-pool", "no address pool"),
    "no L2Advertisement": ("ts-no-l2", "no L2Advertisement"),
    "pool exhausted": ("ts-exhausted", "the pool is exhausted"),
    "speakers not ready": ("ts-no-speakers", "no speaker is ready"),
    "no endpoints": ("ts-typo", "a selector that matches no pod"),
    "Local without announcer": ("ts-local", "externalTrafficPolicy: Local, and no node may announce"),
    "excluded nodes": ("ts-excluded", "every node carries the exclude-from-external-load-balancers label"),
    "ping vs TCP": ("ts-ping", "ping does not answer, TCP does"),
}
#: What a diagnosis says when nothing is broken for the Service (a finding, too).
HEALTHY = "healthy"
#: The ConfigMap era's answer to a deleted ConfigMap: not a failure (yet).
KEPT = "config kept"


def _key(what: str) -> str:
    if what not in FAILURES:
        raise KindlbError(f"unknown failure {what!r}: choose one of {', '.join(map(repr, FAILURES))}")
    return what


def service_of(what: str) -> str:
    """The Service that shows failure ``what``."""
    return FAILURES[_key(what)][0]


def applies(kind: Kind, what: str) -> bool:
    """Whether failure ``what`` can be staged with this release (no L2Advertisement before v0.13)."""
    return what != "no L2Advertisement" or uses_crds(installed_version(kind) or "v0.0.0")


def not_here(kind: Kind, what: str) -> str:
    """Why failure ``what`` is not staged with this release."""
    return (f"MetalLB {installed_version(kind)} has no L2Advertisement: each ConfigMap pool's `protocol: layer2` says "
            "how to announce it, so there is nothing to break here")


def default_pool(kind: Kind) -> str:
    """Pool ``default``'s addresses (notebook 03's), to put back after breaking it."""
    have = pool_config(kind).get("default")
    if not have:
        raise KindlbError("pool default is missing (an interrupted run of this notebook?): run notebook "
                          "03_address_pool again, then this one")
    return ",".join(have["addresses"]) if len(have["addresses"]) > 1 else have["addresses"][0]


# ---------- evidence ----------

def _lines_about(kind: Kind, selector: str, needles: list[str], since: int, limit: int = 8) -> list[str]:
    """The last ``limit`` log lines per pod, since ``since`` seconds ago, that mention one of ``needles``."""
    out = []
    for pod in kind.core.list_namespaced_pod(NAMESPACE, label_selector=selector).items:
        container = pod.spec.containers[0].name
        try:
            log = kind.core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE, container=container,
                                                    since_seconds=max(1, since))
        except Exception as exc:  # a pod that is starting or gone has no log to show
            out.append(f"[{pod.metadata.name}] (no log: {str(exc).splitlines()[0][:100]})")
            continue
        hits = [ln for ln in log.splitlines() if any(n in ln for n in needles)]
        out += [f"[{pod.spec.node_name or pod.metadata.name}] {ln[:300]}" for ln in hits[-limit:]]
    return out


def _status_resources(kind: Kind, service: str, crds: bool) -> tuple[str, str]:
    """(commands, their output): MetalLB's own view of this Service and its configuration."""
    if not crds:
        cmd = "kubectl -n metallb-system get configmap config -o yaml"
        cm = get_or_none(kind.core.read_namespaced_config_map, "config", NAMESPACE)
        text = ((cm.data or {}).get("config") if cm else None)
        return (cmd, "MetalLB v0.12.1 has no status resources; its whole configuration is this ConfigMap:\n"
                + (text.rstrip() if text else 'Error from server (NotFound): configmaps "config" not found'))
    cmds = [("get", "ipaddresspools,l2advertisements"),
            ("get", "servicel2statuses", "-l", f"metallb.io/service-name={service}", "-o",
             "custom-columns=NAME:.metadata.name,NODE:.status.node,SERVICE:.status.serviceName")]
    out = []
    for args in cmds:
        res = kind.kubectl("-n", NAMESPACE, *args, check=False)
        out.append(f"$ kubectl -n metallb-system {' '.join(args)}\n{res.strip() or 'No resources found'}")
    states = get_or_none(kind.custom.list_namespaced_custom_object, "metallb.io", "v1beta1", NAMESPACE,
                         "configurationstates")
    if states is not None:
        rows = [f"{i['metadata']['name']}: {(i.get('status') or {}).get('result', '?')} "
                f"{(i.get('status') or {}).get('errorSummary', '')}".rstrip() for i in states.get("items", [])]
        out.append("$ kubectl -n metallb-system get configurationstates\n" + ("\n".join(rows) or "No resources found"))
    return "; ".join("kubectl -n metallb-system " + " ".join(a) for a in cmds), "\n\n".join(out)


@dataclass
class Evidence:
    """What a person reads first: describe, this incarnation's events, log lines about it, status resources."""

    service: str
    describe: str
    events: pd.DataFrame
    controller: list[str]
    speakers: list[str]
    status: str
    extra: list[tuple[str, str]] = field(default_factory=list)  # (title, text): pods, endpoints, ping ...
    hood: _hood.Hood | None = None

    def __repr__(self) -> str:
        parts = [f"$ kubectl describe service {self.service}\n{self.describe}",
                 "controller log lines about it:\n" + ("\n".join(self.controller) or "(none)"),
                 "speaker log lines about it:\n" + ("\n".join(self.speakers) or "(none)"),
                 self.status] + [f"{t}:\n{x}" for t, x in self.extra]
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        def block(title: str, text: str) -> str:
            return (f"<details open><summary><b>{html.escape(title)}</b></summary><pre style='{_hood.PRE};"
                    f"max-height:22em;overflow:auto'>{html.escape(text)}</pre></details>")

        ev = (self.events.to_html(index=False, border=0) if len(self.events)
              else "<p><i>Events: &lt;none&gt; (for this Service's uid)</i></p>")
        return ("<div><b>Evidence</b> for Service <code>" + html.escape(self.service) + "</code></div>"
                + block(f"kubectl describe service {self.service}", self.describe)
                + "<div>its events (this incarnation, by uid):</div>" + ev
                + block("controller log, lines about it since it was created", "\n".join(self.controller) or "(none)")
                + block("speaker logs, lines about it (its key or its address)", "\n".join(self.speakers) or "(none)")
                + block("MetalLB's status resources", self.status)
                + "".join(block(t, x) for t, x in self.extra)
                + (self.hood._repr_html_() if self.hood else ""))


def evidence(kind: Kind, what: str, probe_image: str | None = None) -> Evidence:
    """The evidence for failure ``what`` on its Service, before any verdict."""
    service = service_of(what)
    svc = get_or_none(kind.core.read_namespaced_service, service, "default")
    if svc is None:
        raise KindlbError(f"there is no Service {service}: run the cause cell above first")
    crds = uses_crds(installed_version(kind) or "v0.0.0")
    created = svc.metadata.creation_timestamp
    since = int((_dt.datetime.now(_dt.timezone.utc) - created).total_seconds()) + 5
    ip = _ip(svc)
    needles = [f"default/{service}"] + ([f'"{ip}"', f'["{ip}"]'] if ip else [])
    if what == "no pool":  # the controller's word on its configuration names no Service
        needles += ["configuration is missing", "configStale", "config (re)load", "setConfig"]
    describe = kind.kubectl("describe", "service", service, check=False)
    events = pd.DataFrame(events_for(kind, service, "default", uid=svc.metadata.uid),
                          columns=["type", "reason", "from", "count", "message"])
    status_cmd, status = _status_resources(kind, service, crds)
    c = kind.cluster
    extra = [("MetalLB's pods (kubectl -n metallb-system get pods -o wide)",
              kind.kubectl("-n", NAMESPACE, "get", "pods", "-o", "wide", check=False).strip() or "No resources found")]
    if what in ("no endpoints", "Local without announcer"):
        extra.append((f"the pods it selects and the EndpointSlices (kubectl get endpointslices -l "
                      f"kubernetes.io/service-name={service})", _endpoints_text(kind, svc)))
    if what in ("excluded nodes", "Local without announcer"):
        extra.append(("nodes and the exclude label (kubectl get nodes -L " + EXCLUDE + ")",
                      kind.kubectl("get", "nodes", "-L", EXCLUDE, check=False).strip()))
    if what == "ping vs TCP" and ip:
        extra.append((f"ping and TCP to {ip} from a container on the kind network", ping_and_tcp(ip, probe_image)))
    hood = _hood.Hood(f"the evidence for {service}", [
        _hood.Step(_hood.kubectl(c, "describe", "service", service), "the Events are this Service's (by uid)"),
        _hood.Step(_hood.kubectl(c, "logs", "-l", "component=controller", f"--since={since}s", namespace=NAMESPACE)
                   + f" | grep -F -e default/{service}" + (f" -e '\"{ip}\"'" if ip else ""),
                   "the controller hands out addresses and says why it cannot"),
        _hood.Step(_hood.kubectl(c, "logs", "-l", "component=speaker", "-c", "speaker", "--prefix",
                                 f"--since={since}s", namespace=NAMESPACE)
                   + f" | grep -F -e default/{service}" + (f" -e '\"{ip}\"'" if ip else ""),
                   "v0.13+ speakers name the address, not the Service, when they announce"),
        _hood.Step(status_cmd, "MetalLB's own view"),
    ])
    return Evidence(service, describe.strip(), events,
                    _lines_about(kind, "component=controller", needles, since),
                    _lines_about(kind, "component=speaker", needles, since), status, extra, hood)


def _ip(svc) -> str | None:
    ing = (svc.status.load_balancer.ingress if svc.status and svc.status.load_balancer else None) or []
    return next((i.ip for i in ing if i.ip), None)


def _endpoints_text(kind: Kind, svc) -> str:
    sel = ",".join(f"{k}={v}" for k, v in (svc.spec.selector or {}).items())
    pods = kind.kubectl("get", "pods", "-l", sel, "-o", "wide", check=False).strip() or "No resources found"
    eps = kind.kubectl("get", "endpointslices", "-l", f"kubernetes.io/service-name={svc.metadata.name}", "-o",
                       "custom-columns=NAME:.metadata.name,ADDRESSES:.endpoints[*].addresses[0],"
                       "READY:.endpoints[*].conditions.ready,NODE:.endpoints[*].nodeName", check=False).strip()
    return f"$ kubectl get pods -l {sel} -o wide\n{pods}\n\n$ kubectl get endpointslices ...\n{eps}"


def ping_and_tcp(ip: str, image: str | None = None) -> str:
    """ping (ICMP echo) and a TCP GET to ``ip``, from a throwaway container on the kind network, and the
    container's neighbour (ARP) table afterwards."""
    from ...cluster.containers import PROBE_IMAGE, run_on_kind_network

    # (no wget -T and no `ip`: the offline lab's static busybox has neither; the container's bound is the limit)
    script = (f"ping -c 3 -W 1 {ip}; echo \"ping exit $?\"; "
              f"wget -q -O /tmp/page http://{ip}/; echo \"wget exit $?\"; echo kindlb-page; cat /tmp/page; "
              "echo kindlb-arp; cat /proc/net/arp")
    code, out, err = run_on_kind_network(script, image or PROBE_IMAGE, timeout=60)
    head, _, rest = out.partition("kindlb-page")
    page, _, arp = rest.partition("kindlb-arp")
    title = re.search(r"<title>(.*?)</title>", page, re.S | re.I)
    shown = (f"$ ping -c 3 -W 1 {ip}; wget -q -O - http://{ip}/; cat /proc/net/arp   "
             f"(in docker run --rm --network kind {image or PROBE_IMAGE})\n{head.strip()}\n"
             f"page title: {title.group(1).strip() if title else '(none)'}\nneighbour table:\n{arp.strip()}")
    return shown + (f"\n{err.strip()}" if err.strip() else "")


# ---------- diagnosis ----------

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

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.findings]

    @property
    def first(self) -> str:
        return self.findings[0].key if self.findings else HEALTHY

    def names(self, what: str) -> bool:
        return self.first == what

    def __repr__(self) -> str:
        return f"diagnosis of {self.service}:\n" + "\n".join(f"- [{f.key}] {f.text}" for f in self.findings)

    def _repr_html_(self) -> str:
        items = "".join(f"<li><b>{html.escape(f.key)}</b>: {html.escape(f.text)}</li>" for f in self.findings)
        return (f"<details><summary><b>The library's diagnosis of {html.escape(self.service)}</b> (open it after "
                f"your guess)</summary><ol>{items}</ol></details>")


def _pool_of(kind: Kind, svc, crds: bool, version: str) -> str | None:
    keys = ["metallb.io/address-pool", "metallb.universe.tf/address-pool"] \
        if parse_version(version) >= (0, 14, 9) else ["metallb.universe.tf/address-pool"]
    ann = svc.metadata.annotations or {}
    return next((ann[k] for k in keys if k in ann), None)


def _in_use(kind: Kind, ranges: list[PoolRange]) -> int:
    used = set()
    for s in kind.core.list_service_for_all_namespaces().items:
        ip = _ip(s)
        if ip and any(ipaddress.ip_address(ip) in r for r in ranges):
            used.add(ip)
    return len(used)


def diagnose(kind: Kind, service: str, namespace: str = "default") -> Diagnosis:
    """Why ``service`` has no working external address, most likely first, read from the cluster."""
    version = installed_version(kind)
    if version is None:
        return Diagnosis(service, [Finding("no MetalLB", "MetalLB is not installed: run notebook 02")])
    crds = uses_crds(version)
    found: list[Finding] = []
    svc = get_or_none(kind.core.read_namespaced_service, service, namespace)
    if svc is None:
        return Diagnosis(service, [Finding("no Service", f"there is no Service {service}")])
    ip = _ip(svc)
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
        found.append(Finding("no pool", "MetalLB has no address pool (`kubectl -n metallb-system get "
                             "ipaddresspools`): the controller has nothing to hand out; create one (notebook 03)"))
    if cm_missing:
        found.append(Finding(KEPT if ip else "no pool",
                             "the ConfigMap metallb-system/config is gone, but MetalLB v0.12.1 keeps the last valid "
                             "configuration it loaded (controller log: \"configuration is missing, MetalLB will not "
                             "function\") and goes on handing out and announcing addresses"
                             + (f" ({service} got {ip})" if ip else "")
                             + " until its controller restarts: put the ConfigMap back"))
    if not ip:
        failed = [e for e in events if e["reason"] == "AllocationFailed"]
        if failed and pools:
            msg = failed[-1]["message"]
            wanted = _pool_of(kind, svc, crds, version)
            m = re.search(r'pool "?([\w.-]+)"?', msg)
            name = wanted or (m.group(1) if m else None)
            if name and name in pools:
                ranges = [PoolRange.parse(a) for a in pools[name]["addresses"]]
                where = f"pool {name}"
            else:
                auto = [p for p, c in pools.items() if c["auto_assign"]]
                ranges = [PoolRange.parse(a) for p in auto for a in pools[p]["addresses"]]
                where = f"the auto-assign pools ({', '.join(auto)})"
            size, used = sum(r.size for r in ranges), _in_use(kind, ranges)
            if "no available IPs" in msg or used >= size:
                found.insert(0, Finding("pool exhausted", f"{where} is exhausted: {size} address"
                                        f"{'es' if size != 1 else ''}, {used} in use; the controller said: {msg}. "
                                        "Make the pool bigger, or delete a Service that holds one"))
            else:
                found.append(Finding("allocation failed", f"the controller said: {msg}"))
        elif not failed and pools and not found:
            found.append(Finding(HEALTHY, f"{service} has no address yet and no AllocationFailed event: MetalLB may "
                                 "need a few more seconds"))
        return Diagnosis(service, found)
    # it has an address: does any node announce it?
    nodes = {n.metadata.name: n for n in kind.core.list_node().items}
    honours_exclude = parse_version(version) >= (0, 14, 2)
    eligible = {n for n in ready_nodes if not (honours_exclude and EXCLUDE in (nodes[n].metadata.labels or {}))}
    if crds:
        pool = svc.metadata.annotations and _pool_of(kind, svc, crds, version)
        pool = pool or next((p for p, c in pools.items() if any(ipaddress.ip_address(ip) in PoolRange.parse(a)
                                                                  for a in c["addresses"])), None)
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
                                   " (v0.12.1 runs no speaker on the control-plane: its speaker tolerates only the old "
                                   "master taint)")
                                + ". Run a pod on a worker, or use Cluster"))
    elif ready_nodes and not eligible:
        found.insert(0, Finding("excluded nodes", f"every node with a ready speaker ({', '.join(sorted(ready_nodes))}) "
                                f"carries the label {EXCLUDE}: MetalLB {version} (since v0.14.2) does not announce "
                                f"from such nodes, so nobody answers ARP for {ip}. Remove the label from a worker: "
                                f"`kubectl label node <node> {EXCLUDE}-`"))
    labelled = sorted(n for n in ready_nodes if EXCLUDE in (nodes[n].metadata.labels or {}))
    if labelled and not honours_exclude and not found:
        found.append(Finding("label ignored", f"{', '.join(labelled)} carry the label {EXCLUDE}, but MetalLB "
                             f"{version} does not read it (speakers honour it since v0.14.2), so {ip} is still "
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


# ---------- raw facts for the cluster tier ----------

def observe(kind: Kind, service: str) -> dict:
    """Raw facts with kubectl, uninterpreted: what the cluster tier judges the diagnosis against.

    ``service`` is a Service's name, or a failure's key (its Service)."""
    service = FAILURES[service][0] if service in FAILURES else service
    def get(*args: str) -> str:
        return kind.kubectl(*args, check=False).strip()

    crds = uses_crds(installed_version(kind) or "v0.0.0")
    return {
        "ip": get("get", "service", service, "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"),
        "policy": get("get", "service", service, "-o", "jsonpath={.spec.externalTrafficPolicy}"),
        "annotations": get("get", "service", service, "-o", "jsonpath={.metadata.annotations}"),
        "endpoint_nodes": get("get", "endpointslices", "-l", f"kubernetes.io/service-name={service}", "-o",
                              "jsonpath={.items[*].endpoints[*].nodeName}"),
        "pools": get("-n", NAMESPACE, "get", "ipaddresspools", "-o",
                     "jsonpath={range .items[*]}{.metadata.name}={.spec.addresses[*]};{end}") if crds else "",
        "l2ads": get("-n", NAMESPACE, "get", "l2advertisements", "-o", "jsonpath={.items[*].metadata.name}")
        if crds else "",
        "configmap": get("-n", NAMESPACE, "get", "configmap", "config", "-o", "jsonpath={.data.config}")
        if not crds else "",
        "speakers_ready": get("-n", NAMESPACE, "get", "daemonset", "speaker", "-o", "jsonpath={.status.numberReady}"),
        "excluded": get("get", "nodes", "-l", EXCLUDE, "-o", "jsonpath={.items[*].metadata.name}"),
        "nodes": get("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"),
        "services_with_ip": get("get", "services", "-A", "-o",
                                "jsonpath={range .items[*]}{.status.loadBalancer.ingress[0].ip} {end}"),
        "reasons": get("get", "events", "--field-selector", f"involvedObject.name={service}", "-o",
                       "jsonpath={.items[*].reason}"),
    }


# ---------- cause and repair ----------

def _speaker_patch(selector: dict) -> dict:
    return {"spec": {"template": {"spec": {"nodeSelector": selector}}}}


def _patch_speakers(kind: Kind, selector: dict, why: str) -> _hood.Step:
    patch = _speaker_patch(selector)
    kind.apps.patch_namespaced_daemon_set("speaker", NAMESPACE, patch)
    return _hood.Step(_hood.kubectl(kind.cluster, "patch", "daemonset", "speaker", "-p",
                                    json.dumps(patch, separators=(",", ":")), namespace=NAMESPACE), why)


def _settle(done, why: str, timeout: float = 90, required: bool = True) -> bool:
    """Wait (bounded) until ``done()``; a KindlbError after ``timeout`` when ``required``, else False."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            if not required:
                return False
            raise KindlbError(f"{why} after {timeout:.0f} s: run the cell again")
        time.sleep(0.5)
    return True


def _has_ip(kind: Kind, service: str) -> bool:
    svc = get_or_none(kind.core.read_namespaced_service, service, "default")
    return bool(svc and _ip(svc))


def _has_event(kind: Kind, service: str, reason: str) -> bool:
    svc = get_or_none(kind.core.read_namespaced_service, service, "default")
    return bool(svc) and any(e["reason"] == reason for e in events_for(kind, service, "default", uid=svc.metadata.uid))


def _fresh(kind: Kind, service: str) -> None:
    """Delete an old incarnation of ``service`` so that the new one starts with no history."""
    if get_or_none(kind.core.read_namespaced_service, service, "default") is not None:
        delete(kind, "v1", "Service", service, "default")
        _settle(lambda: get_or_none(kind.core.read_namespaced_service, service, "default") is None,
                f"Service {service} is still being deleted", 30)


def _workers(kind: Kind) -> list[str]:
    return sorted(n.metadata.name for n in kind.core.list_node().items
                  if "node-role.kubernetes.io/control-plane" not in (n.metadata.labels or {}))


def _control_plane(kind: Kind) -> str:
    return next(n.metadata.name for n in kind.core.list_node().items
                if "node-role.kubernetes.io/control-plane" in (n.metadata.labels or {}))


def cause(kind: Kind, what: str, image: str | None = None) -> _hood.Done:
    """Break one thing (``what`` is a key of :data:`FAILURES`) and create the Service that shows it."""
    service = service_of(what)
    version = installed_version(kind)
    if version is None:
        raise KindlbError("MetalLB is not installed: run notebooks 02 and 03 first")
    crds = uses_crds(version)
    c = kind.cluster
    steps: list[_hood.Step] = []
    _fresh(kind, service)
    wait_for = None
    annotations = None
    app, policy = "nginx", None
    if what == "no pool":
        if crds:
            delete(kind, "metallb.io/v1beta1", "IPAddressPool", "default", NAMESPACE)
            steps.append(_hood.Step(_hood.kubectl(c, "delete", "ipaddresspool", "default", namespace=NAMESPACE),
                                    "the pool goes; its L2Advertisement stays"))
            wait_for = None  # the controller may say nothing at all: the evidence shows what it did
        else:
            delete(kind, "v1", "ConfigMap", "config", NAMESPACE)
            steps.append(_hood.Step(_hood.kubectl(c, "delete", "configmap", "config", namespace=NAMESPACE),
                                    "the ConfigMap era keeps every pool in this one ConfigMap"))
            wait_for = lambda: _has_ip(kind, service)  # noqa: E731  (v0.12.1 keeps the last valid config)
    elif what == "no L2Advertisement":
        if not crds:
            raise KindlbError(f"MetalLB {version} has no L2Advertisement: the ConfigMap's `protocol: layer2` says how "
                              "to announce each pool, so this failure cannot happen in this era")
        delete(kind, "metallb.io/v1beta1", "L2Advertisement", "default", NAMESPACE)
        steps.append(_hood.Step(_hood.kubectl(c, "delete", "l2advertisement", "default", namespace=NAMESPACE),
                                "the pool stays: addresses are still handed out"))
        wait_for = lambda: _has_ip(kind, service)  # noqa: E731
    elif what == "pool exhausted":
        one = str(free_addresses(kind, 2, ignore=(PREFIX,)).first)  # the next one is free too: the repair
        key = "metallb.io/address-pool" if parse_version(version) >= (0, 14, 9) else "metallb.universe.tf/address-pool"
        steps += add_pool(kind, "ts-one", one, auto_assign=False).hood.steps
        _fresh(kind, "ts-first")
        steps += lb_service(kind, "ts-first", annotations={key: "ts-one"}).hood.steps
        _settle(lambda: _has_ip(kind, "ts-first"), "ts-first has no address yet")
        annotations = {key: "ts-one"}
        wait_for = lambda: _has_event(kind, service, "AllocationFailed")  # noqa: E731
    elif what == "speakers not ready":
        steps.append(_patch_speakers(kind, NOWHERE, "a nodeSelector no node matches: every speaker pod goes"))
        _settle(lambda: not any(is_ready(p) and not p.metadata.deletion_timestamp for p in
                                kind.core.list_namespaced_pod(NAMESPACE, label_selector="component=speaker").items),
                "the speaker pods are still there")
        wait_for = lambda: _has_ip(kind, service)  # noqa: E731
    elif what == "no endpoints":
        app = "ngnix"  # the typo
        wait_for = lambda: _has_ip(kind, service)  # noqa: E731
    elif what == "Local without announcer":
        cp = _control_plane(kind)
        dep = _cp_deployment(cp, image or _nginx_image(kind))
        _apply(kind, [dep])
        steps.append(_hood.Step(_hood.kubectl(c, "apply", "-f", "ts-cp.yaml"), f"one nginx pod, on {cp} only",
                                (("ts-cp.yaml", [dep]),)))
        _settle(lambda: any(is_ready(p) for p in kind.core.list_namespaced_pod(
            "default", label_selector="app=ts-cp").items), "the ts-cp pod is not ready", 120)
        app, policy = "ts-cp", "Local"
        wait_for = lambda: _has_ip(kind, service)  # noqa: E731
    elif what == "excluded nodes":
        workers = _workers(kind)
        for w in workers:
            kind.core.patch_node(w, {"metadata": {"labels": {EXCLUDE: ""}}})
        steps.append(_hood.Step(_hood.kubectl(c, "label", "node", *workers, f"{EXCLUDE}="),
                                "the control-plane has it already (kubeadm)"))
        wait_for = lambda: _has_ip(kind, service)  # noqa: E731
    else:  # ping vs TCP: nothing is broken
        wait_for = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    done = lb_service(kind, service, annotations=annotations, app=app, policy=policy)
    steps += done.hood.steps
    if wait_for is None:
        _settle(lambda: _has_event(kind, service, "AllocationFailed") or _has_ip(kind, service),
                "no word from the controller", timeout=15, required=False)
    else:
        _settle(wait_for, f"MetalLB has not acted on {service} yet")
    time.sleep(2)  # let the speakers have their say (or not) before the evidence is read
    return _hood.Done(f"caused: {what}; created {service}", _hood.Hood(f"cause: {what}", steps))


def _nginx_image(kind: Kind) -> str:
    dep = get_or_none(kind.apps.read_namespaced_deployment, "nginx", "default")
    return dep.spec.template.spec.containers[0].image if dep else "nginx:1.27"


def _cp_deployment(node: str, image: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ts-cp", "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "ts-cp"}},
                     "template": {"metadata": {"labels": {"app": "ts-cp"}},
                                  "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                                           "tolerations": [{"key": "node-role.kubernetes.io/control-plane",
                                                            "operator": "Exists", "effect": "NoSchedule"}],
                                           "containers": [{"name": "nginx", "image": image,
                                                           "ports": [{"containerPort": 80}]}]}}}}


def repair(kind: Kind, what: str, pool: str, timeout: float = 180) -> _hood.Done:
    """Mend what :func:`cause` broke; wait until the Service is served again (or the kept config is restored)."""
    service = service_of(what)
    c = kind.cluster
    steps: list[_hood.Step] = []
    check = lambda: _has_ip(kind, service)  # noqa: E731
    if what in ("no pool", "no L2Advertisement"):
        steps += configure(kind, pool, "default").hood.steps
        if what == "no L2Advertisement":
            check = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    elif what == "pool exhausted":
        one = pool_config(kind)["ts-one"]["addresses"][0].split("/")[0].split("-")[0]
        grown = f"{one}-{ipaddress.ip_address(one) + 1}"
        steps += add_pool(kind, "ts-one", grown, auto_assign=False).hood.steps
    elif what == "speakers not ready":
        steps.append(_patch_speakers(kind, {k: None for k in NOWHERE}, "remove that nodeSelector again"))
        steps += wait_ready(kind, timeout=timeout, progress=False).hood.steps
        check = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    elif what == "no endpoints":
        kind.core.patch_namespaced_service(service, "default", {"spec": {"selector": {"app": "nginx"}}})
        steps.append(_hood.Step(_hood.kubectl(c, "patch", "service", service, "-p",
                                              '{"spec":{"selector":{"app":"nginx"}}}'), "the selector, spelt right"))
        check = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    elif what == "Local without announcer":
        kind.core.patch_namespaced_service(service, "default", {"spec": {"externalTrafficPolicy": "Cluster"}})
        steps.append(_hood.Step(_hood.kubectl(c, "patch", "service", service, "-p",
                                              '{"spec":{"externalTrafficPolicy":"Cluster"}}'),
                                "or run a pod on a worker: either gives MetalLB a node that may announce"))
        check = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    elif what == "excluded nodes":
        workers = _workers(kind)
        for w in workers:
            kind.core.patch_node(w, {"metadata": {"labels": {EXCLUDE: None}}})
        steps.append(_hood.Step(_hood.kubectl(c, "label", "node", *workers, f"{EXCLUDE}-"), "the workers may announce"))
        check = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    _settle(check, f"{service} is not served yet", timeout)
    cleaned = _cleanup(kind, PREFIX)
    return _hood.Done(f"repaired: {what}; removed the ts-* objects", _hood.Hood(f"repair: {what}",
                                                                                 steps + cleaned.hood.steps))


def cleanup(kind: Kind, pool: str | None = None) -> _hood.Done:
    """Remove every ``ts-*`` object and undo any failure left by an interrupted run; safe twice."""
    version = installed_version(kind)
    if version is not None:
        ds = get_or_none(kind.apps.read_namespaced_daemon_set, "speaker", NAMESPACE)
        if ds is not None and any(k in (ds.spec.template.spec.node_selector or {}) for k in NOWHERE):
            _patch_speakers(kind, {k: None for k in NOWHERE}, "undo")
        for w in _workers(kind):
            n = kind.core.read_node(w)
            if EXCLUDE in (n.metadata.labels or {}):
                kind.core.patch_node(w, {"metadata": {"labels": {EXCLUDE: None}}})
        if pool is not None:
            have = pool_config(kind)
            if "default" not in have or (uses_crds(version) and not any(
                    a["metadata"]["name"] == "default" for a in l2_advertisements(kind))):
                configure(kind, pool, "default")
    return _cleanup(kind, PREFIX)


__all__ = ["FAILURES", "cause", "evidence", "diagnose", "repair", "cleanup", "observe", "applies", "service_of",
           "Diagnosis", "Evidence", "Finding", "HEALTHY", "KEPT", "ping_and_tcp", "configmap_pools", "not_here",
           "default_pool"]
