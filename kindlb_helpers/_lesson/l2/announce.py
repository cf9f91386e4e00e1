"""MetalLB's side of layer 2: which speaker announces a Service's IP, which nodes may announce at all,
and waiting until one does.

The announcer is read from MetalLB's ServiceL2Status where it keeps one (v0.14.6+), else from the
Service's ``nodeAssigned`` events; the speakers' logs and the nodes' labels and taints say why.
"""
from __future__ import annotations

import re
import shlex
import shutil

import pandas as pd

from ..._cluster.kube import Kind, events_for, is_ready
from ..._cluster.metallb import l2_status_nodes
from ..._cluster.waits import wait_until
from ..._core import hood as _hood
from ..._core.errors import KindlbError
from ..._core.manifests import NAMESPACE
from ..._core.objects import APP_LABEL
from ..._core.release import fact
from .neigh import entry_node
from .parse import parse_node_assigned

SPEAKER_LABEL = "component=speaker"


def speaker_pods(kind: Kind) -> list:
    pods = kind.core.list_namespaced_pod(NAMESPACE, label_selector=SPEAKER_LABEL).items
    return sorted((p for p in pods if not p.metadata.deletion_timestamp), key=lambda p: p.spec.node_name or "")


def _speaker_says(kind: Kind, pod, service: str, ip: str | None = None) -> str:
    """The last thing this speaker's log says about the Service: announced or withdrawn.

    A line is about the Service when it names it (v0.12.1 logs ``"service":"default/nginx"``) or its IP
    (from v0.13 the ``serviceAnnounced`` line carries only ``"ips":["..."]``, ``serviceWithdrawn``
    ``"ip":["..."]``).
    """
    try:
        log = kind.core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE, container="speaker", since_seconds=3600)
    except Exception:  # a speaker that is starting has no log yet
        return "no log yet"
    said = "nothing"
    for line in log.splitlines():
        if f'"service":"{service}"' not in line and not (ip and f'"{ip}"' in line):
            continue
        m = re.search(r'"event":"(\w+)"', line)
        if m and m.group(1) in ("serviceAnnounced", "serviceWithdrawn"):
            said = m.group(1)
    return said


def announcements(kind: Kind, name: str = "nginx", namespace: str = "default",
                  uid: str | None = None) -> list[tuple[object, str]]:
    """(time, node) of the Service's ``nodeAssigned`` events, oldest first (with ``uid``: that incarnation's only)."""
    out = []
    for e in events_for(kind, name, namespace, uid=uid):
        node = parse_node_assigned(e["message"]) if e["reason"] == "nodeAssigned" else None
        if node:
            out.append((e["time"], node))
    return out


def current_announcer(kind: Kind, name: str = "nginx", namespace: str = "default") -> str | None:
    """The announcing node: from MetalLB's ServiceL2Status where it keeps one (v0.14.6+), else the node
    of the newest ``nodeAssigned`` event (the ConfigMap era), or None."""
    try:
        nodes = l2_status_nodes(kind, name, namespace)
    except KindlbError:  # no such resource in this MetalLB, or not readable
        nodes = None
    if nodes:
        return nodes[0]
    got = announcements(kind, name, namespace)
    return got[-1][1] if got else None


def announcer_steps(cluster: str, name: str, namespace: str, ip=None, l2status: bool = False) -> _hood.Hood:
    """The describe / ServiceL2Status / get pods / speaker-log lines that show who announces a Service."""
    svc = f"{namespace}/{name}"
    steps = [_hood.Step(_hood.kubectl(cluster, "describe", "service", name, namespace=namespace),
                        "Events: nodeAssigned names the node whose speaker answers ARP for the IP")]
    if l2status:
        steps.append(_hood.Step(_hood.kubectl(
            cluster, "get", "servicel2statuses", "-l",
            f"metallb.io/service-name={name},metallb.io/service-namespace={namespace}", namespace=NAMESPACE),
            f"{fact('l2status').since}+: one ServiceL2Status per announcing speaker; ALLOCATED NODE is the announcer"))
    steps.append(_hood.Step(_hood.kubectl(cluster, "get", "pods", "-l", SPEAKER_LABEL, "-o", "wide",
                                          namespace=NAMESPACE)))
    logs = _hood.kubectl(cluster, "logs", "-l", SPEAKER_LABEL, "-c", "speaker", "--prefix", "--tail=-1",
                         namespace=NAMESPACE)
    if ip is not None:
        steps.append(_hood.Step(logs + f" | grep -F {shlex.quote(chr(34) + str(ip) + chr(34))} | grep -E "
                                "'serviceAnnounced|serviceWithdrawn'",
                                "each speaker logs whether it announces the IP (from v0.13 the line names the IP, "
                                "not the Service)"))
    else:
        steps.append(_hood.Step(logs + f" | grep -F {shlex.quote(svc)} | grep -E 'serviceAnnounced|serviceWithdrawn'",
                                "each speaker logs whether it announces the Service (v0.12.1 names it)"))
    return _hood.Hood(f"who announces {svc}", steps)


def announcer(kind: Kind, name: str = "nginx", namespace: str = "default") -> pd.DataFrame:
    """One row per speaker: its node, its pod, what its log last says about the Service (by name or IP),
    whether MetalLB's ServiceL2Status names that node (v0.14.6+; None before), and whether the newest
    ``nodeAssigned`` event does. ``attrs``: ``node`` (the announcer), ``ip``, ``l2status``, ``hood``."""
    from ..app import external_ip

    node = current_announcer(kind, name, namespace)
    got = external_ip(kind, name, namespace)
    ip = str(got.ip) if got else None
    try:
        l2s = l2_status_nodes(kind, name, namespace)
    except KindlbError:
        l2s = None
    events = announcements(kind, name, namespace)
    newest_event = events[-1][1] if events else None
    svc = f"{namespace}/{name}"
    pods = app_pods_by_node(kind, name, namespace)
    rows = [{"node": p.spec.node_name, f"{name} pods": pods.get(p.spec.node_name, 0), "speaker": p.metadata.name,
             "ready": all(c.ready for c in (p.status.container_statuses or [])) and bool(p.status.container_statuses),
             "speaker log says": _speaker_says(kind, p, svc, ip),
             "ServiceL2Status": None if l2s is None else p.spec.node_name in l2s[:1],
             "nodeAssigned": p.spec.node_name == newest_event} for p in speaker_pods(kind)]
    frame = pd.DataFrame(rows, columns=["node", f"{name} pods", "speaker", "ready", "speaker log says",
                                        "ServiceL2Status", "nodeAssigned"])
    frame.attrs.update(node=node, ip=ip, service=svc, l2status=l2s,
                       hood=announcer_steps(kind.cluster, name, namespace, ip, l2status=l2s is not None))
    return frame


def who_may_announce(kind: Kind, version: str | None = None) -> pd.DataFrame:
    """One row per node: its role, its control-plane taint, whether a speaker runs there, whether it carries
    ``node.kubernetes.io/exclude-from-external-load-balancers`` (kubeadm puts it on the control-plane), and
    so whether its speaker may announce in layer 2 under MetalLB ``version`` (default: the installed one).

    v0.12.1's speakers tolerate only the old ``master`` taint, so none runs on a kind control-plane; from
    v0.13.0 one does; from v0.14.2 a speaker skips a node with that label (:data:`kindlb_helpers._core.release.FACTS`).
    """
    from ..._cluster.metallb import installed_version
    from ..._core.release import fact

    version = version or installed_version(kind)
    label = "node.kubernetes.io/exclude-from-external-load-balancers"
    honours = bool(version) and fact("exclude_lb_label").holds(version)
    speakers = {p.spec.node_name for p in speaker_pods(kind)}
    rows = []
    for n in sorted(kind.core.list_node().items, key=lambda n: n.metadata.name):
        labels = n.metadata.labels or {}
        roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")) or ["<none>"]
        taints = [f"{t.key}:{t.effect}" for t in (n.spec.taints or [])]
        excluded = label in labels
        has_speaker = n.metadata.name in speakers
        if not has_speaker:
            why = ("no speaker: its taint " + ", ".join(taints) + " is not tolerated") if taints else "no speaker pod"
        elif excluded and honours:
            why = f"the speaker skips it: labelled {label} ({fact('exclude_lb_label').releases})"
        elif excluded:
            why = f"labelled, but MetalLB {version} ignores the label (honoured {fact('exclude_lb_label').releases})"
        else:
            why = "a speaker runs here and nothing excludes it"
        rows.append({"node": n.metadata.name, "roles": ",".join(roles), "taints": ", ".join(taints) or "<none>",
                     "speaker": has_speaker, "exclude label": excluded,
                     "may announce": has_speaker and not (excluded and honours), "why": why})
    frame = pd.DataFrame(rows, columns=["node", "roles", "taints", "speaker", "exclude label", "may announce", "why"])
    cp = frame[frame["roles"].str.contains("control-plane")]
    frame.attrs["control_plane"] = ({k: (bool(v) if k != "node" else str(v)) for k, v in
                                     cp.iloc[0][["node", "speaker", "exclude label", "may announce"]].items()}
                                    if len(cp) else None)
    frame.attrs.update(version=version, hood=_hood.Hood("who may announce", [
        _hood.Step(_hood.kubectl(kind.cluster, "get", "nodes", "-L", label),
                   "kubeadm labels the control-plane; kind keeps the label when the cluster has more than one node"),
        _hood.Step(_hood.kubectl(kind.cluster, "get", "nodes", "-o",
                                 "custom-columns=NAME:.metadata.name,TAINTS:.spec.taints[*].key")),
        _hood.Step(_hood.kubectl(kind.cluster, "get", "daemonset", "speaker", "-o",
                                 "jsonpath={.spec.template.spec.tolerations}", namespace=NAMESPACE),
                   "the taints the speakers tolerate"),
    ]))
    return frame


def app_pods_by_node(kind: Kind, name: str, namespace: str) -> dict[str, int]:
    """node -> number of ready pods of the app on it."""
    out: dict[str, int] = {}
    for p in kind.core.list_namespaced_pod(namespace, label_selector=f"{APP_LABEL}={name}").items:
        if is_ready(p) and not p.metadata.deletion_timestamp:
            out[p.spec.node_name] = out.get(p.spec.node_name, 0) + 1
    return out


def wait_local_announcer(kind: Kind, name: str = "nginx", namespace: str = "default", timeout: float = 60,
                         via: str = "host", image: str | None = None) -> str:
    """Under ``externalTrafficPolicy: Local``: wait until the announcing node runs a ready pod of the app.

    Where MetalLB keeps no ServiceL2Status (the ConfigMap era), a speaker's events can be dropped by the
    event recorder's rate limit after many changes; then the client's own ARP answer decides: the node
    whose MAC answers for the Service's IP (from the host, or from a container on the kind network).
    """
    from ..app import external_ip

    seen: list[str] = []
    got = external_ip(kind, name, namespace)
    ip = str(got.ip) if got else None
    use_arp = ip is not None and l2_status_nodes(kind, name, namespace) is None and (
        via == "container" or shutil.which("ip") is not None)

    def check() -> tuple[bool, str]:
        now, pods = current_announcer(kind, name, namespace), app_pods_by_node(kind, name, namespace)
        if now and pods.get(now):
            seen[:] = [now]
            return True, f"{now} announces and runs {pods[now]} pod(s)"
        if use_arp:
            owner = entry_node(kind, ip, via, image)
            if owner and pods.get(owner):
                seen[:] = [owner]
                return True, f"{owner} answers ARP for {ip} and runs {pods[owner]} pod(s)"
            return False, f"announcer {now} (events), {owner} (ARP), pods on {sorted(pods)}"
        return False, f"announcer {now}, pods on {sorted(pods)}"

    wait_until(check, timeout=timeout, desc=f"a node with a {name} pod announces", progress=False)
    return seen[0]


def wait_announcer(kind: Kind, name: str = "nginx", namespace: str = "default", *, exclude: str | None = None,
                   node: str | None = None, timeout: float = 60, progress: bool = False) -> str:
    """Wait until a ``nodeAssigned`` event names a node (not ``exclude``; ``node`` when given); return it."""
    seen: list[str] = []

    def check() -> tuple[bool, str]:
        now = current_announcer(kind, name, namespace)
        ok = now is not None and now != exclude and (node is None or now == node)
        if ok:
            seen[:] = [now]
        return ok, f"announcer {now or 'none yet'}"

    wait_until(check, timeout=timeout, desc=f"announcer of {name}", progress=progress)
    return seen[0]
