"""The router and its sessions: the FRR container started, MetalLB told about it, each speaker's session as
the router sees it, waited for until Established, and diagnosed when it is not.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass

import pandas as pd
import yaml

from ..._cluster import router as _router
from ..._cluster.kube import Kind, get_or_none, is_ready
from ..._cluster.metallb import apply_pool
from ..._cluster.waits import wait_until
from ..._core import bgp_config as _bgp
from ..._core import hood as _hood
from ..._core.errors import BadInput
from ..._core.manifests import NAMESPACE
from ..._core.release import release
from .plan import Plan, neighbour_names
from .show import frame, vtysh_step

SPEAKER_LABEL = "component=speaker"


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


def configmap_config(kind: Kind) -> dict:
    cm = get_or_none(kind.core.read_namespaced_config_map, "config", NAMESPACE)
    return yaml.safe_load(((cm.data or {}).get("config") if cm else None) or "") or {}


def peer(kind: Kind, p: Plan, router: Router, timeout: float = 120) -> _hood.Done:
    """Tell MetalLB about the router and the pool: BGPPeer + IPAddressPool + BGPAdvertisement (v0.13+),
    or ``peers`` and a ``protocol: bgp`` pool added to the ConfigMap (v0.12.1)."""
    config = None if release(p.version).uses_crds else configmap_config(kind)
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


def sessions(p: Plan, router: Router) -> pd.DataFrame:
    """One row per neighbour, from ``show bgp summary json``: state, uptime, prefixes received."""
    rows = _bgp.parse_summary(_router.vtysh(router.name, "show bgp summary json"), neighbour_names(p))
    hood = _hood.Hood("the router's BGP sessions", [vtysh_step(router.name, "show bgp summary",
                                                                "one line per neighbour: State/PfxRcd")])
    return frame(rows, ["neighbour", "node", "AS", "state", "uptime", "prefixes received", "messages received"],
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
            rel = release(p.version)
            why = (f" ({rel}'s speakers skip the control plane)"
                   if p.roles.get(row.node) == "control-plane" and not rel.speaker_on_control_plane else "")
            out.append(f"{row.node} ({row.neighbour}): no speaker runs there, so nobody dials the router{why}")
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
    peers = configmap_config(kind).get("peers") or []
    if not peers:
        return None
    s = peers[0]
    return {"address": s.get("peer-address"), "peer_asn": s.get("peer-asn"), "my_asn": s.get("my-asn")}


def wait_established(kind: Kind, p: Plan, router: Router, timeout: float = 120) -> pd.DataFrame:
    """Wait until every node with a ready speaker has an Established session; the sessions table.

    On timeout: WaitTimeout with the diagnosis (wrong AS, wrong address, speaker not ready)."""
    if not 1 <= timeout <= 600:
        raise BadInput(f"timeout must be 1 to 600 seconds (got {timeout!r})")
    last: dict = {}

    def check() -> tuple[bool, str]:
        want = set(expected_peers(kind, p))
        table = sessions(p, router)
        up = set(table.loc[table["state"] == "Established", "node"])
        last.update(table=table, want=want)
        return bool(want) and want <= up, (f"Established: {', '.join(sorted(up)) or 'none'}; ready speakers: "
                                           f"{', '.join(sorted(want)) or 'none'}")

    def explain() -> str:
        return ("; ".join(diagnose(kind, p, router)) + f". Evidence: docker exec {router.name} vtysh -c "
                f"'show bgp summary'; kubectl -n {NAMESPACE} logs -l {SPEAKER_LABEL} | grep -i bgp "
                f"({len(neighbour_names(p))} neighbours)")

    wait_until(check, timeout=timeout, desc="BGP sessions Established", progress=False, explain=explain)
    table = last["table"]
    table.attrs["expected"] = sorted(last["want"])
    return table
