"""What every exercise is: a task, a check that reads the cluster (a :class:`Verdict`), a hint and a
solution folded until clicked (:class:`Folded`).

A check never reads the learner's code, only the cluster; what the installed release reads (its Service
annotation prefixes, CRDs or ConfigMap) is asked of :func:`kindlb_helpers._core.release.release`.
"""
from __future__ import annotations

import difflib
import html
from dataclasses import dataclass
from datetime import datetime, timezone

from ..._cluster.kube import Kind, events_for, get_or_none, ip_of
from ..._cluster.waits import Watch, wait_until
from ..._core import hood as _hood
from ..._core.errors import KindlbError, WaitTimeout
from ..._core.manifests import NAMESPACE
from ..._core.pool import PoolRange
from ..._core.release import Release, fact
from ..render import PRE
from .objects import cleanup
from .pools import configmap_with, pool_config, to_ranges
from .targets import targets

__all__ = ["Verdict", "Folded", "Exercise", "final", "annotation", "annotation_keys", "unread",
           "metallb_key", "misspelt", "last_change", "matches", "SETTLE", "KNOWN_KEYS"]

#: How long a check waits for MetalLB to act on what was just applied (seconds).
SETTLE = 20


# ---------- what a release reads on a Service ----------

def annotation_keys(rel: Release, what: str) -> tuple[str, ...]:
    """The annotation keys for ``what`` that release ``rel`` reads, the one to write first."""
    return tuple(f"{p}/{what}" for p in rel.annotation_prefixes)


def annotation(rel: Release, svc, what: str) -> tuple[str | None, str | None]:
    """(value, key) of the first annotation ``what`` that release ``rel`` reads on ``svc``.

    >>> from kindlb_helpers._core.release import release
    >>> class Svc:
    ...     class metadata:
    ...         annotations = {"metallb.io/allow-shared-ip": "k"}
    >>> annotation(release("v0.16.1"), Svc, "allow-shared-ip"), annotation(release("v0.12.1"), Svc, "allow-shared-ip")
    (('k', 'metallb.io/allow-shared-ip'), (None, None))
    """
    ann = svc.metadata.annotations or {}
    return next(((ann[k], k) for k in annotation_keys(rel, what) if k in ann), (None, None))


def unread(rel: Release, svc, what: str) -> str | None:
    """An annotation ``what`` on ``svc`` with a MetalLB prefix that release ``rel`` does not read."""
    ann = svc.metadata.annotations or {}
    read = annotation_keys(rel, what)
    return next((k for k in ann if metallb_key(k) and k.split("/", 1)[1] == what and k not in read), None)


def metallb_key(key: str) -> bool:
    """Whether an annotation key has a MetalLB prefix (``metallb.io/``, ``metallb.universe.tf/``)."""
    return "/" in key and key.split("/", 1)[0].startswith("metallb.")


#: The Service annotations MetalLB reads (after its prefix), and the one its controller writes.
KNOWN_KEYS = ("address-pool", "loadBalancerIPs", "allow-shared-ip", "ip-allocated-from-pool")
#: The prefixes MetalLB has used for them.
KNOWN_PREFIXES = ("metallb.io", "metallb.universe.tf")


def misspelt(svc) -> str | None:
    """A Service annotation that looks meant for MetalLB but is no key MetalLB reads, named as the learner wrote
    it, with the key it resembles (never its value).

    >>> class Svc:
    ...     class metadata:
    ...         name, annotations = "ex-pinned", {"metallb.io/loadBalancerIP": "172.19.255.250"}
    >>> misspelt(Svc).split(": ")[-1]
    'did you mean `loadBalancerIPs`?'
    """
    for key in svc.metadata.annotations or {}:
        if "/" not in key:
            continue
        prefix, what = key.split("/", 1)
        near_prefix = difflib.get_close_matches(prefix, KNOWN_PREFIXES, n=1, cutoff=0.8)
        if not near_prefix:
            continue
        name = svc.metadata.name
        if prefix not in KNOWN_PREFIXES:
            return (f"{name} has the annotation {key}, whose prefix MetalLB does not know: did you mean "
                    f"`{near_prefix[0]}/`?")
        if what in KNOWN_KEYS:
            continue
        near = difflib.get_close_matches(what, KNOWN_KEYS, n=1, cutoff=0.6) or [
            k for k in KNOWN_KEYS if k.lower() == what.lower()]
        if near:
            return f"{name} has the annotation {key}, which MetalLB does not know: did you mean `{near[0]}`?"
        return (f"{name} has the annotation {key}, which MetalLB does not read (it reads "
                f"{', '.join(KNOWN_KEYS[:3])} under its prefix)")
    return None


def last_change(svc):
    """When someone last changed the Service (its metadata or spec, not the status MetalLB writes): the newest
    of its managedFields' times, or its creation."""
    times = [m.time for m in (svc.metadata.managed_fields or [])
             if m.time and getattr(m, "subresource", None) != "status" and m.manager not in ("controller", "speaker")]
    return max(times, default=svc.metadata.creation_timestamp)


#: Seconds after a change within which an event stamped in the same second may be the answer to the change
#: before it (the API's times are whole seconds): a fix typed right after a wrong try is not judged by the old
#: complaint.
SAME_SECOND = 3.0


def answered(said, changed) -> bool:
    """Whether an event at ``said`` answers the change at ``changed``: later, or in the same second and no newer
    word for :data:`SAME_SECOND` seconds."""
    said, changed = said.replace(microsecond=0), changed.replace(microsecond=0)  # an event's time may have them
    if said > changed:
        return True
    return said == changed and (datetime.now(timezone.utc) - changed).total_seconds() >= SAME_SECOND


#: The release from which Services take the ``metallb.io/`` prefix (the messages name it).
NEW_PREFIX_SINCE = fact("metallb_io_prefix").since


def matches(selector: dict, labels: dict) -> bool:
    """A LabelSelector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) against labels.

    >>> matches({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}), matches({"matchLabels": {"a": "1"}}, {})
    (True, False)
    """
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


def final(why: str) -> Verdict:
    """A wrong verdict that waiting will not change."""
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
        code = f"<pre style='{PRE}'>{html.escape(self.code)}</pre>" if self.code else ""
        return (f"<details><summary><b>{html.escape(self.title)}</b> (click to open)</summary>"
                f"<div>{html.escape(self.text)}</div>{code}</details>")


def _steps_text(steps: list[tuple[str, str]]) -> str:
    if len(steps) == 1 and steps[0][0] == "apply":
        return steps[0][1]
    out = []
    for i, (how, text) in enumerate(steps, 1):
        if how == "apply":
            out.append(f"# step {i}: in the answer cell (kubectl apply -f -)\n{text.rstrip()}")
        else:
            out.append(f"# step {i}:\nkubectl {text}")
    return "\n\n".join(out)


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
        self.era: Release = self.t.era
        self.version, self.crds = self.era.tag, self.era.uses_crds

    @property
    def prefix(self) -> str:
        """The annotation prefix to write for this release (``metallb.io`` from v0.14.9)."""
        return self.era.annotation_prefix

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
        return Folded(f"Solution {self.number}", text, _steps_text(steps))

    def solution_steps(self) -> list[tuple[str, str]]:
        """``[("apply", yaml) | ("kubectl", command), ...]``: what a person does, in order."""
        return [("apply", self.solution_text())]

    def solution_text(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def wrong_text(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    # --- pools as YAML, in the era's form
    def pool_yaml(self, name: str, addresses: str, auto_assign: bool = False, advertise: bool = True) -> list[dict]:
        """An IPAddressPool (+ L2Advertisement), or the whole ConfigMap with this pool added (ConfigMap era),
        as a learner writes them: ``addresses`` as the task names them, autoAssign written out."""
        if self.crds:
            pool = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                    "metadata": {"name": name, "namespace": NAMESPACE},
                    "spec": {"addresses": [addresses], "autoAssign": auto_assign}}
            ad = {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                  "metadata": {"name": name, "namespace": NAMESPACE}, "spec": {"ipAddressPools": [name]}}
            return [pool, ad] if advertise else [pool]
        entry = {"name": name, "protocol": "layer2", "addresses": [addresses], "auto-assign": auto_assign}
        return [configmap_with(self.kind, entry)]

    # --- checking
    def check(self) -> Verdict:
        """Right or wrong, and why; waits up to :data:`SETTLE` seconds for MetalLB to act first."""
        seen = [self.state()]
        if seen[-1].correct or seen[-1].final:
            return seen[-1]

        def settled() -> tuple[bool, str]:
            seen.append(self.state())
            return seen[-1].correct or seen[-1].final, seen[-1].why

        try:  # looked at again when a Service or an event in default changes, and every second
            wait_until(settled, timeout=SETTLE, desc=f"check {self.number}", progress=False,
                       watches=[Watch(self.kind.core.list_namespaced_service, "default"),
                                Watch(self.kind.core.list_namespaced_event, "default")])
        except WaitTimeout:
            pass  # the verdict as it stands after SETTLE seconds
        return seen[-1]

    def state(self) -> Verdict:
        """The verdict on the cluster as it is now (no waiting); never raises."""
        try:
            return self._check()
        except KindlbError as exc:
            return final(str(exc))
        except Exception as exc:  # a half-made object must not end in a traceback
            return Verdict(False, f"could not read the cluster ({type(exc).__name__}: {str(exc)[:200]})")

    def _check(self) -> Verdict:  # pragma: no cover - overridden
        raise NotImplementedError

    # --- shared reads
    def _svc(self, name: str):
        """The Service ``name``; a missing one, or one with a misspelt MetalLB annotation, is the verdict."""
        svc = get_or_none(self.kind.core.read_namespaced_service, name, "default")
        if svc is None:
            raise KindlbError(f"there is no Service {name!r} yet: `kubectl get services` lists them; apply its YAML "
                              "in the answer cell")
        typo = misspelt(svc)
        if typo:
            raise KindlbError(f"{typo} (`kubectl get service {name} -o yaml`, metadata.annotations)")
        return svc

    _ip = staticmethod(ip_of)  # the Service's external address, or None (the one reader)

    def _events(self, svc) -> list[dict]:
        return events_for(self.kind, svc.metadata.name, "default", uid=svc.metadata.uid)

    def _warnings(self, svc) -> list[dict]:
        return [e for e in self._events(svc) if e["type"] == "Warning" and e["reason"] != "deprecatedAnnotation"]

    def _warning(self, svc) -> str | None:
        """The controller's last word on why ``svc`` has no address (this incarnation's events only)."""
        warn = self._warnings(svc)
        return f"{warn[-1]['reason']}: {warn[-1]['message']}" if warn else None

    def _pending(self, svc) -> Verdict:
        """<pending>, with the controller's reason; final once the controller has spoken since the last change
        (waiting will not change it then)."""
        warn = self._warnings(svc)
        said = f"{warn[-1]['reason']}: {warn[-1]['message']}" if warn else None
        name = svc.metadata.name
        changed = last_change(svc)
        acted = (bool(warn) and warn[-1]["time"] is not None and changed is not None
                 and answered(warn[-1]["time"], changed))
        return Verdict(False, f"{name} is still <pending>" + (f"; the controller says {said}" if said else "")
                       + f" (`kubectl describe service {name}`, Events)", final=acted)

    def _announcers(self, svc) -> list[str]:
        """The nodes announcing ``svc`` now: MetalLB's ServiceL2Status objects where the release keeps them
        (one per announcing speaker, deleted when it stops), else the node(s) of this incarnation's newest
        ``nodeAssigned`` event (one node answers for an address in layer 2). With ``externalTrafficPolicy: Local``
        only nodes that still hold a Ready endpoint count: a release without ServiceL2Status writes no event
        when a node stops announcing (v0.12.1 named both workers in one second while a pinned pod moved).
        Never the event history as such."""
        from ..._cluster.metallb import l2_status_nodes, ready_endpoint_nodes
        from ..l2.announce import announcements

        if self.era.has_l2_status:
            return sorted(set(l2_status_nodes(self.kind, svc.metadata.name, "default") or []))
        latest: dict[str, object] = {}
        for when, node in announcements(self.kind, svc.metadata.name, "default", uid=svc.metadata.uid):
            latest[node] = when  # oldest first: each node's newest event wins
        if svc.spec.external_traffic_policy == "Local":
            ready = ready_endpoint_nodes(self.kind, svc.metadata.name, "default")
            latest = {node: when for node, when in latest.items() if node in ready}
        if not latest:
            return []
        top = max(latest.values(), key=lambda when: (when is not None, when or 0))
        return sorted(node for node, when in latest.items() if when == top)

    def _advertised(self, pool: str) -> list[str]:
        """The L2Advertisements that announce ``pool``: listing it, selecting it by its labels, or naming no
        pool at all (then every pool)."""
        from ..._cluster.metallb import l2_advertisements

        obj = get_or_none(self.kind.custom.get_namespaced_custom_object, "metallb.io", "v1beta1", NAMESPACE,
                          "ipaddresspools", pool) or {}
        labels = (obj.get("metadata") or {}).get("labels") or {}
        out = []
        for ad in l2_advertisements(self.kind):
            spec = ad.get("spec") or {}
            listed, selectors = spec.get("ipAddressPools") or [], spec.get("ipAddressPoolSelectors") or []
            if (not listed and not selectors) or pool in listed or any(matches(s, labels) for s in selectors):
                out.append(ad["metadata"]["name"])
        return out

    def _pool(self, name: str) -> tuple[list[PoolRange], bool]:
        cfg = pool_config(self.kind).get(name)
        if cfg is None:
            where = ("`kubectl -n metallb-system get ipaddresspools`" if self.crds
                     else "`kubectl -n metallb-system get configmap config -o yaml`")
            raise KindlbError(f"there is no pool {name!r} yet ({where} lists the pools): apply it in the answer cell")
        return to_ranges(cfg["addresses"]), bool(cfg["auto_assign"])

    def _asks_pool(self, svc, pool: str) -> Verdict | None:
        """None when ``svc`` asks for ``pool`` in a way this release reads; else the verdict saying how."""
        value, _ = annotation(self.era, svc, "address-pool")
        name = svc.metadata.name
        if value == pool:
            return None
        not_read = unread(self.era, svc, "address-pool")
        if not_read:
            return final(f"{name} has {not_read}, which MetalLB {self.version} does not read (the metallb.io/ prefix "
                         f"came with {NEW_PREFIX_SINCE}): use {self.prefix}/address-pool")
        if value:
            return final(f"{name} asks for pool {value!r}, not {pool!r} (`kubectl get service {name} -o yaml`, "
                         "metadata.annotations)")
        return final(f"{name} does not ask for pool {pool}: add the annotation {self.prefix}/"
                     f"address-pool: {pool} (`kubectl get service {name} -o yaml` shows its metadata)")

    def cleanup(self) -> _hood.Done:
        """Remove what the exercises created (``ex-*``)."""
        return cleanup(self.kind)
