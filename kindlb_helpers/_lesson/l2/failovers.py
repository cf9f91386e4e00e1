"""Failover, measured: take the announcer of a LoadBalancer IP away (delete its speaker pod, or pause its
node), and time until another node announces the IP and it answers through that node; then bring
everything back and wait until it is healthy.
"""
from __future__ import annotations

import shlex
import time

import pandas as pd

from ..._cluster.dockernet import pause, unpause
from ..._cluster.kube import Kind, is_ready
from ..._cluster.waits import ticks, wait_until
from ..._core import hood as _hood
from ..._core.errors import BadInput, KindlbError, WaitTimeout
from ..._core.manifests import NAMESPACE
from ..._core.objects import http_url
from ..tables import captured_frame
from .announce import SPEAKER_LABEL, app_pods_by_node, current_announcer, speaker_pods
from .failover_report import FAILOVER_LIMIT, FAILOVER_MODES, Failover
from .neigh import checked_ip, checked_via, mac_to_node, neighbours, node_macs


def _node_containers(cluster: str) -> list[str]:
    return node_macs(cluster)["node"].tolist()


def _listener(cluster: str, avoid: set[str]) -> str | None:
    """A node container to listen in for ARP: the control-plane (it announces nothing here), else any other."""
    nodes = [n for n in _node_containers(cluster) if n not in avoid]
    return next((n for n in nodes if "control-plane" in n), nodes[0] if nodes else None)


def _nodes_ready(kind: Kind) -> tuple[bool, str]:
    nodes = kind.core.list_node().items
    ready = [n.metadata.name for n in nodes if is_ready(n)]
    return len(ready) == len(nodes), f"nodes Ready {len(ready)}/{len(nodes)}"


def failover(kind: Kind, ip, name: str = "nginx", namespace: str = "default", timeout: float = FAILOVER_LIMIT,
             via: str = "host", image: str | None = None, port: int = 80, mode: str = "speaker",
             capture: str = "auto", also: tuple = ()) -> Failover:
    """Take the announcer of ``ip`` away and measure until another node announces it and the IP answers
    through that node (at most ``timeout`` ≤ 90 s); then bring everything back and wait until it is healthy.

    ``mode="speaker"`` deletes the announcing node's speaker pod; ``mode="node"`` pauses the announcing
    node's container (``docker pause``) and unpauses it once the IP answers elsewhere. Meanwhile a
    request goes to the IP every 0.3 s (from the host, or with ``via="container"`` from a container on
    the kind network) and, unless ``capture="off"``, the ARP packets from the IP are captured on the
    kind bridge (:class:`~kindlb_helpers._cluster.capture.ArpCapture`: ``"auto"``, ``"host"`` or ``"node"``).

    ``also``: the Service's other addresses (a dual-stack Service's other family; one node announces them
    all). Each gets its own requests, and its answer time is in the result's ``others``. With an IPv6
    address among them, the capture is :class:`~kindlb_helpers._cluster.ndp.NeighbourCapture` (NDP and ARP
    for every address, from the host only).
    """
    from ..._cluster.capture import ArpCapture
    from ..._cluster.probe import Prober

    ip, via = checked_ip(ip), checked_via(via)
    if mode not in FAILOVER_MODES:
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
    mac_of = mac_to_node(kind.cluster)
    mac_before = neighbours(ip, via, image, port, arping=False, cluster=kind.cluster).attrs["mac"]
    victim = before
    if mode == "speaker":
        pods = [p for p in speaker_pods(kind) if p.spec.node_name == before]
        if not pods:
            raise KindlbError(f"no speaker pod runs on {before}: `kubectl -n {NAMESPACE} get pods -o wide` shows them")
        victim = pods[0].metadata.name
    cap = None
    if capture != "off" and (also or ":" in ip):
        from ..._cluster.ndp import NeighbourCapture

        cap = NeighbourCapture((ip, *also), via="host" if capture == "host" else "auto").start()
    elif capture != "off":
        cap = ArpCapture(ip, via=capture, node=_listener(kind.cluster, {before})).start()
    probers: list = []
    try:
        for addr in (ip, *also):
            probers.append(Prober(addr, via, port, image, cluster=kind.cluster).start())
    except BaseException:
        for p in probers:
            p.stop()
        if cap:
            cap.stop()
        raise
    try:
        return _measure(kind, ip, name, namespace, timeout, via, image, port, mode, before, victim, mac_before,
                        mac_of, cap, probers[0], probers[1:])
    finally:  # whatever happened: no prober container, no nft table, no paused node left behind
        for p in probers:
            p.stop()
        if cap:
            cap.stop()


def _answer_through_announcer(prober, samples: list, t0: float, after: str, node_mac: dict):
    """The first answer after the failure that came through a node announcing the IP: through the new
    announcer ``after``; or, when the IP moved on before this client's neighbour entry ever pointed at that
    node, through the node announcing it now, once it does.

    The second case is real: in speaker mode the DaemonSet's new speaker on the old node rejoins memberlist
    within a second or two, and MetalLB's choice of node for an IP (a hash of node and IP) picks that node
    again; it takes the IP back with gratuitous ARP. The new node's turn (1.3-1.8 s measured on kind,
    MetalLB v0.16.1) can end before a request of this client goes through it.
    """
    hit = next((a for a in prober.since(t0) if a.ok and a.mac == node_mac.get(after)), None)
    now = samples[-1][1] if samples else None
    if hit is not None or not now or now == after:
        return hit
    since = samples[-1][0]
    for t, node in reversed(samples):  # since when ``now`` has announced without a break
        if node != now:
            break
        since = t
    return next((a for a in prober.since(since) if a.ok and a.mac == node_mac.get(now)), None)


def _measure(kind, ip, name, namespace, timeout, via, image, port, mode, before, victim, mac_before, mac_of,
             cap, prober, extra=()) -> Failover:
    from ..._cluster.metallb import readiness

    samples: list[tuple[float, str | None]] = []
    node_mac = {n: m for m, n in mac_of.items()}
    announced = answered = after = mac_after = None
    pods = app_pods_by_node(kind, name, namespace)
    pods_on_failed = (pods.get(before, 0), sum(pods.values()))
    t0 = time.monotonic()
    paused = False
    try:
        time.sleep(1.0)  # a second of answers before the failure, for the timeline
        t0 = time.monotonic()
        if mode == "speaker":
            kind.core.delete_namespaced_pod(victim, NAMESPACE)
        else:
            pause(victim)  # docker pause
            paused = True
        for _ in ticks(t0 + timeout - time.monotonic(), every=0.2):  # a sample every 0.2 s, until the answer
            now = current_announcer(kind, name, namespace)
            samples.append((time.monotonic(), now))
            if announced is None and now and now != before:
                announced, after = time.monotonic() - t0, now
            if announced is not None:
                hit = _answer_through_announcer(prober, samples, t0, after, node_mac)
                if hit is not None and answered is None:
                    answered, mac_after = hit.t - t0, hit.mac
                if answered is not None and all(_answer_through_announcer(p, samples, t0, after, node_mac)
                                                for p in extra):
                    break
    finally:
        if paused:
            unpause(victim)
    if announced is None or answered is None:
        seen = f"{after} announces" if after else f"no other node announced it (still {before})"
        raise WaitTimeout(f"{ip}: not answering through another node within {timeout:.0f} s after the failure "
                          f"({FAILOVER_MODES[mode]}): {seen}. Look at the speaker logs "
                          f"(`kubectl -n {NAMESPACE} logs -l {SPEAKER_LABEL}`)")

    def healthy() -> tuple[bool, str]:
        nodes_ok, nodes_text = _nodes_ready(kind)
        speakers_ok, speakers_text = readiness(kind)
        answers = prober.since(time.monotonic() - 1.5)
        ip_ok = bool(answers) and answers[-1].ok
        return (nodes_ok and speakers_ok and ip_ok,
                f"{nodes_text}; {speakers_text}; IP {'answers' if ip_ok else 'does not answer'}")

    wait_until(healthy, timeout=180, desc="nodes, speakers and IP healthy again", progress=False)
    healthy_after = time.monotonic() - t0
    # one settle, not a wait for a state: a speaker that comes back rejoins memberlist and may take the IP
    # back within a few seconds; the announcer read after it shows whether it did
    time.sleep(3)
    back = current_announcer(kind, name, namespace)
    answers = prober.stop()
    last_mac = next((a.mac for a in reversed(answers) if a.mac), None)
    others = {}
    for p in extra:
        hit = _answer_through_announcer(p, samples, t0, after, node_mac)
        got = p.stop()
        others[p.ip] = {"answered_after": None if hit is None else round(hit.t - t0, 1),
                        "timeline": pd.DataFrame(
                            [{"seconds": round(a.t - t0, 2), "answered": a.ok, "MAC for the IP": a.mac,
                              "node with that MAC": mac_of.get(a.mac or "")} for a in got],
                            columns=["seconds", "answered", "MAC for the IP", "node with that MAC"])}
    arp = captured_frame(cap.stop(origin=t0)) if cap else None
    if arp is not None:
        arp.insert(3, "node", arp["sender MAC"].map(mac_of))
    rows = []
    for a in answers:
        who = [n for t, n in samples if t <= a.t]
        rows.append({"seconds": round(a.t - t0, 2), "answered": a.ok, "MAC for the IP": a.mac,
                     "node with that MAC": mac_of.get(a.mac or ""), "announcer (cluster)": who[-1] if who else before})
    timeline = pd.DataFrame(rows, columns=["seconds", "answered", "MAC for the IP", "node with that MAC",
                                           "announcer (cluster)"])
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
        new = arp[arp["gratuitous"] & (arp["sender MAC"] == node_mac.get(after)) & (arp["seconds"] >= 0)]
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
    hood = _hood.Hood(f"fail over {ip}: {FAILOVER_MODES[mode]}", steps)
    capture_text = f"{arp.attrs['via']}: {arp.attrs['why']}" if arp is not None else ""
    return Failover(ip, mode, before, after, mac_before, mac_after, round(announced, 1),
                    None if garp is None else round(garp, 1), round(answered, 1), round(max(gaps), 1),
                    round(healthy_after, 1), back, timeline, arp, capture_text, hood, mac_of.get(last_mac or ""),
                    pods_on_failed, mac_of.get(mac_after or ""), others)
