"""The learner's path through 07_exercises, in both MetalLB eras: the notebook cell by cell in one kernel, the
hints, solutions and progress cells skipped; for every exercise at least three near misses that learners really
type, each followed by the right answer on the same cluster with no cleanup in between, then the right YAML once
more. A near miss must get "Not yet" with its own reason (or, refused by the API, "Not applied" with its reason, and
then from the check "Not yet", or "Correct" where the right answer applied before it stays in place: nothing was
applied); the right answer "Correct" at once. After each right answer the test confirms the
cluster itself with raw kubectl, curl and the host's neighbour table (never our check code).

The series (test_series.py) runs :func:`learner_07` in its place, on the cluster notebooks 00-06 made. This module
runs it alone on a cluster set up as notebooks 02-04 leave it (``KINDLB_LEARNER_PATH=1``; otherwise skipped, so
that CI pays once).
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field

import pytest
import yaml

from _cluster_tier import ARTIFACTS, eras
from _driver import LearnerSaw, Notebook, expect, first_word, tags

NS = "metallb-system"
REASON_KEY = "kindlb.example/reason"
#: the cells a learner may skip in 07 (opened only when stuck, or only looked at)
OPTIONAL = ("hint-", "solution-", "progress")


# ---------- raw reads of the cluster (the test's own, never the check code's)

def kubectl(name: str, *args: str, check: bool = True, input: str | None = None) -> str:
    out = subprocess.run(["kubectl", "--context", f"kind-{name}", *args], capture_output=True, text=True,
                         timeout=60, input=input)
    if check and out.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def kjson(name: str, *args: str):
    text = kubectl(name, *args, "-o", "json", check=False)
    return json.loads(text) if text.strip() else None


def svc(name: str, service: str) -> dict | None:
    return kjson(name, "get", "service", service)


def ingress(obj: dict | None) -> str | None:
    ing = ((obj or {}).get("status", {}).get("loadBalancer", {}) or {}).get("ingress") or []
    return next((i.get("ip") for i in ing if i.get("ip")), None)


def reasons(name: str, obj: dict) -> list[str]:
    meta = obj["metadata"]
    evs = kjson(name, "get", "events", "--field-selector",
                f"involvedObject.name={meta['name']},involvedObject.uid={meta['uid']}") or {"items": []}
    return [e["reason"] for e in evs["items"]]


def configmap_pools(name: str) -> dict[str, dict]:
    cm = kjson(name, "-n", NS, "get", "configmap", "config") or {}
    cfg = yaml.safe_load((cm.get("data") or {}).get("config") or "") or {}
    return {p["name"]: p for p in cfg.get("address-pools") or []}


def pool_addresses(name: str, crds: bool, pool: str) -> list[str]:
    if crds:
        return (kjson(name, "-n", NS, "get", "ipaddresspool", pool) or {}).get("spec", {}).get("addresses") or []
    return [str(a) for a in configmap_pools(name).get(pool, {}).get("addresses") or []]


def in_ranges(ip: str, specs: list[str]) -> bool:
    a = ipaddress.ip_address(ip)
    for s in specs:
        if "-" in s:
            lo, hi = (ipaddress.ip_address(x.strip()) for x in s.split("-", 1))
            if lo <= a <= hi:
                return True
        elif a in ipaddress.ip_network(s, strict=False):
            return True
    return False


def l2_nodes(name: str, service: str) -> list[str]:
    """The nodes MetalLB's ServiceL2Status objects name for ``service`` (v0.14.2+)."""
    got = kjson(name, "-n", NS, "get", "servicel2statuses", "-l", f"metallb.io/service-name={service}") or {}
    return sorted({(i.get("status") or {}).get("node") for i in got.get("items", [])} - {None})


def http_code(ip: str, port: int = 80, within: float = 30) -> str:
    """curl from the host (the kind network is this machine's), until it answers 200 or ``within`` passes."""
    deadline, code = time.monotonic() + within, "000"
    while time.monotonic() < deadline:
        code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3",
                               f"http://{ip}:{port}/"], capture_output=True, text=True).stdout.strip() or "000"
        if code == "200":
            break
        time.sleep(1)
    return code


def mac_of_node(node: str) -> str:
    return subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.MacAddress}}{{end}}",
                           node], capture_output=True, text=True, timeout=30).stdout.strip().lower()


def answering_mac(ip: str) -> str | None:
    """Forget the host's neighbour entry for ``ip``, reach it with curl, and read which MAC answered ARP."""
    subprocess.run(["ip", "neigh", "flush", "to", ip], capture_output=True, timeout=10)
    if http_code(ip) != "200":
        return None
    line = subprocess.run(["ip", "neigh", "show", ip], capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"lladdr ([0-9a-f:]{17})", line)
    return m.group(1) if m else None


def wait_for(what: str, probe, within: float = 45):
    """Poll ``probe`` (returns (ok, detail)) until ok; fail naming ``what`` and the last detail."""
    deadline = time.monotonic() + within
    while True:
        ok, detail = probe()
        if ok or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert ok, f"the cluster itself: {what} (kubectl says: {detail})"
    return detail


# ---------- what a learner types

@dataclass
class Try:
    """One attempt at an exercise: the steps typed (``("apply", yaml)``, ``("kubectl", command)``, ``("cell",
    tag)`` to run a notebook cell again), and for a near miss the phrase its "Not yet" must contain."""

    what: str
    steps: list[tuple[str, str]]
    says: str | tuple = ""       # near miss: a phrase (or alternatives) of the check's own reason ("" when right)
    refused: str = ""            # near miss refused by the API: a phrase of the apply cell's "Not applied"
    not_in_verdict: tuple[str, ...] = ()   # what the verdict must not give away
    then: "Try | None" = None    # the right answer after this near miss, when it is not the exercise's usual one

    @property
    def right(self) -> bool:
        return not self.says


@dataclass
class Exercise:
    n: int
    near_misses: list[Try]
    right: Try
    confirm: object                  # callable() -> None: the cluster itself, after a right answer
    seconds: dict = field(default_factory=dict)


def service(name: str, annotations: dict | None = None, port: int = 80, app: str = "nginx", policy: str = "",
            spec_ip: str = "") -> str:
    """A LoadBalancer Service as a learner writes it."""
    ann = "".join(f"\n    {k}: \"{v}\"" for k, v in (annotations or {}).items())
    lines = [f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}" + (f"\n  annotations:{ann}" if ann else ""),
             "spec:\n  type: LoadBalancer"]
    if policy:
        lines.append(f"  externalTrafficPolicy: {policy}")
    if spec_ip:
        lines.append(f"  loadBalancerIP: {spec_ip}")
    lines.append(f"  selector:\n    app: {app}\n  ports:\n  - port: {port}\n    targetPort: 80\n")
    return "\n".join(lines)


class Writer:
    """The YAML a learner writes for pools in this era: CRDs, or the whole ConfigMap read back and edited."""

    def __init__(self, name: str, crds: bool) -> None:
        self.name, self.crds = name, crds

    def pool(self, pool: str, addresses: str, auto: bool | None = False, ns: str | None = NS, advert: bool = True,
             selectors: dict | None = None, selector_field: str = "nodeSelectors") -> str:
        """``ns=None``: no ``namespace:`` line (the learner forgot it)."""
        meta_ns = f"  namespace: {ns}\n" if ns else ""
        if not self.crds:  # the ConfigMap as `kubectl get configmap config -o yaml` shows it, one pool added
            cm = kjson(self.name, "-n", NS, "get", "configmap", "config") or {}
            cfg = yaml.safe_load((cm.get("data") or {}).get("config") or "") or {}
            pools = {p["name"]: p for p in cfg.get("address-pools") or []}
            entry = {"name": pool, "protocol": "layer2", "addresses": [addresses]}
            if auto is not None:
                entry["auto-assign"] = auto
            pools[pool] = entry
            config = yaml.safe_dump({**cfg, "address-pools": list(pools.values())}, sort_keys=False)
            # `config: |` as a learner writes it (a block, no escapes: safe_dump would quote the string with \n
            # escapes, which the answer cell's triple-quoted string turns into real line breaks)
            return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\n{meta_ns}data:\n"
                    "  config: |\n" + "".join(f"    {line}\n" for line in config.splitlines()))
        text = (f"apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: {pool}\n{meta_ns}"
                f"spec:\n  addresses:\n  - {addresses}\n" + (f"  autoAssign: {str(auto).lower()}\n" if auto is not None
                                                               else ""))
        if advert:
            text += (f"---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata:\n  name: {pool}\n"
                     f"{meta_ns}spec:\n  ipAddressPools:\n  - {pool}\n")
            if selectors:
                text += f"  {selector_field}:\n  - matchLabels:\n" + "".join(
                    f"      {k}: {v}\n" for k, v in selectors.items())
        return text


def docs(*parts: str) -> str:
    return "---\n".join(p if p.endswith("\n") else p + "\n" for p in parts)


# ---------- the exercises, their near misses and the cluster's own confirmation

def exercises(name: str, crds: bool, t, prefix: str, default_pool: list[str]) -> list[Exercise]:
    """Every exercise with its near misses, for this cluster (``t``: the addresses the tasks name)."""
    w = Writer(name, crds)
    pool_key, ips_key, share_key = (f"{prefix}/address-pool", f"{prefix}/loadBalancerIPs",
                                    f"{prefix}/allow-shared-ip")
    other_prefix = "metallb.io" if prefix != "metallb.io" else None  # a prefix this release does not read
    out = []

    # 1: exhaust a pool, and read why
    def pending_one() -> str:
        """The Service a learner sees waiting (`kubectl get services`), once MetalLB has handed out the address."""
        def one_waits():
            got = {s: ingress(svc(name, s)) for s in ("ex-first", "ex-second")}
            waiting = [s for s, ip in got.items() if not ip]
            return len(waiting) == 1, waiting
        return wait_for("exactly one of ex-first and ex-second waits", one_waits)[0]

    def one_services() -> str:
        return docs(service("ex-first", {pool_key: "ex-one"}), service("ex-second", {pool_key: "ex-one"}))

    def confirm1():
        assert pool_addresses(name, crds, "ex-one") == [f"{t.one}/32"], pool_addresses(name, crds, "ex-one")
        if crds:
            assert (kjson(name, "-n", NS, "get", "ipaddresspool", "ex-one")["spec"].get("autoAssign")) is False
        else:
            assert configmap_pools(name)["ex-one"].get("auto-assign") is False

        def state():
            s = {n: svc(name, n) for n in ("ex-first", "ex-second")}
            ips = {n: ingress(o) for n, o in s.items()}
            waiting = [n for n, ip in ips.items() if not ip]
            ok = sorted(ips.values(), key=str) == sorted([t.one, None], key=str) and len(waiting) == 1
            if ok:
                o = s[waiting[0]]
                ok = ("AllocationFailed" in reasons(name, o)
                      and (o["metadata"].get("annotations") or {}).get(REASON_KEY) == "AllocationFailed")
            return ok, ips
        wait_for(f"one of ex-first/ex-second holds {t.one}, the other waits with AllocationFailed recorded", state)

    out.append(Exercise(1, [
        Try("the pool's address without /32",
            [("apply", lambda: docs(w.pool("ex-one", t.one), one_services()))],
            says="no pool 'ex-one'", refused="invalid CIDR"),
        Try("autoAssign left out (it defaults to true)",
            [("apply", lambda: w.pool("ex-one", f"{t.one}/32", auto=None))], says="autoAssign true"),
        Try("the Service's state written as the Reason",
            [("kubectl", lambda: f"annotate service {pending_one()} {REASON_KEY}=Pending --overwrite")],
            says="is not a Reason in its Events"),
    ], Try("the solution", [("apply", lambda: docs(w.pool("ex-one", f"{t.one}/32"), one_services())),
                            ("kubectl", lambda: f"annotate service {pending_one()} {REASON_KEY}=AllocationFailed "
                                            "--overwrite")]), confirm1))

    # 2: pin a Service to an address
    def confirm2():
        wait_for(f"ex-pinned has {t.pin}", lambda: (ingress(svc(name, "ex-pinned")) == t.pin,
                                                    ingress(svc(name, "ex-pinned"))))
        assert http_code(t.pin) == "200"

    out.append(Exercise(2, [
        Try("the singular key loadBalancerIP", [("apply", lambda: service("ex-pinned", {f"{prefix}/loadBalancerIP": t.pin}))],
            says="did you mean", not_in_verdict=(t.pin,)),
        Try("the address asked twice, in the annotation and in spec.loadBalancerIP",
            [("apply", lambda: service("ex-pinned", {ips_key: t.pin}, spec_ip=t.pin))], says="both"),
        Try("the address written with /32", [("apply", lambda: service("ex-pinned", {ips_key: f"{t.pin}/32"}))],
            says="/32"),
    ], Try("the solution", [("apply", lambda: service("ex-pinned", {ips_key: t.pin}))]), confirm2))

    # 3: a pool only for those who ask (and announced: the address must answer)
    reserved = t.reserved

    def three(pool_yaml: str, chosen_pool: str = "ex-reserved", chosen_key: str = pool_key) -> str:
        return docs(pool_yaml, service("ex-chosen", {chosen_key: chosen_pool}), service("ex-plain"))

    def confirm3():
        def state():
            a, b = ingress(svc(name, "ex-chosen")), ingress(svc(name, "ex-plain"))
            return bool(a and b and in_ranges(a, [reserved]) and not in_ranges(b, [reserved])), (a, b)
        chosen, _ = wait_for(f"ex-chosen has an address of {reserved}, ex-plain one elsewhere", state)
        if crds:
            wait_for("a ServiceL2Status for ex-chosen (a speaker announces it)",
                     lambda: (bool(l2_nodes(name, "ex-chosen")), l2_nodes(name, "ex-chosen")))
        assert http_code(chosen) == "200", f"ex-chosen's {chosen} does not answer HTTP from the host"

    first3 = (Try("no L2Advertisement for the pool", [("apply", lambda: three(w.pool("ex-reserved", reserved, advert=False)))],
                  says="L2Advertisement") if crds else
              Try("the annotation with the prefix of a newer MetalLB (metallb.io/)",
                  [("apply", lambda: three(w.pool("ex-reserved", reserved), chosen_key=f"{other_prefix}/address-pool"))],
                  says="does not read"))
    out.append(Exercise(3, [
        first3,
        Try("autoAssign left out (it defaults to true)", [("apply", lambda: three(w.pool("ex-reserved", reserved, auto=None)))],
            says="autoAssign true"),
        Try("ex-chosen names the pool without its ex- prefix",
            [("apply", lambda: three(w.pool("ex-reserved", reserved), chosen_pool="reserved"))],
            says=("pool 'reserved'", 'unknown pool "reserved"')),
        # no namespace: the pool (v0.16.1: MetalLB's webhook) or the ConfigMap (v0.12.1: our apply) would land in
        # default; refused with the fix, and the right answer before it stays in place
        Try("the pool written without namespace: metallb-system",
            [("apply", lambda: three(w.pool("ex-reserved", reserved, ns=None)))],
            refused="add `namespace: metallb-system`"),
    ], Try("the solution", [("apply", lambda: three(w.pool("ex-reserved", reserved)))]), confirm3))

    # 4: share one address between two Services
    def four(alt_ann: dict | None = None, alt_port: int = 8080) -> str:
        web = {share_key: "ex-share", ips_key: t.share}
        return docs(service("ex-share-web", web), service("ex-share-alt", alt_ann if alt_ann is not None else web,
                                                          port=alt_port))

    def confirm4():
        wait_for(f"ex-share-web and ex-share-alt both have {t.share}",
                 lambda: ((ingress(svc(name, "ex-share-web")), ingress(svc(name, "ex-share-alt"))) == (t.share,) * 2,
                          (ingress(svc(name, "ex-share-web")), ingress(svc(name, "ex-share-alt")))))
        assert (http_code(t.share, 80), http_code(t.share, 8080)) == ("200", "200")

    out.append(Exercise(4, [
        Try("ex-share-alt without allow-shared-ip", [("apply", lambda: four({ips_key: t.share}))], says="allow-shared-ip"),
        Try("a different sharing key on ex-share-alt", [("apply", lambda: four({share_key: "ex-share-2", ips_key: t.share}))],
            says="sharing keys differ"),
        Try("both Services on port 80", [("apply", lambda: four(alt_port=80))], says="port 80"),
    ], Try("the solution", [("apply", lambda: four())]), confirm4))

    # 5: choose the announcing node
    workers = sorted(n for n in kubectl(name, "get", "nodes", "-o", "name").replace("node/", "").split()
                     if "control-plane" not in n)
    other = next(n for n in workers if n != t.worker)
    if crds:
        def five(selectors=None, field_name="nodeSelectors") -> str:
            return docs(w.pool("ex-l2", f"{t.l2}/32", selectors=selectors, selector_field=field_name),
                        service("ex-node", {pool_key: "ex-l2"}))

        mine = {"kubernetes.io/hostname": t.worker}
        near5 = [Try("nodeSelector (singular) in the L2Advertisement", [("apply", lambda: five(mine, "nodeSelector"))],
                     says="no pool 'ex-l2'", refused="nodeSelector"),
                 Try("no nodeSelectors at all", [("apply", lambda: five())], says="no nodeSelectors"),
                 Try("nodeSelectors that select the other worker",
                     [("apply", lambda: five({"kubernetes.io/hostname": other}))], says="select")]
        right5 = Try("the solution", [("apply", lambda: five(mine))])
        svc5 = "ex-node"
    else:
        def five(node=t.worker, policy="Local", app="ex-lone") -> str:
            dep = (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ex-lone\nspec:\n  replicas: 1\n"
                   f"  selector:\n    matchLabels:\n      app: ex-lone\n  template:\n    metadata:\n      labels:\n"
                   f"        app: ex-lone\n    spec:\n      nodeSelector:\n        kubernetes.io/hostname: {node}\n"
                   f"      containers:\n      - name: nginx\n        image: {t.image}\n        ports:\n"
                   f"        - containerPort: 80\n")
            return docs(dep, service("ex-local", app=app, policy=policy))

        near5 = [Try("externalTrafficPolicy left at Cluster", [("apply", lambda: five(policy="Cluster"))], says="Cluster"),
                 Try("the Service copied from nginx's (selector app: nginx)", [("apply", lambda: five(app="nginx"))],
                     says="selector"),
                 Try("the pod pinned to the other worker", [("apply", lambda: five(node=other))],
                     says="pins its pod to")]
        right5 = Try("the solution", [("apply", lambda: five())])
        svc5 = "ex-local"

    def confirm5():
        ip = wait_for(f"{svc5} has an address", lambda: (bool(ingress(svc(name, svc5))), ingress(svc(name, svc5))))
        if crds:
            wait_for(f"ServiceL2Status names {t.worker} only", lambda: (l2_nodes(name, svc5) == [t.worker],
                                                                         l2_nodes(name, svc5)))
        want = mac_of_node(t.worker)
        # on the wire: the old node's speaker lets go once its pod is gone, which a rollout takes seconds to finish
        # (v0.12.1 wrote nodeAssigned for both nodes in the same second); a learner's curl a moment later sees this
        wait_for(f"the host's neighbour table: {ip} at {t.worker}'s MAC {want} ({other} has {mac_of_node(other)})",
                 lambda: ((mac := answering_mac(ip)) == want, mac), within=20)

    out.append(Exercise(5, near5, right5, confirm5))

    # 6: break-fix, in place
    def failed_then(command: str) -> str:
        """``command``, typed once the controller has written why ex-broken waits (a learner reads it first)."""
        wait_for("ex-broken's own events show AllocationFailed",
                 lambda: ("AllocationFailed" in reasons(name, svc(name, "ex-broken")), None))
        return command

    def fix(pool: str) -> tuple[str, str]:
        return ("kubectl", f"annotate service ex-broken {pool_key}={pool} --overwrite")

    def confirm6():
        def state():
            o = svc(name, "ex-broken")
            ip = ingress(o)
            ok = bool(ip and in_ranges(ip, default_pool) and "AllocationFailed" in reasons(name, o)
                      and (o["metadata"].get("annotations") or {}).get(pool_key) == "default")
            return ok, ip
        wait_for("ex-broken has an address of pool default, its own events show AllocationFailed first", state)

    out.append(Exercise(6, [
        Try("the pool name with a capital D", [fix("Default")], says="<pending>"),
        Try("the pool of exercise 3 instead of default", [fix("ex-reserved")], says="not from pool default"),
        Try("a re-created Service instead of a fixed one",
            [("kubectl", "delete service ex-broken"), ("apply", lambda: service("ex-broken", {pool_key: "default"}))],
            says="recreated",
            then=Try("what the check says: delete it, q6.start() again, read its events, fix it in place",
                     [("kubectl", "delete service ex-broken"), ("cell", "start-6"),
                      ("kubectl", lambda: failed_then("describe service ex-broken")), fix("default")])),
    ], Try("the fix in place", [fix("default")]), confirm6))
    return out


# ---------- driving 07

def _type_answer(source: str, text: str) -> str:
    """The answer cell with ``text`` typed between its triple quotes."""
    return re.sub(r'("""\n?)(.*?)(""")', lambda m: m.group(1) + text + m.group(3), source, count=1, flags=re.S)


def _kubectl_cell(source: str, command: str) -> str:
    """The kubectl cell (as the notebook has it) with ``command`` typed between its quotes."""
    return re.sub(r'=\s*"[^"\n]*"', lambda m: f"= {command!r}", source, count=1)


def _step(nb: Notebook, n: int, how: str, text, original: dict):
    text = text() if callable(text) else text  # what the learner types can depend on what they just saw
    if how == "apply":
        i = nb.find(f"answer-{n}")
        return nb.run(i, _type_answer(original[i], text))
    if how == "kubectl":
        try:
            i = nb.find(f"kubectl-{n}")
        except LearnerSaw:  # no kubectl cell in this exercise: the learner adds one
            return nb.append(f"kh.exercises.kubectl(k, {text!r})")
        return nb.run(i, _kubectl_cell(original[i], text))
    return nb.run(nb.find(text))  # ("cell", tag): run a notebook cell again (q6.start())


def attempt(nb: Notebook, ex: Exercise, tr: Try, original: dict) -> None:
    """Type the try's steps, run the check, and judge what the learner saw."""
    start = time.monotonic()
    for how, text in tr.steps:
        ran = _step(nb, ex.n, how, text, original)
        word = first_word(ran.text)
        if tr.refused and how == "apply":
            expect(nb, ran, word == "Not applied" and tr.refused in ran.text,
                   f"'Not applied: ...' naming {tr.refused!r} ({tr.what})")
        else:
            expect(nb, ran, word in ("Applied", "Ran"), f"'Applied'/'Ran' for {tr.what}")
    check = nb.run(nb.find(f"check-{ex.n}"))
    verdict = check.text
    if tr.right:
        expect(nb, check, first_word(verdict) == "Correct", f"'Correct' at once for {tr.what}")
    else:
        phrases = tr.says if isinstance(tr.says, tuple) else (tr.says,)
        expect(nb, check, first_word(verdict) == "Not yet" and any(p in verdict for p in phrases),
               f"'Not yet' with its own reason ({tr.says!r}) for the near miss: {tr.what}")
        for secret in tr.not_in_verdict:
            expect(nb, check, secret not in verdict, f"a verdict that does not give away {secret!r}")
    ex.seconds[tr.what] = round(time.monotonic() - start, 1)


def walk(nb: Notebook, ex: Exercise, original: dict, after_recreate=None) -> list[str]:
    """The near misses, each followed by the right answer, then the right YAML once more; the cluster confirmed."""
    said = []
    for miss in ex.near_misses:
        attempt(nb, ex, miss, original)
        said.append(nb.ran[-1].text)
        attempt(nb, ex, miss.then or ex.right, original)
        ex.confirm()
    if any(how == "apply" for how, _ in ex.right.steps):
        attempt(nb, ex, Try("the right YAML applied twice", ex.right.steps), original)
    return said


def learner_07(cluster_name: str, params: dict, version: str, km=None) -> dict:
    """07_exercises on the learner's path (see the module's docstring); returns what each near miss said and
    how long each try took."""
    import kindlb_helpers as kh

    k = kh.cluster.connect(cluster_name)
    kh.exercises.cleanup(k)  # a learner arrives with no ex-* objects (the slot's cluster may hold a past run's)
    t = kh.exercises.targets(k, fresh=True)
    q = kh.exercises.PinAddress(k)
    crds = t.era.uses_crds
    default_pool = pool_addresses(cluster_name, crds, "default")
    plan = {e.n: e for e in exercises(cluster_name, crds, t, q.prefix, default_pool)}
    report = {"version": version, "said": {}, "seconds": {}}
    with Notebook("07_exercises", {"cluster": cluster_name, "interactive": False, **params}, km=km,
                  save_to=ARTIFACTS / "learner-path" / version) as nb:
        original = {i: c.source for i, c in enumerate(nb.cells)}
        start = time.monotonic()
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            tg = tags(cell)
            if any(x.startswith(OPTIONAL) for x in tg) and "progress-end" not in tg:
                continue
            m = next((re.match(r"(answer|check|kubectl)-(\d)", x) for x in tg if re.match(r"(answer|check|kubectl)-", x)),
                     None)
            if m:
                if m.group(1) == "answer":
                    ex = plan[int(m.group(2))]
                    report["said"][ex.n] = walk(nb, ex, original)
                    report["seconds"][ex.n] = ex.seconds
                continue
            ran = nb.run(i)
            if "progress-end" in tg:
                expect(nb, ran, "6/6 done" in ran.text and "..." not in ran.text,
                       "the progress table, read whole, with every exercise done")
            if "task-" in " ".join(tg):
                n = int(next(x for x in tg if x.startswith("task-"))[5:])
                wanted = {1: t.one, 2: t.pin, 3: t.reserved.split("-")[0], 4: t.share, 5: t.worker}.get(n)
                if wanted:
                    expect(nb, ran, wanted in ran.text, f"the task naming {wanted}")
                if n == 3 and crds:
                    expect(nb, ran, "L2Advertisement" in ran.text, "task 3 asking for an L2Advertisement too")
        report["total"] = round(time.monotonic() - start, 1)
    left = [s for s in kubectl(cluster_name, "get", "services,deployments", "-o", "name").split() if "/ex-" in s]
    assert left == [], f"07's last cell (clean up) left {left}"
    return report


def summary(report: dict) -> str:
    lines = [f"MetalLB {report['version']}: 07 on the learner's path in {report['total']} s"]
    for n, secs in report["seconds"].items():
        lines.append(f"  exercise {n}: " + "; ".join(f"{w} {s} s" for w, s in secs.items()))
    return "\n".join(lines)


# ---------- alone, on a cluster as notebooks 02-04 leave it

pytestmark = pytest.mark.skipif(not os.environ.get("KINDLB_LEARNER_PATH"),
                                reason="the series runs this; KINDLB_LEARNER_PATH=1 runs it alone")


@pytest.fixture(scope="module", params=eras())
def era(request, cluster) -> dict:
    from _lesson_setup import as_02_to_04_leave_it

    return as_02_to_04_leave_it(cluster, request.param)


def test_07_every_exercise_near_misses_then_right(cluster, era):
    report = learner_07(era["name"], era["params"], era["version"])
    print(summary(report))
