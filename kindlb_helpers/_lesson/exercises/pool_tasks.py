"""Exercises 1, 3 and 6, about pools: exhaust a one-address pool and read why (1), a pool only for Services
that name it (3), and a Service left asking for a pool that does not exist (6, break-fix)."""
from __future__ import annotations

import ipaddress

import yaml

from ..._cluster.kube import get_or_none
from ..._core.errors import KindlbError
from ..answers import Outcome, apply
from .base import Exercise, Verdict, annotation, final, metallb_key
from .objects import docs, svc_yaml
from .pools import pool_config, to_ranges

__all__ = ["ExhaustPool", "ReservedPool", "BreakFix", "REASON_KEY"]

#: Where exercise 1 wants the reason the learner read in the events (a Service annotation).
REASON_KEY = "kindlb.example/reason"


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
        key = f"{self.prefix}/address-pool"
        return [("apply", docs(*self.pool_yaml("ex-one", f"{self.t.one}/32"), svc_yaml("ex-first", {key: "ex-one"}))),
                ("apply", docs(svc_yaml("ex-second", {key: "ex-one"}))),
                ("kubectl", "describe service ex-second"),
                ("kubectl", f"annotate service ex-second {REASON_KEY}=AllocationFailed --overwrite")]


    def wrong_text(self) -> str:
        key = f"{self.prefix}/address-pool"
        objs = self.pool_yaml("ex-one", f"{self.t.one}/32")
        spec = objs[0]["spec"]["addresses"] if self.crds else None
        if self.crds:
            spec.append(f"{self.t.spare}/32")
        else:
            cfg = yaml.safe_load(objs[0]["data"]["config"])
            next(p for p in cfg["address-pools"] if p["name"] == "ex-one")["addresses"].append(f"{self.t.spare}/32")
            objs[0]["data"]["config"] = yaml.safe_dump(cfg, sort_keys=False)
        return docs(*objs, svc_yaml("ex-first", {key: "ex-one"}), svc_yaml("ex-second", {key: "ex-one"}))

    def _check(self) -> Verdict:
        ranges, auto = self._pool("ex-one")
        size = sum(r.size for r in ranges)
        show = ("kubectl -n metallb-system get ipaddresspool ex-one -o yaml" if self.crds
                else "kubectl -n metallb-system get configmap config -o yaml")
        if size != 1:
            return final(f"pool ex-one holds {size} addresses: give it exactly one, {self.t.one} (`{show}`)")
        if auto:
            return final(f"pool ex-one has autoAssign true: any Service could take its address; set it to false "
                         f"(`{show}`)")
        svcs = {n: self._svc(n) for n in ("ex-first", "ex-second")}
        for svc in svcs.values():
            wrong = self._asks_pool(svc, "ex-one")
            if wrong is not None:  # a Verdict is falsy when it says "not yet"
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
            return final(f"the cluster is right: {holders[0]} has {got[holders[0]]} and {pending} waits. Now read "
                         f"the Reason in `kubectl describe service {pending}` (Events) and record it: "
                         f"`kubectl annotate service {pending} {REASON_KEY}=<Reason>`")
        if noted.strip() not in reasons:
            return final(f"{REASON_KEY}={noted!r} on {pending} is not a Reason in its Events "
                         f"(`kubectl describe service {pending}`: columns Type, Reason, Age, From, Message); "
                         "fix it with `kubectl annotate --overwrite ...`")
        msg = next(e["message"] for e in reversed(self._events(svc)) if e["reason"] == noted.strip())
        return Verdict(True, f"{holders[0]} took the only address ({got[holders[0]]}); {pending} waits, and the "
                             f"controller said why: {noted.strip()}: {msg}")


class ReservedPool(Exercise):
    """(c) A pool only Services that name it get; an unannotated Service is shown to get its address elsewhere."""

    number, title = 3, "a pool only for those who ask"
    wrong_says = "autoAssign true"

    @property
    def hint_text(self) -> str:
        field_name = "spec.autoAssign" if self.crds else "auto-assign"
        announce = (" A pool's addresses answer only when an L2Advertisement in metallb-system announces the pool "
                    "(spec.ipAddressPools lists it), as in notebook 3." if self.crds else
                    " protocol: layer2 makes the speakers announce the pool's addresses.")
        return (f"{field_name}: false keeps MetalLB from handing the pool's addresses to Services that do not name "
                f"the pool; a Service names it with the annotation {self.prefix}/address-pool." + announce)

    def task(self) -> str:
        announce = (", and announce it in layer 2 (an L2Advertisement in metallb-system, as in notebook 3)"
                    if self.crds else " (a layer2 pool, announced by the speakers)")
        return (f"1. Add a pool ex-reserved with {self.t.reserved} that MetalLB does not hand out by itself"
                f"{announce}.\n"
                "2. A LoadBalancer Service ex-chosen (selector app: nginx, port 80) gets an address from it by naming "
                "the pool, and that address answers.\n3. A Service ex-plain, the same but without any annotation, "
                "must get its address from another pool.")

    def solution_text(self) -> str:
        key = f"{self.prefix}/address-pool"
        return docs(*self.pool_yaml("ex-reserved", self.t.reserved), svc_yaml("ex-chosen", {key: "ex-reserved"}),
                    svc_yaml("ex-plain"))

    def wrong_text(self) -> str:
        key = f"{self.prefix}/address-pool"
        return docs(*self.pool_yaml("ex-reserved", self.t.reserved, auto_assign=True),
                    svc_yaml("ex-chosen", {key: "ex-reserved"}), svc_yaml("ex-plain"))

    def _check(self) -> Verdict:
        ranges, auto = self._pool("ex-reserved")
        show = ("kubectl -n metallb-system get ipaddresspool ex-reserved -o yaml" if self.crds
                else "kubectl -n metallb-system get configmap config -o yaml")
        if auto:
            return final(f"pool ex-reserved has autoAssign true: a Service that names no pool may get one of its "
                         f"addresses; set it to false (`{show}`)")
        if self.crds and not self._advertised("ex-reserved"):
            return final("no L2Advertisement announces pool ex-reserved (`kubectl -n metallb-system get "
                         "l2advertisements -o yaml`): its addresses are handed out, but no node answers ARP for them, "
                         "so nothing reaches the Service")
        chosen = self._svc("ex-chosen")
        wrong = self._asks_pool(chosen, "ex-reserved")
        if wrong is not None:  # a Verdict is falsy when it says "not yet"
            return wrong
        got = self._ip(chosen)
        if not got:
            return self._pending(chosen)
        if not any(ipaddress.ip_address(got) in r for r in ranges):
            return Verdict(False, f"ex-chosen has {got}, which is not in ex-reserved ({self.t.reserved})")
        plain = self._svc("ex-plain")
        asks = ("address-pool", "loadBalancerIPs", "allow-shared-ip")  # not ip-allocated-from-pool: MetalLB writes it
        extra = [k for k in (plain.metadata.annotations or {})
                 if metallb_key(k) and k.split("/", 1)[1] in asks]
        if extra or plain.spec.load_balancer_ip:
            return final(f"ex-plain must ask for nothing, but has {', '.join(extra) or 'spec.loadBalancerIP'} "
                         "(`kubectl get service ex-plain -o yaml`)")
        plain_ip = self._ip(plain)
        if not plain_ip:
            return self._pending(plain)
        if any(ipaddress.ip_address(plain_ip) in r for r in ranges):
            return final(f"ex-plain got {plain_ip} from ex-reserved although it names no pool: is autoAssign false? "
                         f"(`{show}`)")
        announcers = self._announcers(chosen)
        if not announcers:
            where = ("`kubectl -n metallb-system get servicel2statuses`" if self.era.has_l2_status
                     else "`kubectl describe service ex-chosen`, event nodeAssigned")
            return Verdict(False, f"ex-chosen has {got}, but no speaker announces it yet ({where}); the speakers may "
                                  "need a moment")
        home = next((p for p, cfg in pool_config(self.kind).items()
                     if any(ipaddress.ip_address(plain_ip) in r for r in to_ranges(cfg["addresses"]))), "?")
        return Verdict(True, f"ex-chosen got {got} from ex-reserved because it names it, announced from "
                             f"{announcers[0]}; ex-plain, naming no pool, got {plain_ip} from pool {home}: with "
                             "autoAssign false MetalLB never picks ex-reserved for it")


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
        return docs(svc_yaml("ex-broken", {f"{self.prefix}/address-pool": self.TYPO}))

    def start(self) -> Outcome:
        """Create ex-broken as the colleague left it (once; a second call leaves it alone)."""
        if get_or_none(self.kind.core.read_namespaced_service, "ex-broken", "default") is not None:
            return Outcome(True, "ex-broken is already there (`kubectl get service ex-broken`)")
        return apply(self.kind, self.broken_text())

    def solution_steps(self) -> list[tuple[str, str]]:
        return [("kubectl", "describe service ex-broken"),
                ("kubectl", f"annotate service ex-broken {self.prefix}/address-pool=default --overwrite")]


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
            return final("ex-broken has an address, but its events (this uid's) show no AllocationFailed: it was "
                         "recreated rather than fixed. Delete it, run q6.start() again, and fix it in place")
        value, _ = annotation(self.era, svc, "address-pool")
        ranges, _ = self._pool("default")
        if value not in (None, "default"):
            return final(f"ex-broken got {got}, but not from pool default (it asks for {value!r})")
        if not any(ipaddress.ip_address(got) in r for r in ranges):  # the controller may be moving it right now
            return Verdict(False, f"ex-broken got {got}, but not from pool default (it asks for {value!r}); "
                                  "MetalLB moves it when the annotation changes")
        return Verdict(True, f"ex-broken got {got} from pool default. The controller had said: "
                             f"{failed[-1]['message']}; the annotation named a pool that does not exist")
