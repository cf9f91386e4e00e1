"""Layer 2 under the hood: who announces a LoadBalancer IP, which MAC answers ARP for it, failover,
and the client address the pods see.

Every helper here reads the cluster, Docker or the neighbour table and returns a DataFrame (its
``attrs["hood"]`` holds the ``kubectl`` / ``docker`` / ``ip`` / ``arping`` lines a person would
type, shown with ``kh.show(frame)``) or an object with ``_repr_html_`` that includes its hood.

Traffic goes only to the LoadBalancer IP, and only when it lies inside the kind docker network.
Where the host has no route to the kind network (Docker Desktop on macOS and Windows), pass
``via="container"``: the ARP part then runs in a throwaway busybox container on that network.
"""
from __future__ import annotations

import html
import ipaddress
import re
import secrets
import shlex
import shutil
import time
import urllib.request
from dataclasses import dataclass, field

import pandas as pd

from ..cluster.commands import run
from ..cluster.containers import PROBE_IMAGE, run_on_kind_network
from ..cluster.kube import Kind, events_for, is_ready
from ..cluster.metallb import l2_status_nodes  # noqa: F401  (re-exported: kh.l2.l2_status_nodes)
from ..core import hood as _hood
from ..core.errors import BadInput, KindlbError, WaitTimeout
from ..core.manifests import NAMESPACE
from ..core.objects import APP_LABEL, http_url

#: MetalLB's documented behaviour on failover, in our words (shown beside the measured time).
DOCUMENTED = ("Speakers watch each other with memberlist. When the announcing node (or its speaker) goes away, "
              "the remaining speakers agree on a new owner for the IP; that speaker sends gratuitous ARP so "
              "that clients update their ARP caches. MetalLB's docs say this usually takes a few seconds; a "
              "client that ignores gratuitous ARP keeps the old MAC until its cache entry expires.")
SPEAKER_LABEL = "component=speaker"
#: The upper bound any failover measurement may take (seconds).
FAILOVER_LIMIT = 90
_MAC = re.compile(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}", re.I)


# ---------- pure parsing (no cluster, no Docker) ----------

def parse_node_assigned(message: str) -> str | None:
    """The node named in a ``nodeAssigned`` event.

    >>> parse_node_assigned('announcing from node "kindlb-worker2" with protocol "layer2"')
    'kindlb-worker2'
    """
    m = re.search(r'node "([^"]+)"', message or "")
    return m.group(1) if m else None


def parse_neigh(text: str) -> list[dict]:
    """Rows of ``ip neigh show`` output: ip, dev, mac, state.

    >>> parse_neigh("172.18.255.200 dev br-1 lladdr 02:42:ac:12:00:03 REACHABLE")
    [{'ip': '172.18.255.200', 'dev': 'br-1', 'mac': '02:42:ac:12:00:03', 'state': 'REACHABLE'}]
    """
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        dev = parts[parts.index("dev") + 1] if "dev" in parts[:-1] else None
        mac = parts[parts.index("lladdr") + 1].lower() if "lladdr" in parts[:-1] else None
        state = parts[-1] if parts[-1].isupper() else None
        rows.append({"ip": parts[0], "dev": dev, "mac": mac, "state": state})
    return rows


def parse_arping(text: str) -> list[str]:
    """The MACs in ``arping`` replies (iputils' and busybox's formats), in order.

    >>> parse_arping("Unicast reply from 172.18.255.200 [02:42:AC:12:00:03]  0.071ms")
    ['02:42:ac:12:00:03']
    """
    return [m.lower() for line in text.splitlines() if "reply" in line.lower() for m in _MAC.findall(line)]


def parse_access_log(log: str, token: str) -> list[str]:
    """The client address of each access-log line that carries ``kindlb=TOKEN-``.

    >>> parse_access_log('10.244.1.1 - - [x] "GET /?kindlb=ab-1 HTTP/1.1" 200', "ab")
    ['10.244.1.1']
    """
    return [line.split()[0] for line in log.splitlines() if f"kindlb={token}-" in line and line.split()]


def _checked_ip(ip, subnet=None) -> str:
    """``ip`` as text when it lies in the kind network (only there may the helpers send traffic)."""
    from ..cluster.dockernet import kind_network

    try:
        addr = ipaddress.ip_address(str(ip))
    except ValueError:
        raise BadInput(f"{ip!r} is not an IP address: pass the Service's external IP (lb.ip)") from None
    net = ipaddress.ip_network(str(subnet)) if subnet else kind_network().subnet(addr.version)
    if addr not in net:
        raise BadInput(f"{addr} is not on the kind network {net}: pass the LoadBalancer IP of a Service "
                       "in this cluster (kindlb sends traffic nowhere else)")
    return str(addr)


def _via(via: str) -> str:
    if via not in ("host", "container"):
        raise BadInput(f"via must be 'host' or 'container' (where the host cannot reach the kind network), "
                       f"not {via!r}")
    return via


# ---------- who announces ----------

def _speakers(kind: Kind) -> list:
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


def announcements(kind: Kind, name: str = "nginx", namespace: str = "default") -> list[tuple[object, str]]:
    """(time, node) of the Service's ``nodeAssigned`` events, oldest first."""
    out = []
    for e in events_for(kind, name, namespace):
        node = parse_node_assigned(e["message"]) if e["reason"] == "nodeAssigned" else None
        if node:
            out.append((e["time"], node))
    return out


def current_announcer(kind: Kind, name: str = "nginx", namespace: str = "default") -> str | None:
    """The announcing node: from MetalLB's ServiceL2Status where it keeps one (v0.14+), else the node
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
            "v0.14+: one ServiceL2Status per announcing speaker; ALLOCATED NODE is the announcer"))
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
    whether MetalLB's ServiceL2Status names that node (v0.14+; None before), and whether the newest
    ``nodeAssigned`` event does. ``attrs``: ``node`` (the announcer), ``ip``, ``l2status``, ``hood``."""
    from .app import external_ip

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
    pods = _app_pods_by_node(kind, name, namespace)
    rows = [{"node": p.spec.node_name, f"{name} pods": pods.get(p.spec.node_name, 0), "speaker": p.metadata.name,
             "ready": all(c.ready for c in (p.status.container_statuses or [])) and bool(p.status.container_statuses),
             "speaker log says": _speaker_says(kind, p, svc, ip),
             "ServiceL2Status": None if l2s is None else p.spec.node_name in l2s[:1],
             "nodeAssigned": p.spec.node_name == newest_event} for p in _speakers(kind)]
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
    v0.13 one does; from v0.14 a speaker skips a node with that label (:data:`kindlb_helpers.core.release.FACTS`).
    """
    from ..cluster.metallb import installed_version
    from ..core.release import fact

    version = version or installed_version(kind)
    label = "node.kubernetes.io/exclude-from-external-load-balancers"
    honours = bool(version) and fact("exclude_lb_label").holds(version)
    speakers = {p.spec.node_name for p in _speakers(kind)}
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


def _app_pods_by_node(kind: Kind, name: str, namespace: str) -> dict[str, int]:
    """node -> number of ready pods of the app on it."""
    out: dict[str, int] = {}
    for p in kind.core.list_namespaced_pod(namespace, label_selector=f"{APP_LABEL}={name}").items:
        if is_ready(p) and not p.metadata.deletion_timestamp:
            out[p.spec.node_name] = out.get(p.spec.node_name, 0) + 1
    return out


def wait_local_announcer(kind: Kind, name: str = "nginx", namespace: str = "default", timeout: float = 60,
                         via: str = "host", image: str = PROBE_IMAGE) -> str:
    """Under ``externalTrafficPolicy: Local``: wait until the announcing node runs a ready pod of the app.

    Where MetalLB keeps no ServiceL2Status (the ConfigMap era), a speaker's events can be dropped by the
    event recorder's rate limit after many changes; then the client's own ARP answer decides: the node
    whose MAC answers for the Service's IP (from the host, or from a container on the kind network).
    """
    from .app import external_ip

    seen: list[str] = []
    got = external_ip(kind, name, namespace)
    ip = str(got.ip) if got else None
    use_arp = ip is not None and l2_status_nodes(kind, name, namespace) is None and (
        via == "container" or shutil.which("ip") is not None)

    def check() -> tuple[bool, str]:
        now, pods = current_announcer(kind, name, namespace), _app_pods_by_node(kind, name, namespace)
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

    _wait(check, timeout, f"a node with a {name} pod announces")
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

    _wait(check, timeout, f"announcer of {name}", progress)
    return seen[0]


def _wait(check, timeout: float, desc: str, progress: bool = False, interval: float = 0.2) -> str:
    from ..cluster.waits import wait_until

    return wait_until(check, timeout=timeout, desc=desc, progress=progress, interval=interval)


# ---------- node MACs (Docker API) ----------

def node_macs(cluster: str, network: str | None = None) -> pd.DataFrame:
    """The kind node containers' IPv4 and MAC addresses on the kind network, from the Docker API."""
    from ..cluster.dockernet import docker_client, kind_network_name, translate

    net = network or kind_network_name()
    client = docker_client()
    with translate(client, "list the kind node containers"):
        found = client.api.containers(filters={"label": f"io.x-k8s.kind.cluster={cluster}"})
    rows = []
    for c in found:
        on = ((c.get("NetworkSettings") or {}).get("Networks") or {}).get(net) or {}
        rows.append({"node": (c.get("Names") or ["?"])[0].lstrip("/"), "ip": on.get("IPAddress") or None,
                     "mac": (on.get("MacAddress") or "").lower() or None})
    if not rows:
        raise KindlbError(f"no running node containers of kind cluster {cluster!r}: `kind get clusters` lists them")
    frame = pd.DataFrame(sorted(rows, key=lambda r: r["node"]), columns=["node", "ip", "mac"])
    fmt = "{{.Name}} {{(index .NetworkSettings.Networks \"" + net + "\").IPAddress}} " \
          "{{(index .NetworkSettings.Networks \"" + net + "\").MacAddress}}"
    frame.attrs["hood"] = _hood.Hood(f"the node containers' MACs on network {net}", [
        _hood.Step(f"docker inspect -f {shlex.quote(fmt)} $(kind get nodes --name {shlex.quote(cluster)})",
                   "each node container's interface on the kind bridge has its own MAC")])
    return frame


def _mac_to_node(cluster: str) -> dict[str, str]:
    frame = node_macs(cluster)
    return dict(zip(frame["mac"], frame["node"]))


# ---------- the neighbour table, seen from the host or from a container ----------

def _arping_cmd() -> list[str] | None:
    if shutil.which("arping"):
        return ["arping"]
    if shutil.which("busybox"):
        return ["busybox", "arping"]
    return None


def _knock(ip: str, port: int = 80) -> None:
    """One HTTP request to the IP, so that the kernel resolves it with ARP (failure is fine)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(http_url(ip, port), timeout=2) as resp:
            resp.read()
    except OSError:
        pass


def neighbours(ip, via: str = "host", image: str = PROBE_IMAGE, port: int = 80, arping: bool = True) -> pd.DataFrame:
    """The neighbour-table entry for ``ip`` after one request to it, and the MACs that answer ``arping``.

    ``via="host"`` reads this machine's table (``ip neigh show IP``); ``via="container"`` does the same
    inside a busybox container on the kind network (for hosts without a route to it). One row per
    source: ``ip neigh`` and ``arping`` (when an arping is installed). ``attrs``: ``mac``, ``hood``.
    """
    ip, via = _checked_ip(ip), _via(via)
    url = http_url(ip, port)
    rows: list[dict] = []
    if via == "host":
        _knock(ip, port)
        found = parse_neigh(_ip_neigh(ip))
        dev = found[0]["dev"] if found else None
        rows += [{"source": "ip neigh", "ip": r["ip"], "mac": r["mac"], "state": r["state"], "dev": r["dev"]}
                 for r in found]
        steps = [_hood.Step(shlex.join(["curl", "-s", "-o", "/dev/null", url]), "one request: the kernel asks ARP"),
                 _hood.Step(f"ip neigh show {ip}", "the neighbour table: the MAC this host sends the IP's packets to")]
        tool = _arping_cmd()
        if arping and tool and dev:
            cmd = [*tool, "-c", "2", "-I", dev, ip]
            got = run(cmd, what="arping", timeout=15, check=False)
            rows += [{"source": "arping", "ip": ip, "mac": m, "state": "reply", "dev": dev}
                     for m in dict.fromkeys(parse_arping(got.stdout))]
            steps.append(_hood.Step(shlex.join(cmd), "ask who has the IP; the announcing speaker replies"))
        hood = _hood.Hood(f"the neighbour entry for {ip} on this host", steps)
    else:
        script = (f"wget -q -O /dev/null {url} 2>/dev/null; echo --neigh; busybox ip neigh show {ip}; "
                  f"echo --arping; busybox arping -c 2 -I eth0 {ip}; true")
        code, out, err = run_on_kind_network(script, image, timeout=60)
        neigh, _, arp = out.partition("--arping")
        for r in parse_neigh(neigh.replace("--neigh", "")):
            rows.append({"source": "ip neigh (container)", "ip": r["ip"], "mac": r["mac"], "state": r["state"],
                         "dev": r["dev"]})
        if arping:
            rows += [{"source": "arping (container)", "ip": ip, "mac": m, "state": "reply", "dev": "eth0"}
                     for m in dict.fromkeys(parse_arping(arp))]
        if code != 0 and not rows:
            raise KindlbError(f"the probe container could not look at the neighbour table: {err.strip()[-300:]}")
        hood = _hood.Hood(f"the neighbour entry for {ip}, seen from a container on the kind network", [
            _hood.Step(shlex.join(["docker", "run", "--rm", "--network", _network(), image, "sh", "-c", script]),
                       "busybox's wget, ip and arping, next to the nodes on the kind bridge")])
    frame = pd.DataFrame(rows, columns=["source", "ip", "mac", "state", "dev"])
    macs = [m for m in frame["mac"] if m]
    frame.attrs.update(mac=macs[0] if macs else None, via=via, hood=hood)
    return frame


def _network() -> str:
    from ..cluster.dockernet import kind_network_name

    return kind_network_name()


# ---------- where does the IP live? ----------

@dataclass
class Location:
    """The IP, the MAC that answers for it, the node with that MAC, and the announcer from the events."""

    ip: str
    mac: str | None
    node: str | None
    announcer: str | None
    neighbours: pd.DataFrame = field(repr=False)
    nodes: pd.DataFrame = field(repr=False)
    hood: _hood.Hood = field(repr=False)

    @property
    def match(self) -> bool:
        return self.node is not None and self.node == self.announcer

    def _repr_html_(self) -> str:
        verdict = (f"<b style='color:#1a7f37'>this IP lives on {html.escape(self.node)}</b>: the MAC in the "
                   f"neighbour table is that node's, and MetalLB's event names the same node" if self.match else
                   f"<b style='color:#cf222e'>no match</b>: MAC {html.escape(str(self.mac))} belongs to "
                   f"{html.escape(str(self.node))}, the event names {html.escape(str(self.announcer))}")
        marked = self.nodes.assign(**{"answers ARP": self.nodes["mac"] == self.mac})
        mac = html.escape(str(self.mac))
        return (f"<div><code>{self.ip}</code> &rarr; MAC <code>{mac}</code> &rarr; {verdict}</div>"
                + self.neighbours.to_html(index=False) + marked.to_html(index=False) + self.hood._repr_html_())


def where_is(kind: Kind, ip, name: str = "nginx", namespace: str = "default", via: str = "host",
             image: str = PROBE_IMAGE) -> Location:
    """Match the neighbour entry's MAC for ``ip`` to a node container's MAC, and compare with ``nodeAssigned``."""
    neigh = neighbours(ip, via, image)
    nodes = node_macs(kind.cluster)
    owner = nodes.loc[nodes["mac"] == neigh.attrs["mac"], "node"]
    hood = _hood.Hood(f"which node answers for {ip}", [
        *neigh.attrs["hood"].steps, *nodes.attrs["hood"].steps,
        *announcer_steps(kind.cluster, name, namespace).steps[:1]])
    return Location(str(ip), neigh.attrs["mac"], owner.iloc[0] if len(owner) else None,
                    current_announcer(kind, name, namespace), neigh, nodes, hood)


def entry_node(kind: Kind, ip, via: str = "host", image: str = PROBE_IMAGE) -> str | None:
    """The node whose MAC the client (the host, or a fresh container on the kind network) uses for ``ip``."""
    if via == "host":
        _knock(ip)
        mac = _host_mac(ip)
    else:
        mac = neighbours(ip, "container", image, arping=False).attrs["mac"]
    return _mac_to_node(kind.cluster).get(mac or "")


def settle(kind: Kind, ip, name: str = "nginx", namespace: str = "default", timeout: float = 30,
           via: str = "host", image: str = PROBE_IMAGE) -> str | None:
    """Wait (bounded) until the client's neighbour entry for ``ip`` is the MAC of the node MetalLB names as the
    announcer, twice in a row a second apart; return that node (None if it never agrees).

    Speakers may hand an IP back and forth for a moment after a change (a speaker that restarts rejoins
    memberlist and takes its IPs back); measuring before they agree would mix two entry nodes.
    """
    ip, via = _checked_ip(ip), _via(via)
    deadline, agreed = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        owner, now = entry_node(kind, ip, via, image), current_announcer(kind, name, namespace)
        agreed = agreed + 1 if owner and owner == now else 0
        if agreed >= 2:
            return owner
        time.sleep(1)
    return None


# ---------- failover ----------

#: The two ways 06 takes the announcer away, in a sentence each.
FAILURES = {
    "speaker": "the announcing node's speaker pod is deleted (kubectl delete pod): the node itself keeps running",
    "node": "the announcing node's container is paused (docker pause): the whole node stops answering, as if it "
            "had lost power; afterwards it is unpaused",
}
#: What MetalLB's documentation (concepts/layer2, v0.16.1) and source say about each, beside the measurement.
EXPECTED = {
    "speaker": ("A deleted pod gets SIGTERM and its speaker leaves memberlist on its way out (Leave, within the pod's "
                "2 s grace period), so the other speakers elect a new owner at once. The old node keeps forwarding "
                "traffic that still arrives for the IP, so clients see no gap: this is what MetalLB's docs call a "
                "planned failover (\"keep the old leader node up for a couple of minutes\")."),
    "node": ("A node that dies does not say goodbye: memberlist must notice that it stops answering probes "
             "(one a second, then a suspicion timeout) before the others elect a new owner, which then sends "
             "gratuitous ARP. MetalLB's docs: clients that handle gratuitous ARP fail over \"within a few "
             "seconds\"; \"more than about 10s\" is worth a bug report; until then the IP is unreachable."),
}


def _node_containers(cluster: str) -> list[str]:
    return node_macs(cluster)["node"].tolist()


def _listener(cluster: str, avoid: set[str]) -> str | None:
    """A node container to listen in for ARP: the control-plane (it announces nothing here), else any other."""
    nodes = [n for n in _node_containers(cluster) if n not in avoid]
    return next((n for n in nodes if "control-plane" in n), nodes[0] if nodes else None)


def _docker_pause(container: str, pause: bool) -> None:
    from ..cluster.dockernet import docker_client, translate

    client = docker_client()
    with translate(client, f"{'pause' if pause else 'unpause'} node container {container}"):
        (client.api.pause if pause else client.api.unpause)(container)


def _paused(container: str) -> bool:
    from ..cluster.dockernet import docker_client

    return bool(docker_client().api.inspect_container(container)["State"].get("Paused"))


def _nodes_ready(kind: Kind) -> tuple[bool, str]:
    nodes = kind.core.list_node().items
    ready = [n.metadata.name for n in nodes if is_ready(n)]
    return len(ready) == len(nodes), f"nodes Ready {len(ready)}/{len(nodes)}"


@dataclass
class Failover:
    """What happened after the announcer was taken away (``mode``), measured; the requests and the ARP
    packets seen meanwhile are in ``timeline`` and ``arp`` (seconds after the failure)."""

    ip: str
    mode: str
    before: str
    after: str
    mac_before: str | None
    mac_after: str | None
    announced_after: float
    garp_after: float | None
    answered_after: float
    failed_requests: int
    unanswered_seconds: float
    healthy_after: float
    back_to: str | None
    timeline: pd.DataFrame = field(repr=False)
    arp: pd.DataFrame | None = field(repr=False)
    capture: str = ""
    hood: _hood.Hood | None = field(default=None, repr=False)
    client_uses: str | None = None
    pods_on_failed: tuple[int, int] = (0, 0)

    def summary(self) -> pd.DataFrame:
        """The measurement, row by row."""
        garp = "not captured" if self.arp is None else (
            "none seen" if self.garp_after is None else f"{self.garp_after:.1f} s")
        n_garp = 0 if self.arp is None else int((self.arp["gratuitous"] & (self.arp["sender MAC"] == self.mac_after)
                                                 & (self.arp["seconds"] >= 0)).sum())
        return pd.DataFrame([
            ("announcing node", self.before, self.after),
            ("MAC for the IP", self.mac_before, self.mac_after),
            ("new announcer seen in the cluster after", "", f"{self.announced_after:.1f} s"),
            ("first gratuitous ARP from the new MAC after", "", garp),
            ("gratuitous ARP packets from the new MAC", "", str(n_garp) if self.arp is not None else "not captured"),
            ("IP answered through the new node after", "", f"{self.answered_after:.1f} s"),
            ("requests that failed meanwhile", "", str(self.failed_requests)),
            ("longest time without an answer", "", f"{self.unanswered_seconds:.1f} s"),
            ("app pods on the failed node (of all)", f"{self.pods_on_failed[0]} of {self.pods_on_failed[1]}", ""),
            ("all nodes and speakers Ready, IP answering, after", "", f"{self.healthy_after:.1f} s"),
            ("announcer once everything is back (MetalLB)", "", str(self.back_to)),
            ("node the client then sends to (its neighbour entry)", "", str(self.client_uses)),
        ], columns=["", "before", "after"])

    def values(self) -> dict:
        """The measurement as plain values (for a notebook's ``result``)."""
        garp_macs = [] if self.arp is None else sorted(set(
            self.arp.loc[self.arp["gratuitous"] & (self.arp["seconds"] >= 0), "sender MAC"]))
        return {"mode": self.mode, "from": self.before, "to": self.after, "mac_before": self.mac_before,
                "mac_after": self.mac_after, "announced": self.announced_after, "garp": self.garp_after,
                "answered": self.answered_after, "failed": self.failed_requests, "gap": self.unanswered_seconds,
                "healthy": self.healthy_after, "back_to": self.back_to, "client_uses": self.client_uses,
                "pods_on_failed": list(self.pods_on_failed), "garp_macs": garp_macs,
                "capture": self.arp.attrs.get("via") if self.arp is not None else None}

    def _repr_html_(self) -> str:
        how = html.escape(FAILURES[self.mode])
        return (f"<div><b>Failover: {how}.</b> <b>{html.escape(self.before)}</b> &rarr; <b>{html.escape(self.after)}"
                f"</b>; <code>{self.ip}</code> answered through the new node after <b>{self.answered_after:.1f} s"
                f"</b> (bound {FAILOVER_LIMIT} s).</div>" + self.summary().to_html(index=False)
                + (f"<p><i>ARP capture:</i> {html.escape(self.capture)}</p>" if self.capture else "")
                + f"<p><i>What to expect:</i> {html.escape(EXPECTED[self.mode])}</p>"
                + (self.hood._repr_html_() if self.hood else ""))


def _get(ip: str, port: int, timeout: float = 1.0, path: str = "/") -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(http_url(ip, port, path), timeout=timeout) as resp:
            resp.read()
            return True
    except OSError:
        return False


def _ip_neigh(ip: str) -> str:
    """``ip neigh show IP`` on this host (Linux's iproute2; elsewhere ToolMissing names the container route)."""
    return run(["ip", "neigh", "show", ip], what="read this host's neighbour table", timeout=10,
               hint="`ip` is Linux's iproute2 (not on macOS/Windows): pass via='container' to look from a "
                    "container on the kind network").stdout


def _host_mac(ip: str) -> str | None:
    rows = parse_neigh(_ip_neigh(ip))
    return rows[0]["mac"] if rows else None


def failover(kind: Kind, ip, name: str = "nginx", namespace: str = "default", timeout: float = FAILOVER_LIMIT,
             via: str = "host", image: str = PROBE_IMAGE, port: int = 80, mode: str = "speaker",
             capture: str = "auto") -> Failover:
    """Take the announcer of ``ip`` away and measure until another node announces it and the IP answers
    through that node (at most ``timeout`` ≤ 90 s); then bring everything back and wait until it is healthy.

    ``mode="speaker"`` deletes the announcing node's speaker pod; ``mode="node"`` pauses the announcing
    node's container (``docker pause``) and unpauses it once the IP answers elsewhere. Meanwhile a
    request goes to the IP every 0.3 s (from the host, or with ``via="container"`` from a container on
    the kind network) and, unless ``capture="off"``, the ARP packets from the IP are captured on the
    kind bridge (:class:`~kindlb_helpers.cluster.capture.ArpCapture`: ``"auto"``, ``"host"`` or ``"node"``).
    """
    from ..cluster.capture import ArpCapture
    from ..cluster.probe import Prober

    ip, via = _checked_ip(ip), _via(via)
    if mode not in FAILURES:
        raise BadInput(f"mode must be 'speaker' or 'node' (got {mode!r})")
    if capture not in ("auto", "host", "node", "off"):
        raise BadInput(f"capture must be 'auto', 'host', 'node' or 'off' (got {capture!r})")
    if not 1 <= timeout <= FAILOVER_LIMIT:
        raise BadInput(f"timeout must be between 1 and {FAILOVER_LIMIT} seconds (got {timeout})")
    before = current_announcer(kind, name, namespace)
    if before is None:
        raise KindlbError(f"no speaker announces {namespace}/{name} yet: wait for the external IP first "
                          "(kh.app.wait_external_ip), and check that the Service has ready pods and that an "
                          "L2Advertisement exists")
    mac_of = _mac_to_node(kind.cluster)
    mac_before = neighbours(ip, via, image, port, arping=False).attrs["mac"]
    victim = before
    if mode == "speaker":
        pods = [p for p in _speakers(kind) if p.spec.node_name == before]
        if not pods:
            raise KindlbError(f"no speaker pod runs on {before}: `kubectl -n {NAMESPACE} get pods -o wide` shows them")
        victim = pods[0].metadata.name
    cap = ArpCapture(ip, via=capture, node=_listener(kind.cluster, {before})).start() if capture != "off" else None
    try:
        prober = Prober(ip, via, port, image).start()
    except BaseException:
        if cap:
            cap.stop()
        raise
    try:
        return _measure(kind, ip, name, namespace, timeout, via, image, port, mode, before, victim, mac_before,
                        mac_of, cap, prober)
    finally:  # whatever happened: no prober container, no nft table, no paused node left behind
        prober.stop()
        if cap:
            cap.stop()


def _measure(kind, ip, name, namespace, timeout, via, image, port, mode, before, victim, mac_before, mac_of,
             cap, prober) -> Failover:
    from ..cluster.metallb import readiness

    samples: list[tuple[float, str | None]] = []
    announced = answered = after = mac_after = None
    pods = _app_pods_by_node(kind, name, namespace)
    pods_on_failed = (pods.get(before, 0), sum(pods.values()))
    t0 = time.monotonic()
    paused = False
    try:
        time.sleep(1.0)  # a second of answers before the failure, for the timeline
        t0 = time.monotonic()
        if mode == "speaker":
            kind.core.delete_namespaced_pod(victim, NAMESPACE)
        else:
            _docker_pause(victim, True)
            paused = True
        while time.monotonic() - t0 < timeout:
            now = current_announcer(kind, name, namespace)
            samples.append((time.monotonic(), now))
            if announced is None and now and now != before:
                announced, after = time.monotonic() - t0, now
            if announced is not None:
                new_mac = {n: m for m, n in mac_of.items()}.get(after)
                hit = next((a for a in prober.since(t0) if a.ok and a.mac == new_mac), None)
                if hit is not None:
                    answered, mac_after = hit.t - t0, hit.mac
                    break
            time.sleep(0.2)
    finally:
        if paused:
            _docker_pause(victim, False)
    if announced is None or answered is None:
        seen = f"{after} announces" if after else f"no other node announced it (still {before})"
        raise WaitTimeout(f"{ip}: not answering through another node within {timeout:.0f} s after the failure "
                          f"({FAILURES[mode]}): {seen}. Look at the speaker logs "
                          f"(`kubectl -n {NAMESPACE} logs -l {SPEAKER_LABEL}`)")

    def healthy() -> tuple[bool, str]:
        nodes_ok, nodes_text = _nodes_ready(kind)
        speakers_ok, speakers_text = readiness(kind)
        answers = prober.since(time.monotonic() - 1.5)
        ip_ok = bool(answers) and answers[-1].ok
        return (nodes_ok and speakers_ok and ip_ok,
                f"{nodes_text}; {speakers_text}; IP {'answers' if ip_ok else 'does not answer'}")

    _wait(healthy, 180, "nodes, speakers and IP healthy again")
    healthy_after = time.monotonic() - t0
    time.sleep(3)  # a speaker that comes back rejoins memberlist and may take the IP back: let that show
    back = current_announcer(kind, name, namespace)
    answers = prober.stop()
    last_mac = next((a.mac for a in reversed(answers) if a.mac), None)
    arp = cap.stop(origin=t0) if cap else None
    if arp is not None:
        arp.insert(3, "node", arp["sender MAC"].map(mac_of))
    rows = []
    for a in answers:
        who = [n for t, n in samples if t <= a.t]
        rows.append({"seconds": round(a.t - t0, 2), "answered": a.ok, "MAC for the IP": a.mac,
                     "node with that MAC": mac_of.get(a.mac or ""), "announcer (cluster)": who[-1] if who else before})
    timeline = pd.DataFrame(rows, columns=["seconds", "answered", "MAC for the IP", "node with that MAC",
                                           "announcer (cluster)"])
    during = timeline[(timeline["seconds"] >= 0) & (timeline["seconds"] <= answered)]
    failed = int((~during["answered"]).sum())
    gaps, last_ok = [0.0], 0.0
    for t, ok in zip(timeline["seconds"], timeline["answered"]):
        if t < 0:
            continue
        if ok:
            last_ok = t
        else:
            gaps.append(t - last_ok)
    garp = None
    if arp is not None:
        new = arp[arp["gratuitous"] & (arp["sender MAC"] == mac_after) & (arp["seconds"] >= 0)]
        garp = float(new["seconds"].iloc[0]) if len(new) else None
    steps = ([_hood.Step(_hood.kubectl(kind.cluster, "delete", "pod", victim, "--wait=false", namespace=NAMESPACE),
                         f"the speaker on {before}; its DaemonSet starts a new one")] if mode == "speaker" else
             [_hood.Step(f"docker pause {shlex.quote(victim)}", "the whole node freezes: no speaker, no kubelet, "
                                                                 "no ARP answers"),
              _hood.Step(f"docker unpause {shlex.quote(victim)}", "once the IP answers through another node")])
    steps += [
        _hood.Step(f"while ! curl -s -o /dev/null --max-time 1 {http_url(ip, port)}; do sleep 0.3; done; "
                   f"ip neigh show {ip}", "until the IP answers; then the MAC the host now uses"),
        _hood.Step(_hood.kubectl(kind.cluster, "get", "events", "--field-selector",
                                 f"involvedObject.name={name},reason=nodeAssigned", namespace=namespace),
                   "the new announcer's nodeAssigned event"),
        *(cap.steps().steps if cap else []),
        _hood.Step(_hood.kubectl(kind.cluster, "get", "nodes"), "all Ready again"),
        _hood.Step(_hood.kubectl(kind.cluster, "rollout", "status", "daemonset/speaker", namespace=NAMESPACE),
                   "every speaker ready again"),
    ]
    hood = _hood.Hood(f"fail over {ip}: {FAILURES[mode]}", steps)
    capture_text = f"{arp.attrs['via']}: {arp.attrs['why']}" if arp is not None else ""
    return Failover(ip, mode, before, after, mac_before, mac_after, round(announced, 1),
                    None if garp is None else round(garp, 1), round(answered, 1), failed, round(max(gaps), 1),
                    round(healthy_after, 1), back, timeline, arp, capture_text, hood, mac_of.get(last_mac or ""),
                    pods_on_failed)


def failover_figure(moved: Failover):
    """The failover on one time axis, seconds after the failure: each request (answered or not) coloured by
    the node whose MAC the client used for it, and each ARP packet from the IP coloured by its sender."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    tl, arp = moved.timeline, moved.arp
    nodes = sorted(set(tl["node with that MAC"].dropna()) | (set(arp["node"].dropna()) if arp is not None else set())
                   | {moved.before, moved.after})
    colour = dict(zip(nodes, ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df"]))
    grey = "#8c959f"
    fig, ax = plt.subplots(figsize=(11, 3.4))
    ok, bad = tl[tl["answered"]], tl[~tl["answered"]]
    ax.scatter(ok["seconds"], [1] * len(ok), c=[colour.get(n, grey) for n in ok["node with that MAC"]], marker="o",
               s=22)
    ax.scatter(bad["seconds"], [1] * len(bad), c=[colour.get(n, grey) for n in bad["node with that MAC"]], marker="x",
               s=40, linewidths=1.6)
    if arp is not None and len(arp):
        ax.scatter(arp["seconds"], [0] * len(arp), c=[colour.get(n, grey) for n in arp["node"]], marker="|", s=400)
    marks = [(0, "failure"), (moved.announced_after, "new announcer"), (moved.answered_after, "answered via new node")]
    if moved.garp_after is not None:
        marks.append((moved.garp_after, "first gratuitous ARP"))
    right = max([*tl["seconds"], *(arp["seconds"] if arp is not None else []), moved.answered_after, 1.0])
    for i, (x, text) in enumerate(sorted(marks)):
        ax.axvline(x, color="#57606a", ls="--", lw=0.8)
        late = x > 0.7 * right
        ax.annotate(text, (x, 1.55 + 0.28 * (i % 3)), fontsize=7, ha="right" if late else "left",
                    xytext=(-2 if late else 2, 0), textcoords="offset points")
    legend = [Line2D([], [], marker="o", ls="", color="#57606a", label="request answered"),
              Line2D([], [], marker="x", ls="", color="#57606a", label="request not answered (1 s)"),
              Line2D([], [], marker="|", ls="", color="#57606a", markersize=12, label="ARP packet from the IP")]
    legend += [Line2D([], [], color=c, lw=6, label=f"{n}{' (failed)' if n == moved.before else ''}")
               for n, c in colour.items()]
    ax.legend(handles=legend, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="colour: the node whose MAC\nthe client used / that sent it", title_fontsize=7)
    ax.set_yticks([0, 1], ["ARP on the bridge", "requests to the IP"])
    ax.set_ylim(-0.6, 2.5)
    ax.set_xlabel("seconds after the failure")
    what = "speaker pod deleted" if moved.mode == "speaker" else "node paused"
    ax.set_title(f"{moved.ip}: {what} on {moved.before}; {moved.after} took over; answered through it after "
                 f"{moved.answered_after:.1f} s", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def compare_failovers(*runs: Failover) -> pd.DataFrame:
    """One column per failure mode: the measured times beside what MetalLB's docs lead one to expect."""
    rows = {}
    for r in runs:
        rows[r.mode] = {
            "how": FAILURES[r.mode],
            "new announcer after (s)": r.announced_after,
            "first gratuitous ARP after (s)": r.garp_after,
            "answered through the new node after (s)": r.answered_after,
            "longest time without an answer (s)": r.unanswered_seconds,
            "requests that failed": r.failed_requests,
            "what MetalLB's docs and source say": EXPECTED[r.mode],
        }
    return pd.DataFrame(rows)


# ---------- who the pods think the client is ----------

def set_traffic_policy(kind: Kind, policy: str, name: str = "nginx", namespace: str = "default") -> _hood.Done:
    """Set the Service's ``spec.externalTrafficPolicy`` (``Cluster`` or ``Local``)."""
    if policy not in ("Cluster", "Local"):
        raise BadInput(f"policy must be 'Cluster' or 'Local', not {policy!r}")
    patch = {"spec": {"externalTrafficPolicy": policy}}
    kind.core.patch_namespaced_service(name, namespace, patch)
    import json

    return _hood.Done(f"service/{name}: externalTrafficPolicy {policy}", _hood.Hood(
        f"externalTrafficPolicy: {policy}", [_hood.Step(_hood.kubectl(
            kind.cluster, "patch", "service", name, "-p", json.dumps(patch, separators=(",", ":")),
            namespace=namespace), "Local: only nodes with a ready pod take traffic, and the client address is kept")]))


def scale(kind: Kind, replicas: int, name: str = "nginx", namespace: str = "default",
          timeout: float = 180) -> _hood.Done:
    """Scale the Deployment and wait until the pods are ready."""
    from .app import wait_rollout

    if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 50:
        raise BadInput(f"replicas must be a whole number from 1 to 50 (got {replicas!r})")
    kind.apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})
    done = wait_rollout(kind, name, namespace, timeout=timeout, progress=False)
    return _hood.Done(f"deployment/{name} scaled to {replicas}: {done.headline.split(': ', 1)[-1]}", _hood.Hood(
        f"scale {name} to {replicas}", [_hood.Step(_hood.kubectl(kind.cluster, "scale", "deployment", name,
                                                                 f"--replicas={replicas}", namespace=namespace)),
                                        *done.hood.steps]))


def _address_owner(kind: Kind) -> dict:
    """node name -> (InternalIP, pod CIDR network), to say whose address a client address is."""
    out = {}
    for n in kind.core.list_node().items:
        ip = next((a.address for a in n.status.addresses or [] if a.type == "InternalIP"), None)
        cidr = ipaddress.ip_network(n.spec.pod_cidr) if n.spec.pod_cidr else None
        out[n.metadata.name] = (ip, cidr)
    return out


def _whose(addr: str, owners: dict, client: str | None, client_is: str = "this host") -> str:
    if client and addr == client:
        return f"{client_is} (the real client)"
    a = ipaddress.ip_address(addr)
    for node, (ip, cidr) in owners.items():
        if addr == ip or (cidr is not None and a in cidr):
            return f"node {node}"
    return "unknown"


def client_addresses(kind: Kind, ip, requests: int = 30, name: str = "nginx", namespace: str = "default",
                     port: int = 80, via: str = "host", image: str = PROBE_IMAGE) -> pd.DataFrame:
    """Send tagged requests, then read each pod's access log: the client address nginx saw.

    ``via="host"`` sends them from this machine (its address on the kind network is the bridge's
    gateway); ``via="container"`` from one throwaway container on the kind network (its own address
    there is then the real client). One row per (pod, client address): its node, how many requests, and
    whose address that is (the real client, or a node). First waits (bounded) until the client's
    neighbour entry and MetalLB agree on one node. ``attrs``: ``policy``, ``host`` (the real client's
    address), ``via``, ``announcer``, ``entry`` / ``entry_before`` (the node whose MAC the client used
    after / before the requests), ``sent``, ``failed``, ``hood``.
    """
    from ..cluster.dockernet import kind_network
    from ..cluster.probe import get_many

    ip, via = _checked_ip(ip), _via(via)
    if isinstance(requests, bool) or not isinstance(requests, int) or not 1 <= requests <= 1000:
        raise BadInput(f"requests must be a whole number from 1 to 1000 (got {requests!r})")
    svc = kind.core.read_namespaced_service(name, namespace)
    policy = svc.spec.external_traffic_policy or "Cluster"
    entry = settle(kind, ip, name, namespace, via=via, image=image)  # the node the requests will enter
    token = secrets.token_hex(4)
    sent = get_many(ip, requests, token, via=via, port=port, image=image)
    client = str(kind_network().gateway(4)) if via == "host" else sent.client
    client_is = "this host" if via == "host" else "the probe container"
    from .app import app_logs

    owners = _address_owner(kind)
    rows = []
    for pod, log in app_logs(kind, name, namespace, lambda log: len(parse_access_log(log, token)),
                             requests - sent.failed):
        seen = parse_access_log(log, token)
        for addr in sorted(set(seen)) or [None]:
            rows.append({"pod": pod.metadata.name, "node": pod.spec.node_name,
                         "client address": addr, "requests": seen.count(addr) if addr else 0,
                         "whose address": _whose(addr, owners, client, client_is) if addr else ""})
    frame = pd.DataFrame(sorted(rows, key=lambda r: (r["node"], r["pod"])),
                         columns=["pod", "node", "client address", "requests", "whose address"])
    mac_of = _mac_to_node(kind.cluster)
    frame.attrs.update(policy=policy, host=client, via=via, announcer=current_announcer(kind, name, namespace),
                       entry_before=entry, entry=mac_of.get(sent.mac or ""),
                       sent=requests, failed=sent.failed, token=token,
                       hood=_clients_steps(kind.cluster, ip, port, token, requests, policy, name, namespace,
                                           loop=sent.loop))
    return frame


def _clients_steps(cluster: str, ip: str, port: int, token: str, requests: int, policy: str, name: str,
                   namespace: str, loop: str | None = None) -> _hood.Hood:
    url = f"{http_url(ip, port)}?kindlb={token}-$i"
    loop = loop or f'for i in $(seq 1 {requests}); do curl -s -o /dev/null "{url}"; done'
    logs = _hood.kubectl(cluster, "logs", "-l", f"{APP_LABEL}={name}", "--prefix", "--tail=-1", namespace=namespace)
    cols = "custom-columns=NODE:.metadata.name,IP:.status.addresses[0].address,PODCIDR:.spec.podCIDR"
    return _hood.Hood(f"{requests} requests under externalTrafficPolicy {policy}: who nginx saw as the client", [
        _hood.Step(loop, "each request carries a unique query string"),
        _hood.Step(logs + f" | grep -F kindlb={token}- | awk '{{print $1, $2}}' | sort | uniq -c",
                   "the first field of nginx's access log is the client address"),
        _hood.Step(_hood.kubectl(cluster, "get", "nodes", "-o", cols), "whose address it is: a node's, or yours"),
    ])


def compare_policies(*frames: pd.DataFrame) -> pd.DataFrame:
    """One row per :func:`client_addresses` run: what each traffic policy showed."""
    rows = [policy_summary(f) for f in frames if f is not None]
    return pd.DataFrame([{k: (", ".join(v) if isinstance(v, list) else v) for k, v in r.items()} for r in rows])


def restore(kind: Kind, name: str = "nginx", namespace: str = "default", replicas: int = 3) -> _hood.Done:
    """Back to the series' state: ``externalTrafficPolicy: Cluster`` and ``replicas`` pods."""
    policy = set_traffic_policy(kind, "Cluster", name, namespace)
    scaled = scale(kind, replicas, name, namespace)
    return _hood.Done(f"{policy.headline}; {scaled.headline}", _hood.Hood(
        f"put {name} back as it was", policy.hood.steps + scaled.hood.steps))


def policy_figure(*frames: pd.DataFrame):
    """Requests per pod, one panel per :func:`client_addresses` run; the entry node's pods in green."""
    import matplotlib.pyplot as plt

    frames = tuple(f for f in frames if f is not None)
    if not frames:
        raise KindlbError("no measurement to draw: run kh.l2.client_addresses first (it needs the host route)")
    fig, axes = plt.subplots(1, len(frames), figsize=(5.2 * len(frames), 3.4), sharey=True, squeeze=False)
    for ax, f in zip(axes[0], frames):
        per_pod = f.groupby(["pod", "node"], as_index=False)["requests"].sum()
        colours = ["#1a7f37" if n == f.attrs.get("entry") else "#8c959f" for n in per_pod["node"]]
        ax.bar([f"{p[-5:]}\n{n}" for p, n in zip(per_pod["pod"], per_pod["node"])], per_pod["requests"],
               color=colours)
        whose = ", ".join(sorted(set(f.loc[f["requests"] > 0, "whose address"]))) or "nobody"
        ax.set_title(f"externalTrafficPolicy: {f.attrs['policy']}\nnginx saw: {whose}", fontsize=9)
        ax.set_xlabel(f"pod (last 5 characters) and node; green: {f.attrs.get('entry')}, where traffic enters",
                      fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    axes[0][0].set_ylabel("requests in the pod's access log")
    fig.suptitle("Cluster spreads over every pod; Local keeps to the pods of the announcing node", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def policy_summary(frame: pd.DataFrame) -> dict:
    """What one :func:`client_addresses` run shows, as plain values (for the comparison table and ``result``)."""
    hit = frame[frame["requests"] > 0]
    return {"policy": frame.attrs["policy"], "announcer": frame.attrs["announcer"],
            "entry node": frame.attrs.get("entry"), "entry node before": frame.attrs.get("entry_before"),
            "requests counted": int(hit["requests"].sum()), "pods hit": int(hit["pod"].nunique()),
            "nodes with pods hit": sorted(set(hit["node"])),
            "client addresses": sorted(set(hit["client address"])), "whose": sorted(set(hit["whose address"])),
            "source IP kept": bool(len(hit)) and set(hit["client address"]) == {frame.attrs["host"]}}
