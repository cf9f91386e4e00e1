"""BGP mode beside layer 2: an FRR router on the kind network peers with MetalLB's speakers; the
router's sessions and routes as tables; ECMP over the nodes; requests counted by the node they
entered; ``externalTrafficPolicy: Local``; withdrawal timed; cleanup.

NETWORK RULE: the BGP pool lies outside the kind subnet, so only a machine whose route to it goes
through the router can reach it. Nothing here sends a packet to a BGP address from the host: every
request runs inside the client container (``docker exec``), whose route to the pool goes via the
router, or inside the router itself. ``tests/test_bgp.py`` checks it.

Every helper returns a DataFrame (``attrs["hood"]``, shown with ``kh.show``) or an object with
``_repr_html_`` that includes the ``docker`` / ``kubectl`` / ``vtysh`` lines a person would type.
"""
from __future__ import annotations

import dataclasses
import html
import ipaddress
import json
import secrets
import shlex
import threading
import time
from dataclasses import dataclass, field

import pandas as pd
import yaml

from ...cluster import router as _router
from ...cluster.kube import Kind, apply, delete, get_or_none, is_ready
from ...cluster.metallb import apply_pool, installed_version, pools
from ...core import bgp_config as _bgp
from ...core import hood as _hood
from ...core.errors import BadInput, KindlbError, MetalLBError, WaitTimeout
from ...core.manifests import NAMESPACE
from ...core.objects import APP_LABEL
from ...core.release import EXCLUDE_LB_LABEL, release
from ...core.versions import pins

SERVICE = "nginx-bgp"
SPEAKER_LABEL = "component=speaker"
WITHDRAW_LIMIT = 300


def _frame(rows, columns, hood: _hood.Hood | None = None, **attrs) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    df.attrs.update(attrs)
    if hood is not None:
        df.attrs["hood"] = hood
    return df


def _exec(name: str, command: str) -> str:
    return shlex.join(["docker", "exec", name, *shlex.split(command)])


def _vtysh_step(router: str, command: str, why: str = "") -> _hood.Step:
    return _hood.Step(shlex.join(["docker", "exec", router, "vtysh", "-c", command]), why)


# ---------- the plan: everything checked before anything is applied ----------

@dataclass
class Plan:
    """The checked plan: MetalLB's release, the nodes (one neighbour each), the pool, the router's files."""

    cluster: str
    version: str
    network: str
    subnet: str
    image: str
    router_ip: str | None
    core: _bgp.BgpPlan
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def frr_conf(self) -> str:
        return _bgp.frr_config(self.core)

    @property
    def pool(self) -> str:
        return self.core.pool.as_cidr_or_range()

    def neighbours(self) -> pd.DataFrame:
        rows = [{"node": n, "role": self.roles.get(n, ""), "address": ip, "AS": self.core.metallb_asn}
                for n, ip in self.core.neighbours]
        return _frame(rows, ["node", "role", "address", "AS"])

    def _repr_html_(self) -> str:
        p = self.core
        kind = "eBGP (two AS numbers)" if not p.ibgp else "iBGP (one AS number)"
        head = (f"<div>Router AS <b>{p.router_asn}</b>, MetalLB AS <b>{p.metallb_asn}</b> ({kind}); BGP pool "
                f"<b><code>{html.escape(self.pool)}</code></b>, outside the kind subnet <code>{self.subnet}</code>; "
                f"hold time <b>{p.hold_time} s</b>; router image <code>{html.escape(self.image)}</code>, address "
                f"<code>{self.router_ip or 'picked by Docker'}</code>. Nothing is applied yet.</div>")
        conf = (f"<details open><summary><code>frr.conf</code>: the file a person would write "
                f"({len(self.frr_conf.splitlines())} lines)</summary><pre style='{_hood.PRE}'>"
                f"{html.escape(self.frr_conf)}</pre></details>")
        return head + self.neighbours().to_html(index=False) + conf


def _nodes(kind: Kind) -> list[tuple[str, str, str]]:
    """(name, InternalIP, role) of every node, control plane first."""
    out = []
    for n in kind.core.list_node().items:
        ip = next((a.address for a in n.status.addresses or [] if a.type == "InternalIP"), None)
        labels = n.metadata.labels or {}
        role = "control-plane" if "node-role.kubernetes.io/control-plane" in labels else "worker"
        if ip and ipaddress.ip_address(ip).version == 4:
            out.append((n.metadata.name, ip, role))
    return sorted(out, key=lambda t: (t[2] != "control-plane", t[0]))


def _cluster_cidrs(kind: Kind) -> list[tuple[str, str]]:
    """The pod and Service CIDRs kubeadm was given (kube-system/kubeadm-config), and each node's pod CIDR."""
    out = []
    cm = get_or_none(kind.core.read_namespaced_config_map, "kubeadm-config", "kube-system")
    conf = yaml.safe_load((cm.data or {}).get("ClusterConfiguration", "") or "{}") if cm else {}
    net = (conf or {}).get("networking") or {}
    for key, label in (("podSubnet", "pod network"), ("serviceSubnet", "Service network")):
        for cidr in str(net.get(key) or "").split(","):
            if cidr.strip() and ipaddress.ip_network(cidr.strip(), strict=False).version == 4:
                out.append((label, cidr.strip()))
    return out


def resolve_image(image: str = "auto") -> str:
    """``"auto"``: the lab's FRR image when Docker has it, else the pinned online image."""
    if image and image != "auto":
        return image
    lab = pins()["FRR_IMAGE"]
    return lab if _router.has_image(lab) else pins()["FRR_ONLINE_IMAGE"]


def plan(kind: Kind, router_asn: int = _bgp.ROUTER_ASN, metallb_asn: int = _bgp.METALLB_ASN,
         pool: str = _bgp.DEFAULT_POOL, router_ip: str = "", hold_time: int = _bgp.LAB_HOLD_TIME,
         image: str = "auto") -> Plan:
    """Check every input against the cluster and the kind network, and write the router's config.

    Refused with a message that names the fix, before anything is applied: an AS number out of range,
    a pool inside the kind subnet or overlapping another pool or the cluster's own networks, a router
    address that is taken or not on the kind network, MetalLB missing.
    """
    from ...cluster.dockernet import kind_network
    from ...cluster.network import taken_on

    _bgp.check_asn(router_asn, "router_asn")
    _bgp.check_asn(metallb_asn, "metallb_asn")
    _bgp.check_hold_time(hold_time)
    version = installed_version(kind)
    if version is None:
        raise MetalLBError(f"MetalLB is not installed in {kind.cluster!r}: run notebook 02_install_metallb first")
    net = kind_network()
    subnet = net.subnet(4)
    others = [(n, r) for n, r in pools(kind) if n != _bgp.POOL_NAME]
    rng = _bgp.check_pool(pool, subnet, others, _cluster_cidrs(kind))
    nodes = _nodes(kind)
    ip = None
    if router_ip:
        mine = _router.router_name(kind.cluster)
        taken = [(str(t).rsplit(" ", 1)[0], str(t.range.first)) for t in taken_on(net)
                 if str(t) != f"container {mine} {t.range.first}"]
        ip = _bgp.check_router_ip(router_ip, subnet, taken, others)
    core = _bgp.plan(router_asn, metallb_asn, [(n, a) for n, a, _ in nodes], rng, hold_time,
                     _router.router_name(kind.cluster))
    return Plan(kind.cluster, version, net.name, str(subnet), resolve_image(image), ip, core,
                {n: r for n, _, r in nodes})


# ---------- the router ----------

@dataclass
class Router:
    """The running router: container name, address, image; the files it was given."""

    name: str
    ip: str
    image: str
    files: dict[str, str]
    hood: _hood.Hood

    def _repr_html_(self) -> str:
        return (f"<div>Router <b>{html.escape(self.name)}</b> runs at <b><code>{self.ip}</code></b> on the kind "
                f"network ({html.escape(self.image)})</div>" + self.hood._repr_html_())


def start_router(p: Plan, timeout: float = 60) -> Router:
    """(Re)create the FRR container with ``frr.conf`` and ``daemons``, and wait until bgpd answers."""
    files = {"frr.conf": p.frr_conf, "daemons": _bgp.DAEMONS}
    box = _router.start_router(p.cluster, p.image, files, p.network, p.router_ip, timeout=timeout)
    steps = _router.create_steps(p.cluster, p.image, p.network, p.router_ip)
    steps[2] = _hood.Step(steps[2].command, "the two files, as shown", files=tuple(files.items()))
    return Router(box.name, box.ip, box.image, files, _hood.Hood(f"start the FRR router {box.name}", steps))


def current_router(kind: Kind) -> Router | None:
    """The cluster's running router (after a kernel restart), or None."""
    box = _router.running(kind.cluster)
    return Router(box.name, box.ip, box.image, {}, _hood.Hood("router", [])) if box else None


# ---------- MetalLB's side ----------

def _configmap_config(kind: Kind) -> dict:
    cm = get_or_none(kind.core.read_namespaced_config_map, "config", NAMESPACE)
    return yaml.safe_load(((cm.data or {}).get("config") if cm else None) or "") or {}


def peer(kind: Kind, p: Plan, router: Router, timeout: float = 120) -> _hood.Done:
    """Tell MetalLB about the router and the pool: BGPPeer + IPAddressPool + BGPAdvertisement (v0.13+),
    or ``peers`` and a ``protocol: bgp`` pool added to the ConfigMap (v0.12.1)."""
    config = None if release(p.version).uses_crds else _configmap_config(kind)
    objects = _bgp.metallb_objects(p.core, router.ip, p.version, config)
    done = apply_pool(kind, objects, timeout=timeout)
    if release(p.version).uses_crds:
        what, why = "BGPPeer + IPAddressPool + BGPAdvertisement", "each speaker dials the router from its node"
    else:
        what, why = ("ConfigMap config: peers + a protocol: bgp pool",
                     "the whole ConfigMap: the layer-2 pool stays, peers and the bgp pool are added")
    hood = _hood.apply_steps(p.cluster, objects, "metallb-bgp.yaml",
                             f"MetalLB {p.version} peers with the router: {what}", why)
    return _hood.Done(f"applied {', '.join(done)}", hood, done, value=objects)


def speakers_by_node(kind: Kind) -> dict[str, object]:
    """node -> its speaker pod (the newest, if two overlap)."""
    out: dict[str, object] = {}
    for pod in kind.core.list_namespaced_pod(NAMESPACE, label_selector=SPEAKER_LABEL).items:
        if pod.metadata.deletion_timestamp or not pod.spec.node_name:
            continue
        old = out.get(pod.spec.node_name)
        if old is None or pod.metadata.creation_timestamp > old.metadata.creation_timestamp:
            out[pod.spec.node_name] = pod
    return out


# ---------- what the router sees ----------

def _names(p: Plan) -> dict[str, str]:
    return {ip: n for n, ip in p.core.neighbours}


def sessions(p: Plan, router: Router) -> pd.DataFrame:
    """One row per neighbour, from ``show bgp summary json``: state, uptime, prefixes received."""
    rows = _bgp.parse_summary(_router.vtysh(router.name, "show bgp summary json"), _names(p))
    hood = _hood.Hood("the router's BGP sessions", [_vtysh_step(router.name, "show bgp summary",
                                                                "one line per neighbour: State/PfxRcd")])
    return _frame(rows, ["neighbour", "node", "AS", "state", "uptime", "prefixes received", "messages received"],
                  hood)


def expected_peers(kind: Kind, p: Plan) -> list[str]:
    """Nodes whose speaker is ready: each should hold an Established session."""
    return sorted(n for n, pod in speakers_by_node(kind).items() if is_ready(pod))


def diagnose(kind: Kind, p: Plan, router: Router) -> list[str]:
    """Why sessions are not Established: wrong AS, wrong address, speaker not ready (evidence first)."""
    out = []
    table = sessions(p, router)
    speakers = speakers_by_node(kind)
    told = _metallb_peer(kind, p)
    if told is None:
        out.append("MetalLB has no peer configured: run kh.bgp.peer(k, bgp, router)")
    else:
        if told["address"] != router.ip:
            out.append(f"wrong address: MetalLB dials {told['address']}, the router is at {router.ip}: "
                       "fix the peer address (BGPPeer spec.peerAddress / peers[].peer-address)")
        if told["peer_asn"] != p.core.router_asn:
            out.append(f"wrong AS: MetalLB expects the router in AS {told['peer_asn']}, the router is AS "
                       f"{p.core.router_asn}: fix peerASN / peer-asn")
        if told["my_asn"] != p.core.metallb_asn:
            out.append(f"wrong AS: MetalLB speaks as AS {told['my_asn']}, the router expects {p.core.metallb_asn}: "
                       "fix myASN / my-asn, or the router's remote-as")
    for row in table.itertuples():
        if row.state == "Established":
            continue
        pod = speakers.get(row.node)
        if pod is None:
            out.append(f"{row.node} ({row.neighbour}): no speaker runs there, so nobody dials the router "
                       "(v0.12.1's speakers skip the control plane)")
            continue
        if not is_ready(pod):
            out.append(f"{row.node} ({row.neighbour}): speaker {pod.metadata.name} is not ready "
                       f"(kubectl -n {NAMESPACE} describe pod {pod.metadata.name})")
            continue
        info = json.loads(_router.vtysh(router.name, f"show bgp neighbors {row.neighbour} json") or "{}")
        info = info.get(row.neighbour, {})
        why = info.get("lastNotificationReason") or info.get("lastResetDueTo") or ""
        out.append(f"{row.node} ({row.neighbour}): state {row.state}, {row._7} messages "
                   f"received{'; last reset: ' + why if why else ''}")
    return out or ["every session with a ready speaker is Established"]


def _metallb_peer(kind: Kind, p: Plan) -> dict | None:
    if release(p.version).uses_crds:
        obj = get_or_none(kind.custom.get_namespaced_custom_object, "metallb.io", "v1beta2", NAMESPACE,
                          "bgppeers", _bgp.PEER_NAME)
        if not obj:
            return None
        s = obj.get("spec", {})
        return {"address": s.get("peerAddress"), "peer_asn": s.get("peerASN"), "my_asn": s.get("myASN")}
    peers = _configmap_config(kind).get("peers") or []
    if not peers:
        return None
    s = peers[0]
    return {"address": s.get("peer-address"), "peer_asn": s.get("peer-asn"), "my_asn": s.get("my-asn")}


def wait_established(kind: Kind, p: Plan, router: Router, timeout: float = 120) -> pd.DataFrame:
    """Wait until every node with a ready speaker has an Established session; the sessions table.

    On timeout: WaitTimeout with the diagnosis (wrong AS, wrong address, speaker not ready)."""
    if not 1 <= timeout <= 600:
        raise BadInput(f"timeout must be 1 to 600 seconds (got {timeout!r})")
    names = _names(p)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        want = set(expected_peers(kind, p))
        last = sessions(p, router)
        up = set(last.loc[last["state"] == "Established", "node"])
        if want and want <= up:
            last.attrs["expected"] = sorted(want)
            return last
        time.sleep(0.5)
    problems = diagnose(kind, p, router)
    raise WaitTimeout(f"BGP sessions not Established after {timeout:g} s: " + "; ".join(problems)
                      + f". Evidence: docker exec {router.name} vtysh -c 'show bgp summary'; "
                        f"kubectl -n {NAMESPACE} logs -l {SPEAKER_LABEL} | grep -i bgp ({len(names)} neighbours)")


# ---------- the Service in the BGP pool ----------

def expose(kind: Kind, p: Plan, app: str = "nginx", namespace: str = "default", name: str = SERVICE,
           timeout: float = 120):
    """A second LoadBalancer Service for the app's pods that asks for the BGP pool; waits for its address."""
    from ..app import wait_external_ip

    svc = _bgp.bgp_service(p.version, name, app, namespace)
    apply(kind, [svc])
    got = wait_external_ip(kind, name, namespace, timeout=timeout, progress=False, expect_pool=_bgp.POOL_NAME)
    return dataclasses.replace(got, hood=_hood.Hood(f"Service {name}: an address from the BGP pool", [
        _hood.Step(_hood.kubectl(p.cluster, "apply", "-f", f"{name}.yaml", namespace=namespace),
                   f"the annotation {_bgp.pool_annotation(p.version)} asks for pool {_bgp.POOL_NAME}",
                   files=((f"{name}.yaml", [svc]),)),
        *got.hood.steps]))


def _policy(kind: Kind, name: str, namespace: str) -> str:
    svc = kind.core.read_namespaced_service(name, namespace)
    return svc.spec.external_traffic_policy or "Cluster"


def should_advertise(kind: Kind, p: Plan, name: str = SERVICE, namespace: str = "default",
                     app: str = "nginx") -> list[str]:
    """The nodes MetalLB should advertise the Service from: ready speaker, not excluded (v0.14+), and under
    ``Local`` a ready pod of the app on the node."""
    nodes = {n.metadata.name: n for n in kind.core.list_node().items}
    out = []
    for node, pod in speakers_by_node(kind).items():
        if not is_ready(pod):
            continue
        labels = nodes[node].metadata.labels or {} if node in nodes else {}
        if release(p.version).honours_exclude_lb_label and EXCLUDE_LB_LABEL in labels:
            continue
        out.append(node)
    if _policy(kind, name, namespace) == "Local":
        with_pods = {q.spec.node_name for q in kind.core.list_namespaced_pod(
            namespace, label_selector=f"{APP_LABEL}={app}").items
            if not q.metadata.deletion_timestamp and is_ready(q)}
        out = [n for n in out if n in with_pods]
    return sorted(out)


def _kernel_hops(router: Router, ip: str) -> list[str]:
    """The kernel route's next hops for ``ip`` (``ip route``; zebra's FIB view where the image has no iproute2)."""
    ip = _bgp.host_prefix(ip)
    code, text = _router.exec_in(router.name, ["ip", "route", "show", ip], check=False)
    if code == 0 and "not found" not in text:
        return _bgp.parse_kernel_routes(text).get(ip, [])
    return _bgp.parse_zebra_fib(_router.vtysh(router.name, f"show ip route {ip}/32 json")).get(ip, [])


def routes(p: Plan, router: Router, ip) -> pd.DataFrame:
    """The router's BGP paths for the Service address, and the kernel route it installed (ECMP).

    One row per path: next hop, its node, AS path, best/multipath, and whether the kernel route uses it.
    ``attrs``: ``kernel`` (next hops of the kernel route), ``nodes`` (their nodes), ``kernel_text``."""
    ip = str(ipaddress.ip_address(str(ip)))
    names = _names(p)
    table = _bgp.parse_bgp_table(_router.vtysh(router.name, f"show bgp ipv4 unicast {ip}/32 json"))
    if not table:  # older FRR answers a single prefix in another shape: read the whole table
        table = [r for r in _bgp.parse_bgp_table(_router.vtysh(router.name, "show bgp ipv4 unicast json"))
                 if r["prefix"] == f"{ip}/32"]
    kernel_text = _router.exec_in(router.name, ["ip", "route", "show", ip], check=False)[1]
    kernel = _kernel_hops(router, ip)
    rows = [{"prefix": r["prefix"], "next hop": r["next hop"], "node": names.get(r["next hop"], "?"),
             "AS path": r["AS path"], "best": r["best"], "multipath": r["multipath"],
             "in kernel route": r["next hop"] in kernel} for r in table]
    hood = _hood.Hood(f"the router's routes to {ip}", [
        _vtysh_step(router.name, f"show bgp ipv4 unicast {ip}/32", "the paths BGP received, one per node"),
        _hood.Step(_exec(router.name, f"ip route show {ip}"), "the kernel's route: one nexthop line per node (ECMP)")])
    return _frame(rows, ["prefix", "next hop", "node", "AS path", "best", "multipath", "in kernel route"], hood,
                  kernel=kernel, nodes=sorted(names.get(h, h) for h in kernel), kernel_text=kernel_text.strip())


def wait_next_hops(kind: Kind, p: Plan, router: Router, ip, name: str = SERVICE, namespace: str = "default",
                   app: str = "nginx", timeout: float = 60) -> pd.DataFrame:
    """Wait until the kernel route's next hops are exactly the nodes that should advertise; the routes table."""
    names = _names(p)
    deadline = time.monotonic() + timeout
    want: list[str] = []
    have: list[str] = []
    while time.monotonic() < deadline:
        want = should_advertise(kind, p, name, namespace, app)
        have = sorted(names.get(h, h) for h in _kernel_hops(router, str(ip)))
        if want and have == want:
            out = routes(p, router, ip)
            out.attrs["expected"] = want
            return out
        time.sleep(0.3)
    raise WaitTimeout(f"the router's next hops for {ip} are {have or 'none'}, expected {want or 'none'} after "
                      f"{timeout:g} s: see docker exec {router.name} vtysh -c 'show bgp summary' and the speakers' "
                      f"logs (kubectl -n {NAMESPACE} logs -l {SPEAKER_LABEL})")


# ---------- a client behind the router ----------

@dataclass
class Client:
    """The client container behind the router: its name and address on the kind network."""

    name: str
    ip: str
    hood: _hood.Hood

    def _repr_html_(self) -> str:
        return (f"<div>Client <b>{html.escape(self.name)}</b> at <code>{self.ip}</code>: its route to the BGP pool "
                "goes through the router</div>" + self.hood._repr_html_())


def start_client(p: Plan, router: Router) -> Client:
    """A container on the kind network whose route to the BGP pool goes via the router."""
    routes_ = {_bgp_prefix(p): router.ip}
    box = _router.start_client(p.cluster, router.image, p.network, routes_)
    hood = _hood.Hood(f"a client behind the router: {box.name}",
                      _router.client_steps(p.cluster, router.image, p.network, routes_))
    return Client(box.name, box.ip, hood)


def _bgp_prefix(p: Plan) -> str:
    c = p.core.pool.cidr
    return str(c) if c is not None else p.pool


def _parse_log(log: str, token: str) -> list[str]:
    from ..l2 import parse_access_log

    return parse_access_log(log, token)


def spread(kind: Kind, client: Client, ip, requests: int = 30, service: str = SERVICE, app: str = "nginx",
           namespace: str = "default") -> pd.DataFrame:
    """``requests`` GETs from the client (each a new connection), counted in nginx's access logs by the node
    they entered: the node whose address nginx saw (``Cluster``: kube-proxy rewrote the source), or the
    pod's own node (``Local``: the source is the client). One row per node."""
    from ..app import app_logs
    from ..l2 import _address_owner, _whose

    if isinstance(requests, bool) or not isinstance(requests, int) or not 1 <= requests <= 1000:
        raise BadInput(f"requests must be a whole number from 1 to 1000 (got {requests!r})")
    ip = str(ipaddress.ip_address(str(ip)))
    token = secrets.token_hex(4)
    url = f"http://{ip}/?kindlb={token}-"
    loop = (f'ok=0; for i in $(seq 1 {requests}); do wget -q -T 3 -O /dev/null "{url}$i" && ok=$((ok+1)); done; '
            'echo "answered $ok"')
    code, out = _router.exec_in(client.name, ["sh", "-c", loop], check=False)
    answered = int(out.split("answered", 1)[1].split()[0]) if "answered" in out else 0
    owners = _address_owner(kind)
    policy = _policy(kind, service, namespace)
    counts: dict[str, int] = {}
    pods: dict[str, int] = {}
    for pod, log in app_logs(kind, app, namespace, lambda log: len(_parse_log(log, token)), answered):
        for addr in _parse_log(log, token):
            whose = _whose(addr, owners, client.ip)
            node = whose[5:] if whose.startswith("node ") else pod.spec.node_name
            counts[node] = counts.get(node, 0) + 1
            pods[pod.spec.node_name] = pods.get(pod.spec.node_name, 0) + 1
    all_nodes = sorted(set(owners))
    rows = [{"node": n, "requests entered": counts.get(n, 0), "served by its pods": pods.get(n, 0)}
            for n in all_nodes]
    hood = _hood.Hood(f"{requests} requests from {client.name} to {ip}, counted per node", [
        _hood.Step(shlex.join(["docker", "exec", client.name, "sh", "-c",
                               f'for i in $(seq 1 {requests}); do wget -q -O /dev/null "{url}$i"; done']),
                   "each wget is a new connection, with a new source port"),
        _hood.Step(_hood.kubectl(kind.cluster, "logs", "-l", f"{APP_LABEL}={app}", "--prefix", "--tail=-1",
                                 namespace=namespace)
                   + f" | grep -F kindlb={token}- | awk '{{print $2}}' | sort | uniq -c",
                   "the client address nginx logged: a node's own address under Cluster (SNAT), "
                   "the client's under Local")])
    return _frame(rows, ["node", "requests entered", "served by its pods"], hood, service=service, ip=ip,
                  policy=policy, sent=requests, answered=answered, token=token)


def spread_figure(**frames: pd.DataFrame):
    """Bars: requests entered per node, one group per measurement (e.g. layer 2 vs BGP)."""
    import matplotlib.pyplot as plt

    nodes = sorted({n for f in frames.values() for n in f["node"]})
    fig, ax = plt.subplots(figsize=(7, 3))
    width = 0.8 / max(len(frames), 1)
    for i, (label, f) in enumerate(frames.items()):
        counts = dict(zip(f["node"], f["requests entered"]))
        ax.bar([x + i * width for x in range(len(nodes))], [counts.get(n, 0) for n in nodes], width, label=label)
    ax.set_xticks([x + width * (len(frames) - 1) / 2 for x in range(len(nodes))], nodes)
    ax.set_ylabel("requests entered (count)")
    ax.set_title("Which node the requests entered: layer 2 uses one, BGP spreads over the advertising nodes")
    ax.legend()
    fig.tight_layout()
    plt.close(fig)
    return fig


# ---------- withdrawal, timed ----------

@dataclass
class Withdrawal:
    """One withdrawal: what was done to which node, when its next hop left the router and came back,
    and how the address answered meanwhile."""

    case: str
    node: str
    before: list[str]
    withdrawn_after: float | None
    back_after: float | None
    probes: int
    answered: int
    answered_after_withdrawal: int
    probes_after_withdrawal: int
    reason: str
    timeline: pd.DataFrame
    hood: _hood.Hood

    def summary(self) -> dict:
        return {"case": self.case, "node": self.node, "next hops before": ", ".join(self.before),
                "withdrawn after (s)": self.withdrawn_after, "back after (s)": self.back_after,
                "answered": f"{self.answered}/{self.probes}",
                "answered once withdrawn": f"{self.answered_after_withdrawal}/{self.probes_after_withdrawal}",
                "router's reason": self.reason}

    def _repr_html_(self) -> str:
        return pd.DataFrame([self.summary()]).to_html(index=False) + self.hood._repr_html_()


class _Prober(threading.Thread):
    """GETs the address from the client every ~0.3 s (1 s timeout each); (seconds since t0, answered)."""

    def __init__(self, client: str, url: str, t0: float) -> None:
        super().__init__(daemon=True)
        self.client, self.url, self.t0 = client, url, t0
        self.results: list[tuple[float, bool]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            sent = time.monotonic() - self.t0
            code, _ = _router.exec_in(self.client, ["wget", "-q", "-T", "1", "-O", "/dev/null", self.url], check=False)
            self.results.append((round(sent, 2), code == 0))
            self.stop.wait(0.3)


def _withdraw(kind: Kind, p: Plan, router: Router, client: Client, ip, node: str | None, case: str,
              act, undo, steps: list[_hood.Step], timeout: float, back_timeout: float) -> Withdrawal:
    if not 1 <= timeout <= WITHDRAW_LIMIT:
        raise BadInput(f"timeout must be 1 to {WITHDRAW_LIMIT} seconds (got {timeout!r})")
    ip = str(ipaddress.ip_address(str(ip)))
    names = _names(p)
    addr_of = {n: a for n, a in p.core.neighbours}
    before: list[str] = []
    settle = time.monotonic() + 30  # right after a change the route may be re-learnt: wait for two next hops
    while time.monotonic() < settle:
        before = sorted(names.get(h, h) for h in _kernel_hops(router, ip))
        if len(before) >= 2:
            break
        time.sleep(0.3)
    if len(before) < 2:
        raise KindlbError(f"the router has {len(before)} next hop(s) for {ip} ({before}): a withdrawal needs two, "
                          "so that the address keeps answering; scale the app so that two nodes advertise")
    victim = node or before[-1]
    if victim not in before:
        raise BadInput(f"{victim} does not advertise {ip} (next hops: {before}): pick one of them")
    if p.roles.get(victim) == "control-plane":
        raise BadInput(f"{victim} is the control plane: freezing it stops the whole cluster; pick a worker")
    timeline = []
    t0 = time.monotonic()
    prober = _Prober(client.name, f"http://{ip}/", t0)
    prober.start()
    withdrawn = back = None
    reason = ""
    def neighbour() -> dict:
        info = json.loads(_router.vtysh(router.name, f"show bgp neighbors {addr_of[victim]} json") or "{}")
        return info.get(addr_of[victim], {})

    dropped = neighbour().get("connectionsDropped", 0)
    try:
        try:
            act(victim)
            deadline = t0 + timeout
            while time.monotonic() < deadline:
                hops = sorted(names.get(h, h) for h in _kernel_hops(router, ip))
                now = time.monotonic()
                timeline.append({"t (s)": round(now - t0, 2), "next hops": ", ".join(hops)})
                if victim not in hops:
                    withdrawn = round(now - t0, 2)
                    break
                info = neighbour()
                if info.get("connectionsDropped", 0) > dropped:
                    # the session went down (and the route with it) between two looks, and a new speaker is
                    # already back: FRR says how long ago the session was reset
                    ago = info.get("lastResetTimerMsecs", 0) / 1000
                    withdrawn = round(max(time.monotonic() - ago - t0, 0.0), 2)
                    timeline.append({"t (s)": withdrawn, "next hops": f"session with {victim} reset (FRR)"})
                    break
                time.sleep(0.1)
            info = neighbour()
            keys = ("lastResetDueTo", "lastNotificationReason", "lastErrorCodeSubcode")
            reason = "; ".join(str(info[k]) for k in keys if info.get(k))
            # a few probes sent once withdrawn, answered or not: a probe to the frozen node may hang for its
            # whole 1 s timeout, and docker exec is slow on a busy host, so wait for them (15 s at most)
            probes_by = time.monotonic() + 15
            while (withdrawn is not None and time.monotonic() < probes_by
                   and sum(1 for t, _ in list(prober.results) if t >= withdrawn) < 3):
                time.sleep(0.1)
        finally:
            undo(victim)
        deadline = time.monotonic() + back_timeout
        while time.monotonic() < deadline:
            hops = sorted(names.get(h, h) for h in _kernel_hops(router, ip))
            timeline.append({"t (s)": round(time.monotonic() - t0, 2), "next hops": ", ".join(hops)})
            if victim in hops:
                back = round(time.monotonic() - t0, 2)
                break
            time.sleep(0.3)
    finally:
        prober.stop.set()
        prober.join(timeout=5)
    if withdrawn is None:
        raise WaitTimeout(f"{case}: the router still had {victim}'s next hop for {ip} after {timeout:g} s: "
                          f"raise the timeout above the hold time ({p.core.hold_time} s)")
    probes = prober.results
    after = [ok for t, ok in probes if t >= withdrawn]
    tl = pd.DataFrame(timeline)
    tl.attrs["probes"] = probes
    hood = _hood.Hood(f"{case}: time the withdrawal of {victim}", steps + [
        _hood.Step(f"while sleep 0.2; do date +%T.%N; {_exec(router.name, f'ip route show {ip}')}; done",
                   "watch the router's route lose, then regain, the node's next hop"),
        _hood.Step(f"while sleep 0.3; do {_exec(client.name, f'wget -q -T 1 -O /dev/null http://{ip}/')} "
                   "&& echo ok || echo FAIL; done", "meanwhile, from the client: does the address answer?")])
    return Withdrawal(case, victim, before, withdrawn, back, len(probes), sum(ok for _, ok in probes),
                      sum(after), len(after), reason, tl, hood)


def withdraw_speaker(kind: Kind, p: Plan, router: Router, client: Client, ip, node: str | None = None,
                     timeout: float = 60, back_timeout: float = 120) -> Withdrawal:
    """Delete the speaker pod of an advertising node; time until the router drops that next hop, and until
    the DaemonSet's new speaker has it back."""
    def act(victim: str) -> None:
        pod = speakers_by_node(kind)[victim]
        kind.core.delete_namespaced_pod(pod.metadata.name, NAMESPACE)

    steps = [_hood.Step(_hood.kubectl(p.cluster, "delete", "pod", "-l", SPEAKER_LABEL,
                                      "--field-selector", "spec.nodeName=NODE", namespace=NAMESPACE),
                        "the speaker closes its session on the way out; the DaemonSet starts a new one")]
    return _withdraw(kind, p, router, client, ip, node, "speaker deleted", act, lambda v: None, steps,
                     timeout, back_timeout)


def withdraw_node(kind: Kind, p: Plan, router: Router, client: Client, ip, node: str | None = None,
                  timeout: float = 60, back_timeout: float = 120) -> Withdrawal:
    """Freeze an advertising node's container (``docker pause``): no BGP message and no TCP close leave it,
    as from a node that lost power. The router waits out the hold time. Then ``docker unpause``."""
    steps = [_hood.Step("docker pause NODE", "every process of the node stops; its session says nothing"),
             _hood.Step("docker unpause NODE", "after the route is gone: the node, its speaker and pods carry on")]
    return _withdraw(kind, p, router, client, ip, node, "node frozen", _router.pause, _router.unpause, steps,
                     timeout, back_timeout)


def withdrawal_figure(*results: Withdrawal):
    """Each withdrawal on a time line: the client's probes (answered or not) and when the route went and came back."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(8, 1.6 * len(results) + 0.6), squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        probes = r.timeline.attrs.get("probes", [])
        ok = [t for t, good in probes if good]
        bad = [t for t, good in probes if not good]
        ax.scatter(ok, [1] * len(ok), marker="|", s=200, color="tab:green", label="answered")
        ax.scatter(bad, [1] * len(bad), marker="x", color="tab:red", label="no answer within 1 s")
        if r.withdrawn_after is not None:
            ax.axvline(r.withdrawn_after, color="tab:blue", label=f"route withdrawn ({r.withdrawn_after} s)")
        if r.back_after is not None:
            ax.axvline(r.back_after, color="tab:gray", linestyle="--", label=f"route back ({r.back_after} s)")
        ax.set_yticks([])
        ax.set_title(f"{r.case}: {r.node}", fontsize=10)
        ax.legend(loc="upper right", fontsize=7, ncol=2)
    axes[-1, 0].set_xlabel("seconds since the speaker was deleted / the node was frozen")
    fig.suptitle("Withdrawal: the client's requests, and when the router dropped the node's next hop", fontsize=11)
    fig.tight_layout()
    plt.close(fig)
    return fig


def withdrawals(*results: Withdrawal) -> pd.DataFrame:
    """The withdrawals' summaries, one row each."""
    return pd.DataFrame([r.summary() for r in results])


# ---------- side by side ----------

def modes_table(l2: pd.DataFrame | None = None, bgp: pd.DataFrame | None = None,
                speaker: Withdrawal | None = None, node: Withdrawal | None = None) -> pd.DataFrame:
    """Layer 2 and BGP side by side, with this run's numbers where we measured them."""
    def entered(f):
        if f is None:
            return ""
        used = f.loc[f["requests entered"] > 0]
        return "; measured: " + ", ".join(f"{r.node} {r._2}" for r in used.itertuples())

    t_speaker = f"; measured: speaker deleted {speaker.withdrawn_after} s" if speaker else ""
    t_node = f", node frozen {node.withdrawn_after} s" if node else ""
    rows = [
        ("who answers for the IP", "one node per IP: it answers ARP with its MAC",
         "every node that advertises: the router holds one route per node"),
        ("how traffic spreads", "all of it enters that one node" + entered(l2),
         "the router spreads connections over the nodes (ECMP, by hash of addresses and ports)" + entered(bgp)),
        ("failover", "the speakers elect a new owner (memberlist), which sends gratuitous ARP: seconds",
         "the router drops the lost node's route: within a second or two when the speaker closes its session, "
         "after the hold time when the node dies silently" + t_speaker + t_node),
        ("what the network must do", "nothing: the IP is in the nodes' own subnet",
         "run a BGP router that peers with every node and forwards; clients route the pool through it"),
        ("addresses", "from the nodes' subnet", "any range the router can route: here outside the kind subnet"),
    ]
    return pd.DataFrame(rows, columns=["", "layer 2", "BGP"])


# ---------- cleanup ----------

def remove(kind: Kind, service: str = SERVICE, namespace: str = "default") -> _hood.Done:
    """Delete the BGP Service, MetalLB's BGP objects (or the ConfigMap's peers and bgp pool), the router
    and the client. Safe to run twice; the layer-2 pool and its Service stay."""
    gone = []
    if get_or_none(kind.core.read_namespaced_service, service, namespace) is not None:
        kind.core.delete_namespaced_service(service, namespace)
        gone.append(f"service/{service}")
    version = installed_version(kind)
    steps = [_hood.Step(_hood.kubectl(kind.cluster, "delete", "service", service, "--ignore-not-found",
                                      namespace=namespace), "its address goes back to the pool")]
    if version and release(version).uses_crds:
        for api, kind_name, name in (("metallb.io/v1beta2", "BGPPeer", _bgp.PEER_NAME),
                                     ("metallb.io/v1beta1", "BGPAdvertisement", _bgp.POOL_NAME),
                                     ("metallb.io/v1beta1", "IPAddressPool", _bgp.POOL_NAME)):
            if delete(kind, api, kind_name, name, NAMESPACE):
                gone.append(f"{kind_name.lower()}/{name}")
        steps.append(_hood.Step(_hood.kubectl(kind.cluster, "delete", "bgppeer/router", "bgpadvertisement/bgp",
                                              "ipaddresspool/bgp", "--ignore-not-found", namespace=NAMESPACE)))
    elif version:
        config = _configmap_config(kind)
        if "peers" in config or any(x.get("name") == _bgp.POOL_NAME for x in config.get("address-pools", [])):
            objects = [_bgp.configmap(_bgp.without_bgp(config))]
            apply_pool(kind, objects)
            gone.append("configmap/config: peers and pool bgp")
            steps.append(_hood.Step(_hood.kubectl(kind.cluster, "apply", "-f", "metallb-config.yaml",
                                                  namespace=NAMESPACE),
                                    "the ConfigMap as it was: the layer-2 pool only",
                                    files=(("metallb-config.yaml", objects),)))
    for name in _router.remove(kind.cluster):
        gone.append(f"container {name}")
    steps.append(_hood.Step(shlex.join(["docker", "rm", "-f", _router.router_name(kind.cluster),
                                        _router.client_name(kind.cluster)])))
    return _hood.Done(f"removed {len(gone)}: " + (", ".join(gone) if gone else "nothing was left"),
                      _hood.Hood("remove the BGP setup", steps), gone)


def leftovers(kind: Kind) -> list[str]:
    """What of the BGP setup is still there (empty after :func:`remove`)."""
    left = []
    if get_or_none(kind.core.read_namespaced_service, SERVICE, "default") is not None:
        left.append(f"service/{SERVICE}")
    version = installed_version(kind)
    if version and release(version).uses_crds:
        for group_version, plural in (("v1beta2", "bgppeers"), ("v1beta1", "bgpadvertisements")):
            listed = get_or_none(kind.custom.list_namespaced_custom_object, "metallb.io", group_version, NAMESPACE,
                                 plural) or {"items": []}
            left += [f"{plural}/{i['metadata']['name']}" for i in listed["items"]]
    elif version:
        config = _configmap_config(kind)
        left += ["configmap peers"] if config.get("peers") else []
    left += [f"pool {n}" for n, r in pools(kind) if n == _bgp.POOL_NAME]
    from ...cluster.dockernet import docker_client

    client = docker_client()
    left += [f"container {c.name}" for c in client.containers.list(
        all=True, filters={"label": f"{_router.LABEL}={kind.cluster}"})]
    return left


def report(kind: Kind, p: Plan, router: Router, svc, sessions_: pd.DataFrame, routes_: pd.DataFrame,
           local: pd.DataFrame, lone: pd.DataFrame, bgp_view: pd.DataFrame, l2_view: pd.DataFrame,
           speaker: Withdrawal, node: Withdrawal, removed: _hood.Done | None) -> dict:
    """The notebook's ``result``: what the cluster tier asserts on (plain values only)."""
    return {"version": p.version, "router_ip": router.ip, "ip": str(svc.ip), "pool": p.pool,
            "sessions": sessions_[["node", "state", "prefixes received"]].to_dict("records"),
            "expected_peers": sessions_.attrs.get("expected", []),
            "next_hops": routes_.attrs["nodes"], "advertising": routes_.attrs.get("expected", []),
            "local_next_hops": local.attrs["nodes"], "local_expected": local.attrs.get("expected", []),
            "lone_next_hops": lone.attrs["nodes"], "lone_expected": lone.attrs.get("expected", []),
            "bgp_spread": {n: int(c) for n, c in zip(bgp_view["node"], bgp_view["requests entered"])},
            "bgp_answered": int(bgp_view.attrs["answered"]),
            "l2_spread": {n: int(c) for n, c in zip(l2_view["node"], l2_view["requests entered"])},
            "l2_answered": int(l2_view.attrs["answered"]),
            "withdrawals": [speaker.summary(), node.summary()],
            "speaker_withdrawn_after": speaker.withdrawn_after, "node_withdrawn_after": node.withdrawn_after,
            "speaker_answered_after": [speaker.answered_after_withdrawal, speaker.probes_after_withdrawal],
            "node_answered_after": [node.answered_after_withdrawal, node.probes_after_withdrawal],
            "hold_time": p.core.hold_time, "removed": list(removed.details) if removed else [],
            "leftovers": leftovers(kind) if removed else []}
