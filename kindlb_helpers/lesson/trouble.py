"""Troubleshooting on purpose: cause one failure :func:`~kindlb_helpers.cluster.metallb.diagnose` can name, look at
it the way MetalLB's troubleshooting guide does, and repair it.

:func:`look` puts the library's diagnosis beside what a person would read: ``kubectl describe svc``
(run for real), the Service's events, and the last lines of the controller's and the speakers'
logs. :func:`cause` and :func:`repair` break and mend one thing at a time; every object they
create is named ``ts-...`` and :func:`cleanup` removes it.
"""
from __future__ import annotations

import html
import ipaddress
import json

import pandas as pd

from ..cluster.kube import Kind, delete, events_for
from ..cluster.metallb import configure, diagnose, installed_version, readiness, wait_ready
from ..core import hood as _hood
from ..core.errors import KindlbError
from ..core.manifests import NAMESPACE, uses_crds
from .exercises import add_pool, free_addresses, lb_service, pool_config, remove_pool
from .exercises import cleanup as _cleanup

#: The failures this notebook causes, and a phrase the right diagnosis contains.
CAUSES = {
    "no pool": "no address pool",
    "no L2Advertisement": "no L2Advertisement",
    "pool exhausted": "pool is exhausted",
    "speakers not ready": "MetalLB is not ready",
}
PREFIX = "ts-"
#: One Service per failure: events outlive a deleted Service, so a reused name would show old events.
SERVICES = {"no pool": "ts-no-pool", "no L2Advertisement": "ts-no-l2", "pool exhausted": "ts-exhausted",
            "speakers not ready": "ts-no-speakers"}
#: A label no node carries: a DaemonSet that must run on nodes with it runs nowhere.
NOWHERE = {"kindlb.example/nowhere": "true"}


def _check_cause(what: str) -> str:
    if what not in CAUSES:
        raise KindlbError(f"unknown failure {what!r}: choose one of {', '.join(map(repr, CAUSES))}")
    return what



def _tail(kind: Kind, selector: str, lines: int) -> str:
    out = []
    for pod in kind.core.list_namespaced_pod(NAMESPACE, label_selector=selector).items:
        container = pod.spec.containers[0].name
        try:
            log = kind.core.read_namespaced_pod_log(pod.metadata.name, NAMESPACE, container=container,
                                                    tail_lines=lines)
        except Exception as exc:  # a pod that is starting or gone has no log to show
            log = f"(no log: {str(exc).splitlines()[0][:120]})"
        out.append(f"[{pod.metadata.name} on {pod.spec.node_name}]\n{log.rstrip()}")
    return "\n".join(out) or "(no pods)"


class Look:
    """The library's diagnosis beside ``kubectl describe svc``, the events and the logs."""

    def __init__(self, kind: Kind, service: str, namespace: str, lines: int) -> None:
        self.service, self.namespace = service, namespace
        self.diagnosis = diagnose(kind, service, namespace)
        self.describe = kind.kubectl("describe", "service", service, "-n", namespace, check=False)
        self.events = pd.DataFrame(events_for(kind, service, namespace),
                                   columns=["type", "reason", "from", "count", "message"])
        self.controller = _tail(kind, "component=controller", lines)
        self.speakers = _tail(kind, "component=speaker", max(3, lines // 3))
        c = kind.cluster
        self.hood = _hood.Hood(f"look at {service} as the troubleshooting guide does", [
            _hood.Step(_hood.kubectl(c, "describe", "service", service, namespace=namespace),
                       "Events: IPAllocated / AllocationFailed (controller), nodeAssigned (speaker)"),
            _hood.Step(_hood.kubectl(c, "get", "events", "--field-selector", f"involvedObject.name={service}",
                                     namespace=namespace)),
            _hood.Step(_hood.kubectl(c, "get", "pods", "-o", "wide", namespace=NAMESPACE)),
            _hood.Step(_hood.kubectl(c, "logs", "-l", "component=controller", f"--tail={lines}", namespace=NAMESPACE),
                       "the controller hands out addresses and says why it cannot"),
            _hood.Step(_hood.kubectl(c, "logs", "-l", "component=speaker", "-c", "speaker", "--prefix",
                                     f"--tail={max(3, lines // 3)}", namespace=NAMESPACE),
                       "the speakers announce (or withdraw) addresses"),
        ])

    def names(self, what: str) -> bool:
        """True when the first reason of the diagnosis names failure ``what``."""
        return bool(self.diagnosis) and CAUSES[_check_cause(what)] in self.diagnosis[0]

    def mentions(self, what: str) -> bool:
        """True when any reason of the diagnosis names failure ``what``."""
        return any(CAUSES[_check_cause(what)] in r for r in self.diagnosis)

    def _repr_html_(self) -> str:
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in self.diagnosis)

        def block(title: str, text: str, open_: bool = False) -> str:
            return (f"<details{' open' if open_ else ''}><summary>{html.escape(title)}</summary>"
                    f"<pre style='max-height:20em;overflow:auto'>{html.escape(text)}</pre></details>")

        return (f"<div><b>kh.metallb.diagnose</b> on {html.escape(self.service)}:<ol>{reasons}</ol></div>"
                + (self.events.to_html(index=False) if len(self.events) else "<p><i>no events</i></p>")
                + block(f"kubectl describe service {self.service}", self.describe)
                + block("controller log (last lines)", self.controller)
                + block("speaker logs (last lines)", self.speakers) + self.hood._repr_html_())


def look(kind: Kind, service: str, namespace: str = "default", lines: int = 12) -> Look:
    """The diagnosis of ``service`` beside what a person would read: describe, events, logs."""
    return Look(kind, service, namespace, lines)


def _speaker_patch(selector: dict) -> dict:
    return {"spec": {"template": {"spec": {"nodeSelector": selector}}}}


def _patch_speakers(kind: Kind, selector: dict, why: str) -> _hood.Hood:
    patch = _speaker_patch(selector)
    kind.apps.patch_namespaced_daemon_set("speaker", NAMESPACE, patch)
    return _hood.Hood("patch the speaker DaemonSet", [_hood.Step(_hood.kubectl(
        kind.cluster, "patch", "daemonset", "speaker", "-p", json.dumps(patch, separators=(",", ":")),
        namespace=NAMESPACE), why)])


def _settle(done, why: str, timeout: float = 60) -> None:
    """Wait (bounded) until MetalLB shows what was just caused, so that the look that follows sees it."""
    import time

    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise KindlbError(f"{why} after {timeout:.0f} s: run the cell again")
        time.sleep(0.5)


def cause(kind: Kind, what: str, pool: str, service: str | None = None) -> _hood.Done:
    """Break one thing (``what`` is a key of :data:`CAUSES`) and create the Service that shows it.

    ``pool`` is the default pool's range, so that :func:`repair` can put it back.
    """
    service = service or SERVICES[_check_cause(what)]
    version = installed_version(kind)
    if version is None:
        raise KindlbError("MetalLB is not installed: run notebooks 02 and 03 first")
    crds = uses_crds(version)
    steps: list[_hood.Step] = []
    if what == "no pool":
        if crds:
            delete(kind, "metallb.io/v1beta1", "IPAddressPool", "default", NAMESPACE)
            steps.append(_hood.Step(_hood.kubectl(kind.cluster, "delete", "ipaddresspool", "default",
                                                  namespace=NAMESPACE), "the pool goes; its L2Advertisement stays"))
        else:
            delete(kind, "v1", "ConfigMap", "config", NAMESPACE)
            steps.append(_hood.Step(_hood.kubectl(kind.cluster, "delete", "configmap", "config", namespace=NAMESPACE),
                                    "the ConfigMap era keeps every pool in this one ConfigMap"))
    elif what == "no L2Advertisement":
        if not crds:
            raise KindlbError(f"MetalLB {version} has no L2Advertisement: the ConfigMap's `protocol: layer2` "
                              "says how to announce each pool, so this failure cannot happen in this era")
        delete(kind, "metallb.io/v1beta1", "L2Advertisement", "default", NAMESPACE)
        steps.append(_hood.Step(_hood.kubectl(kind.cluster, "delete", "l2advertisement", "default",
                                              namespace=NAMESPACE), "the pool stays: addresses are still handed out"))
    elif what == "pool exhausted":
        two = free_addresses(kind, 2)
        key = "metallb.io/address-pool" if crds else "metallb.universe.tf/address-pool"
        done = add_pool(kind, "ts-one", str(two.first), auto_assign=False)
        first = lb_service(kind, "ts-first", annotations={key: "ts-one"})
        steps += done.hood.steps + first.hood.steps
        from .app import wait_external_ip

        wait_external_ip(kind, "ts-first", timeout=60, progress=False)
        service_done = lb_service(kind, service, annotations={key: "ts-one"})
        steps += service_done.hood.steps
        _settle(lambda: any(e["reason"] == "AllocationFailed" for e in events_for(kind, service, "default")),
                f"the controller has not refused {service} yet")
        return _hood.Done(f"pool ts-one holds one address, taken by ts-first; {service} asks for it too",
                          _hood.Hood(f"cause: {what}", steps))
    else:  # speakers not ready
        steps += _patch_speakers(kind, NOWHERE, "a nodeSelector no node matches: every speaker pod goes").steps
        _settle(lambda: not readiness(kind)[0], "the speaker DaemonSet has not noticed the nodeSelector yet")
    done = lb_service(kind, service)
    return _hood.Done(f"caused: {what}; created {service}", _hood.Hood(f"cause: {what}", steps + done.hood.steps))


def repair(kind: Kind, what: str, pool: str, service: str | None = None, timeout: float = 180) -> _hood.Done:
    """Mend what :func:`cause` broke, wait until ``service`` has an address again, and remove it."""
    from .app import wait_external_ip

    service = service or SERVICES[_check_cause(what)]
    steps: list[_hood.Step] = []
    if what in ("no pool", "no L2Advertisement"):
        if uses_crds(installed_version(kind)) or "default" not in pool_config(kind):
            steps += configure(kind, pool, "default").hood.steps
    elif what == "pool exhausted":
        one = pool_config(kind)["ts-one"]["addresses"][0].split("/")[0].split("-")[0]
        grown = f"{one}-{ipaddress.ip_address(one) + 1}"
        steps += add_pool(kind, "ts-one", grown, auto_assign=False).hood.steps
    else:
        steps += _patch_speakers(kind, {k: None for k in NOWHERE}, "remove that nodeSelector again").steps
        steps += wait_ready(kind, timeout=timeout, progress=False).hood.steps
    got = wait_external_ip(kind, service, timeout=60, progress=False)
    cleaned = _cleanup(kind, PREFIX)
    return _hood.Done(f"repaired: {what}; {service} got {got.ip}; removed the ts-* objects",
                      _hood.Hood(f"repair: {what}", steps + cleaned.hood.steps))


def cleanup(kind: Kind) -> _hood.Done:
    """Remove every ``ts-*`` Service and pool; safe to run twice."""
    return _cleanup(kind, PREFIX)


__all__ = ["CAUSES", "Look", "look", "cause", "repair", "cleanup", "remove_pool"]
