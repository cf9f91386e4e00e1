"""Causing one case on purpose and repairing it (notebook 08), and cleaning up after an interrupted run.

:func:`cause` breaks one thing and creates the Service (``ts-case<N>``) that shows it, then waits until MetalLB
has acted on it. It returns a :class:`Case` that says only that something changed: what was done stays folded
until the diagnosis shows it. :func:`repair` mends it, waits until the Service is served again and removes every
``ts-*`` object; :func:`cleanup` undoes whatever an interrupted run left (safe twice). The speakers are broken by
a nodeSelector no node matches.
"""
from __future__ import annotations

import datetime as _dt
import html
import ipaddress
import json
import time
from dataclasses import dataclass

from ..._cluster.kube import Kind, delete, events_for, get_or_none, is_ready
from ..._cluster.kube import server_side_apply as _apply
from ..._cluster.metallb import configure, l2_advertisements, wait_ready
from ..._cluster.sources import resolve
from ..._cluster.waits import wait_until
from ..._core import hood as _hood
from ..._core.errors import KindlbError, WaitTimeout
from ..._core.manifests import NAMESPACE
from ..exercises import add_pool, free_addresses, lb_service, pool_config
from ..exercises import cleanup as _cleanup
from ..render import HOOD_CLASS, PRE
from .failures import EXCLUDE, NOWHERE, PREFIX, applies, case_number, failure_of, installed, ip_of, not_here, service_of


@dataclass
class Case:
    """One staged case: its number, the Service that shows it, when it began (the evidence's time window) and
    what was done (``hood``, shown folded: the diagnosis reveals it). ``skipped``: why this release has no such
    case (nothing was changed)."""

    number: int
    service: str
    since: _dt.datetime
    hood: _hood.Hood | None = None
    skipped: str = ""

    @property
    def failure(self) -> str:
        """The failure it shows (a key of ``FAILURES``): the answer, for the diagnosis."""
        return failure_of(self.number)

    def __repr__(self) -> str:
        if self.skipped:
            return f"Case {self.number}: {self.skipped}"
        return (f"Case {self.number}: something changed in the cluster; Service {self.service} shows it. "
                "Read the evidence below; what was done is shown with the diagnosis.")

    def _repr_html_(self) -> str:
        if self.skipped:
            return f"<div><b>Case {self.number}</b>: {html.escape(self.skipped)}</div>"
        return (f"<div><b>Case {self.number}: something changed in the cluster.</b> Service "
                f"<code>{html.escape(self.service)}</code> shows it: read the evidence below.</div>"
                + folded_hood(self.hood, "What was done (a spoiler: open it after your diagnosis)"))


def folded_hood(hood: _hood.Hood | None, summary: str) -> str:
    """A hood's commands inside a closed ``<details>``: there for whoever opens it, not in sight."""
    if hood is None:
        return ""
    return (f"<details class='{HOOD_CLASS}' style='border-left:3px solid #0969da;padding-left:0.6em;"
            f"margin:0.3em 0'><summary>{html.escape(summary)}</summary>"
            f"<pre style='{PRE}'>{html.escape(hood.text())}</pre></details>")


def _speaker_patch(selector: dict) -> dict:
    return {"spec": {"template": {"spec": {"nodeSelector": selector}}}}


def _patch_speakers(kind: Kind, selector: dict, why: str) -> _hood.Step:
    patch = _speaker_patch(selector)
    kind.apps.patch_namespaced_daemon_set("speaker", NAMESPACE, patch)
    return _hood.Step(_hood.kubectl(kind.cluster, "patch", "daemonset", "speaker", "-p",
                                    json.dumps(patch, separators=(",", ":")), namespace=NAMESPACE), why)


#: How long the speakers get to announce a Service once they are all ready again, before it is touched (s).
ANNOUNCE_WITHIN = 30
#: The annotation that touches a Service (any change to it makes every speaker weigh it again).
RECHECK = "kindlb.example/recheck"


def _recheck(kind: Kind, service: str) -> _hood.Step:
    """Touch ``service`` (one annotation) so that every speaker weighs it again.

    Needed when all speakers start at once (case 4's repair): MetalLB v0.16.1 speakers may weigh a Service before
    they have read the Nodes. A node they have not read counts as a candidate, so the control-plane, which its
    exclude-from-external-load-balancers label keeps out, may win the election in their eyes, and they stand
    down; the control-plane's speaker, which knows its label, stands down too. Reading a Node for the first time
    does not make a speaker weigh the Services again (``SetNode`` and ``isNodeAvailableChanged`` in
    ``speaker/main.go``: a node not seen before is "not changed"); a change to the Service does.
    """
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    kind.core.patch_namespaced_service(service, "default", {"metadata": {"annotations": {RECHECK: stamp}}})
    return _hood.Step(_hood.kubectl(kind.cluster, "annotate", "service", service, f"{RECHECK}={stamp}", "--overwrite"),
                      f"every speaker was ready, yet none announced {service} within {ANNOUNCE_WITHIN} s: speakers "
                      "that start together may weigh it before they have read the Nodes (then the control-plane, "
                      "kept out by its label, can win the election in their eyes) and are not told to weigh it "
                      "again when they read them; any change to the Service is")


def _settle(done, why: str, timeout: float = 90, required: bool = True) -> bool:
    """Wait (bounded) until ``done()``; a WaitTimeout after ``timeout`` when ``required``, else False."""
    try:
        wait_until(lambda: (bool(done()), why), timeout=timeout, desc=why, progress=False)
    except WaitTimeout:
        if not required:
            return False
        raise WaitTimeout(f"{why} after {timeout:.0f} s: run the cell again") from None
    return True


def _has_ip(kind: Kind, service: str) -> bool:
    svc = get_or_none(kind.core.read_namespaced_service, service, "default")
    return bool(svc and ip_of(svc))


def _has_event(kind: Kind, service: str, reason: str) -> bool:
    svc = get_or_none(kind.core.read_namespaced_service, service, "default")
    return bool(svc) and any(e["reason"] == reason for e in events_for(kind, service, "default", uid=svc.metadata.uid))


def _fresh(kind: Kind, service: str) -> None:
    """Delete an old incarnation of ``service`` so that the new one starts with no history."""
    if get_or_none(kind.core.read_namespaced_service, service, "default") is not None:
        delete(kind, "v1", "Service", service, "default")
        _settle(lambda: get_or_none(kind.core.read_namespaced_service, service, "default") is None,
                f"Service {service} is still being deleted", 30)


def _workers(kind: Kind) -> list[str]:
    return sorted(n.metadata.name for n in kind.core.list_node().items
                  if "node-role.kubernetes.io/control-plane" not in (n.metadata.labels or {}))


def _control_plane(kind: Kind) -> str:
    return next(n.metadata.name for n in kind.core.list_node().items
                if "node-role.kubernetes.io/control-plane" in (n.metadata.labels or {}))


def _next_second() -> _dt.datetime:
    """Wait for the next whole second and return it (UTC): the case's window starts there, so that
    ``kubectl logs --since-time`` (whole seconds) shows this case's lines and none of the one before."""
    now = time.time()
    time.sleep(int(now) + 1 - now)
    return _dt.datetime.fromtimestamp(int(now) + 1, _dt.timezone.utc)


def cause(kind: Kind, number: int, image: str | None = None) -> Case:
    """Break one thing (case ``number``, 1 to 8) and create the Service that shows it; say only that something
    changed (the :class:`Case` keeps what was done, folded)."""
    n = case_number(number)
    what, service = failure_of(n), service_of(n)
    here = installed(kind)
    if here is None:
        raise KindlbError("MetalLB is not installed: run notebooks 02 and 03 first")
    if not applies(kind, n):
        return Case(n, service, _dt.datetime.now(_dt.timezone.utc), None, not_here(kind, n))
    crds = here.uses_crds
    c = kind.cluster
    steps: list[_hood.Step] = []
    _fresh(kind, service)
    since = _next_second()
    wait_for = None
    annotations = None
    app, policy = "nginx", None
    if what == "no pool":
        if crds:
            delete(kind, "metallb.io/v1beta1", "IPAddressPool", "default", NAMESPACE)
            steps.append(_hood.Step(_hood.kubectl(c, "delete", "ipaddresspool", "default", namespace=NAMESPACE),
                                    "the pool goes; its L2Advertisement stays"))
            wait_for = None  # the controller says nothing on the Service: see below
        else:
            delete(kind, "v1", "ConfigMap", "config", NAMESPACE)
            steps.append(_hood.Step(_hood.kubectl(c, "delete", "configmap", "config", namespace=NAMESPACE),
                                    "the ConfigMap era keeps every pool in this one ConfigMap"))
            wait_for = lambda: _has_ip(kind, service)  # noqa: E731  (v0.12.1 keeps the last valid config)
    elif what == "no L2Advertisement":
        delete(kind, "metallb.io/v1beta1", "L2Advertisement", "default", NAMESPACE)
        steps.append(_hood.Step(_hood.kubectl(c, "delete", "l2advertisement", "default", namespace=NAMESPACE),
                                "the pool stays: addresses are still handed out"))
        wait_for = lambda: _has_ip(kind, service)  # noqa: E731
    elif what == "pool exhausted":
        one = str(free_addresses(kind, 2, ignore=(PREFIX,)).first)  # the next one is free too: the repair
        key = f"{here.annotation_prefix}/address-pool"  # metallb.io/ from v0.14.9 (core.release)
        pool, first = f"{service}-pool", f"{service}-first"
        steps += add_pool(kind, pool, one, auto_assign=False).hood.steps
        _fresh(kind, first)
        steps += lb_service(kind, first, annotations={key: pool}).hood.steps
        _settle(lambda: _has_ip(kind, first), f"{first} has no address yet")
        annotations = {key: pool}
        wait_for = lambda: _has_event(kind, service, "AllocationFailed")  # noqa: E731
    elif what == "speakers not ready":
        steps.append(_patch_speakers(kind, NOWHERE, "a nodeSelector no node matches: every speaker pod goes"))
        _settle(lambda: not any(is_ready(p) and not p.metadata.deletion_timestamp for p in
                                kind.core.list_namespaced_pod(NAMESPACE, label_selector="component=speaker").items),
                "the speaker pods are still there")
        wait_for = lambda: _has_ip(kind, service)  # noqa: E731
    elif what == "no endpoints":
        app = "ngnix"  # the typo
        wait_for = lambda: _has_ip(kind, service)  # noqa: E731
    elif what == "Local without announcer":
        cp = _control_plane(kind)
        dep = _cp_deployment(service, cp, image or _nginx_image(kind))
        _apply(kind, [dep])
        steps.append(_hood.Step(_hood.kubectl(c, "apply", "-f", f"{service}.yaml"), f"one nginx pod, on {cp} only",
                                ((f"{service}.yaml", [dep]),)))
        _settle(lambda: any(is_ready(p) for p in kind.core.list_namespaced_pod(
            "default", label_selector=f"app={service}").items), f"the {service} pod is not ready", 120)
        app, policy = service, "Local"
        wait_for = lambda: _has_ip(kind, service)  # noqa: E731
    elif what == "excluded nodes":
        workers = _workers(kind)
        for w in workers:
            kind.core.patch_node(w, {"metadata": {"labels": {EXCLUDE: ""}}})
        steps.append(_hood.Step(_hood.kubectl(c, "label", "node", *workers, f"{EXCLUDE}="),
                                "the control-plane has it already (kubeadm)"))
        if EXCLUDE in here.honoured_labels:
            wait_for = lambda: _has_ip(kind, service)  # noqa: E731
        else:  # a release that ignores the label announces as before: wait for its word
            wait_for = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    else:  # ping vs TCP: nothing is broken
        wait_for = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    done = lb_service(kind, service, annotations=annotations, app=app, policy=policy)
    steps += done.hood.steps
    if wait_for is None:
        _settle(lambda: _has_event(kind, service, "AllocationFailed") or _has_ip(kind, service),
                "no word from the controller", timeout=15, required=False)
    else:
        _settle(wait_for, f"MetalLB has not acted on {service} yet")
    time.sleep(2)  # let the speakers have their say (or not) before the evidence is read
    return Case(n, service, since, _hood.Hood(f"case {n}: what was done", steps))


def _nginx_image(kind: Kind) -> str:
    """The image notebook 04's nginx runs (it is on the nodes), else the one resolver's (a bundle's, the lab's)."""
    dep = get_or_none(kind.apps.read_namespaced_deployment, "nginx", "default")
    return dep.spec.template.spec.containers[0].image if dep else resolve("nginx").value


def _cp_deployment(name: str, node: str, image: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                                           "tolerations": [{"key": "node-role.kubernetes.io/control-plane",
                                                            "operator": "Exists", "effect": "NoSchedule"}],
                                           "containers": [{"name": "nginx", "image": image,
                                                           "ports": [{"containerPort": 80}]}]}}}}


def repair(kind: Kind, case: Case | int, pool: str, timeout: float = 180) -> _hood.Done:
    """Mend what :func:`cause` broke in ``case``; wait until its Service is served again (or the kept config is
    restored), then remove every ``ts-*`` object."""
    n = case.number if isinstance(case, Case) else case_number(case)
    what, service = failure_of(n), service_of(n)
    if not applies(kind, n):
        return _hood.Done(f"case {n}: nothing to repair in this era", _hood.Hood(f"case {n}", []))
    c = kind.cluster
    steps: list[_hood.Step] = []
    check = lambda: _has_ip(kind, service)  # noqa: E731
    if what in ("no pool", "no L2Advertisement"):
        steps += configure(kind, pool, "default").hood.steps
        if what == "no L2Advertisement":
            check = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    elif what == "pool exhausted":
        one = pool_config(kind)[f"{service}-pool"]["addresses"][0].split("/")[0].split("-")[0]
        grown = f"{one}-{ipaddress.ip_address(one) + 1}"
        steps += add_pool(kind, f"{service}-pool", grown, auto_assign=False).hood.steps
    elif what == "speakers not ready":
        steps.append(_patch_speakers(kind, {k: None for k in NOWHERE}, "remove that nodeSelector again"))
        steps += wait_ready(kind, timeout=timeout, progress=False).hood.steps
        check = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
        if not _settle(check, f"{service} is not announced yet", ANNOUNCE_WITHIN, required=False):
            steps.append(_recheck(kind, service))
    elif what == "no endpoints":
        kind.core.patch_namespaced_service(service, "default", {"spec": {"selector": {"app": "nginx"}}})
        steps.append(_hood.Step(_hood.kubectl(c, "patch", "service", service, "-p",
                                              '{"spec":{"selector":{"app":"nginx"}}}'), "the selector, spelt right"))
        check = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    elif what == "Local without announcer":
        kind.core.patch_namespaced_service(service, "default", {"spec": {"externalTrafficPolicy": "Cluster"}})
        steps.append(_hood.Step(_hood.kubectl(c, "patch", "service", service, "-p",
                                              '{"spec":{"externalTrafficPolicy":"Cluster"}}'),
                                "or run a pod on a worker: either gives MetalLB a node that may announce"))
        check = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    elif what == "excluded nodes":
        workers = _workers(kind)
        for w in workers:
            kind.core.patch_node(w, {"metadata": {"labels": {EXCLUDE: None}}})
        steps.append(_hood.Step(_hood.kubectl(c, "label", "node", *workers, f"{EXCLUDE}-"), "the workers may announce"))
        check = lambda: _has_event(kind, service, "nodeAssigned")  # noqa: E731
    _settle(check, f"{service} is not served yet", timeout)
    cleaned = _cleanup(kind, PREFIX)
    return _hood.Done(f"case {n} repaired; removed the ts-* objects", _hood.Hood(f"repair case {n}",
                                                                                steps + cleaned.hood.steps))


def cleanup(kind: Kind, pool: str | None = None) -> _hood.Done:
    """Remove every ``ts-*`` object and undo any failure left by an interrupted run; safe twice."""
    here = installed(kind)
    if here is not None:
        ds = get_or_none(kind.apps.read_namespaced_daemon_set, "speaker", NAMESPACE)
        if ds is not None and any(k in (ds.spec.template.spec.node_selector or {}) for k in NOWHERE):
            _patch_speakers(kind, {k: None for k in NOWHERE}, "undo")
        for w in _workers(kind):
            n = kind.core.read_node(w)
            if EXCLUDE in (n.metadata.labels or {}):
                kind.core.patch_node(w, {"metadata": {"labels": {EXCLUDE: None}}})
        if pool is not None:
            have = pool_config(kind)
            if "default" not in have or (here.uses_crds and not any(
                    a["metadata"]["name"] == "default" for a in l2_advertisements(kind))):
                configure(kind, pool, "default")
    return _cleanup(kind, PREFIX)
