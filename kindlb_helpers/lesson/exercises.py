"""Exercises with checks, in the manner of Kaggle Learn: ``q1.check()``, ``q1.hint()``, ``q1.solution()``.

Each exercise reads the cluster to decide whether the learner's work is right, and says why it is
or is not, in one or two sentences that name what to change; it never raises on a wrong answer.
The helpers a learner calls (:func:`add_pool`, :func:`remove_pool`, :func:`lb_service`) work in
both MetalLB eras: an IPAddressPool + L2Advertisement for v0.13+, an entry in the one ConfigMap
``config`` before that. Everything an exercise creates is named ``ex-...`` and removed by
:func:`cleanup`, so re-running the notebook starts from the same place.
"""
from __future__ import annotations

import html
import ipaddress
import time
from dataclasses import dataclass

import yaml

from ..cluster.kube import Kind, apply, delete, events_for, get_or_none
from ..core import hood as _hood
from ..core.errors import KindlbError
from ..core.manifests import NAMESPACE, metallb_manifests, uses_crds
from ..core.objects import APP_LABEL
from ..core.params import service_name
from ..core.pool import PoolRange

#: The annotation that asks for addresses (v0.13+); the ConfigMap era reads ``spec.loadBalancerIP``.
IP_KEYS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")
#: The annotation that asks for a pool by name: current name, and the one the ConfigMap era reads.
POOL_KEYS = ("metallb.io/address-pool", "metallb.universe.tf/address-pool")
PREFIX = "ex-"
#: How long a check waits for MetalLB to act on what was just created (seconds).
SETTLE = 20


def _era(kind: Kind) -> str:
    from ..cluster.metallb import installed_version

    version = installed_version(kind)
    if version is None:
        raise KindlbError(f"MetalLB is not installed in {kind.cluster!r}: run notebooks 02 and 03 first")
    return version


# ---------- pools, in either era ----------

def pool_config(kind: Kind) -> dict[str, dict]:
    """Every pool by name: ``{"addresses": [...], "auto_assign": bool}``, read from the era's objects."""
    if uses_crds(_era(kind)):
        listed = get_or_none(kind.custom.list_namespaced_custom_object, "metallb.io", "v1beta1", NAMESPACE,
                             "ipaddresspools") or {"items": []}
        return {i["metadata"]["name"]: {"addresses": i["spec"].get("addresses", []),
                                        "auto_assign": i["spec"].get("autoAssign", True)} for i in listed["items"]}
    return {p["name"]: {"addresses": p.get("addresses", []), "auto_assign": p.get("auto-assign", True)}
            for p in _configmap_pools(kind)}


def _configmap_pools(kind: Kind) -> list[dict]:
    cm = get_or_none(kind.core.read_namespaced_config_map, "config", NAMESPACE)
    return (yaml.safe_load(((cm.data or {}).get("config") if cm else None) or "") or {}).get("address-pools", [])


def _configmap(pools: list[dict]) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": NAMESPACE, "name": "config"},
            "data": {"config": yaml.safe_dump({"address-pools": pools}, sort_keys=False)}}


def add_pool(kind: Kind, name: str, addresses, auto_assign: bool = True) -> _hood.Done:
    """Add (or change) the pool ``name``; the other pools stay as they are.

    v0.13+: an IPAddressPool and an L2Advertisement named ``name``. The ConfigMap era: one more entry
    in ``address-pools`` of the ConfigMap ``config`` (``auto-assign: false`` when asked).
    """
    from ..cluster.metallb import apply_pool
    from ..core.names import dns1123_subdomain

    dns1123_subdomain(name, "pool name")
    if not isinstance(auto_assign, bool):
        raise KindlbError(f"auto_assign must be True or False, not {auto_assign!r}")
    try:
        ranges = [PoolRange.parse(a) for a in ([addresses] if isinstance(addresses, (str, PoolRange)) else addresses)]
    except (ValueError, TypeError) as exc:
        raise KindlbError(f"addresses {addresses!r} cannot be read ({exc}): write '172.18.255.200-172.18.255.203', "
                          "'172.18.255.200/32' or one address") from None
    from ..cluster.dockernet import kind_network

    subnet = kind_network().subnet(4)
    for r in ranges:
        if r.version != 4 or r.first not in subnet or r.last not in subnet:
            raise KindlbError(f"{r} is not inside the kind network {subnet}: MetalLB would hand out addresses "
                              "nobody can reach; pick free ones inside it (the exercise shows some)")
    for other, cfg in pool_config(kind).items():
        for spec in cfg["addresses"]:
            if other != name and any(r.overlaps(PoolRange.parse(spec)) for r in ranges):
                raise KindlbError(f"{addresses} overlaps pool {other!r} ({spec}): MetalLB would refuse both; "
                                  "pick addresses outside every other pool (the exercise shows free ones)")
    version = _era(kind)
    specs = [str(r) for r in ranges]
    if uses_crds(version):
        objects = metallb_manifests(specs, version, name=name, auto_assign=auto_assign)
        what = "IPAddressPool + L2Advertisement"
    else:
        entry = {"name": name, "protocol": "layer2", "addresses": specs}
        if not auto_assign:
            entry["auto-assign"] = False
        pools = [p for p in _configmap_pools(kind) if p["name"] != name] + [entry]
        objects = [_configmap(pools)]
        what = f"ConfigMap config with {len(pools)} pool{'s' if len(pools) != 1 else ''}"
    done = apply_pool(kind, objects)
    return _hood.Done(f"pool {name}: {', '.join(specs)} (autoAssign {auto_assign}) — applied {', '.join(done)}",
                      _hood.apply_steps(kind.cluster, objects, f"{name}-pool.yaml", f"add pool {name}: {what}"))


def remove_pool(kind: Kind, name: str) -> _hood.Done:
    """Remove the pool ``name`` (its IPAddressPool and L2Advertisement, or its ConfigMap entry); safe twice."""
    if uses_crds(_era(kind)):
        gone = [k for k in ("L2Advertisement", "IPAddressPool")
                if delete(kind, "metallb.io/v1beta1", k, name, NAMESPACE)]
        hood = _hood.Hood(f"remove pool {name}", [_hood.Step(_hood.kubectl(
            kind.cluster, "delete", "l2advertisement,ipaddresspool", name, "--ignore-not-found", namespace=NAMESPACE))])
        return _hood.Done(f"pool {name}: {'removed ' + ', '.join(gone) if gone else 'was not there'}", hood)
    pools = _configmap_pools(kind)
    kept = [p for p in pools if p["name"] != name]
    objects = [_configmap(kept)]
    if len(kept) != len(pools):
        apply(kind, objects)
    return _hood.Done(f"pool {name}: {'removed from' if len(kept) != len(pools) else 'was not in'} ConfigMap config",
                      _hood.apply_steps(kind.cluster, objects, "metallb-config.yaml", f"remove pool {name}",
                                        "the ConfigMap without that entry"))


def free_addresses(kind: Kind, size: int) -> PoolRange:
    """``size`` free addresses on the kind network: clear of nodes, containers and every cluster's pools."""
    from ..cluster.dockernet import kind_network
    from ..cluster.metallb import other_clusters_pools, pools
    from ..cluster.network import clusters_on, plan_for
    from ..core.pool import Reserved

    net = kind_network()
    taken = other_clusters_pools(kind.cluster, clusters_on(net))
    taken += [Reserved(f"pool {p}", r) for p, r in pools(kind)]
    return plan_for(net, 4, size, taken)[0]


# ---------- a LoadBalancer Service in front of nginx ----------

def lb_service(kind: Kind, name: str, annotations: dict | None = None, load_balancer_ip: str | None = None,
               namespace: str = "default", app: str = "nginx") -> _hood.Done:
    """A ``type: LoadBalancer`` Service in front of the nginx pods, with the annotations and
    ``spec.loadBalancerIP`` you give (``kubectl apply -f`` of the file shown)."""
    service_name(name, "Service name")
    if annotations is not None and (not isinstance(annotations, dict)
                                    or not all(isinstance(k, str) and isinstance(v, str)
                                               for k, v in annotations.items())):
        raise KindlbError(f"annotations must be a dict of text to text, like {{'{IP_KEYS[0]}': '172.18.255.7'}}, "
                          f"not {annotations!r}")
    if load_balancer_ip is not None:
        try:
            ipaddress.ip_address(load_balancer_ip)
        except ValueError:
            raise KindlbError(f"load_balancer_ip {load_balancer_ip!r} is not one IP address: write it like "
                              "'172.18.255.7'") from None
    meta = {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "kindlb-exercises"}}
    if annotations:
        meta["annotations"] = dict(annotations)
    spec: dict = {"type": "LoadBalancer", "selector": {APP_LABEL: app},
                  "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}
    if load_balancer_ip:
        spec["loadBalancerIP"] = str(load_balancer_ip)
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}
    existing = get_or_none(kind.core.read_namespaced_service, name, namespace)
    if existing is not None:  # annotations/fields removed by the learner must go: replace, do not merge
        kind.core.delete_namespaced_service(name, namespace)
        _gone(kind, name, namespace)
    done = apply(kind, [obj])
    return _hood.Done(f"applied {', '.join(done)}", _hood.apply_steps(
        kind.cluster, [obj], f"{name}.yaml", f"LoadBalancer Service {name}", "a Service in front of the nginx pods"))


def _gone(kind: Kind, name: str, namespace: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while get_or_none(kind.core.read_namespaced_service, name, namespace) is not None:
        if time.monotonic() > deadline:
            raise KindlbError(f"service {name} is still being deleted after {timeout:.0f} s: run the cell again")
        time.sleep(0.2)


def cleanup(kind: Kind, prefix: str = PREFIX, namespace: str = "default") -> _hood.Done:
    """Delete every Service and pool whose name starts with ``prefix``; safe to run twice."""
    svcs = [s.metadata.name for s in kind.core.list_namespaced_service(namespace).items
            if s.metadata.name.startswith(prefix)]
    for s in svcs:
        delete(kind, "v1", "Service", s, namespace)
    pools = [p for p in pool_config(kind) if p.startswith(prefix)] if _installed(kind) else []
    steps = [_hood.Step(_hood.kubectl(kind.cluster, "delete", "service", *svcs, "--ignore-not-found",
                                      namespace=namespace))] if svcs else []
    for p in pools:
        steps += remove_pool(kind, p).hood.steps
    return _hood.Done(f"removed {len(svcs)} Service(s) and {len(pools)} pool(s) named {prefix}*",
                      _hood.Hood(f"clean up {prefix}*", steps or [_hood.Step("true", "nothing to remove")]),
                      [*(f"service/{s}" for s in svcs), *(f"pool {p}" for p in pools)])


def _installed(kind: Kind) -> bool:
    from ..cluster.metallb import installed_version

    return installed_version(kind) is not None


# ---------- checks ----------

@dataclass(frozen=True)
class Verdict:
    """Right or wrong, and why."""

    correct: bool
    why: str

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return f"{'Correct' if self.correct else 'Not yet'}: {self.why}"

    def _repr_html_(self) -> str:
        colour, word = ("#1a7f37", "Correct") if self.correct else ("#cf222e", "Not yet")
        return (f"<div style='border-left:4px solid {colour};padding-left:0.6em'><b style='color:{colour}'>{word}"
                f"</b>: {html.escape(self.why)}</div>")


@dataclass(frozen=True)
class Note:
    """A hint or a solution, shown as text (a solution's code collapsed)."""

    title: str
    text: str
    code: str = ""

    def __repr__(self) -> str:
        return f"{self.title}: {self.text}" + (f"\n{self.code}" if self.code else "")

    def _repr_html_(self) -> str:
        code = (f"<details><summary>show the code</summary><pre>{html.escape(self.code)}</pre></details>"
                if self.code else "")
        return f"<div><b>{html.escape(self.title)}</b>: {html.escape(self.text)}</div>{code}"


class Exercise:
    """One question: its task, a check that reads the cluster, a hint and a solution."""

    number = 0
    title = ""
    hint_text = ""
    solution_code = ""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.version = _era(kind)
        self.crds = uses_crds(self.version)

    def task(self) -> str:  # pragma: no cover - overridden
        return ""

    def _repr_html_(self) -> str:
        return f"<div><b>Exercise {self.number}: {html.escape(self.title)}</b><br>{html.escape(self.task())}</div>"

    def __repr__(self) -> str:
        return f"Exercise {self.number}: {self.title}\n{self.task()}"

    def hint(self) -> Note:
        """A nudge in the right direction."""
        return Note(f"Hint {self.number}", self.hint_text)

    def solution(self) -> Note:
        """The code that solves it (the notebook's solution cell runs the same code)."""
        return Note(f"Solution {self.number}", "one way to do it:", self.solution_code.strip())

    def check(self, answer=None) -> Verdict:
        """Right or wrong, and why; waits up to :data:`SETTLE` seconds for MetalLB to act first."""
        deadline = time.monotonic() + SETTLE
        while True:
            try:
                verdict = self._check(answer)
            except KindlbError as exc:  # something is missing: waiting will not make it
                verdict = _final(str(exc))
            except Exception as exc:  # a learner's half-made objects must not end in a traceback
                verdict = Verdict(False, f"could not read the cluster ({type(exc).__name__}: {str(exc)[:200]})")
            if verdict.correct or time.monotonic() > deadline or getattr(verdict, "final", False):
                return verdict
            time.sleep(1)

    def _check(self, answer) -> Verdict:  # pragma: no cover - overridden
        raise NotImplementedError

    # shared reads
    def _svc(self, name: str):
        svc = get_or_none(self.kind.core.read_namespaced_service, name, "default")
        if svc is None:
            raise KindlbError(f"there is no Service {name!r} yet: create it with kh.exercises.lb_service(k, "
                              f"{name!r}, ...)")
        return svc

    @staticmethod
    def _ip(svc) -> str | None:
        ing = (svc.status.load_balancer.ingress if svc.status and svc.status.load_balancer else None) or []
        return next((i.ip for i in ing if i.ip), None)

    def _pool(self, name: str) -> tuple[list[PoolRange], bool]:
        cfg = pool_config(self.kind).get(name)
        if cfg is None:
            raise KindlbError(f"there is no pool {name!r} yet: create it with kh.exercises.add_pool(k, {name!r}, ...)")
        return [PoolRange.parse(a) for a in cfg["addresses"]], bool(cfg["auto_assign"])

    def _pool_key(self, svc) -> str | None:
        ann = svc.metadata.annotations or {}
        keys = POOL_KEYS if self.crds else POOL_KEYS[1:]
        return next((ann[k] for k in keys if k in ann), None)

    def cleanup(self) -> _hood.Done:
        """Remove what this notebook's exercises created (``ex-*``)."""
        return cleanup(self.kind)


class ExhaustPool(Exercise):
    """(a) A pool of one address and two Services that ask for it: the second cannot get one."""

    number, title = 1, "exhaust a pool"
    hint_text = ("a pool with auto_assign=False only serves Services that name it, so the nginx Service is not "
                 "affected; after the second Service, kh.app.service_state(k, 'ex-second') shows its Events: the "
                 "reason is one CamelCase word")
    solution_code = '''
kh.exercises.add_pool(k, "ex-one", q1.address, auto_assign=False)
kh.exercises.lb_service(k, "ex-first", annotations={q1.pool_key: "ex-one"})
kh.exercises.lb_service(k, "ex-second", annotations={q1.pool_key: "ex-one"})
reason = "AllocationFailed"   # the reason in ex-second's Events
'''

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.address = str(free_addresses(kind, 1).first)
        self.pool_key = POOL_KEYS[0] if self.crds else POOL_KEYS[1]

    def task(self) -> str:
        return (f"Make a pool 'ex-one' holding only {self.address} with auto_assign=False. Create the Services "
                f"'ex-first' and then 'ex-second', both asking for it with the annotation {self.pool_key}. One of "
                "them stays <pending>: read the reason from its Events, and pass it to q1.check(reason).")

    def _check(self, answer) -> Verdict:
        ranges, _ = self._pool("ex-one")
        size = sum(r.size for r in ranges)
        if size != 1:
            return Verdict(False, f"pool ex-one holds {size} addresses: give it exactly one ({self.address})")
        got = {}
        for name in ("ex-first", "ex-second"):
            svc = self._svc(name)
            if self._pool_key(svc) != "ex-one":
                return Verdict(False, f"{name} does not ask for pool ex-one: add the annotation {self.pool_key}: "
                                      "ex-one (without it MetalLB picks an auto-assign pool)")
            got[name] = self._ip(svc)
        with_ip = [n for n, ip in got.items() if ip]
        if len(with_ip) != 1:
            return Verdict(False, f"{len(with_ip)} of the two Services have an address so far (MetalLB may need a "
                                  "moment): exactly one should")
        pending = next(n for n in got if not got[n])
        reasons = [e["reason"] for e in events_for(self.kind, pending, "default")]
        if "AllocationFailed" not in reasons:
            return Verdict(False, f"{pending} is <pending> but has no AllocationFailed event yet: wait a moment")
        if answer is None:
            return Verdict(False, f"the cluster is right; now read {pending}'s Events and pass the reason: "
                                  "q1.check(reason)")
        if not isinstance(answer, str) or "allocationfailed" not in answer.replace(" ", "").lower():
            return Verdict(False, f"{answer!r} is not the reason in {pending}'s Events: look at the REASON column "
                                  f"of kh.app.service_state(k, {pending!r})")
        return Verdict(True, f"{with_ip[0]} took the only address ({got[with_ip[0]]}); {pending} stays <pending>, "
                             "and the controller says why with an AllocationFailed event: no available IPs in the "
                             "pool it asked for")


class PinAddress(Exercise):
    """(b) A Service that asks for one particular address of the pool."""

    number, title = 2, "pin a Service to an address"
    hint_text = ("MetalLB v0.13 and later read the annotation metallb.io/loadBalancerIPs; the ConfigMap era "
                 "(v0.12.1 and the article's v0.9.4) reads the Service's own field spec.loadBalancerIP "
                 "(lb_service(..., load_balancer_ip=...)); the field is deprecated since Kubernetes 1.24")
    solution_code = '''
if q2.crds:   # MetalLB v0.13+: the annotation
    kh.exercises.lb_service(k, "ex-pinned", annotations={"metallb.io/loadBalancerIPs": q2.address})
else:         # the ConfigMap era: the Service's field
    kh.exercises.lb_service(k, "ex-pinned", load_balancer_ip=q2.address)
'''

    def __init__(self, kind: Kind, pool: str = "default") -> None:
        super().__init__(kind)
        self.pool = pool
        ranges, _ = self._pool(pool)
        used = {self._ip(s) for s in kind.core.list_service_for_all_namespaces().items}
        self.address = next((str(a) for r in ranges for a in _addresses_from_top(r) if str(a) not in used), None)
        if self.address is None:
            raise KindlbError(f"pool {pool!r} has no free address left: delete a LoadBalancer Service first")

    def task(self) -> str:
        how = "the annotation" if self.crds else "the Service's spec field"
        return (f"Create the Service 'ex-pinned' so that MetalLB ({self.version}) gives it exactly {self.address} "
                f"from pool '{self.pool}', by asking for it with {how} this MetalLB reads. Then q2.check().")

    def _check(self, answer) -> Verdict:
        svc = self._svc("ex-pinned")
        ann = svc.metadata.annotations or {}
        wanted_ann = next((ann[k] for k in IP_KEYS if k in ann), None)
        wanted_field = svc.spec.load_balancer_ip
        if self.crds and not wanted_ann:
            why = ("spec.loadBalancerIP still works but is deprecated; " if wanted_field else "")
            return _final(f"{why}MetalLB {self.version} reads the annotation {IP_KEYS[0]}: pass "
                          f"annotations={{'{IP_KEYS[0]}': '{self.address}'}}")
        if not self.crds and not wanted_field:
            return _final(f"MetalLB {self.version} does not read {IP_KEYS[0]} (it came with v0.13): set "
                          f"spec.loadBalancerIP with load_balancer_ip='{self.address}'")
        asked = wanted_ann if self.crds else wanted_field
        got = self._ip(svc)
        if not got:
            events = [e["message"] for e in events_for(self.kind, "ex-pinned", "default") if e["type"] == "Warning"]
            return Verdict(False, f"ex-pinned asked for {asked} and is still <pending>"
                                  + (f": {events[-1]}" if events else "") + f"; choose {self.address}, a free "
                                  f"address of pool {self.pool}")
        ranges, _ = self._pool(self.pool)
        if not any(ipaddress.ip_address(got) in r for r in ranges):
            return Verdict(False, f"ex-pinned got {got}, outside pool {self.pool}: ask for {self.address}")
        if got != asked:
            return Verdict(False, f"ex-pinned asked for {asked} but got {got}: change the request")
        return Verdict(True, f"ex-pinned got {got}, the address it asked for, from pool {self.pool}; "
                             f"{'the annotation' if self.crds else 'spec.loadBalancerIP'} is how MetalLB "
                             f"{self.version} is told")


class ReservedPool(Exercise):
    """(c) A second pool that hands out addresses only to Services that ask for it by name."""

    number, title = 3, "a pool only for those who ask"
    hint_text = ("add_pool(k, name, addresses, auto_assign=False) keeps MetalLB from handing these addresses "
                 "out on its own; a Service asks for the pool with the annotation metallb.io/address-pool "
                 "(the ConfigMap era: metallb.universe.tf/address-pool)")
    solution_code = '''
kh.exercises.add_pool(k, "ex-reserved", q3.addresses, auto_assign=False)
key = "metallb.io/address-pool" if q3.crds else "metallb.universe.tf/address-pool"
kh.exercises.lb_service(k, "ex-chosen", annotations={key: "ex-reserved"})
'''

    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.addresses = str(free_addresses(kind, 4))

    def task(self) -> str:
        return (f"Add a pool 'ex-reserved' with {self.addresses} that MetalLB does not hand out by itself "
                "(autoAssign false), and a Service 'ex-chosen' that gets an address from it by asking for the "
                "pool by name. Then q3.check().")

    def _check(self, answer) -> Verdict:
        ranges, auto = self._pool("ex-reserved")
        if auto:
            return _final("pool ex-reserved has autoAssign true: any new Service may take its addresses; "
                          "add it again with auto_assign=False")
        svc = self._svc("ex-chosen")
        asked = self._pool_key(svc)
        key = POOL_KEYS[0] if self.crds else POOL_KEYS[1]
        got = self._ip(svc)
        if asked != "ex-reserved":
            return _final(f"ex-chosen does not ask for the pool (it got {got or '<pending>'} from another pool): add "
                          f"the annotation {key}: ex-reserved")
        if not got:
            return Verdict(False, "ex-chosen asks for ex-reserved but is still <pending>: wait a moment, or look "
                                  "at its Events with kh.app.service_state(k, 'ex-chosen')")
        if not any(ipaddress.ip_address(got) in r for r in ranges):
            return Verdict(False, f"ex-chosen got {got}, which is not in ex-reserved ({self.addresses})")
        return Verdict(True, f"ex-chosen got {got} from ex-reserved; with autoAssign false only Services that "
                             "name the pool get its addresses")


class _Final(Verdict):
    final = True


def _final(why: str) -> Verdict:
    """A wrong answer that waiting will not fix: the check returns at once."""
    return _Final(False, why)


def _addresses_from_top(r: PoolRange, n: int = 256):
    last = int(r.last)
    for i in range(min(n, r.size)):
        yield ipaddress.ip_address(last - i)


def results(*checks: Verdict) -> dict:
    """``{exercise number: passed}`` for the closing ``result``."""
    return {i + 1: bool(c) for i, c in enumerate(checks)}

