"""Exercises graded on the cluster's state, as iximiuz Labs and Killercoda grade them, with Kaggle Learn's
objects: ``q1`` shows the task, ``q1.check()`` reads the cluster, ``q1.hint()`` and ``q1.solution()`` open
when clicked.

The learner writes YAML (applied with :func:`apply`, which is ``kubectl apply -f -``) or types a kubectl
command (:func:`kubectl`); a check never reads their code. It says right, or what is wrong in the cluster and
the command that shows it. Names, addresses and nodes come from this cluster (:func:`targets`), the same after
a kernel restart, so :func:`progress` can recompute every check from the cluster alone.

What each MetalLB release reads (checked in its source, ``controller/service.go``):

- v0.16.1 (and since v0.14.9): the annotations ``metallb.io/address-pool``, ``metallb.io/loadBalancerIPs``,
  ``metallb.io/allow-shared-ip``; the old ``metallb.universe.tf/`` names still work (deprecated: the
  controller writes a ``deprecatedAnnotation`` warning event); ``spec.loadBalancerIP`` still works.
- v0.12.1 (the ConfigMap era): only ``metallb.universe.tf/address-pool``, ``metallb.universe.tf/loadBalancerIPs``,
  ``metallb.universe.tf/allow-shared-ip``, and ``spec.loadBalancerIP``. A Service may not set both the
  loadBalancerIPs annotation and ``spec.loadBalancerIP`` (either release).
"""
from __future__ import annotations

import html
import ipaddress
import time
from dataclasses import dataclass, field

import pandas as pd
import yaml

from ...cluster.kube import Kind, delete, events_for, get_or_none
from ...core import hood as _hood
from ...core.errors import KindlbError
from ...core.manifests import NAMESPACE, parse_version, uses_crds
from ...core.pool import PoolRange
from ..answers import PREFIX, Outcome, apply, kubectl

__all__ = ["apply", "kubectl", "Outcome", "targets", "progress", "cleanup", "Verdict", "Exercise", "ExhaustPool",
           "PinAddress", "ReservedPool", "ShareAddress", "NodeSelectors", "LocalPolicy", "BreakFix", "exercises",
           "pool_config",
           "free_addresses", "remove_pool", "add_pool", "lb_service", "REASON_KEY", "run_solution"]

#: Where exercise 1 wants the reason the learner read in the events (a Service annotation).
REASON_KEY = "kindlb.example/reason"
#: How long a check waits for MetalLB to act on what was just applied (seconds).
SETTLE = 20
NEW_PREFIX, OLD_PREFIX = "metallb.io", "metallb.universe.tf"


# ---------- the era: which keys this release reads ----------

@dataclass(frozen=True)
class Era:
    """What one MetalLB release reads from a Service (see the module docstring for the sources)."""

    version: str

    @property
    def crds(self) -> bool:
        return uses_crds(self.version)

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Annotation prefixes it reads, the preferred one first."""
        return (NEW_PREFIX, OLD_PREFIX) if parse_version(self.version) >= (0, 14, 9) else (OLD_PREFIX,)

    @property
    def prefix(self) -> str:
        return self.prefixes[0]

    def keys(self, what: str) -> tuple[str, ...]:
        return tuple(f"{p}/{what}" for p in self.prefixes)

    def read(self, svc, what: str) -> tuple[str | None, str | None]:
        """(value, key) of the first annotation ``what`` this release reads on ``svc``."""
        ann = svc.metadata.annotations or {}
        for key in self.keys(what):
            if key in ann:
                return ann[key], key
        return None, None

    def ignored(self, svc, what: str) -> str | None:
        """An annotation ``what`` on ``svc`` with a prefix this release does not read."""
        ann = svc.metadata.annotations or {}
        return next((k for k in (f"{NEW_PREFIX}/{what}", f"{OLD_PREFIX}/{what}")
                     if k in ann and k not in self.keys(what)), None)


def era_of(kind: Kind) -> Era:
    from ...cluster.metallb import installed_version

    version = installed_version(kind)
    if version is None:
        raise KindlbError(f"MetalLB is not installed in {kind.cluster!r}: run notebooks 02 and 03 first")
    return Era(version)


# ---------- pools, in either era ----------

def pool_config(kind: Kind) -> dict[str, dict]:
    """Every pool by name: ``{"addresses": [...], "auto_assign": bool}``, read from the era's objects."""
    if era_of(kind).crds:
        listed = get_or_none(kind.custom.list_namespaced_custom_object, "metallb.io", "v1beta1", NAMESPACE,
                             "ipaddresspools") or {"items": []}
        return {i["metadata"]["name"]: {"addresses": i["spec"].get("addresses", []),
                                        "auto_assign": i["spec"].get("autoAssign", True)} for i in listed["items"]}
    return {p["name"]: {"addresses": p.get("addresses", []), "auto_assign": p.get("auto-assign", True)}
            for p in configmap_pools(kind)}


def configmap_pools(kind: Kind) -> list[dict]:
    """The ``address-pools`` of the ConfigMap era's ``config`` (empty when there is none)."""
    cm = get_or_none(kind.core.read_namespaced_config_map, "config", NAMESPACE)
    return (yaml.safe_load(((cm.data or {}).get("config") if cm else None) or "") or {}).get("address-pools", [])


def configmap(pools: list[dict]) -> dict:
    """The ConfigMap ``config`` holding ``pools``."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": NAMESPACE, "name": "config"},
            "data": {"config": yaml.safe_dump({"address-pools": pools}, sort_keys=False)}}


def _ranges(specs) -> list[PoolRange]:
    return [PoolRange.parse(s) for s in specs]


def add_pool(kind: Kind, name: str, addresses, auto_assign: bool = True) -> _hood.Done:
    """Add (or change) the pool ``name`` in either era (notebook 08 uses it to stage failures)."""
    from ...cluster.metallb import apply_pool
    from ...core.manifests import metallb_manifests

    era = era_of(kind)
    specs = [str(PoolRange.parse(a)) for a in ([addresses] if isinstance(addresses, (str, PoolRange)) else addresses)]
    if era.crds:
        objects = metallb_manifests(specs, era.version, name=name, auto_assign=auto_assign)
    else:
        entry = {"name": name, "protocol": "layer2", "addresses": specs}
        if not auto_assign:
            entry["auto-assign"] = False
        objects = [configmap([p for p in configmap_pools(kind) if p["name"] != name] + [entry])]
    done = apply_pool(kind, objects)
    return _hood.Done(f"pool {name}: {', '.join(specs)} (autoAssign {auto_assign}) — applied {', '.join(done)}",
                      _hood.apply_steps(kind.cluster, objects, f"{name}-pool.yaml", f"pool {name}"))


def remove_pool(kind: Kind, name: str) -> _hood.Done:
    """Remove the pool ``name`` (its IPAddressPool and L2Advertisement, or its ConfigMap entry); safe twice."""
    from ...cluster.kube import apply as _apply

    if era_of(kind).crds:
        gone = [k for k in ("L2Advertisement", "IPAddressPool")
                if delete(kind, "metallb.io/v1beta1", k, name, NAMESPACE)]
        hood = _hood.Hood(f"remove pool {name}", [_hood.Step(_hood.kubectl(
            kind.cluster, "delete", "l2advertisement,ipaddresspool", name, "--ignore-not-found", namespace=NAMESPACE))])
        return _hood.Done(f"pool {name}: {'removed ' + ', '.join(gone) if gone else 'was not there'}", hood)
    pools = configmap_pools(kind)
    kept = [p for p in pools if p["name"] != name]
    objects = [configmap(kept)]
    if len(kept) != len(pools):
        _apply(kind, objects)
    return _hood.Done(f"pool {name}: {'removed from' if len(kept) != len(pools) else 'was not in'} ConfigMap config",
                      _hood.apply_steps(kind.cluster, objects, "metallb-config.yaml", f"remove pool {name}"))


def free_addresses(kind: Kind, size: int, ignore: tuple[str, ...] = ()) -> PoolRange:
    """``size`` free addresses on the kind network, clear of nodes, containers and every cluster's pools
    (this cluster's pools named with a prefix in ``ignore`` do not count: exercises find their own again)."""
    from ...cluster.dockernet import kind_network
    from ...cluster.metallb import other_clusters_pools, pools
    from ...cluster.network import clusters_on, plan_for
    from ...core.pool import Reserved

    net = kind_network()
    taken = other_clusters_pools(kind.cluster, clusters_on(net))
    taken += [Reserved(f"pool {p}", r) for p, r in pools(kind) if not p.startswith(ignore or ("\0",))]
    return plan_for(net, 4, size, taken)[0]


def lb_service(kind: Kind, name: str, annotations: dict | None = None, namespace: str = "default",
               app: str = "nginx", policy: str | None = None) -> _hood.Done:
    """A ``type: LoadBalancer`` Service in front of pods labelled ``app`` (notebook 08 stages failures with it)."""
    from ...cluster.kube import apply as _apply
    from ...core.objects import APP_LABEL

    meta: dict = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = dict(annotations)
    spec: dict = {"type": "LoadBalancer", "selector": {APP_LABEL: app},
                  "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}
    if policy:
        spec["externalTrafficPolicy"] = policy
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}
    done = _apply(kind, [obj])
    return _hood.Done(f"applied {', '.join(done)}", _hood.apply_steps(
        kind.cluster, [obj], f"{name}.yaml", f"LoadBalancer Service {name}"), value=obj)


def cleanup(kind: Kind, prefix: str = PREFIX, namespace: str = "default") -> _hood.Done:
    """Delete every Service, Deployment, L2Advertisement and pool named ``prefix``*; safe to run twice.

    Services go first and the pools only once their addresses are released: MetalLB v0.12.1 refuses a
    config that takes away an address still in use ("new config not compatible with assigned IPs").
    """
    svcs = [s.metadata.name for s in kind.core.list_namespaced_service(namespace).items
            if s.metadata.name.startswith(prefix)]
    for s in svcs:
        delete(kind, "v1", "Service", s, namespace)
    deps = [d.metadata.name for d in kind.apps.list_namespaced_deployment(namespace).items
            if d.metadata.name.startswith(prefix)]
    for d in deps:
        delete(kind, "apps/v1", "Deployment", d, namespace)
    deadline = time.monotonic() + 30
    while any(get_or_none(kind.core.read_namespaced_service, s, namespace) for s in svcs):
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    pools, ads = [], []
    from ...cluster.metallb import installed_version

    version = installed_version(kind)
    if version is not None:
        pools = [p for p in pool_config(kind) if p.startswith(prefix)]
        if uses_crds(version):
            listed = get_or_none(kind.custom.list_namespaced_custom_object, "metallb.io", "v1beta1", NAMESPACE,
                                 "l2advertisements") or {"items": []}
            ads = [a["metadata"]["name"] for a in listed["items"] if a["metadata"]["name"].startswith(prefix)]
            for a in ads:
                delete(kind, "metallb.io/v1beta1", "L2Advertisement", a, NAMESPACE)
    steps = []
    if svcs:
        steps.append(_hood.Step(_hood.kubectl(kind.cluster, "delete", "service", *svcs, "--ignore-not-found",
                                              namespace=namespace)))
    if deps:
        steps.append(_hood.Step(_hood.kubectl(kind.cluster, "delete", "deployment", *deps, "--ignore-not-found",
                                              namespace=namespace)))
    if ads:
        steps.append(_hood.Step(_hood.kubectl(kind.cluster, "delete", "l2advertisement", *ads, "--ignore-not-found",
                                              namespace=NAMESPACE)))
    for p in pools:
        steps += remove_pool(kind, p).hood.steps
    return _hood.Done(f"removed {len(svcs)} Service(s), {len(deps)} Deployment(s) and {len(pools)} pool(s) named "
                      f"{prefix}*",
                      _hood.Hood(f"clean up {prefix}*", steps or [_hood.Step("true", "nothing to remove")]),
                      [*(f"service/{s}" for s in svcs), *(f"deployment/{d}" for d in deps),
                       *(f"pool {p}" for p in pools)])


# ---------- this cluster's targets ----------

@dataclass(frozen=True)
class Targets:
    """The names and addresses the exercises ask for, found in this cluster (the same after a restart)."""

    one: str            # exercise 1: the one-address pool
    reserved: str       # exercise 3: the reserved pool's range
    l2: str             # exercise 5: the pool announced from one node
    spare: str          # a free address no solution uses (exercise 1's wrong answer)
    outside: str        # an address in no pool (a wrong answer's)
    pin: str            # exercise 2: a free address of pool default
    share: str          # exercise 4: another free address of pool default
    worker: str         # exercise 5: the node to announce from
    image: str          # the nginx Deployment's image
    era: Era = field(compare=False)


_TARGETS: dict[str, Targets] = {}


def targets(kind: Kind, fresh: bool = False) -> Targets:
    """This cluster's exercise targets: free addresses beside every pool (ignoring the exercises' own),
    two free addresses at the top of pool ``default``, the last worker node, nginx's image."""
    if kind.cluster in _TARGETS and not fresh:
        return _TARGETS[kind.cluster]
    era = era_of(kind)
    block = free_addresses(kind, 8, ignore=(PREFIX, "ts-"))
    first = int(block.first)
    ip = lambda i: str(ipaddress.ip_address(first + i))  # noqa: E731
    cfg = pool_config(kind)
    if "default" not in cfg:
        raise KindlbError("there is no pool 'default': run notebook 03_address_pool first")
    used = {i.ip for s in kind.core.list_service_for_all_namespaces().items
            if not s.metadata.name.startswith(PREFIX)
            for i in ((s.status.load_balancer.ingress if s.status and s.status.load_balancer else None) or [])}
    top = [str(a) for r in reversed(_ranges(cfg["default"]["addresses"]))
           for a in (ipaddress.ip_address(int(r.last) - i) for i in range(min(r.size, 64))) if str(a) not in used]
    if len(top) < 2:
        raise KindlbError("pool default has fewer than 2 free addresses: delete a LoadBalancer Service first")
    workers = sorted(n.metadata.name for n in kind.core.list_node().items
                     if "node-role.kubernetes.io/control-plane" not in (n.metadata.labels or {}))
    if not workers:
        raise KindlbError("this cluster has no worker node: notebook 01 makes two")
    dep = get_or_none(kind.apps.read_namespaced_deployment, "nginx", "default")
    image = dep.spec.template.spec.containers[0].image if dep else "nginx:1.27"
    t = Targets(one=ip(0), reserved=f"{ip(1)}-{ip(4)}", l2=ip(5), spare=ip(6), outside=ip(7), pin=top[0], share=top[1],
                worker=workers[-1], image=image, era=era)
    _TARGETS[kind.cluster] = t
    return t


# ---------- verdicts, hints, solutions ----------

@dataclass(frozen=True)
class Verdict:
    """Right or wrong, and why (with the command that shows it)."""

    correct: bool
    why: str
    final: bool = False  # waiting will not change it

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return f"{'Correct' if self.correct else 'Not yet'}: {self.why}"

    def _repr_html_(self) -> str:
        colour, word = ("#1a7f37", "Correct") if self.correct else ("#cf222e", "Not yet")
        return (f"<div style='border-left:4px solid {colour};padding-left:0.6em'><b style='color:{colour}'>{word}"
                f"</b>: {html.escape(self.why)}</div>")


def _final(why: str) -> Verdict:
    return Verdict(False, why, final=True)


@dataclass(frozen=True)
class Folded:
    """A hint or a solution: closed until clicked."""

    title: str
    text: str
    code: str = ""

    def __repr__(self) -> str:
        return f"{self.title}: {self.text}" + (f"\n{self.code}" if self.code else "")

    def _repr_html_(self) -> str:
        code = f"<pre style='{_hood.PRE}'>{html.escape(self.code)}</pre>" if self.code else ""
        return (f"<details><summary><b>{html.escape(self.title)}</b> (click to open)</summary>"
                f"<div>{html.escape(self.text)}</div>{code}</details>")


def _svc_yaml(name: str, annotations: dict | None = None, port: int = 80, app: str = "nginx",
              extra_spec: dict | None = None) -> dict:
    meta: dict = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    spec = {"type": "LoadBalancer", **(extra_spec or {}), "selector": {"app": app},
            "ports": [{"name": "http", "port": port, "targetPort": 80}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def _docs(*objs: dict) -> str:
    return "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objs)


def _steps_text(steps: list[tuple[str, str]], cluster: str) -> str:
    if len(steps) == 1 and steps[0][0] == "apply":
        return steps[0][1]
    out = []
    for i, (how, text) in enumerate(steps, 1):
        if how == "apply":
            out.append(f"# step {i}: in the answer cell (kubectl apply -f -)\n{text.rstrip()}")
        else:
            out.append(f"# step {i}:\nkubectl {text}")
    return "\n\n".join(out)


class Ran(list):
    """The outcomes of an automated run's steps, shown one under the other."""

    def _repr_html_(self) -> str:
        return "".join(o._repr_html_() for o in self) or "<i>nothing run</i>"


def run_solution(kind: Kind, q: "Exercise", wrong: bool = False, timeout: float = 90) -> list[Outcome]:
    """Do the solution's steps (or apply the known wrong answer) as a person would, waiting between steps
    for what the next one needs; for the automated runs (papermill ``solutions=True`` / ``wrong=True``)."""
    if wrong:
        return Ran([apply(kind, q.wrong_text())])
    done = Ran()
    for i, (how, text) in enumerate(q.solution_steps()):
        deadline = time.monotonic() + timeout
        while not q.ready_for(i) and time.monotonic() < deadline:
            time.sleep(0.5)
        done.append(apply(kind, text) if how == "apply" else kubectl(kind, text))
    return done


class Exercise:
    """One task: its text, a check that reads the cluster, a hint, a solution and a wrong answer."""

    number = 0
    title = ""
    hint_text = ""
    #: A phrase the check's answer to :meth:`wrong_text` contains (the cluster tier asserts it).
    wrong_says = ""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.t = targets(kind)
        self.era = self.t.era
        self.version, self.crds = self.era.version, self.era.crds

    # --- what the learner sees
    def task(self) -> str:  # pragma: no cover - overridden
        return ""

    def _repr_html_(self) -> str:
        return (f"<div><b>Exercise {self.number}: {html.escape(self.title)}</b> (MetalLB {html.escape(self.version)})"
                f"<div style='white-space:pre-wrap'>{html.escape(self.task())}</div></div>")

    def __repr__(self) -> str:
        return f"Exercise {self.number}: {self.title} (MetalLB {self.version})\n{self.task()}"

    def hint(self) -> Folded:
        return Folded(f"Hint {self.number}", self.hint_text)

    def solution(self) -> Folded:
        steps = self.solution_steps()
        text = ("apply this YAML in the answer cell (it runs `kubectl apply -f -`)" if len(steps) == 1 else
                "in this order: each YAML in the answer cell (`kubectl apply -f -`), each kubectl line with "
                "kh.exercises.kubectl(k, \"...\") or in a terminal")
        return Folded(f"Solution {self.number}", text, _steps_text(steps, self.kind.cluster))

    def solution_steps(self) -> list[tuple[str, str]]:
        """``[("apply", yaml) | ("kubectl", command), ...]``: what a person does, in order."""
        return [("apply", self.solution_text())]

    def solution_text(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def wrong_text(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def ready_for(self, step: int) -> bool:
        """Whether step ``step`` (0-based) of the solution may run now (a person waits for what they need)."""
        return True

    # --- pools as YAML, in the era's form
    def pool_yaml(self, name: str, addresses: str, auto_assign: bool = False, advertise: bool = True) -> list[dict]:
        """An IPAddressPool (+ L2Advertisement), or the whole ConfigMap with this pool added (ConfigMap era)."""
        if self.crds:
            pool = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                    "metadata": {"name": name, "namespace": NAMESPACE},
                    "spec": {"addresses": [addresses], "autoAssign": auto_assign}}
            ad = {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                  "metadata": {"name": name, "namespace": NAMESPACE}, "spec": {"ipAddressPools": [name]}}
            return [pool, ad] if advertise else [pool]
        entry = {"name": name, "protocol": "layer2", "addresses": [addresses], "auto-assign": auto_assign}
        return [configmap([p for p in configmap_pools(self.kind) if p["name"] != name] + [entry])]

    # --- checking
    def check(self) -> Verdict:
        """Right or wrong, and why; waits up to :data:`SETTLE` seconds for MetalLB to act first."""
        deadline = time.monotonic() + SETTLE
        while True:
            verdict = self.state()
            if verdict.correct or verdict.final or time.monotonic() > deadline:
                return verdict
            time.sleep(1)

    def state(self) -> Verdict:
        """The verdict on the cluster as it is now (no waiting); never raises."""
        try:
            return self._check()
        except KindlbError as exc:
            return _final(str(exc))
        except Exception as exc:  # a half-made object must not end in a traceback
            return Verdict(False, f"could not read the cluster ({type(exc).__name__}: {str(exc)[:200]})")

    def _check(self) -> Verdict:  # pragma: no cover - overridden
        raise NotImplementedError

    # --- shared reads
    def _svc(self, name: str):
        svc = get_or_none(self.kind.core.read_namespaced_service, name, "default")
        if svc is None:
            raise KindlbError(f"there is no Service {name!r} yet: `kubectl get services` lists them; apply its YAML "
                              "in the answer cell")
        return svc

    @staticmethod
    def _ip(svc) -> str | None:
        ing = (svc.status.load_balancer.ingress if svc.status and svc.status.load_balancer else None) or []
        return next((i.ip for i in ing if i.ip), None)

    def _events(self, svc) -> list[dict]:
        return events_for(self.kind, svc.metadata.name, "default", uid=svc.metadata.uid)

    def _warning(self, svc) -> str | None:
        """The controller's last word on why ``svc`` has no address (this incarnation's events only)."""
        warn = [e for e in self._events(svc) if e["type"] == "Warning" and e["reason"] != "deprecatedAnnotation"]
        return f"{warn[-1]['reason']}: {warn[-1]['message']}" if warn else None

    def _pending(self, svc) -> Verdict:
        said = self._warning(svc)
        name = svc.metadata.name
        return Verdict(False, f"{name} is still <pending>" + (f"; the controller says {said}" if said else "")
                       + f" (`kubectl describe service {name}`, Events)")

    def _pool(self, name: str) -> tuple[list[PoolRange], bool]:
        cfg = pool_config(self.kind).get(name)
        if cfg is None:
            where = ("`kubectl -n metallb-system get ipaddresspools`" if self.crds
                     else "`kubectl -n metallb-system get configmap config -o yaml`")
            raise KindlbError(f"there is no pool {name!r} yet ({where} lists the pools): apply it in the answer cell")
        return _ranges(cfg["addresses"]), bool(cfg["auto_assign"])

    def _asks_pool(self, svc, pool: str) -> Verdict | None:
        """None when ``svc`` asks for ``pool`` in a way this release reads; else the verdict saying how."""
        value, _ = self.era.read(svc, "address-pool")
        name = svc.metadata.name
        if value == pool:
            return None
        ignored = self.era.ignored(svc, "address-pool")
        if ignored:
            return _final(f"{name} has {ignored}, which MetalLB {self.version} does not read (the metallb.io/ prefix "
                          f"came with v0.14.9): use {self.era.prefix}/address-pool")
        if value:
            return _final(f"{name} asks for pool {value!r}, not {pool!r} (`kubectl get service {name} -o yaml`, "
                          "metadata.annotations)")
        return _final(f"{name} does not ask for pool {pool}: add the annotation {self.era.prefix}/address-pool: {pool} "
                      f"(`kubectl get service {name} -o yaml` shows its metadata)")

    def cleanup(self) -> _hood.Done:
        """Remove what the exercises created (``ex-*``)."""
        return cleanup(self.kind)


class ExhaustPool(Exercise):
    """(a) A pool of one address and two Services that ask for it; the learner reads why one waits."""

    number, title = 1, "exhaust a pool, and read why"
    wrong_says = "holds 2 addresses"

    @property
    def hint_text(self) -> str:
        return ("A Service names a pool with an annotation under metadata.annotations. After applying, "
                "`kubectl describe service ex-second` ends with Events: the Reason column is one word. Record it "
                f"with `kubectl annotate service <name> {REASON_KEY}=<Reason>` (run it with kh.exercises.kubectl). "
                + ("The pool is an IPAddressPool in metallb-system; without an L2Advertisement its addresses are "
                   "handed out but not announced." if self.crds else
                   "In this era the pool is one more entry under address-pools in the ConfigMap config: start "
                   "from `kubectl -n metallb-system get configmap config -o yaml` and keep pool default as it is."))

    def task(self) -> str:
        where = ("an IPAddressPool (and an L2Advertisement) in metallb-system" if self.crds
                 else "an entry in the ConfigMap metallb-system/config (keep pool default as it is)")
        return (f"1. Make a pool ex-one holding only {self.t.one}, with autoAssign false: {where}.\n"
                "2. Create the LoadBalancer Services ex-first and then ex-second (selector app: nginx, port 80), "
                "both asking for pool ex-one by name.\n"
                "3. One of them stays <pending>. Read why in its Events, and record the event's Reason on that "
                f"Service as the annotation {REASON_KEY}.")

    def solution_steps(self) -> list[tuple[str, str]]:
        key = f"{self.era.prefix}/address-pool"
        return [("apply", _docs(*self.pool_yaml("ex-one", f"{self.t.one}/32"), _svc_yaml("ex-first", {key: "ex-one"}))),
                ("apply", _docs(_svc_yaml("ex-second", {key: "ex-one"}))),
                ("kubectl", "describe service ex-second"),
                ("kubectl", f"annotate service ex-second {REASON_KEY}=AllocationFailed --overwrite")]

    def ready_for(self, step: int) -> bool:
        """ex-second only after ex-first holds the address; the annotation only once the reason is there."""
        def svc(name):
            return get_or_none(self.kind.core.read_namespaced_service, name, "default")

        if step == 1:
            first = svc("ex-first")
            return bool(first and self._ip(first))
        if step >= 2:
            second = svc("ex-second")
            return bool(second) and any(e["reason"] == "AllocationFailed" for e in self._events(second))
        return True

    def wrong_text(self) -> str:
        key = f"{self.era.prefix}/address-pool"
        docs = self.pool_yaml("ex-one", f"{self.t.one}/32")
        spec = docs[0]["spec"]["addresses"] if self.crds else None
        if self.crds:
            spec.append(f"{self.t.spare}/32")
        else:
            cfg = yaml.safe_load(docs[0]["data"]["config"])
            next(p for p in cfg["address-pools"] if p["name"] == "ex-one")["addresses"].append(f"{self.t.spare}/32")
            docs[0]["data"]["config"] = yaml.safe_dump(cfg, sort_keys=False)
        return _docs(*docs, _svc_yaml("ex-first", {key: "ex-one"}), _svc_yaml("ex-second", {key: "ex-one"}))

    def _check(self) -> Verdict:
        ranges, auto = self._pool("ex-one")
        size = sum(r.size for r in ranges)
        show = ("kubectl -n metallb-system get ipaddresspool ex-one -o yaml" if self.crds
                else "kubectl -n metallb-system get configmap config -o yaml")
        if size != 1:
            return _final(f"pool ex-one holds {size} addresses: give it exactly one, {self.t.one} (`{show}`)")
        if auto:
            return _final(f"pool ex-one has autoAssign true: any Service could take its address; set it to false "
                          f"(`{show}`)")
        svcs = {n: self._svc(n) for n in ("ex-first", "ex-second")}
        for svc in svcs.values():
            wrong = self._asks_pool(svc, "ex-one")
            if wrong:
                return wrong
        got = {n: self._ip(s) for n, s in svcs.items()}
        holders = [n for n, ip in got.items() if ip]
        if len(holders) != 1:
            return Verdict(False, f"{len(holders)} of ex-first and ex-second have an address (`kubectl get services`):"
                                  " exactly one should, the other <pending>; MetalLB may need a moment")
        pending = next(n for n in got if not got[n])
        svc = svcs[pending]
        reasons = [e["reason"] for e in self._events(svc)
                   if e["type"] == "Warning" and e["reason"] != "deprecatedAnnotation"]
        if "AllocationFailed" not in reasons:
            return Verdict(False, f"{pending} is <pending> but its Events have no reason yet: wait a moment "
                                  f"(`kubectl describe service {pending}`)")
        noted = (svc.metadata.annotations or {}).get(REASON_KEY)
        if noted is None:
            return _final(f"the cluster is right: {holders[0]} has {got[holders[0]]} and {pending} waits. Now read "
                          f"the Reason in `kubectl describe service {pending}` (Events) and record it: "
                          f"`kubectl annotate service {pending} {REASON_KEY}=<Reason>`")
        if noted.strip() not in reasons:
            return _final(f"{REASON_KEY}={noted!r} on {pending} is not a Reason in its Events "
                          f"(`kubectl describe service {pending}`: columns Type, Reason, Age, From, Message); "
                          "fix it with `kubectl annotate --overwrite ...`")
        msg = next(e["message"] for e in reversed(self._events(svc)) if e["reason"] == noted.strip())
        return Verdict(True, f"{holders[0]} took the only address ({got[holders[0]]}); {pending} waits, and the "
                             f"controller said why: {noted.strip()}: {msg}")


class PinAddress(Exercise):
    """(b) A Service that gets one particular address; every way the release reads is accepted."""

    number, title = 2, "pin a Service to an address"
    wrong_says = "not allowed in config"

    @property
    def hint_text(self) -> str:
        ways = " or ".join(f"the annotation {k}" for k in self.era.keys("loadBalancerIPs"))
        return (f"MetalLB {self.version} reads {ways}, and also the Service's own field spec.loadBalancerIP "
                "(deprecated by Kubernetes since 1.24, still honoured). Use one of them, not the annotation and the "
                "field together: MetalLB refuses a Service with both.")

    def task(self) -> str:
        return (f"Create the LoadBalancer Service ex-pinned (selector app: nginx, port 80) so that MetalLB gives it "
                f"exactly {self.t.pin}, a free address of pool default. Any way MetalLB {self.version} reads counts.")

    @property
    def address(self) -> str:
        return self.t.pin

    def solution_text(self) -> str:
        return _docs(_svc_yaml("ex-pinned", {f"{self.era.prefix}/loadBalancerIPs": self.t.pin}))

    def wrong_text(self) -> str:
        return _docs(_svc_yaml("ex-pinned", {f"{self.era.prefix}/loadBalancerIPs": self.t.outside}))

    def _check(self) -> Verdict:
        svc = self._svc("ex-pinned")
        value, key = self.era.read(svc, "loadBalancerIPs")
        field_ip = svc.spec.load_balancer_ip
        ignored = self.era.ignored(svc, "loadBalancerIPs")
        if not value and not field_ip:
            if ignored:
                return _final(f"ex-pinned has {ignored}, which MetalLB {self.version} does not read (the metallb.io/ "
                              f"prefix came with v0.14.9): use {self.era.prefix}/loadBalancerIPs or "
                              "spec.loadBalancerIP")
            return _final("ex-pinned does not ask for an address: add the annotation "
                          f"{self.era.prefix}/loadBalancerIPs: {self.t.pin} (`kubectl get service ex-pinned -o yaml`"
                          " shows its metadata)")
        asked = value or field_ip
        how = key if value else "spec.loadBalancerIP"
        got = self._ip(svc)
        if not got:
            return self._pending(svc)
        if asked.strip() != self.t.pin:
            return _final(f"ex-pinned asks for {asked} with {how} and got {got}: ask for {self.t.pin}")
        if got != self.t.pin:
            return Verdict(False, f"ex-pinned asks for {self.t.pin} but has {got} (MetalLB may need a moment)")
        note = ""
        if key and key.startswith(OLD_PREFIX) and self.era.prefix == NEW_PREFIX:
            note = f" ({key} still works in {self.version} but is deprecated: a deprecatedAnnotation event says so)"
        return Verdict(True, f"ex-pinned got {got}, asked for with {how}{note}")


class ReservedPool(Exercise):
    """(c) A pool only Services that name it get; an unannotated Service is shown to get its address elsewhere."""

    number, title = 3, "a pool only for those who ask"
    wrong_says = "autoAssign true"

    @property
    def hint_text(self) -> str:
        field_name = "spec.autoAssign" if self.crds else "auto-assign"
        return (f"{field_name}: false keeps MetalLB from handing the pool's addresses to Services that do not name "
                f"the pool; a Service names it with the annotation {self.era.prefix}/address-pool.")

    def task(self) -> str:
        return (f"1. Add a pool ex-reserved with {self.t.reserved} that MetalLB does not hand out by itself.\n"
                "2. A LoadBalancer Service ex-chosen (selector app: nginx, port 80) gets an address from it by naming "
                "the pool.\n3. A Service ex-plain, the same but without any annotation, must get its address from "
                "another pool.")

    def solution_text(self) -> str:
        key = f"{self.era.prefix}/address-pool"
        return _docs(*self.pool_yaml("ex-reserved", self.t.reserved), _svc_yaml("ex-chosen", {key: "ex-reserved"}),
                     _svc_yaml("ex-plain"))

    def wrong_text(self) -> str:
        key = f"{self.era.prefix}/address-pool"
        return _docs(*self.pool_yaml("ex-reserved", self.t.reserved, auto_assign=True),
                     _svc_yaml("ex-chosen", {key: "ex-reserved"}), _svc_yaml("ex-plain"))

    def _check(self) -> Verdict:
        ranges, auto = self._pool("ex-reserved")
        show = ("kubectl -n metallb-system get ipaddresspool ex-reserved -o yaml" if self.crds
                else "kubectl -n metallb-system get configmap config -o yaml")
        if auto:
            return _final(f"pool ex-reserved has autoAssign true: a Service that names no pool may get one of its "
                          f"addresses; set it to false (`{show}`)")
        chosen = self._svc("ex-chosen")
        wrong = self._asks_pool(chosen, "ex-reserved")
        if wrong:
            return wrong
        got = self._ip(chosen)
        if not got:
            return self._pending(chosen)
        if not any(ipaddress.ip_address(got) in r for r in ranges):
            return Verdict(False, f"ex-chosen has {got}, which is not in ex-reserved ({self.t.reserved})")
        plain = self._svc("ex-plain")
        asks = ("address-pool", "loadBalancerIPs", "allow-shared-ip")  # not ip-allocated-from-pool: MetalLB writes it
        extra = [k for k in (plain.metadata.annotations or {})
                 if k.startswith((NEW_PREFIX, OLD_PREFIX)) and k.split("/", 1)[1] in asks]
        if extra or plain.spec.load_balancer_ip:
            return _final(f"ex-plain must ask for nothing, but has {', '.join(extra) or 'spec.loadBalancerIP'} "
                          "(`kubectl get service ex-plain -o yaml`)")
        plain_ip = self._ip(plain)
        if not plain_ip:
            return self._pending(plain)
        if any(ipaddress.ip_address(plain_ip) in r for r in ranges):
            return _final(f"ex-plain got {plain_ip} from ex-reserved although it names no pool: is autoAssign false? "
                          f"(`{show}`)")
        home = next((p for p, cfg in pool_config(self.kind).items()
                     if any(ipaddress.ip_address(plain_ip) in r for r in _ranges(cfg["addresses"]))), "?")
        return Verdict(True, f"ex-chosen got {got} from ex-reserved because it names it; ex-plain, naming no pool, "
                             f"got {plain_ip} from pool {home}: with autoAssign false MetalLB never picks ex-reserved "
                             "for it")


class ShareAddress(Exercise):
    """(d) Two Services on one IP, with the era's allow-shared-ip annotation."""

    number, title = 4, "share one address between two Services"
    wrong_says = "allow-shared-ip"

    @property
    def hint_text(self) -> str:
        return (f"Both Services carry {self.era.prefix}/allow-shared-ip with the same value (any text, the sharing "
                f"key), ask for the same address ({self.era.prefix}/loadBalancerIPs), and use different ports.")

    def task(self) -> str:
        return (f"Create two LoadBalancer Services in front of nginx that share the address {self.t.share}: "
                "ex-share-web on port 80 and ex-share-alt on port 8080 (targetPort 80).")

    def solution_text(self) -> str:
        ann = {f"{self.era.prefix}/allow-shared-ip": "ex-share", f"{self.era.prefix}/loadBalancerIPs": self.t.share}
        return _docs(_svc_yaml("ex-share-web", ann), _svc_yaml("ex-share-alt", ann, port=8080))

    def wrong_text(self) -> str:
        ips = {f"{self.era.prefix}/loadBalancerIPs": self.t.share}
        return _docs(_svc_yaml("ex-share-web", {**ips, f"{self.era.prefix}/allow-shared-ip": "ex-share"}),
                     _svc_yaml("ex-share-alt", ips, port=8080))

    def _check(self) -> Verdict:
        svcs = [self._svc("ex-share-web"), self._svc("ex-share-alt")]
        keys = {}
        for svc in svcs:
            value, _ = self.era.read(svc, "allow-shared-ip")
            ignored = self.era.ignored(svc, "allow-shared-ip")
            if value is None:
                said = self._warning(svc) if not self._ip(svc) else None
                why = (f"{svc.metadata.name} has {ignored}, which MetalLB {self.version} does not read"
                       if ignored else f"{svc.metadata.name} has no {self.era.prefix}/allow-shared-ip")
                return _final(why + (f"; the controller says {said}" if said else "")
                              + f" (`kubectl describe service {svc.metadata.name}`): both Services need "
                              f"{self.era.prefix}/allow-shared-ip with the same value")
            keys[svc.metadata.name] = value
        if len(set(keys.values())) != 1:
            return _final(f"the sharing keys differ ({keys}): MetalLB shares an address only between Services with "
                          f"the same {self.era.prefix}/allow-shared-ip value")
        ports = [{p.port for p in s.spec.ports} for s in svcs]
        if ports[0] & ports[1]:
            return _final(f"both Services use port {sorted(ports[0] & ports[1])[0]}: one address can carry each port "
                          "once; give ex-share-alt port 8080")
        got = [self._ip(s) for s in svcs]
        for svc, ip in zip(svcs, got):
            if not ip:
                return self._pending(svc)
        if got[0] != got[1]:
            return Verdict(False, f"ex-share-web has {got[0]} and ex-share-alt has {got[1]}: ask both for "
                                  f"{self.t.share} with {self.era.prefix}/loadBalancerIPs")
        if got[0] != self.t.share:
            return _final(f"both share {got[0]}, but the task asks for {self.t.share}")
        return Verdict(True, f"ex-share-web (port 80) and ex-share-alt (port 8080) both have {got[0]}: the same "
                             f"sharing key ({keys['ex-share-web']!r}) and different ports")


def _announcers(kind: Kind, svc) -> list[str]:
    """Nodes the speakers say announce ``svc``: this incarnation's nodeAssigned events."""
    import re

    nodes = []
    for e in events_for(kind, svc.metadata.name, "default", uid=svc.metadata.uid):
        if e["reason"] == "nodeAssigned":
            m = re.search(r'announcing from node "([^"]+)"', e["message"])
            if m:
                nodes.append(m.group(1))
    return nodes


class NodeSelectors(Exercise):
    """(e, CRD era) An L2Advertisement with nodeSelectors: only the chosen node announces the pool."""

    number, title = 5, "announce only from a chosen node (nodeSelectors)"
    wrong_says = "no nodeSelectors"

    hint_text = ("An L2Advertisement's spec.nodeSelectors is a list of label selectors (matchLabels: ...); every node "
                 "carries kubernetes.io/hostname=<its name>. Only speakers on matching nodes may announce the pools "
                 "listed in spec.ipAddressPools.")

    def task(self) -> str:
        return (f"1. A pool ex-l2 holding {self.t.l2} (autoAssign false), announced by an L2Advertisement ex-l2 "
                f"whose nodeSelectors select only the node {self.t.worker}.\n"
                "2. A LoadBalancer Service ex-node (selector app: nginx, port 80) that asks for pool ex-l2.\n"
                f"`kubectl describe service ex-node` should then show nodeAssigned from {self.t.worker} only.")

    def solution_text(self) -> str:
        pool, ad = self.pool_yaml("ex-l2", f"{self.t.l2}/32")
        ad["spec"]["nodeSelectors"] = [{"matchLabels": {"kubernetes.io/hostname": self.t.worker}}]
        return _docs(pool, ad, _svc_yaml("ex-node", {f"{self.era.prefix}/address-pool": "ex-l2"}))

    def wrong_text(self) -> str:
        return _docs(*self.pool_yaml("ex-l2", f"{self.t.l2}/32"),
                     _svc_yaml("ex-node", {f"{self.era.prefix}/address-pool": "ex-l2"}))

    def _check(self) -> Verdict:
        from ...cluster.metallb import l2_advertisements

        ranges, _ = self._pool("ex-l2")
        ads = l2_advertisements(self.kind)
        mine = next((a for a in ads if a["metadata"]["name"] == "ex-l2"), None)
        if mine is None:
            return _final("there is no L2Advertisement ex-l2 (`kubectl -n metallb-system get l2advertisements`)")
        spec = mine.get("spec") or {}
        if "ex-l2" not in (spec.get("ipAddressPools") or []):
            return _final("L2Advertisement ex-l2 does not list pool ex-l2 in spec.ipAddressPools")
        selectors = spec.get("nodeSelectors") or []
        if not selectors:
            return _final("L2Advertisement ex-l2 has no nodeSelectors: every node may announce its pool "
                          "(`kubectl -n metallb-system get l2advertisement ex-l2 -o yaml`)")
        nodes = {n.metadata.name: n.metadata.labels or {} for n in self.kind.core.list_node().items}
        chosen = sorted(n for n, labels in nodes.items() if any(_matches(s, labels) for s in selectors))
        if chosen != [self.t.worker]:
            return _final(f"the nodeSelectors of ex-l2 select {chosen or 'no node'}, not only {self.t.worker} "
                          "(`kubectl get nodes --show-labels`)")
        others = [a["metadata"]["name"] for a in ads if a["metadata"]["name"] != "ex-l2"
                  and (not (a.get("spec") or {}).get("ipAddressPools") and not (a.get("spec") or {}).get(
                      "ipAddressPoolSelectors") or "ex-l2" in ((a.get("spec") or {}).get("ipAddressPools") or []))]
        if others:
            return _final(f"L2Advertisement {others[0]} also announces pool ex-l2 (it lists it, or lists no pool at "
                          "all, which means every pool), from any node")
        svc = self._svc("ex-node")
        wrong = self._asks_pool(svc, "ex-l2")
        if wrong:
            return wrong
        got = self._ip(svc)
        if not got:
            return self._pending(svc)
        announcers = _announcers(self.kind, svc)
        if not announcers:
            return Verdict(False, "ex-node has an address but no nodeAssigned event yet (`kubectl describe service "
                                  "ex-node`); the speaker may need a moment")
        if set(announcers) != {self.t.worker}:
            return Verdict(False, f"ex-node is announced from {sorted(set(announcers))}, expected only "
                                  f"{self.t.worker}")
        return Verdict(True, f"ex-node has {got}, announced from {self.t.worker} only (event nodeAssigned): the "
                             "L2Advertisement's nodeSelectors chose the node")


def _matches(selector: dict, labels: dict) -> bool:
    """A LabelSelector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) against node labels."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class LocalPolicy(Exercise):
    """(e, ConfigMap era) The announcing node chosen by where the pods are: externalTrafficPolicy Local.

    v0.12.1's layer-2 pools have no node selector (``internal/config/config.go``: an address pool has protocol,
    name, addresses, avoid-buggy-ips, auto-assign and bgp-advertisements; only BGP peers take node-selectors),
    so the node is chosen the other way: under ``Local`` only a node with a ready pod of the Service may announce.
    """

    number, title = 5, "announce from a chosen node (externalTrafficPolicy: Local)"
    wrong_says = "externalTrafficPolicy Cluster"

    hint_text = ("A Deployment's pod template takes spec.nodeSelector: {kubernetes.io/hostname: <node>}. A Service "
                 "with spec.externalTrafficPolicy: Local is announced only from nodes that run one of its ready pods.")

    def task(self) -> str:
        return (f"MetalLB {self.version} cannot restrict a layer-2 pool to nodes (its ConfigMap has no node selector "
                "for layer2 pools; L2Advertisement.nodeSelectors came with the CRDs in v0.13). Choose the node the "
                f"other way:\n1. A Deployment ex-lone: 1 replica of {self.t.image}, pod label app: ex-lone, "
                f"pinned to the node {self.t.worker}.\n2. A LoadBalancer Service ex-local (selector app: ex-lone, "
                f"port 80) with externalTrafficPolicy: Local.\nIt should be announced from {self.t.worker} only.")

    def _objects(self, policy: str) -> list[dict]:
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ex-lone"},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "ex-lone"}},
                        "template": {"metadata": {"labels": {"app": "ex-lone"}},
                                     "spec": {"nodeSelector": {"kubernetes.io/hostname": self.t.worker},
                                              "containers": [{"name": "nginx", "image": self.t.image,
                                                              "ports": [{"containerPort": 80}]}]}}}}
        return [dep, _svc_yaml("ex-local", app="ex-lone", extra_spec={"externalTrafficPolicy": policy})]

    def solution_text(self) -> str:
        return _docs(*self._objects("Local"))

    def wrong_text(self) -> str:
        return _docs(*self._objects("Cluster"))

    def _check(self) -> Verdict:
        svc = self._svc("ex-local")
        if svc.spec.external_traffic_policy != "Local":
            return _final(f"ex-local has externalTrafficPolicy {svc.spec.external_traffic_policy}: under Cluster any "
                          "node with a speaker may announce it; set spec.externalTrafficPolicy: Local")
        pods = self.kind.core.list_namespaced_pod("default", label_selector="app=ex-lone").items
        if not pods:
            return _final("no pod has the label app=ex-lone (`kubectl get pods -l app=ex-lone -o wide`): the "
                          "Deployment ex-lone makes it")
        where = sorted({p.spec.node_name for p in pods if p.spec.node_name})
        if where != [self.t.worker]:
            return Verdict(False, f"the ex-lone pods run on {where or 'no node yet'}, not only {self.t.worker} "
                                  "(`kubectl get pods -l app=ex-lone -o wide`)")
        got = self._ip(svc)
        if not got:
            return self._pending(svc)
        announcers = _announcers(self.kind, svc)
        if not announcers:
            return Verdict(False, "ex-local has an address but no nodeAssigned event yet (its pod may not be ready: "
                                  "`kubectl get pods -l app=ex-lone`)")
        if set(announcers) != {self.t.worker}:
            return Verdict(False, f"ex-local is announced from {sorted(set(announcers))}, expected {self.t.worker}")
        return Verdict(True, f"ex-local has {got}, announced from {self.t.worker}, the only node with its pod: under "
                             "Local a node without a ready pod never announces")


class BreakFix(Exercise):
    """(6) Break-fix: a Service left broken by a colleague; the learner finds why and fixes it in place."""

    number, title = 6, "break-fix: a Service that never gets an address"
    wrong_says = "unknown pool"
    #: The typo the colleague made.
    TYPO = "defualt"

    hint_text = ("`kubectl describe service ex-broken`: the Warning event at the bottom names what the controller "
                 "could not find. Fix the Service in place (`kubectl annotate --overwrite ...`, or remove an "
                 "annotation with a trailing `-`); deleting and recreating it would hide the evidence.")

    def task(self) -> str:
        return ("`q6.start()` creates ex-broken, a LoadBalancer Service in front of nginx, as a colleague left it: it "
                "stays <pending>. Find out why from its own events, and fix it in place so that it gets an address "
                "from pool default.")

    def broken_text(self) -> str:
        return _docs(_svc_yaml("ex-broken", {f"{self.era.prefix}/address-pool": self.TYPO}))

    def start(self) -> Outcome:
        """Create ex-broken as the colleague left it (once; a second call leaves it alone)."""
        if get_or_none(self.kind.core.read_namespaced_service, "ex-broken", "default") is not None:
            return Outcome(True, "ex-broken is already there (`kubectl get service ex-broken`)")
        return apply(self.kind, self.broken_text())

    def solution_steps(self) -> list[tuple[str, str]]:
        return [("kubectl", "describe service ex-broken"),
                ("kubectl", f"annotate service ex-broken {self.era.prefix}/address-pool=default --overwrite")]

    def ready_for(self, step: int) -> bool:
        svc = get_or_none(self.kind.core.read_namespaced_service, "ex-broken", "default")
        return bool(svc) and any(e["reason"] == "AllocationFailed" for e in self._events(svc))

    def wrong_text(self) -> str:
        return self.broken_text()  # leaving it as it is

    def _check(self) -> Verdict:
        if get_or_none(self.kind.core.read_namespaced_service, "ex-broken", "default") is None:
            raise KindlbError("there is no Service 'ex-broken' yet: run q6.start() first")
        svc = self._svc("ex-broken")
        failed = [e for e in self._events(svc) if e["reason"] == "AllocationFailed"]
        got = self._ip(svc)
        if not got:
            return self._pending(svc)
        if not failed:
            return _final("ex-broken has an address, but its events (this uid's) show no AllocationFailed: it was "
                          "recreated rather than fixed. Delete it, run q6.start() again, and fix it in place")
        value, _ = self.era.read(svc, "address-pool")
        ranges, _ = self._pool("default")
        if value not in (None, "default") or not any(ipaddress.ip_address(got) in r for r in ranges):
            return _final(f"ex-broken got {got}, but not from pool default (it asks for {value!r})")
        return Verdict(True, f"ex-broken got {got} from pool default. The controller had said: "
                             f"{failed[-1]['message']}; the annotation named a pool that does not exist")


def exercises(kind: Kind) -> list[Exercise]:
    """The six exercises for the installed release (exercise 5 depends on the era)."""
    fifth = NodeSelectors if era_of(kind).crds else LocalPolicy
    return [ExhaustPool(kind), PinAddress(kind), ReservedPool(kind), ShareAddress(kind), fifth(kind), BreakFix(kind)]


class Progress:
    """Which checks pass now, computed from the cluster (survives a kernel restart)."""

    def __init__(self, rows: list[dict]) -> None:
        self.frame = pd.DataFrame(rows, columns=["exercise", "title", "status", "what the cluster says"])

    @property
    def done(self) -> int:
        return int((self.frame["status"] == "done").sum())

    def __repr__(self) -> str:
        return f"{self.done}/{len(self.frame)} done\n" + self.frame.to_string(index=False)

    def _repr_html_(self) -> str:
        def colour(v):
            return "color:#1a7f37;font-weight:bold" if v == "done" else "color:#cf222e"

        styled = (self.frame.style.hide(axis="index").map(colour, subset=["status"])
                  .set_properties(**{"text-align": "left"}))
        return f"<div><b>Progress: {self.done}/{len(self.frame)} done</b></div>" + styled.to_html()


def progress(kind: Kind) -> Progress:
    """A table of the exercises and whether each check passes now (no waiting)."""
    rows = []
    for q in exercises(kind):
        v = q.state()
        rows.append({"exercise": q.number, "title": q.title, "status": "done" if v else "not yet",
                     "what the cluster says": v.why if len(v.why) <= 160 else v.why[:157] + "..."})
    return Progress(rows)
