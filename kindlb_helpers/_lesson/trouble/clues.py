"""The evidence for one staged failure, before any verdict: what MetalLB's troubleshooting guide reads.

- ``kubectl describe service`` (its events are this incarnation's: describe filters by uid, and so does the
  events table here);
- the controller's and the speakers' log lines about this Service (by its key and its address, since it
  was created);
- MetalLB's status resources where the release has them (ServiceL2Status since v0.14.6,
  ConfigurationState since v0.15.3: release facts l2status, configuration_state); the ConfigMap era has
  none, its whole configuration is the ConfigMap;
- per failure, the pods and EndpointSlices, the nodes' exclude label, or ping and TCP from a container.
"""
from __future__ import annotations

import datetime as _dt
import html
import re
from dataclasses import dataclass, field

import pandas as pd

from ..._cluster.kube import Kind, events_for, get_or_none
from ..._core import hood as _hood
from ..._core.errors import KindlbError
from ..._core.manifests import NAMESPACE
from .failures import EXCLUDE, installed, ip_of, service_of


def _lines_about(kind: Kind, selector: str, needles: list[str], since: int, limit: int = 8) -> list[str]:
    """The last ``limit`` log lines per pod, since ``since`` seconds ago, that mention one of ``needles``."""
    out = []
    for pod in kind.core.list_namespaced_pod(NAMESPACE, label_selector=selector).items:
        container = pod.spec.containers[0].name
        try:
            log = kind.core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE, container=container,
                                                    since_seconds=max(1, since))
        except KindlbError as exc:  # a pod that is starting or gone has no log to show
            out.append(f"[{pod.metadata.name}] (no log: {str(exc).splitlines()[0][:100]})")
            continue
        hits = [ln for ln in log.splitlines() if any(n in ln for n in needles)]
        out += [f"[{pod.spec.node_name or pod.metadata.name}] {ln[:300]}" for ln in hits[-limit:]]
    return out


def _status_resources(kind: Kind, service: str) -> tuple[str, str]:
    """(commands, their output): MetalLB's own view of this Service and its configuration."""
    here = installed(kind)
    if here is None or not here.uses_crds:
        cmd = "kubectl -n metallb-system get configmap config -o yaml"
        cm = get_or_none(kind.core.read_namespaced_config_map, "config", NAMESPACE)
        text = ((cm.data or {}).get("config") if cm else None)
        return (cmd, f"MetalLB {here or '(none)'} has no status resources; its whole configuration is this ConfigMap:\n"
                + (text.rstrip() if text else 'Error from server (NotFound): configmaps "config" not found'))
    cmds = [("get", "ipaddresspools,l2advertisements"),
            ("get", "servicel2statuses", "-l", f"metallb.io/service-name={service}", "-o",
             "custom-columns=NAME:.metadata.name,NODE:.status.node,SERVICE:.status.serviceName")]
    out = []
    for args in cmds:
        res = kind.kubectl("-n", NAMESPACE, *args, check=False)
        out.append(f"$ kubectl -n metallb-system {' '.join(args)}\n{res.strip() or 'No resources found'}")
    states = get_or_none(kind.custom.list_namespaced_custom_object, "metallb.io", "v1beta1", NAMESPACE,
                         "configurationstates") if here.holds("configuration_state") else None
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
    created = svc.metadata.creation_timestamp
    since = int((_dt.datetime.now(_dt.timezone.utc) - created).total_seconds()) + 5
    ip = ip_of(svc)
    needles = [f"default/{service}"] + ([f'"{ip}"', f'["{ip}"]'] if ip else [])
    if what == "no pool":  # the controller's word on its configuration names no Service
        needles += ["configuration is missing", "configStale", "config (re)load", "setConfig"]
    describe = kind.kubectl("describe", "service", service, check=False)
    events = pd.DataFrame(events_for(kind, service, "default", uid=svc.metadata.uid),
                          columns=["type", "reason", "from", "count", "message"])
    status_cmd, status = _status_resources(kind, service)
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
    from ..._cluster.containers import PROBE_IMAGE, run_on_kind_network

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
