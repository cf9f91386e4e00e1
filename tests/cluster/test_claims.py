"""The claims ledger (docs/claims.yaml, issue 25) observed on a real cluster, in both MetalLB eras.

Every ledger entry with ``observe: NAME`` is looked at here, with the raw tools a learner would use (kubectl,
docker, busybox's arping/ping/wget in a container on the kind network, a raw ARP socket on the kind bridge as
tcpdump has), never with the library's readings: each observer turns what it saw into a short value, and the
value must equal the entry's ``expect`` for the era. Entries with ``observed_by`` are asserted by the named test
on the state it sets up (tests/test_claims_ledger.py checks the name exists).

Everything made here lives in namespace ``kindlb-claims`` and in pools named ``claims-*``; the pools, the
ConfigMap, labels and the speaker DaemonSet are put back as they were, also when an observation fails.
"""
from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from _cluster_tier import ARTIFACTS, eras
from _lesson_setup import as_02_to_04_leave_it

from _metallb_source import module
from kindlb_helpers._core.release import release
from kindlb_helpers._lesson.exercises import free_addresses

ROOT = Path(__file__).resolve().parents[2]
LEDGER = yaml.safe_load((ROOT / "docs" / "claims.yaml").read_text(encoding="utf-8"))
NS = "kindlb-claims"
MS = "metallb-system"
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"
#: how long an absence is watched for (an event or an announcement that does not come): a present one came
#: within 2 s in every run here (IPAllocated, nodeAssigned), so 6 s is three times that
QUIET = 6.0


class Raw:
    """The cluster through kubectl and docker, as a learner's terminal has it."""

    def __init__(self, name: str, params: dict, crds: bool):
        self.name, self.params, self.crds = name, params, crds
        self.ctx = f"kind-{name}"
        self.probe_image = params.get("probe_image") or "busybox:1.36"
        self.image = params.get("image") or "nginx:1.27"

    def run(self, *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=timeout, check=False)

    def k(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60) -> str:
        r = self.run("kubectl", "--context", self.ctx, *args, stdin=stdin, timeout=timeout)
        if check and r.returncode:
            raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout if not check else r.stdout

    def kr(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return self.run("kubectl", "--context", self.ctx, *args, stdin=stdin)

    def kj(self, *args: str) -> dict:
        return json.loads(self.k(*args, "-o", "json"))

    def apply(self, *objs: dict) -> None:
        self.k("apply", "-f", "-", stdin=yaml.safe_dump_all(objs))

    # ---------- services and their events

    def service(self, name: str, selector: dict | None = None, *, port: int = 80, annotations: dict | None = None,
                lb_ip: str | None = None, local: bool = False) -> None:
        spec = {"type": "LoadBalancer", "selector": selector or {"app": "claims-web"},
                "ports": [{"name": "http", "port": port, "targetPort": 80, "protocol": "TCP"}]}
        if lb_ip:
            spec["loadBalancerIP"] = lb_ip
        if local:
            spec["externalTrafficPolicy"] = "Local"
        meta = {"name": name, "namespace": NS, "annotations": annotations or {}}
        self.apply({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec})

    def ip(self, name: str) -> str | None:
        svc = self.kj("-n", NS, "get", "service", name)
        ingress = (svc.get("status", {}).get("loadBalancer", {}) or {}).get("ingress") or []
        return ingress[0].get("ip") if ingress else None

    def wait_ip(self, name: str, timeout: float = 30) -> str | None:
        end = time.monotonic() + timeout
        while True:
            got = self.ip(name)
            if got or time.monotonic() > end:
                return got
            time.sleep(0.5)

    def wait_ready_endpoint(self, name: str, timeout: float = 60) -> None:
        """Until the Service's EndpointSlice lists a ready endpoint: a speaker weighs a Service by its EndpointSlice,
        which the endpoint-slice controller writes a moment after the Service (or a finished rollout) on a loaded
        machine; a window that watches the speakers' answer starts after it (stop 32's CI met that gap)."""
        end = time.monotonic() + timeout
        while "true" not in self.k("-n", NS, "get", "endpointslices", "-l", f"kubernetes.io/service-name={name}",
                                   "-o", "jsonpath={.items[*].endpoints[*].conditions.ready}"):
            if time.monotonic() > end:
                raise AssertionError(f"{name}'s EndpointSlice lists no ready endpoint after {timeout:.0f} s")
            time.sleep(0.5)

    def uid(self, name: str) -> str:
        return self.kj("-n", NS, "get", "service", name)["metadata"]["uid"]

    def events(self, name: str, uid: str | None = None) -> list[dict]:
        items = self.kj("-n", NS, "get", "events", "--field-selector",
                        f"involvedObject.kind=Service,involvedObject.name={name}")["items"]
        return [e for e in items if uid is None or e["involvedObject"].get("uid") == uid]

    def reasons(self, name: str) -> set[str]:
        return {e["reason"] for e in self.events(name, self.uid(name))}

    def wait_reason(self, name: str, reason: str, timeout: float = 20) -> bool:
        end = time.monotonic() + timeout
        while reason not in self.reasons(name):
            if time.monotonic() > end:
                return False
            time.sleep(0.5)
        return True

    def announced_by(self, name: str) -> str | None:
        """The node the newest nodeAssigned event of this Service's uid names."""
        assigned = [e for e in self.events(name, self.uid(name)) if e["reason"] == "nodeAssigned"]
        if not assigned:
            return None
        newest = max(assigned, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        m = re.search(r'announcing from node "([^"]+)"', newest["message"])
        return m.group(1) if m else newest["message"]

    # ---------- nodes, MetalLB

    def nodes(self) -> dict[str, dict]:
        return {n["metadata"]["name"]: n for n in self.kj("get", "nodes")["items"]}

    def control_plane(self) -> str:
        return next(n for n, o in self.nodes().items() if "node-role.kubernetes.io/control-plane" in
                    o["metadata"].get("labels", {}))

    def workers(self) -> list[str]:
        cp = self.control_plane()
        return sorted(n for n in self.nodes() if n != cp)

    def mac(self, node: str) -> str:
        return self.run("docker", "inspect", "-f", '{{(index .NetworkSettings.Networks "kind").MacAddress}}',
                        node).stdout.strip().lower()

    def speakers(self) -> list[dict]:
        return self.kj("-n", MS, "get", "pods", "-l", "component=speaker")["items"]

    def logs(self, component: str, since: str = "10m") -> str:
        args = ["-n", MS, "logs", "-l", f"component={component}", "--tail=-1", f"--since={since}", "--prefix"]
        if component == "speaker":
            args += ["-c", "speaker"]
        return self.k(*args, timeout=90)

    def l2status(self, name: str) -> list[str] | None:
        """Nodes of the ServiceL2Status objects for NS/NAME; None: the cluster has no such kind."""
        r = self.kr("-n", MS, "get", "servicel2statuses", "-o", "json")
        if r.returncode:
            if "doesn't have a resource type" in r.stderr or "could not find the requested resource" in r.stderr:
                return None  # (the second: a CRD of another era just removed, still in discovery)
            raise AssertionError(r.stderr)
        return [i.get("status", {}).get("node") for i in json.loads(r.stdout)["items"]
                if i.get("status", {}).get("serviceName") == name and i.get("status", {}).get("serviceNamespace") == NS]

    def wait_metallb(self, timeout: float = 180) -> None:
        self.k("-n", MS, "rollout", "status", "daemonset/speaker", f"--timeout={int(timeout)}s", timeout=timeout + 10)
        self.k("-n", MS, "wait", "deployment/controller", "--for=condition=Available", f"--timeout={int(timeout)}s",
               timeout=timeout + 10)

    # ---------- the wire, from a container on the kind network

    def probe(self, script: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return self.run("docker", "run", "--rm", "--network", "kind", self.probe_image, "sh", "-c", script,
                        timeout=timeout)

    def arp_macs(self, ip: str) -> set[str]:
        out = self.probe(f"busybox arping -c 2 -w 3 -I eth0 {ip} 2>&1; true").stdout
        return {m.lower() for m in re.findall(r"\[([0-9A-Fa-f:]{17})\]", out)}

    def bridge(self) -> str:
        net = json.loads(self.run("docker", "network", "inspect", "kind").stdout)[0]
        return net.get("Options", {}).get("com.docker.network.bridge.name") or f"br-{net['Id'][:12]}"


def _no_kind(stderr: str) -> bool:
    """kubectl's words for a kind the API server does not serve (the second: a CRD of another era just removed)."""
    return "doesn't have a resource type" in stderr or "could not find the requested resource" in stderr


def _arp_frames(bridge: str, ip: str, seconds: float, started: threading.Event, out: list) -> None:
    """Every gratuitous ARP (sender and target IP both IP) on BRIDGE for SECONDS: (op, sender MAC)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    try:
        sock.bind((bridge, 0))
        sock.settimeout(0.2)
        started.set()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                frame = sock.recv(2048)
            except socket.timeout:
                continue
            arp = frame[14:42]
            if len(arp) < 28:
                continue
            spa, tpa = socket.inet_ntoa(arp[14:18]), socket.inet_ntoa(arp[24:28])
            if spa == ip and tpa == ip:
                out.append((struct.unpack("!H", arp[6:8])[0], ":".join(f"{b:02x}" for b in arp[8:14])))
    finally:
        started.set()
        sock.close()


# ---------------------------------------------------------------- the observations

def observe_all(raw: Raw, state: dict, obs: dict) -> None:
    """Fill OBS (observer name -> value) for the era installed; each step puts back what it changed."""
    raw.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    cp, workers = raw.control_plane(), raw.workers()
    macs = {n: raw.mac(n) for n in [cp, *workers]}

    # placement: speakers, labels, nginx's pods, the memberlist Secret
    speakers = raw.speakers()
    obs["speakers.control_plane"] = "runs" if any(p["spec"].get("nodeName") == cp for p in speakers) else "none"
    obs["speakers.node_ip"] = "yes" if speakers and all(
        p["status"].get("podIP") == p["status"].get("hostIP") for p in speakers) else "no"
    obs["nodes.cp_label"] = "labelled" if EXCLUDE in raw.nodes()[cp]["metadata"].get("labels", {}) else "not labelled"
    nginx = raw.kj("-n", "default", "get", "pods", "-l", "app=nginx")["items"]
    obs["nginx.on_control_plane"] = "no pods" if not any(p["spec"].get("nodeName") == cp for p in nginx) else "pods"
    obs["memberlist.secret"] = "exists" if raw.kr("-n", MS, "get", "secret", "memberlist").returncode == 0 \
        else "missing"

    r = raw.kr("-n", MS, "get", "configurationstates", "-o", "json")
    obs["status.configuration_state"] = ("no such kind" if r.returncode and _no_kind(r.stderr)
                                         else "reported" if r.returncode == 0 and json.loads(r.stdout)["items"]
                                         else f"none ({r.stderr.strip()[:80]})")

    # a served Service (two nginx pods of its own: a Service selects pods of its namespace) and one without
    # endpoints, made together so the absences are watched at once
    raw.apply(_web(raw, "claims-web", 2))
    raw.k("-n", NS, "rollout", "status", "deployment/claims-web", "--timeout=120s", timeout=130)
    raw.service("claims-web")
    raw.service("claims-noep", {"app": "claims-nobody"})
    ip = raw.wait_ip("claims-web")
    noep_ip = raw.wait_ip("claims-noep")
    assert ip and noep_ip, (ip, noep_ip)
    raw.wait_ready_endpoint("claims-web")
    raw.wait_reason("claims-web", "nodeAssigned", 20)
    obs["served.ipallocated"] = "yes" if "IPAllocated" in raw.reasons("claims-web") else "no"
    node = raw.announced_by("claims-web")
    obs["served.nodeassigned"] = "none" if node is None else ("the control-plane" if node == cp else
                                                             "a worker" if node in workers else node)
    lines = [ln for ln in raw.logs("speaker").splitlines() if '"serviceAnnounced"' in ln and f'"{ip}"' in ln]
    obs["served.log"] = ("none" if not lines else "names the service" if any(f'"service":"{NS}/claims-web"' in ln
                                                                              for ln in lines) else "names only the IPs")
    nodes = raw.l2status("claims-web")
    # v0.16.1 creates a ServiceL2Status without status and patches the status in on the next reconcile, both after
    # the nodeAssigned event was sent (internal/k8s/controllers/layer2_status_controller.go, CreateOrPatch): a read
    # right after that event may find none yet; one that names no node for 20 s is what it says
    end = time.monotonic() + 20
    while nodes is not None and not any(nodes) and time.monotonic() < end:
        time.sleep(0.5)
        nodes = raw.l2status("claims-web")
    obs["served.l2status"] = ("no such kind" if nodes is None else "one, naming the announcer" if nodes == [node]
                              else f"{len(nodes)}: {nodes}")
    annotations = raw.kj("-n", NS, "get", "service", "claims-web")["metadata"].get("annotations", {})
    recorded = {k: v for k, v in annotations.items() if k.endswith("/ip-allocated-from-pool")}
    obs["served.pool_annotation"] = ("none" if not recorded else "records the pool"
                                     if list(recorded.values()) == ["default"] else str(recorded))
    got = raw.arp_macs(ip)
    obs["served.arp"] = "the announcer's MAC" if node and got == {macs.get(node)} else f"{got} (announcer {node})"
    r = raw.probe(f"busybox ping -c 2 -W 1 {ip} >/dev/null 2>&1 && echo PING; busybox timeout 8 wget -q -O - http://{ip}/ | "
                  f"busybox grep -q 'Welcome to nginx' && echo TCP; true")
    obs["served.ping"] = ", ".join(["ping answers" if "PING" in r.stdout else "ping silent",
                                    "TCP answers" if "TCP" in r.stdout else "TCP silent"])
    # any re-processing sends gratuitous ARP again (SetBalancer): an annotation is such an update
    frames: list = []
    started = threading.Event()
    t = threading.Thread(target=_arp_frames, args=(raw.bridge(), ip, 6.0, started, frames), daemon=True)
    t.start()
    started.wait(5)
    raw.k("-n", NS, "annotate", "service", "claims-web", f"kindlb.example/touched={time.time_ns()}", "--overwrite")
    t.join(10)
    senders = {mac for _, mac in frames}
    obs["served.garp_on_update"] = ("from the announcer" if node and senders == {macs.get(node)} else
                                    "none" if not senders else f"{senders} (announcer {node})")

    # no endpoint: an address, and nothing else
    time.sleep(max(0.0, QUIET - 4))
    parts = ["address" if noep_ip else "no address"]
    parts.append("nodeAssigned" if "nodeAssigned" in raw.reasons("claims-noep") else "no nodeAssigned")
    st = raw.l2status("claims-noep")
    parts.append("no status kind" if st is None else "no status" if not st else f"status {st}")
    said = [ln for ln in raw.logs("speaker").splitlines() if f'"{noep_ip}"' in ln]
    parts.append("no log" if not said else f"{len(said)} log lines")
    answered = raw.arp_macs(noep_ip)
    ours = answered & set(macs.values())  # another cluster on the kind network may hold the same address
    parts.append("no ARP answer" if not ours else f"ARP answered by {ours}")
    state.setdefault("foreign ARP", {})[noep_ip] = sorted(answered - ours)
    obs["noep.all"] = ", ".join(parts)
    if "IPAllocated" not in raw.reasons("claims-noep"):
        obs["noep.all"] += " (no IPAllocated)"

    timings = state.setdefault("timings", {})
    timings["placement, served, no endpoint"] = round(time.monotonic() - state["started"], 1)
    for name, step in (("pools", lambda: observe_pools(raw, state, obs)),
                       ("webhook, BFD, PSP, L2Advertisement", lambda: observe_checks(raw, state, obs)),
                       ("exclude label", lambda: observe_exclusion(raw, state, obs, workers)),
                       ("Local on the control-plane", lambda: observe_local(raw, state, obs, cp)),
                       ("no speaker", lambda: observe_speakers_gone(raw, obs)),
                       ("no pool", lambda: observe_no_pool(raw, state, obs))):
        t0 = time.monotonic()
        step()
        timings[name] = round(time.monotonic() - t0, 1)


def _web(raw: Raw, name: str, replicas: int, pod_spec: dict | None = None) -> dict:
    """A Deployment of nginx (the tier's image) labelled app=NAME in the claims namespace."""
    spec = {"containers": [{"name": "web", "image": raw.image, "imagePullPolicy": "IfNotPresent",
                            "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1}}],
            **(pod_spec or {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def _pool_objects(name: str, addresses: str, auto_assign: bool) -> list[dict]:
    return [{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": name, "namespace": MS},
             "spec": {"addresses": [addresses], "autoAssign": auto_assign}},
            {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement", "metadata": {"name": name, "namespace": MS},
             "spec": {"ipAddressPools": [name]}}]


def _configmap(raw: Raw) -> str | None:
    r = raw.kr("-n", MS, "get", "configmap", "config", "-o", "json")
    return json.loads(r.stdout)["data"]["config"] if r.returncode == 0 else None


def _set_configmap(raw: Raw, text: str) -> None:
    raw.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config", "namespace": MS},
               "data": {"config": text}})


def _add_pool(raw: Raw, name: str, addresses: str, auto_assign: bool) -> None:
    if raw.crds:
        raw.apply(*_pool_objects(name, addresses, auto_assign))
    else:
        cfg = yaml.safe_load(_configmap(raw))
        cfg["address-pools"] = [p for p in cfg["address-pools"] if p["name"] != name] + [
            {"name": name, "protocol": "layer2", "addresses": [addresses], "auto-assign": auto_assign}]
        _set_configmap(raw, yaml.safe_dump(cfg, sort_keys=False))


def _drop_pool(raw: Raw, name: str) -> None:
    if raw.crds:
        for kind in ("l2advertisement", "ipaddresspool"):
            raw.kr("-n", MS, "delete", kind, name, "--ignore-not-found")
    else:
        text = _configmap(raw)
        if text:
            cfg = yaml.safe_load(text)
            cfg["address-pools"] = [p for p in cfg["address-pools"] if p["name"] != name]
            _set_configmap(raw, yaml.safe_dump(cfg, sort_keys=False))


def observe_pools(raw: Raw, state: dict, obs: dict) -> None:
    """A one-address pool with autoAssign false: named, exhausted, requested; the old prefix; both ways; sharing."""
    one = str(free_addresses(state["k"], 1, ignore=("claims-",)).first)
    old_prefix = "metallb.universe.tf"
    prefix = release(state["version"]).annotation_prefix
    _add_pool(raw, "claims-one", f"{one}-{one}", False)
    try:
        time.sleep(2)
        raw.service("claims-first", annotations={f"{old_prefix}/address-pool": "claims-one"})
        first = raw.wait_ip("claims-first", 30)
        deprecated = raw.wait_reason("claims-first", "deprecatedAnnotation", 10 if raw.crds else QUIET / 2)
        obs["pool.deprecated_prefix"] = ("works" if first == one else f"got {first}") + (
            ", with deprecatedAnnotation" if deprecated else ", no event")
        raw.service("claims-second", annotations={f"{prefix}/address-pool": "claims-one"})
        failed = raw.wait_reason("claims-second", "AllocationFailed", 20)
        said = [e["message"] for e in raw.events("claims-second", raw.uid("claims-second"))
                if e["reason"] == "AllocationFailed"]
        obs["pool.exhausted"] = ("pending" if raw.ip("claims-second") is None else "got one") + (
            " with AllocationFailed" if failed and any("no available IPs" in m for m in said) else
            f" without AllocationFailed 'no available IPs' ({said[:1]})")
        raw.service("claims-plain")
        plain = raw.wait_ip("claims-plain", 30)
        # events outlive the Service; describe of a new one of the same name shows its own only
        raw.k("-n", NS, "delete", "service", "claims-second")
        kept = any(e["reason"] == "AllocationFailed" for e in raw.events("claims-second"))
        raw.service("claims-second")
        raw.wait_ip("claims-second", 30)
        described = raw.k("-n", NS, "describe", "service", "claims-second")
        obs["pool.events_outlive"] = ("old kept" if kept else "old gone") + (
            ", describe shows new only" if "AllocationFailed" not in described else ", describe shows the old")
        # the named pool's address freed, then asked for by address alone
        raw.k("-n", NS, "delete", "service", "claims-first")
        time.sleep(1)
        raw.service("claims-asks", lb_ip=one)
        asked = raw.wait_ip("claims-asks", 30)
        obs["pool.auto_assign"] = "; ".join([
            "elsewhere" if plain and plain != one else f"plain got {plain}",
            "named gets it" if first == one else f"named got {first}",
            "requested gets it" if asked == one else f"requested got {asked}"])
        # both the annotation and spec.loadBalancerIP: refused
        raw.service("claims-both", annotations={f"{prefix}/loadBalancerIPs": plain}, lb_ip=plain)
        uid, end = raw.uid("claims-both"), time.monotonic() + 20  # the refusal is an event: waited for, not slept
        while True:
            warned = [e for e in raw.events("claims-both", uid) if e["type"] == "Warning"]
            if any("both" in e["message"] for e in warned) or time.monotonic() > end:
                break
            time.sleep(0.5)
        obs["pool.both_ways"] = ("pending" if raw.ip("claims-both") is None else "got one") + (
            ", refused" if any("both" in e["message"] for e in warned) else ", no Warning event")
        # two Services, one key, two ports, the same requested address
        raw.k("-n", NS, "delete", "service", "claims-both", "claims-plain")
        time.sleep(1)
        key = {f"{prefix}/allow-shared-ip": "claims-key"}
        raw.service("claims-sh-a", annotations=key, lb_ip=plain)
        raw.service("claims-sh-b", annotations=key, lb_ip=plain, port=8080)
        a, b = raw.wait_ip("claims-sh-a", 30), raw.wait_ip("claims-sh-b", 30)
        obs["pool.shared"] = "same address" if a and a == b else f"{a} and {b}"
    finally:
        for svc in ("claims-first", "claims-second", "claims-plain", "claims-asks", "claims-both", "claims-sh-a",
                    "claims-sh-b"):
            raw.kr("-n", NS, "delete", "service", svc, "--ignore-not-found")
        _drop_pool(raw, "claims-one")


def observe_checks(raw: Raw, state: dict, obs: dict) -> None:
    """The webhook, BFD in native mode, the article's PodSecurityPolicies, a missing L2Advertisement."""
    bad = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
           "metadata": {"name": "claims-bad", "namespace": MS}, "spec": {"addresses": ["not-an-address"]}}
    if raw.crds:
        r = raw.kr("apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(bad))
        obs["webhook.bad_pool"] = "rejected" if r.returncode and "denied the request" in r.stderr else \
            f"accepted ({r.stderr.strip()[:80]})"
    else:
        hooks = raw.k("get", "validatingwebhookconfigurations", "-o", "name")
        obs["webhook.bad_pool"] = "no webhook" if "metallb" not in hooks else "a webhook"
    # BFD: v0.16.1's webhook refuses a BGPPeer with a BFD profile; v0.12.1's speakers mark the config stale
    if raw.crds:
        # the peer is this machine's address on the kind bridge: if it were ever accepted, a session attempt would
        # go to a host of ours, nowhere else
        gateway = json.loads(raw.run("docker", "network", "inspect", "kind").stdout)[0]["IPAM"]["Config"]
        gateway = next(c["Gateway"] for c in gateway if ":" not in c.get("Gateway", ":"))
        peer = {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "claims-bfd", "namespace": MS},
                "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": gateway, "bfdProfile": "claims-bfd"}}
        started = time.monotonic()
        try:
            r = raw.kr("apply", "-f", "-", stdin=yaml.safe_dump(peer))
            webhook = "refused by the webhook" if r.returncode else "admitted"
            refused = False
            while r.returncode == 0 and not refused and time.monotonic() - started < 30:
                time.sleep(2)
                refused = any("has bfd-profile set on native bgp mode" in ln and "failed to parse the configuration"
                              in ln or "has bfd-profile set on native bgp mode" in ln
                              for ln in raw.logs("speaker", since="1m").splitlines())
            page = raw.probe(f"busybox timeout 8 wget -q -O - http://{raw.ip('claims-web')}/ | busybox grep -q 'Welcome to nginx' "
                             "&& echo OK")
            obs["bfd.refused"] = ", ".join([webhook, "speakers refuse it" if refused else "speakers silent",
                                            "still serving" if "OK" in page.stdout else "not serving"])
        finally:
            raw.kr("-n", MS, "delete", "bgppeer", "claims-bfd", "--ignore-not-found")
    else:
        before = _configmap(raw)
        cfg = yaml.safe_load(before)
        cfg["bfd-profiles"] = [{"name": "claims-bfd"}]
        started = time.monotonic()
        try:
            _set_configmap(raw, yaml.safe_dump(cfg, sort_keys=False))
            stale = False
            while not stale and time.monotonic() - started < 30:
                time.sleep(2)
                stale = any("config (re)load failed, config marked stale" in ln and "bfd" in ln
                            for ln in raw.logs("speaker", since="1m").splitlines())
            page = raw.probe(f"busybox timeout 8 wget -q -O - http://{raw.ip('claims-web')}/ | busybox grep -q 'Welcome to nginx' "
                             "&& echo OK")
            obs["bfd.refused"] = ("config marked stale" if stale else "no stale line") + (
                ", still serving" if "OK" in page.stdout else ", not serving")
        finally:
            _set_configmap(raw, before)
    # the article-era manifest's PodSecurityPolicies: no such kind on today's Kubernetes
    r = raw.kr("apply", "--dry-run=server", "-f", str(module("v0.12.1") / "manifests" / "metallb.yaml"))
    obs["psp.dry_run"] = "no such kind" if 'no matches for kind "PodSecurityPolicy"' in r.stderr else \
        f"other ({r.stderr.strip()[:120]})"
    # no L2Advertisement (CRDs): assigned, announced by nobody
    if not raw.crds:
        r = raw.kr("get", "l2advertisements", "-A")
        obs["nol2adv.all"] = "no such kind" if r.returncode and _no_kind(r.stderr) else "exists"
        return
    saved = raw.kj("-n", MS, "get", "l2advertisements")["items"]
    try:
        raw.k("-n", MS, "delete", "l2advertisements", "--all")
        raw.service("claims-nol2")
        got = raw.wait_ip("claims-nol2", 30)
        raw.wait_ready_endpoint("claims-nol2")
        time.sleep(QUIET)
        tcp = raw.probe(f"busybox timeout 5 wget -q -O - http://{got}/ >/dev/null 2>&1 && echo TCP; true").stdout
        ours = {raw.mac(n) for n in raw.nodes()}
        quiet = "nodeAssigned" not in raw.reasons("claims-nol2") and not raw.l2status("claims-nol2") and \
            not (raw.arp_macs(got) & ours) and "TCP" not in tcp
        obs["nol2adv.all"] = ("address" if got else "no address") + (", not announced" if quiet else ", announced")
    finally:
        for item in saved:
            meta = item["metadata"]
            raw.apply({"apiVersion": item["apiVersion"], "kind": item["kind"],
                       "metadata": {"name": meta["name"], "namespace": MS, "labels": meta.get("labels", {})},
                       "spec": item.get("spec", {})})
        raw.kr("-n", NS, "delete", "service", "claims-nol2", "--ignore-not-found")


def observe_exclusion(raw: Raw, state: dict, obs: dict, workers: list[str]) -> None:
    """The exclude label on every worker too: v0.14.2+ announces from nowhere, v0.12.1 as before."""
    try:
        for w in workers:
            raw.k("label", "node", w, f"{EXCLUDE}=", "--overwrite")
        raw.service("claims-excl")
        raw.wait_ip("claims-excl", 30)
        raw.wait_ready_endpoint("claims-excl")  # QUIET is the speakers' time, not the endpoint-slice controller's
        raw.wait_reason("claims-excl", "nodeAssigned", QUIET)
        node = raw.announced_by("claims-excl")
        obs["exclude.workers"] = "nobody announces" if node is None else \
            "a worker announces" if node in workers else f"{node} announces"
    finally:
        for w in workers:
            raw.kr("label", "node", w, f"{EXCLUDE}-")
        raw.kr("-n", NS, "delete", "service", "claims-excl", "--ignore-not-found")


def observe_local(raw: Raw, state: dict, obs: dict, cp: str) -> None:
    """Local with its one pod on the control-plane: nobody may announce."""
    dep = _web(raw, "claims-cp", 1, {"nodeSelector": {"kubernetes.io/hostname": cp},
                                     "tolerations": [{"key": "node-role.kubernetes.io/control-plane",
                                                      "operator": "Exists", "effect": "NoSchedule"}]})
    try:
        raw.apply(dep)
        raw.k("-n", NS, "rollout", "status", "deployment/claims-cp", "--timeout=120s", timeout=130)
        raw.service("claims-local", {"app": "claims-cp"}, local=True)
        raw.wait_ip("claims-local", 30)
        raw.wait_ready_endpoint("claims-local")  # a pod just rolled out (stop 32): then QUIET is the speakers' own
        raw.wait_reason("claims-local", "nodeAssigned", QUIET)
        node = raw.announced_by("claims-local")
        obs["local.control_plane_pod"] = "nobody announces" if node is None else f"{node} announces"
    finally:
        raw.kr("-n", NS, "delete", "service", "claims-local", "--ignore-not-found")
        raw.kr("-n", NS, "delete", "deployment", "claims-cp", "--ignore-not-found")


def observe_speakers_gone(raw: Raw, obs: dict) -> None:
    """No speaker anywhere: the controller still hands out addresses, nobody announces."""
    try:
        raw.k("-n", MS, "patch", "daemonset", "speaker", "--type", "merge", "-p",
              json.dumps({"spec": {"template": {"spec": {"nodeSelector": {"kindlb-claims/no-such-node": "x"}}}}}))
        end = time.monotonic() + 60
        while raw.speakers() and time.monotonic() < end:
            time.sleep(1)
        raw.service("claims-nospk")
        got = raw.wait_ip("claims-nospk", 30)
        time.sleep(QUIET / 2)
        ours = {raw.mac(n) for n in raw.nodes()}
        quiet = "nodeAssigned" not in raw.reasons("claims-nospk") and not (raw.arp_macs(got) & ours)
        obs["speakers.gone"] = ("address" if got else "no address") + (", not announced" if quiet else ", announced")
    finally:
        raw.k("-n", MS, "patch", "daemonset", "speaker", "--type", "json", "-p",
              json.dumps([{"op": "remove", "path": "/spec/template/spec/nodeSelector/kindlb-claims~1no-such-node"}]),
              check=False)
        raw.kr("-n", NS, "delete", "service", "claims-nospk", "--ignore-not-found")
        raw.wait_metallb(180)


def observe_no_pool(raw: Raw, state: dict, obs: dict) -> None:
    """The pools go: what happens to an existing Service and a new one, what is logged; then the pool comes back."""
    if raw.crds:
        saved = raw.kj("-n", MS, "get", "ipaddresspools")["items"]
        try:
            since = time.monotonic()
            raw.k("-n", MS, "delete", "ipaddresspools", "--all")
            end = time.monotonic() + 30
            while raw.ip("claims-web") and time.monotonic() < end:
                time.sleep(0.5)
            lost = raw.ip("claims-web") is None
            raw.service("claims-nopool")
            time.sleep(QUIET)
            pending = raw.ip("claims-nopool") is None
            events = raw.events("claims-nopool", raw.uid("claims-nopool"))
            logs = raw.logs("controller", since=f"{int(time.monotonic() - since) + 5}s")
            missing = "configuration is missing" in logs
            obs["nopool.removed"] = ", ".join(["existing lose it" if lost else "existing keep it",
                                               "new pending" if pending else "new gets one",
                                               "configuration is missing logged" if missing else "nothing logged"])
            obs["nopool.events"] = "no events" if not events else ", ".join(sorted({e["reason"] for e in events}))
            naming = [ln for ln in logs.splitlines() if f"{NS}/claims-nopool" in ln]
            failed = any("failed to handle service" in ln for ln in naming)
            reason = any("pools are empty" in ln or "noConfig" in ln for ln in logs.splitlines())
            obs["nopool.controller_log"] = ("does not name it" if not naming else "names it" if failed else
                                            "names it without 'failed to handle service'") + (
                ", with the reason" if reason else ", no reason" if naming else "")
        finally:
            for item in saved:
                meta = item["metadata"]
                raw.apply({"apiVersion": item["apiVersion"], "kind": item["kind"],
                           "metadata": {"name": meta["name"], "namespace": MS, "labels": meta.get("labels", {})},
                           "spec": item.get("spec", {})})
        waited = "claims-nopool"
    else:
        before = _configmap(raw)
        try:
            since = time.monotonic()
            raw.k("-n", MS, "delete", "configmap", "config")
            time.sleep(3)
            raw.service("claims-nopool")
            got = raw.wait_ip("claims-nopool", QUIET)
            logs = raw.logs("controller", since=f"{int(time.monotonic() - since) + 5}s")
            obs["nopool.removed"] = ", ".join([
                "existing keep it" if raw.ip("claims-web") else "existing lose it",
                "new gets one" if got else "new pending",
                "configuration is missing logged" if "configuration is missing, MetalLB will not function" in logs
                else "nothing logged"])
            # a controller that never had a configuration (as right after notebook 02's install)
            old = {p["metadata"]["name"] for p in raw.kj("-n", MS, "get", "pods", "-l", "component=controller")["items"]}
            raw.k("-n", MS, "delete", "pod", "-l", "component=controller", "--wait=true", timeout=90)
            end = time.monotonic() + 120
            while time.monotonic() < end:
                fresh = [p for p in raw.kj("-n", MS, "get", "pods", "-l", "component=controller")["items"]
                         if p["metadata"]["name"] not in old and not p["metadata"].get("deletionTimestamp")
                         and any(c["type"] == "Ready" and c["status"] == "True"
                                 for c in p.get("status", {}).get("conditions", []))]
                if fresh:
                    break
                time.sleep(1)
            assert fresh, "the restarted controller did not become Ready in 120 s"
            restarted = time.monotonic()
            raw.service("claims-nopool2")
            time.sleep(QUIET)
            events = raw.events("claims-nopool2", raw.uid("claims-nopool2"))
            obs["nopool.events"] = "no events" if not events else ", ".join(sorted({e["reason"] for e in events}))
            logs = raw.logs("controller", since=f"{int(time.monotonic() - restarted) + 2}s")
            # a controller that starts with no ConfigMap loads nothing: no "config (re)loaded" line (each load logs one)
            loaded = "config (re)loaded" in raw.logs("controller")
            obs["nopool.removed"] += "; restarted: " + ("loaded a configuration" if loaded else "nothing loaded")
            naming = [ln for ln in logs.splitlines() if f"{NS}/claims-nopool2" in ln]
            obs["nopool.controller_log"] = "does not name it" if not naming else f"names it: {naming[0][:120]}"
        finally:
            _set_configmap(raw, before)
        waited = "claims-nopool2"
    got = raw.wait_ip(waited, 30)
    allocated = raw.wait_reason(waited, "IPAllocated", 10)
    obs["nopool.pool_arrives"] = ("address" if got else "no address") + (" and IPAllocated" if allocated else
                                                                         " without IPAllocated")
    assert raw.wait_ip("claims-web", 30), "claims-web has its address back"


# ---------------------------------------------------------------- the test

@pytest.fixture(params=eras())
def era_state(request, cluster):
    return as_02_to_04_leave_it(cluster, request.param)


def test_every_ledger_claim_holds_on_the_cluster(cluster, era_state):
    version = era_state["version"]
    era = "CRDs" if era_state["crds"] else "ConfigMap"
    raw = Raw(cluster["name"], era_state["params"], era_state["crds"])
    obs: dict[str, str] = {}
    started = era_state["started"] = time.monotonic()
    error = None
    try:
        observe_all(raw, era_state, obs)
    except Exception as e:  # report what was seen up to here with the failure
        error = e
    finally:
        raw.kr("delete", "namespace", NS, "--ignore-not-found", "--wait=false")
    took = time.monotonic() - started
    rows = [(e["id"], e["observe"], e["expect"][era], obs.get(e["observe"], "not observed"))
            for e in LEDGER if "observe" in e]
    wrong = [r for r in rows if r[2] != r[3]]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"claims-{version}.json").write_text(json.dumps(
        {"version": version, "era": era, "seconds": round(took, 1), "entries": len(rows), "held": len(rows) - len(wrong),
         "timings": era_state.get("timings"), "foreign ARP": era_state.get("foreign ARP"), "observed": obs, "wrong": wrong,
         "error": repr(error) if error else None}, indent=1))
    print(f"{version}: {len(rows) - len(wrong)} of {len(rows)} ledger entries held ({took:.0f} s)")
    if error:
        raise error
    assert not wrong, "\n".join(f"{i} ({name}): expected {want!r}, saw {got!r}" for i, name, want, got in wrong)
    assert len(rows) >= 30
